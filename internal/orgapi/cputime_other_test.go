//go:build !unix

package orgapi

import "time"

// cpu is the user plus system CPU time used so far; not measured here.
type cpu struct{ self, children time.Duration }

func cpuTime() cpu { return cpu{} }
