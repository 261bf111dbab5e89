package cluster

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel SIGKILL the child when the test binary dies
// (a test timeout panics past every cleanup), so no server outlives a run.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
