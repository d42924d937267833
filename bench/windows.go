package main

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// windows is a rate limiter like Datadog's (limit requests per fixed
// window of period, per org and limit name, X-RateLimit-* headers with
// Reset in whole seconds rounded up), with two departures that pacing must
// survive: each org's and name's windows may start at an offset of their
// own rather than at multiples of the period, and another client may use
// part of every window before orgsync does.
type windows struct {
	limit   int
	period  time.Duration
	offsets bool // windows start at a per-(org, name) offset in [0, period)
	others  int  // requests of another client counted at the start of each window

	mu     sync.Mutex
	counts map[string]*windowCount // by org and name
}

type windowCount struct {
	start time.Time
	count int
}

func newWindows(limit int, period time.Duration, offsets bool, others int) *windows {
	return &windows{limit: limit, period: period, offsets: offsets, others: others, counts: map[string]*windowCount{}}
}

// origin is where the windows of org and name start, modulo the period.
func (l *windows) origin(org, name string) time.Time {
	if !l.offsets {
		return time.Unix(0, 0)
	}
	h := fnv.New64a()
	h.Write([]byte(org + "\x00" + name))
	return time.Unix(0, int64(h.Sum64()%uint64(l.period)))
}

// take counts one request of org against name at now and returns the
// headers of its answer, and whether it is within the limit.
func (l *windows) take(org, name string, now time.Time) (http.Header, bool) {
	origin := l.origin(org, name)
	start := origin.Add(now.Sub(origin).Truncate(l.period))
	end := start.Add(l.period)
	l.mu.Lock()
	w := l.counts[org+"\x00"+name]
	if w == nil {
		w = &windowCount{}
		l.counts[org+"\x00"+name] = w
	}
	if !w.start.Equal(start) {
		w.start, w.count = start, l.others
	}
	w.count++
	count := w.count
	l.mu.Unlock()
	reset := int64((end.Sub(now) + time.Second - 1) / time.Second)
	reset = min(max(reset, 1), int64(l.period/time.Second))
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
	h.Set("X-RateLimit-Period", strconv.Itoa(int(l.period/time.Second)))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(l.limit-count, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-RateLimit-Name", name)
	return h, count <= l.limit
}

// limitName is the sandbox's limit name of a request's path.
func limitName(path string) string {
	if strings.HasPrefix(path, "/api/v2/current_user") {
		return "users"
	}
	return "org_connections"
}
