//go:build !unix

package sandbox

import "os"

// openLog opens (creating, mode perm) a task log file for appending (and
// reading, to check its last line).
func openLog(path string, perm uint32) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, os.FileMode(perm))
}
