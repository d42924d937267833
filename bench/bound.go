package main

import "time"

// windowBound is the least time, from start, that a client needs before it
// may send the last of requests requests to a server that allows limit
// requests per fixed window of period, the windows being aligned to
// multiples of period in Unix time (pkg/sandbox ratelimit.go, Datadog's
// "calendar aligned" windows). The window that holds start counts as the
// first one, so the last request can go no earlier than the start of the
// ceil(requests/limit)-th window; the bound is that moment minus start, or 0
// when everything fits in the current window. It ignores the time a request
// takes, which is what makes it a bound.
func windowBound(start time.Time, requests, limit int, period time.Duration) time.Duration {
	if requests <= 0 || limit <= 0 || period <= 0 {
		return 0
	}
	windows := (requests + limit - 1) / limit
	// Floor division, so that a start before 1970 lands in the right window.
	ns, p := start.UnixNano(), period.Nanoseconds()
	first := ns / p * p
	if ns < first {
		first -= p
	}
	open := time.Unix(0, first).Add(time.Duration(windows-1) * period)
	return max(open.Sub(start), 0)
}

// latencyBound is the least time that reads rounds of reads followed by
// creates requests take when each one takes latency and at most parallelism
// are in flight: the creates go in ceil(creates/parallelism) rounds.
func latencyBound(reads, creates, parallelism int, latency time.Duration) time.Duration {
	if parallelism < 1 {
		parallelism = 1
	}
	rounds := (creates + parallelism - 1) / parallelism
	return time.Duration(reads+rounds) * latency
}
