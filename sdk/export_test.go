package sdk

import "io"

// SetStderr makes providers created from now on log to w, until the
// returned func restores the process's stderr.
func SetStderr(w io.Writer) (restore func()) {
	old := processStderr
	processStderr = w
	return func() { processStderr = old }
}
