//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"syscall"
	"unsafe"
)

// isTerminalFd reports whether fd is a terminal: it answers the ioctl that
// reads terminal settings. (A character device is not enough: /dev/null is
// one, and a cron job or `ssh -n` must not be taken for a person.)
func isTerminalFd(fd uintptr) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, ioctlReadTermios, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
