package plugin

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the plugin in a process group of its own, so that
// Kill can end it with everything it started, and asks the kernel to kill
// it if the engine dies, so that no plugin outlives its run even after a
// SIGKILL of the engine.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// killGroup kills the process group that setProcAttr made.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
