package sandbox

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter is Datadog's rate limiting as documented: per org and per limit
// name, a fixed number of requests in windows aligned to multiples of the
// period ("calendar aligned"), reported in X-RateLimit-* headers.
type limiter struct {
	limit  int
	period int64 // seconds

	mu      sync.Mutex
	windows map[limitKey]*window
}

type limitKey struct{ org, name string }

type window struct {
	start int64 // Unix seconds
	count int
}

func newLimiter(limit, period int) *limiter {
	return &limiter{limit: limit, period: int64(period), windows: map[limitKey]*window{}}
}

// take counts one request and returns the headers for its answer, and
// whether it is within the limit. Rejected requests count too, as they do
// at Datadog, so hammering a 429 keeps the window full.
func (l *limiter) take(org, name string, now time.Time) (http.Header, bool) {
	sec := now.Unix()
	start := sec - sec%l.period
	if sec < 0 && sec%l.period != 0 {
		start -= l.period
	}
	end := time.Unix(start+l.period, 0)

	l.mu.Lock()
	k := limitKey{org, name}
	w := l.windows[k]
	if w == nil {
		w = &window{}
		l.windows[k] = w
	}
	if w.start != start {
		w.start, w.count = start, 0
	}
	w.count++
	count := w.count
	l.mu.Unlock()

	// Whole seconds until the window ends, rounded up: a client that waits
	// this long is sure to be in the next window.
	reset := int64((end.Sub(now) + time.Second - 1) / time.Second)
	reset = min(max(reset, 1), l.period)
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
	h.Set("X-RateLimit-Period", strconv.FormatInt(l.period, 10))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(l.limit-count, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-RateLimit-Name", name)
	return h, count <= l.limit
}
