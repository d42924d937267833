package api_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestShouldRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		err    error
		want   bool
	}{
		{name: "200", status: 200, want: false},
		{name: "400", status: 400, want: false},
		{name: "401", status: 401, want: false},
		{name: "403", status: 403, want: false},
		{name: "404", status: 404, want: false},
		{name: "409", status: 409, want: false},
		{name: "422", status: 422, want: false},
		{name: "429", status: 429, want: true},
		{name: "500", status: 500, want: true},
		{name: "501", status: 501, want: false},
		{name: "502", status: 502, want: true},
		{name: "503", status: 503, want: true},
		{name: "504", status: 504, want: true},
		{name: "599", status: 599, want: true},
		{name: "no status no error", status: 0, want: false},
		{name: "EOF", err: io.EOF, want: true},
		{name: "unexpected EOF", err: fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), want: true},
		{name: "connection reset", err: &net.OpError{Op: "read", Net: "tcp", Err: &net.OpError{Err: syscall.ECONNRESET}}, want: true},
		{name: "connection refused", err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, want: true},
		{name: "broken pipe", err: syscall.EPIPE, want: true},
		{name: "url error around EOF", err: &url.Error{Op: "Post", URL: "http://x", Err: io.EOF}, want: true},
		{name: "net timeout", err: timeoutError{}, want: true},
		{name: "per-attempt timeout", err: context.DeadlineExceeded, want: true},
		{name: "cancelled", err: context.Canceled, want: false},
		{name: "cancelled while reading", err: fmt.Errorf("read: %w", context.Canceled), want: false},
		{name: "unknown authority", err: &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, want: false},
		{name: "bad hostname", err: x509.HostnameError{Host: "x"}, want: false},
		{name: "dns not found", err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, want: false},
		{name: "dns timeout", err: &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, want: true},
		{name: "other error", err: errors.New("http: server gave HTTP response to HTTPS client"), want: false},
		{name: "error wins over status", status: 503, err: context.Canceled, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, api.ShouldRetry(tt.status, tt.err))
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{attempt: -5, min: 125 * ms, max: 250 * ms},
		{attempt: 0, min: 125 * ms, max: 250 * ms},
		{attempt: 1, min: 125 * ms, max: 250 * ms},
		{attempt: 2, min: 250 * ms, max: 500 * ms},
		{attempt: 3, min: 500 * ms, max: 1000 * ms},
		{attempt: 4, min: 1 * time.Second, max: 2 * time.Second},
		{attempt: 5, min: 2 * time.Second, max: 4 * time.Second},
		{attempt: 6, min: 2500 * ms, max: 5 * time.Second},
		{attempt: 7, min: 2500 * ms, max: 5 * time.Second},
		{attempt: 20, min: 2500 * ms, max: 5 * time.Second},
		{attempt: 1 << 40, min: 2500 * ms, max: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.min, api.Backoff(tt.attempt, func() float64 { return 0 }), "rnd 0")
			hi := api.Backoff(tt.attempt, func() float64 { return 0.999999 })
			assert.LessOrEqual(t, hi, tt.max, "rnd ~1")
			assert.Greater(t, hi, tt.max*99/100, "rnd ~1")
			for range 100 {
				d := api.Backoff(tt.attempt, randFloat)
				assert.GreaterOrEqual(t, d, tt.min)
				assert.LessOrEqual(t, d, tt.max)
			}
		})
	}
}

var (
	rndMu  sync.Mutex
	rndVal uint64 = 88172645463325252
)

// randFloat is a tiny deterministic generator (xorshift) for the tests.
func randFloat() float64 {
	rndMu.Lock()
	defer rndMu.Unlock()
	rndVal ^= rndVal << 13
	rndVal ^= rndVal >> 7
	rndVal ^= rndVal << 17
	return float64(rndVal>>11) / (1 << 53)
}

