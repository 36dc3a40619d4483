package plugin

import (
	"os/exec"
	"syscall"
)

// setProcAttr asks the kernel to kill the plugin if the engine dies, so that
// no plugin process outlives its run even after a SIGKILL of the engine.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
