//go:build !unix

package keys

import "os/exec"

// killGroupOnCancel keeps exec's default on systems without process
// groups: the command itself is killed on timeout.
func killGroupOnCancel(*exec.Cmd) {}