func TestThrottleWait(t *testing.T) {
	t.Parallel()
	none := api.RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: -1}
	withReset := func(n int) api.RateLimit { rl := none; rl.Reset = n; return rl }
	tests := []struct {
		name       string
		rl         api.RateLimit
		ra         time.Duration
		hasRA      bool
		attempt    int
		wantExact  time.Duration
		minW, maxW time.Duration
	}{
		{name: "reset", rl: withReset(7), wantExact: 7 * time.Second, minW: 7 * time.Second, maxW: 7700 * time.Millisecond},
		{name: "reset wins over retry-after", rl: withReset(3), ra: 30 * time.Second, hasRA: true, wantExact: 3 * time.Second, minW: 3 * time.Second, maxW: 3300 * time.Millisecond},
		{name: "retry-after", rl: none, ra: 30 * time.Second, hasRA: true, wantExact: 30 * time.Second, minW: 30 * time.Second, maxW: 31 * time.Second},
		{name: "jitter capped at 1s", rl: withReset(100), wantExact: 100 * time.Second, minW: 100 * time.Second, maxW: 101 * time.Second},
		{name: "nothing: backoff", rl: none, attempt: 2, minW: 250 * time.Millisecond, maxW: 500 * time.Millisecond},
		{name: "zero reset: backoff", rl: withReset(0), attempt: 1, minW: 125 * time.Millisecond, maxW: 250 * time.Millisecond},
		{name: "zero retry-after: backoff", rl: none, hasRA: true, attempt: 1, minW: 125 * time.Millisecond, maxW: 250 * time.Millisecond},
		{name: "huge reset saturates", rl: withReset(1 << 62), wantExact: time.Duration(1<<63 - 1), minW: time.Duration(1<<63 - 1), maxW: time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, rnd := range []func() float64{func() float64 { return 0 }, func() float64 { return 0.999999 }, randFloat} {
				wait, exact := api.ThrottleWait(tt.rl, tt.ra, tt.hasRA, tt.attempt, rnd)
				assert.Equal(t, tt.wantExact, exact)
				assert.GreaterOrEqual(t, wait, tt.minW)
				assert.LessOrEqual(t, wait, tt.maxW)
			}
		})
	}
}

// counter counts requests and answers them from a script.
func scripted(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) (http.HandlerFunc, *atomic.Int32) {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(answers) {
			t.Errorf("unexpected request #%d: %s %s", i+1, r.Method, r.URL)
			http.Error(w, "too many requests in script", 500)
			return
		}
		answers[i](w, r)
	}, &n
}

func status(code int, body string, headers ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		writeJSON(w, code, body)
	}
}

func created(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, connJSON(connID)) }

