//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package sandbox

import (
	"fmt"
	"io"
	"os"
)

// locksWork says whether probeRun can tell a live run from a dead one. On
// this platform it cannot (no flock in syscall; fcntl locks are per process
// and dropped by closing any descriptor of the file), so a record whose
// process died keeps loading as running.
const locksWork = false

// lockRun creates the lock file, to keep the layout the same everywhere,
// but locks nothing.
func lockRun(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// probeRun cannot tell, so it says held: a running record stays running.
func probeRun(path string) (held bool, release func(), err error) {
	return true, nil, nil
}
