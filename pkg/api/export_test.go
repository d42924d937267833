package api

import (
	"context"
	"net/http"
	"time"
)

// Hooks for the external tests (package api_test).

var (
	ShouldRetry   = shouldRetry
	Backoff       = backoff
	ThrottleWait  = throttleWait
	ErrPagination = errPagination
)

// ParseRateLimitAt is ParseRateLimit with a fixed now.
func ParseRateLimitAt(h http.Header, now time.Time) RateLimit { return parseRateLimit(h, now) }

// SetClock replaces c's time source, sleep and randomness (nil keeps one).
func SetClock(c *Client, now func() time.Time, sleep func(context.Context, time.Duration) error, rnd func() float64) {
	if now != nil {
		c.clk.now = now
	}
	if sleep != nil {
		c.clk.sleep = sleep
	}
	if rnd != nil {
		c.clk.rnd = rnd
	}
}
