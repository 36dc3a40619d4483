//go:build windows

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// locksWork says whether probeRun can tell a live run from a dead one.
const locksWork = true

// errSharingViolation is ERROR_SHARING_VIOLATION: the file is open
// elsewhere with a share mode that excludes this open.
const errSharingViolation syscall.Errno = 32

// lockRun opens path (created if need be) with no sharing, for the
// Recorder of a run: while the handle is open, no other open of the file
// succeeds. Windows closes the handle when the process exits, however it
// exits, and the handle is not inherited by child processes.
func lockRun(path string) (io.Closer, error) {
	f, err := openExclusive(path, syscall.OPEN_ALWAYS)
	if err != nil {
		if errors.Is(err, errSharingViolation) {
			return nil, fmt.Errorf("lock: another process is recording the run: %w", fs.ErrExist)
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// probeRun reports whether a Recorder holds the lock at path. If not, the
// caller holds it until it calls release, so that no Recorder can start
// meanwhile; a missing lock file counts as not held.
func probeRun(path string) (held bool, release func(), err error) {
	f, err := openExclusive(path, syscall.OPEN_EXISTING)
	switch {
	case err == nil:
		return false, func() { f.Close() }, nil
	case errors.Is(err, errSharingViolation):
		return true, nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, func() {}, nil
	}
	return false, nil, fmt.Errorf("lock: %w", err)
}

func openExclusive(path string, mode uint32) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil, mode, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
