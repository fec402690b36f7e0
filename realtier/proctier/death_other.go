//go:build !linux

package proctier

import "os/exec"

// dieWithHarness: only Linux can tie a child's life to its parent's. Elsewhere the tier's
// Close kills the nodes, but a harness killed with SIGKILL leaves them running.
func dieWithHarness(*exec.Cmd) {}
