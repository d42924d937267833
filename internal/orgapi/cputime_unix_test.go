//go:build unix

package orgapi

import (
	"syscall"
	"time"
)

// cpu is the user plus system CPU time used so far.
type cpu struct{ self, children time.Duration }

func cpuTime() cpu {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	d := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return cpu{d(self), d(children)}
}
