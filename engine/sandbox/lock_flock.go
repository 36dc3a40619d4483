//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

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

// lockRun takes the exclusive lock on path (created if need be) for the
// Recorder of a run, failing at once if another holder has it. Closing the
// returned file releases it, as does the process exiting in any way: flock
// locks belong to the open file, which the kernel closes, and Go opens
// files close-on-exec, so plugins the engine starts do not inherit it.
func lockRun(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock: another process is recording the run: %w", fs.ErrExist)
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// probeRun reports whether a Recorder holds the lock at path. If not, the
// caller holds it (shared) until it calls release, so that no Recorder can
// start meanwhile; a missing lock file counts as not held.
func probeRun(path string) (held bool, release func(), err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, func() {}, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("lock: %w", err)
	}
	if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil, nil
		}
		return false, nil, fmt.Errorf("lock: %w", err)
	}
	return false, func() { f.Close() }, nil
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return &fs.PathError{Op: "flock", Path: f.Name(), Err: ferr}
	}
	return nil
}