func dropConnection(t *testing.T) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if assert.NoError(t, err) {
			conn.Close()
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	const e500 = `{"errors":["Internal Server Error"]}`
	tests := []struct {
		name       string
		maxRetries int
		answers    func(t *testing.T) []func(http.ResponseWriter, *http.Request)
		wantErr    string // substring, "" = success
		wantStatus int    // of *api.Error, 0 = not an *api.Error
		wantInfo   api.CallInfo
		wantWaits  []time.Duration
	}{
		{
			name:       "5xx then success",
			maxRetries: 5,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(503, e500), status(500, e500), created}
			},
			wantInfo:  api.CallInfo{Attempts: 3, StatusCode: 200},
			wantWaits: []time.Duration{187500 * time.Microsecond, 375 * time.Millisecond},
		},
		{
			name:       "retries exhausted",
			maxRetries: 2,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(500, e500), status(502, e500), status(503, e500)}
			},
			wantErr:    "POST /api/v2/org_connections: 503 Service Unavailable: Internal Server Error (after 3 attempts)",
			wantStatus: 503,
			wantInfo:   api.CallInfo{Attempts: 3, StatusCode: 503},
			wantWaits:  []time.Duration{187500 * time.Microsecond, 375 * time.Millisecond},
		},
		{
			name:       "no retries configured",
			maxRetries: 0,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(503, e500)}
			},
			wantErr:    "503 Service Unavailable",
			wantStatus: 503,
			wantInfo:   api.CallInfo{Attempts: 1, StatusCode: 503},
		},
		{
			name:       "503 with retry-after",
			maxRetries: 1,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(503, e500, "Retry-After", "10"), created}
			},
			wantInfo:  api.CallInfo{Attempts: 2, StatusCode: 200},
			wantWaits: []time.Duration{10500 * time.Millisecond},
		},
		{
			name:       "503 asking for too long",
			maxRetries: 3,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(503, e500, "Retry-After", "3600")}
			},
			wantErr:    "longer than the max retry wait of 5m0s",
			wantStatus: 503,
			wantInfo:   api.CallInfo{Attempts: 1, StatusCode: 503},
		},
		{
			name:       "429 then success waits for the reset",
			maxRetries: 3,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){
					status(429, `{"errors":["Too many requests"]}`, "X-RateLimit-Reset", "4", "X-RateLimit-Limit", "10", "X-RateLimit-Period", "10", "X-RateLimit-Remaining", "0"),
					created,
				}
			},
			wantInfo: api.CallInfo{Attempts: 2, StatusCode: 200, Throttled: 1},
			// 4s + 10% jitter at rnd 0.5, then the wake-up jitter (50ms at most, P/50 = 200ms).
			wantWaits: []time.Duration{4200*time.Millisecond + 25*time.Millisecond},
		},
		{
			name:       "429 asking for too long",
			maxRetries: 3,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(429, `{"errors":["Too many requests"]}`, "Retry-After", "600")}
			},
			wantErr:    "POST /api/v2/org_connections: 429 Too Many Requests: Too many requests: the server asks to wait 10m0s, longer than the max retry wait of 5m0s",
			wantStatus: 429,
			wantInfo:   api.CallInfo{Attempts: 1, StatusCode: 429, Throttled: 1},
		},
		{
			name:       "POST retried after a dropped connection",
			maxRetries: 1,
			answers: func(t *testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){dropConnection(t), created}
			},
			wantInfo:  api.CallInfo{Attempts: 2, StatusCode: 200, Unanswered: 1},
			wantWaits: []time.Duration{187500 * time.Microsecond},
		},
		{
			name:       "dropped connections exhaust retries",
			maxRetries: 1,
			answers: func(t *testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){dropConnection(t), dropConnection(t)}
			},
			wantErr:   "POST /api/v2/org_connections: EOF",
			wantInfo:  api.CallInfo{Attempts: 2, Unanswered: 2},
			wantWaits: []time.Duration{187500 * time.Microsecond},
		},
	}
	for _, code := range []int{400, 401, 403, 404, 409, 422, 501} {
		tests = append(tests, struct {
			name       string
			maxRetries int
			answers    func(t *testing.T) []func(http.ResponseWriter, *http.Request)
			wantErr    string
			wantStatus int
			wantInfo   api.CallInfo
			wantWaits  []time.Duration
		}{
			name:       fmt.Sprintf("%d not retried", code),
			maxRetries: 5,
			answers: func(*testing.T) []func(http.ResponseWriter, *http.Request) {
				return []func(http.ResponseWriter, *http.Request){status(code, `{"errors":["no"]}`)}
			},
			wantErr:    fmt.Sprintf("POST /api/v2/org_connections: %d", code),
			wantStatus: code,
			wantInfo:   api.CallInfo{Attempts: 1, StatusCode: code},
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var infos []api.ResponseInfo
			var mu sync.Mutex
			env := setup(t, func(cfg *api.Config) {
				cfg.MaxRetries = tt.maxRetries
				cfg.OnResponse = func(ri api.ResponseInfo) { mu.Lock(); infos = append(infos, ri); mu.Unlock() }
			})
			answers := tt.answers(t)
			h, calls := scripted(t, answers...)
			var bodies []string
			env.mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
				testHeaders(t, r)
				bodies = append(bodies, readAll(r))
				h(w, r)
			})
			var ci api.CallInfo
			conn, err := env.client.CreateConnection(api.WithCallInfo(t.Context(), &ci), sinkOrg, []string{"logs"})
			assert.Equal(t, int32(len(answers)), calls.Load(), "requests")
			assert.Equal(t, tt.wantInfo, ci)
			assert.Equal(t, tt.wantWaits, env.clock.Waits())
			for _, b := range bodies {
				assert.Equal(t, bodies[0], b, "the body is replayed on each attempt")
			}
			mu.Lock()
			for i, ri := range infos {
				assert.Equal(t, "POST", ri.Method)
				assert.Equal(t, "/api/v2/org_connections", ri.Path)
				assert.NotZero(t, ri.StatusCode)
				assert.LessOrEqual(t, ri.Attempt, tt.wantInfo.Attempts)
				if i > 0 {
					assert.Greater(t, ri.Attempt, infos[i-1].Attempt)
				}
			}
			mu.Unlock()
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, connID, conn.ID)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			var apiErr *api.Error
			if tt.wantStatus == 0 {
				assert.False(t, errors.As(err, &apiErr), "not an *api.Error: %v", err)
				return
			}
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			assert.Equal(t, tt.wantInfo.Attempts, apiErr.Attempts)
		})
	}
}

