//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sandbox

import (
	"errors"
	"fmt"
)

// ErrNotRunning is returned by CancelRun for a run that is not going.
var ErrNotRunning = errors.New("run is not running")

// CancelRun is not supported on this platform: there is no way to send
// the run's process the equivalent of Ctrl-C.
func (s Sandbox) CancelRun(name string) (*Record, error) {
	return nil, fmt.Errorf("cancel run %q: not supported on this platform; press Ctrl-C in its terminal", name)
}
