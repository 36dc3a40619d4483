//go:build unix

package sandbox

import (
	"io/fs"
	"os"
	"syscall"
)

// openLog opens (creating, mode perm) a task log file for appending (and
// reading, to check its last line). It is
// os.OpenFile without the runtime's poller: os.OpenFile offers every new
// file to the network poller, which for a regular file on Linux costs four
// fcntl calls and a failing epoll_ctl on top of the open. A run with -v
// opened one log per task when each had its own file, and that was most
// of the system calls -v added to a 1,000-task chain (issue 17); it still
// opens the run's log again for each line that arrives after the run
// ended. os.NewFile on a blocking descriptor
// skips the poller; writes on a regular file never block on it anyway.
func openLog(path string, perm uint32) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_APPEND|syscall.O_CLOEXEC, perm)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
