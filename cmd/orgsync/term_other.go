//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

// isTerminalFd is false where orgsync cannot ask: no prompt, no colors, and
// progress as plain lines, which is always safe.
func isTerminalFd(uintptr) bool { return false }
