//go:build !unix

package console

import "os/exec"

func detach(cmd *exec.Cmd) {}
