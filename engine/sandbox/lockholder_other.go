//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package sandbox

// lockHolders cannot read the kernel's locks on this platform.
func lockHolders(path string) (pids []int, ok bool) { return nil, false }
