//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// ErrNotRunning is returned by CancelRun for a run that is not going.
var ErrNotRunning = errors.New("run is not running")

// CancelRun stops a running run as Ctrl-C on its goflyte process would:
// it sends SIGINT to the process that recorded the run (the record's
// PID), which cancels the run's tasks and finishes its record as
// cancelled. Before signalling it checks that this process still holds
// the run's lock, so that a pid reused by an unrelated process is never
// signalled: on Linux by the kernel's table of locks (/proc/locks), and
// elsewhere by the lock being held and the process existing.
//
// It returns the record as it was before the signal. A run that is not
// going gives an error wrapping ErrNotRunning; a missing run one
// wrapping fs.ErrNotExist. It does not wait for the run to stop.
func (s Sandbox) CancelRun(name string) (*Record, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("cancel run: %w", err)
	}
	dir := s.RunDir(name)
	rec, err := readRecord(dir, false)
	if err != nil {
		return nil, fmt.Errorf("cancel run %q: %w", name, err)
	}
	if rec.Status != StatusRunning {
		return rec, fmt.Errorf("cancel run %q: it is %s: %w", name, rec.Status, ErrNotRunning)
	}
	lock := filepath.Join(dir, lockFile)
	held, release, err := probeRun(lock)
	if err != nil {
		return rec, fmt.Errorf("cancel run %q: %w", name, err)
	}
	if !held {
		release()
		return rec, fmt.Errorf("cancel run %q: its process is gone (the run is interrupted): %w", name, ErrNotRunning)
	}
	if rec.PID <= 0 {
		return rec, fmt.Errorf("cancel run %q: the record has no pid", name)
	}
	if pids, ok := lockHolders(lock); ok {
		if !slices.Contains(pids, rec.PID) {
			return rec, fmt.Errorf("cancel run %q: pid %d of the record does not hold the run's lock (holders: %v); not signalling", name, rec.PID, pids)
		}
	} else if err := syscall.Kill(rec.PID, 0); err != nil {
		return rec, fmt.Errorf("cancel run %q: process %d: %w", name, rec.PID, err)
	}
	if err := syscall.Kill(rec.PID, syscall.SIGINT); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return rec, fmt.Errorf("cancel run %q: process %d is gone: %w", name, rec.PID, ErrNotRunning)
		}
		return rec, fmt.Errorf("cancel run %q: signal process %d: %w", name, rec.PID, err)
	}
	return rec, nil
}

// fileInode returns the inode number of path.
func fileInode(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fs.ErrInvalid
	}
	return uint64(st.Ino), nil
}
