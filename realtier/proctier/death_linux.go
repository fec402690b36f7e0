package proctier

import (
	"os/exec"
	"syscall"
)

// dieWithHarness has the kernel kill the node process when the harness dies, so that a
// crashed or interrupted run leaves no node behind.
func dieWithHarness(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
