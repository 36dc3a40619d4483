package main

import (
	"os"
	"syscall"
)

// maxRSS returns the peak resident set size of an exited process, in
// bytes (Linux reports kilobytes), or 0.
func maxRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}
