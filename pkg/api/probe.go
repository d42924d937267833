package api

import "time"

// Finding a window's end. Reset counts whole seconds, so an answer only
// places the end of the server's window in an interval a second wide,
// (endAfter, windowEnd], and waiting for its upper edge would lose up to a
// second per window. When more requests wait than the window has room
// for, the pacer keeps the last few requests of the window's budget as
// probes, each sent at target-k for a whole number of seconds k and a
// split point target inside the interval: its Reset (k or k+1) says on
// which side of target the end lies, so each probe halves the interval.
// The first split point is the calendar boundary (a multiple of Period in
// Unix time) inside the interval, where Datadog's windows end, so that one
// probe finds an aligned end; windows that start anywhere else take a few
// more probes. A probe never meets a 429: it is within the window's budget
// and goes before the window's earliest possible end. Nothing is lost to
// them either: a probe is a request that had to wait for the next window
// anyway, and goes in this one.

// probe is the state of the window's probing.
type probe struct {
	inFlight bool      // a probe was let go and no answer to it came yet
	sent     time.Time // when it was let go
}

const (
	// maxProbes is the most requests of a window kept as probes; a tenth
	// of the budget at most.
	maxProbes = 3
	// probeTolerance is how wide the interval may stay: probing stops there.
	probeTolerance = 20 * time.Millisecond
	// probePoll is how often waiters look again while a probe is out, as
	// its answer may move the next probe's time.
	probePoll = 5 * time.Millisecond
)

// uncertain tells whether the window's end is known to less than
// probeTolerance. Called with p.mu held.
func (p *pacer) uncertain() bool {
	return !p.endAfter.IsZero() && p.windowEnd.Sub(p.endAfter) > probeTolerance
}

// holding tells whether the next request would be a probe: the window's
// budget is down to its probes, more requests wait than it has room for,
// and its end is uncertain. Called with p.mu held.
func (p *pacer) holding() bool {
	probes := min(maxProbes, p.limit/10)
	return probes > 0 && p.used >= p.limit-probes && p.used < p.limit &&
		p.used+p.waiting > p.limit && p.uncertain()
}

// probeDelay returns how long the next request waits for its moment as a
// probe, 0 if it is not one or its moment has come. Called with p.mu held.
func (p *pacer) probeDelay(now time.Time) time.Duration {
	if !p.holding() {
		return 0
	}
	if p.probe.inFlight {
		return max(0, min(probePoll, p.windowEnd.Sub(now)))
	}
	at, ok := p.probeTime(now)
	if !ok {
		return 0 // no probe fits this window: its budget goes now
	}
	return max(0, at.Sub(now))
}

// probeTime returns when the next probe goes: target-k, k >= 1 whole
// seconds, the latest such moment from now on; ok is false when there is
// none. Called with p.mu held.
func (p *pacer) probeTime(now time.Time) (at time.Time, ok bool) {
	lo, hi := p.endAfter, p.windowEnd
	target := lo.Add(hi.Sub(lo) / 2)
	if !p.noSnap && p.period > 0 {
		period, up := p.period.Nanoseconds(), hi.UnixNano()
		if b := time.Unix(0, up-up%period); b.After(lo) && hi.Sub(b) > probeTolerance {
			target = b
		}
	}
	k := target.Sub(now) / time.Second
	if k < 1 {
		return time.Time{}, false
	}
	return target.Add(-k * time.Second), true
}
