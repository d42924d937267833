package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowBound(t *testing.T) {
	t.Parallel()
	// at returns a time sec seconds (and ms milliseconds) after a moment
	// that is a multiple of 2s and of 3s.
	at := func(sec, ms int) time.Time {
		return time.Unix(1_800_000_000+int64(sec), int64(ms)*int64(time.Millisecond))
	}
	tests := []struct {
		name     string
		start    time.Time
		requests int
		limit    int
		period   time.Duration
		want     time.Duration
	}{
		{name: "fits the current window", start: at(0, 300), requests: 50, limit: 50, period: 2 * time.Second, want: 0},
		{name: "one more than a window", start: at(0, 300), requests: 51, limit: 50, period: 2 * time.Second, want: 1700 * time.Millisecond},
		{name: "default scenario mid-window", start: at(1, 250), requests: 401, limit: 50, period: 2 * time.Second, want: 14750 * time.Millisecond},
		{name: "default scenario on a boundary", start: at(0, 0), requests: 401, limit: 50, period: 2 * time.Second, want: 16 * time.Second},
		{name: "exact multiple of the limit", start: at(0, 0), requests: 400, limit: 50, period: 2 * time.Second, want: 14 * time.Second},
		{name: "just before a boundary", start: at(1, 999), requests: 101, limit: 50, period: 2 * time.Second, want: 2001 * time.Millisecond},
		{name: "3s windows", start: at(2, 0), requests: 61, limit: 20, period: 3 * time.Second, want: 7 * time.Second},
		{name: "sum of four orgs", start: at(1, 250), requests: 4 * 401, limit: 50, period: 2 * time.Second, want: 62750 * time.Millisecond},
		{name: "before 1970", start: time.Unix(-3, 500_000_000), requests: 21, limit: 10, period: 2 * time.Second, want: 2500 * time.Millisecond},
		{name: "no requests", start: at(0, 300), requests: 0, limit: 50, period: 2 * time.Second, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, windowBound(tt.start, tt.requests, tt.limit, tt.period))
		})
	}
}

func TestLatencyBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		reads, creates, parallelism int
		latency, want               time.Duration
	}{
		{name: "default scenario", reads: 2, creates: 1000, parallelism: 32, latency: 20 * time.Millisecond, want: 680 * time.Millisecond},
		{name: "even rounds", reads: 0, creates: 64, parallelism: 32, latency: 10 * time.Millisecond, want: 20 * time.Millisecond},
		{name: "sequential", reads: 2, creates: 5, parallelism: 1, latency: time.Second, want: 7 * time.Second},
		{name: "parallelism 0 is 1", reads: 0, creates: 3, parallelism: 0, latency: time.Second, want: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, latencyBound(tt.reads, tt.creates, tt.parallelism, tt.latency))
		})
	}
}
