//go:build unix

package config

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process used so far: on
// a shared machine, a steadier measure than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
