//go:build unix

package sandbox

import (
	"io/fs"
	"os"
	"syscall"
)

// openLog opens (creating, mode perm) a task log file for appending. It is
// os.OpenFile without the runtime's poller: os.OpenFile offers every new
// file to the network poller, which for a regular file on Linux costs four
// fcntl calls and a failing epoll_ctl on top of the open. A run with -v
// opens one log per task, so that was most of the system calls -v added
// to a 1,000-task chain (issue 17). os.NewFile on a blocking descriptor
// skips the poller; writes on a regular file never block on it anyway.
func openLog(path string, perm uint32) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_APPEND|syscall.O_CLOEXEC, perm)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
