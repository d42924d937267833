package sandbox

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := apiFixture(t)
	f.RateLimit = &RateLimitConfig{Limit: 3, Period: 10}
	s := newServer(t, f, Options{})
	base := time.Unix(1_700_000_000, 0) // a multiple of 10 s: a window starts here
	var now time.Time
	s.now = func() time.Time { return now }

	const tooMany = `{"errors":["Too many requests"]}` + "\n"
	steps := []struct {
		name          string
		at            time.Duration
		keys          keys
		method, path  string
		wantCode      int
		wantRemaining string // "" when no X-RateLimit-* header is expected
		wantReset     string
		wantName      string
	}{
		{"first", 2500 * time.Millisecond, srcKeys, "GET", "/api/v2/org_connections", 200, "2", "8", "org_connections"},
		{"second", 2500 * time.Millisecond, srcKeys, "GET", "/api/v2/org_connections", 200, "1", "8", "org_connections"},
		{"a 404 from a handler counts", 3 * time.Second, srcKeys, "DELETE", "/api/v2/org_connections/" + zeroID, 404, "0", "7", "org_connections"},
		{"over the limit", 3 * time.Second, srcKeys, "POST", "/api/v2/org_connections", 429, "0", "7", "org_connections"},
		{"current_user has its own limit", 3 * time.Second, srcKeys, "GET", "/api/v2/current_user", 200, "2", "7", "users"},
		{"another org has its own limit", 3 * time.Second, sinkKeys, "GET", "/api/v2/org_connections", 200, "2", "7", "org_connections"},
		{"a 403 carries the headers", 3 * time.Second, readOnlyKeys, "DELETE", "/api/v2/org_connections/" + zeroID, 403, "2", "7", "org_connections"},
		{"a 401 has no org, so no headers", 3 * time.Second, noKeys, "GET", "/api/v2/org_connections", 401, "", "", ""},
		{"an unknown path has no limit", 3 * time.Second, srcKeys, "GET", "/api/v2/nope", 404, "", "", ""},
		{"reset rounds up", 9999 * time.Millisecond, srcKeys, "GET", "/api/v2/org_connections", 429, "0", "1", "org_connections"},
		{"next window", 10 * time.Second, srcKeys, "GET", "/api/v2/org_connections", 200, "2", "10", "org_connections"},
	}
	for _, st := range steps {
		now = base.Add(st.at)
		body := ""
		if st.method == "POST" {
			body = createBody(sinkID, "logs")
		}
		w := call(s, st.keys, st.method, st.path, body)
		h := w.Header()
		assert.Equal(t, st.wantCode, w.Code, st.name)
		assert.Equal(t, st.wantRemaining, h.Get("X-RateLimit-Remaining"), st.name)
		assert.Equal(t, st.wantReset, h.Get("X-RateLimit-Reset"), st.name)
		assert.Equal(t, st.wantName, h.Get("X-RateLimit-Name"), st.name)
		if st.wantRemaining != "" {
			assert.Equal(t, "3", h.Get("X-RateLimit-Limit"), st.name)
			assert.Equal(t, "10", h.Get("X-RateLimit-Period"), st.name)
		}
		if st.wantCode == 429 {
			assert.Equal(t, tooMany, w.Body.String(), st.name)
			assert.Equal(t, st.wantReset, h.Get("Retry-After"), st.name)
		} else {
			assert.Empty(t, h.Get("Retry-After"), st.name)
		}
	}
	assert.Empty(t, s.Connections(), "a rate-limited create does nothing")
	assert.Equal(t, map[string]int64{srcID: 2}, s.Stats().RateLimited)
}

// TestRateLimitRetryAfter runs a client that honours Retry-After inside a
// synctest bubble: waiting out two windows takes 120 s of fake time and no
// real time.
func TestRateLimitRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := recordedFixture(t)
		f.RateLimit = &RateLimitConfig{Limit: 2, Period: 60}
		s, err := New(f, Options{})
		require.NoError(t, err)
		client := &http.Client{Transport: s.Transport()}
		start := time.Now()
		ok, limited := 0, 0
		for ok < 5 {
			req, err := http.NewRequestWithContext(t.Context(), "GET", "http://sandbox/api/v2/org_connections", nil)
			require.NoError(t, err)
			req.Header.Set("DD-API-KEY", srcKeys.api)
			req.Header.Set("DD-APPLICATION-KEY", srcKeys.app)
			resp, err := client.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			if resp.StatusCode == http.StatusTooManyRequests {
				limited++
				secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				require.NoError(t, err)
				time.Sleep(time.Duration(secs) * time.Second)
				continue
			}
			require.Equal(t, http.StatusOK, resp.StatusCode)
			ok++
		}
		assert.Equal(t, 2, limited)
		assert.Equal(t, 120*time.Second, time.Since(start))
		require.NoError(t, s.Close())
	})
}
