//go:build unix

package cache

import (
	"io/fs"
	"os"
	"syscall"
)

// openRead opens path for reading. It is os.Open without the poller:
// os.Open offers every new file to the runtime's network poller, which
// for a regular file on Linux costs five system calls (fcntl, a failing
// epoll_ctl, fcntl again) on top of the open, doubling the cost of
// reading a small entry. os.NewFile on a blocking descriptor skips that.
func openRead(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
