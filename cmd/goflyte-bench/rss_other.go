//go:build !linux

package main

import "os"

// maxRSS is not measured here: the memory rows are skipped.
func maxRSS(*os.ProcessState) int64 { return 0 }
