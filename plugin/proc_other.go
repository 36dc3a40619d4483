//go:build !linux

package plugin

import "os/exec"

// setProcAttr does nothing where the OS has no parent-death signal; the
// engine still kills its plugins when it ends normally.
func setProcAttr(cmd *exec.Cmd) {}

// killGroup does nothing here: Kill ends the plugin process itself.
func killGroup(pid int) {}
