package api

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit holds the X-RateLimit-* headers of one response. Datadog limits
// each org per named bucket (Name) to Limit requests per Period seconds, in
// fixed windows. A header that is missing or is not a valid non-negative
// integer leaves its field at -1 (Name at "").
type RateLimit struct {
	Name      string
	Limit     int
	Period    int // seconds
	Remaining int
	Reset     int // seconds until the window resets
}

// epochThreshold is the largest Reset taken as a delta. Datadog documents a
// delta in seconds, but some clients have seen Unix times there: a value of
// more than ten years can only be one.
const epochThreshold = 10 * 365 * 24 * 60 * 60

// ParseRateLimit reads the X-RateLimit-* headers. A Reset that looks like a
// Unix time is converted to a delta from now (0 if in the past).
func ParseRateLimit(h http.Header) RateLimit {
	return parseRateLimit(h, time.Now())
}

func parseRateLimit(h http.Header, now time.Time) RateLimit {
	rl := RateLimit{
		Name:      strings.TrimSpace(h.Get("X-RateLimit-Name")),
		Limit:     headerInt(h, "X-RateLimit-Limit"),
		Period:    headerInt(h, "X-RateLimit-Period"),
		Remaining: headerInt(h, "X-RateLimit-Remaining"),
		Reset:     headerInt(h, "X-RateLimit-Reset"),
	}
	if rl.Reset > epochThreshold {
		rl.Reset = max(0, int(int64(rl.Reset)-now.Unix()))
	}
	return rl
}

// headerInt returns the header as a non-negative int, or -1.
func headerInt(h http.Header, key string) int {
	v := strings.TrimSpace(h.Get(key))
	if !allDigits(v) {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxRetryAfter bounds a parsed Retry-After so that it fits a Duration; it is
// far beyond any MaxRetryWait, so such an answer still fails clearly.
const maxRetryAfter = time.Duration(math.MaxInt64)

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date
// (RFC 9110 10.2.3), relative to now. A negative delay or a date in the past
// gives 0; a value too large for a Duration is clamped. ok is false when v is
// empty or malformed.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if digits, neg := strings.CutPrefix(v, "-"); allDigits(digits) {
		if neg {
			return 0, true
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if !t.After(now) {
		return 0, true
	}
	return t.Sub(now), true // Sub saturates instead of overflowing
}