func TestThrottleTooLongBlocksTheBucket(t *testing.T) {
	t.Parallel()
	env := setup(t, func(cfg *api.Config) { cfg.MaxRetries = 3 })
	h, calls := scripted(t, status(429, `{"errors":["Too many requests"]}`, "X-RateLimit-Reset", "900"))
	env.mux.HandleFunc("/api/v2/org_connections", h)
	_, err := env.client.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
	require.True(t, api.IsRateLimited(err), "%v", err)
	// The next call does not even ask: the server said to wait 15 minutes.
	_, err = env.client.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
	require.True(t, api.IsRateLimited(err), "%v", err)
	assert.ErrorContains(t, err, "longer than the max retry wait")
	assert.Equal(t, int32(1), calls.Load())
	assert.Empty(t, env.clock.Waits())
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("connection refused is retried", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		c, err := api.NewClient(api.Config{BaseURL: base, APIKey: testAPIKey, AppKey: testAppKey, MaxRetries: 2})
		require.NoError(t, err)
		clk := newFakeClock()
		api.SetClock(c, clk.Now, clk.Sleep, nil)
		var ci api.CallInfo
		_, err = c.CreateConnection(api.WithCallInfo(t.Context(), &ci), sinkOrg, []string{"logs"})
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		assert.Regexp(t, `^POST /api/v2/org_connections: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`, err.Error())
		assert.Equal(t, api.CallInfo{Attempts: 3, Unanswered: 3}, ci, "a refused connection looks like any failed one")
		assert.Len(t, clk.Waits(), 2)
	})
	t.Run("https to an http server is not retried", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		c, err := api.NewClient(api.Config{BaseURL: "https://" + srv.Listener.Addr().String(), APIKey: testAPIKey, AppKey: testAppKey, MaxRetries: 3})
		require.NoError(t, err)
		clk := newFakeClock()
		api.SetClock(c, clk.Now, clk.Sleep, nil)
		var ci api.CallInfo
		err = c.DeleteConnection(api.WithCallInfo(t.Context(), &ci), connID)
		require.Error(t, err)
		assert.Equal(t, 1, ci.Attempts)
		assert.Empty(t, clk.Waits())
	})
}

// TestWaitsAreCancellable runs in a synctest bubble: the waits are real
// timers on a fake clock.
func TestWaitsAreCancellable(t *testing.T) {
	tests := []struct {
		name   string
		answer http.HandlerFunc
	}{
		{name: "5xx backoff", answer: status(503, `{"errors":["x"]}`, "Retry-After", "60")},
		{name: "429 wait", answer: status(429, `{"errors":["x"]}`, "Retry-After", "60")},
		{name: "429 window wait", answer: status(429, `{"errors":["x"]}`, "X-RateLimit-Limit", "10", "X-RateLimit-Period", "60",
			"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "60")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					tt.answer(w, r)
				}), 0, func(cfg *api.Config) { cfg.MaxRetries = 5 })
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(2*time.Second, cancel)
				start := time.Now()
				var ci api.CallInfo
				_, err := c.CreateConnection(api.WithCallInfo(ctx, &ci), sinkOrg, []string{"logs"})
				assert.Equal(t, 2*time.Second, time.Since(start), "returns as soon as ctx is done")
				require.ErrorIs(t, err, context.Canceled)
				assert.Equal(t, "POST /api/v2/org_connections: context canceled", err.Error())
				assert.Equal(t, int32(1), calls.Load())
				assert.Equal(t, 1, ci.Attempts)
			})
		})
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				<-r.Context().Done() // hang until the attempt times out
				return
			}
			created(w, r)
		}), 0, func(cfg *api.Config) { cfg.MaxRetries = 1; cfg.Timeout = 5 * time.Second })
		start := time.Now()
		var ci api.CallInfo
		_, err := c.CreateConnection(api.WithCallInfo(t.Context(), &ci), sinkOrg, []string{"logs"})
		require.NoError(t, err)
		assert.Equal(t, api.CallInfo{Attempts: 2, StatusCode: 200, Unanswered: 1}, ci)
		elapsed := time.Since(start)
		assert.GreaterOrEqual(t, elapsed, 5*time.Second+125*time.Millisecond)
		assert.LessOrEqual(t, elapsed, 5*time.Second+250*time.Millisecond)
	})
}

func TestTimeoutsExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}), 0, func(cfg *api.Config) { cfg.MaxRetries = 1; cfg.Timeout = time.Second })
		var ci api.CallInfo
		err := c.DeleteConnection(api.WithCallInfo(t.Context(), &ci), connID)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, "DELETE /api/v2/org_connections/"+connID+": no answer within the request timeout of 1s: context deadline exceeded", err.Error())
		assert.Equal(t, 2, ci.Attempts)
	})
}

func TestCallerDeadlineIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			<-r.Context().Done()
		}), 0, func(cfg *api.Config) { cfg.MaxRetries = 5 })
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.ListConnections(ctx, api.ListOptions{})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 3*time.Second, time.Since(start))
		assert.Equal(t, int32(1), calls.Load())
	})
}
