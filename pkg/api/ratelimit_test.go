package api_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orgsync/orgsync/pkg/api"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	none := api.RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: -1}
	tests := []struct {
		name    string
		headers map[string]string
		want    api.RateLimit
	}{
		{name: "none", want: none},
		{
			name: "all",
			headers: map[string]string{"X-RateLimit-Name": "org_connections_write", "X-RateLimit-Limit": "50",
				"X-RateLimit-Period": "10", "X-RateLimit-Remaining": "49", "X-RateLimit-Reset": "7"},
			want: api.RateLimit{Name: "org_connections_write", Limit: 50, Period: 10, Remaining: 49, Reset: 7},
		},
		{
			name:    "lower-case names and spaces",
			headers: map[string]string{"x-ratelimit-limit": " 60 ", "x-ratelimit-remaining": "0"},
			want:    api.RateLimit{Limit: 60, Period: -1, Remaining: 0, Reset: -1},
		},
		{
			name: "garbage",
			headers: map[string]string{"X-RateLimit-Limit": "lots", "X-RateLimit-Period": "1.5",
				"X-RateLimit-Remaining": "0x10", "X-RateLimit-Reset": "soon"},
			want: none,
		},
		{
			name: "negative and signed",
			headers: map[string]string{"X-RateLimit-Limit": "-1", "X-RateLimit-Period": "+10",
				"X-RateLimit-Remaining": "-0", "X-RateLimit-Reset": "-5"},
			want: none,
		},
		{
			name:    "huge overflows",
			headers: map[string]string{"X-RateLimit-Limit": "99999999999999999999999", "X-RateLimit-Reset": "99999999999999999999"},
			want:    none,
		},
		{
			name:    "empty",
			headers: map[string]string{"X-RateLimit-Limit": "", "X-RateLimit-Name": "  "},
			want:    none,
		},
		{
			name:    "ten years is still a delta",
			headers: map[string]string{"X-RateLimit-Reset": "315360000"},
			want:    api.RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: 315360000},
		},
		{
			name:    "epoch in the future becomes a delta",
			headers: map[string]string{"X-RateLimit-Reset": strconv.FormatInt(now.Unix()+42, 10)},
			want:    api.RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: 42},
		},
		{
			name:    "epoch in the past becomes 0",
			headers: map[string]string{"X-RateLimit-Reset": "1700000000"},
			want:    api.RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			assert.Equal(t, tt.want, api.ParseRateLimitAt(h, now))
		})
	}
	t.Run("ParseRateLimit uses the wall clock", func(t *testing.T) {
		h := http.Header{"X-Ratelimit-Reset": {"3"}}
		assert.Equal(t, 3, api.ParseRateLimit(h).Reset)
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{name: "seconds", in: "30", want: 30 * time.Second, wantOK: true},
		{name: "zero", in: "0", want: 0, wantOK: true},
		{name: "spaces", in: " 5 ", want: 5 * time.Second, wantOK: true},
		{name: "negative", in: "-3", want: 0, wantOK: true},
		{name: "huge", in: "99999999999999999999999", want: time.Duration(1<<63 - 1), wantOK: true},
		{name: "larger than a duration", in: "9223372037", want: time.Duration(1<<63 - 1), wantOK: true},
		{name: "http date", in: "Fri, 27 Nov 2026 10:31:30 GMT", want: 90 * time.Second, wantOK: true},
		{name: "rfc850 date", in: "Friday, 27-Nov-26 10:30:10 GMT", want: 10 * time.Second, wantOK: true},
		{name: "asctime date", in: "Fri Nov 27 10:30:20 2026", want: 20 * time.Second, wantOK: true},
		{name: "date in the past", in: "Fri, 27 Nov 2026 10:00:00 GMT", want: 0, wantOK: true},
		{name: "far future date", in: "Fri, 31 Dec 9999 23:59:59 GMT", want: time.Duration(1<<63 - 1), wantOK: true},
		{name: "empty", in: "", wantOK: false},
		{name: "garbage", in: "soon", wantOK: false},
		{name: "fraction", in: "1.5", wantOK: false},
		{name: "plus sign", in: "+5", wantOK: false},
		{name: "minus only", in: "-", wantOK: false},
		{name: "iso date", in: "2026-11-27T10:31:00Z", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := api.ParseRetryAfter(tt.in, now)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "30", "-1", "99999999999999999999", "Fri, 27 Nov 2026 10:31:30 GMT",
		"Friday, 27-Nov-26 10:30:10 GMT", "Fri Nov 27 10:30:20 2026", "", "soon", "1e9", "\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := api.ParseRetryAfter(s, now)
		if d < 0 {
			t.Errorf("ParseRetryAfter(%q) = %v, negative", s, d)
		}
		if !ok && d != 0 {
			t.Errorf("ParseRetryAfter(%q) = %v, false: want 0 when not ok", s, d)
		}
	})
}
