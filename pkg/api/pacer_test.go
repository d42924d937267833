package api_test

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/orgsync/orgsync/pkg/api"
)

// windowServer is a tiny Datadog-like rate limiter: limit requests per
// fixed window of period, windows aligned on origin, with the X-RateLimit-*
// headers (Reset rounded up, as "seconds until the reset"). others requests
// of another client sharing the budget land at the start of each window.
type windowServer struct {
	limit  int
	period time.Duration
	origin time.Time
	name   string
	others int

	mu        sync.Mutex
	window    int64
	count     int
	served    []time.Time
	throttled int
}

func newWindowServer(limit int, period time.Duration, origin time.Time) *windowServer {
	return &windowServer{limit: limit, period: period, origin: origin, name: "org_connections_write", window: math.MinInt64}
}

func (s *windowServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	win := int64(now.Sub(s.origin) / s.period)
	if now.Before(s.origin) {
		win--
	}
	if win != s.window {
		s.window, s.count = win, s.others
	}
	end := s.origin.Add(time.Duration(win+1) * s.period)
	h := w.Header()
	h.Set("X-RateLimit-Name", s.name)
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-RateLimit-Period", strconv.Itoa(int(s.period/time.Second)))
	h.Set("X-RateLimit-Reset", strconv.Itoa(int(math.Ceil(end.Sub(now).Seconds()))))
	if s.count >= s.limit {
		s.throttled++
		h.Set("X-RateLimit-Remaining", "0")
		writeJSON(w, http.StatusTooManyRequests, `{"errors":["Too many requests"]}`)
		return
	}
	s.count++
	s.served = append(s.served, now)
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.limit-s.count))
	writeJSON(w, http.StatusOK, connJSON(connID))
}

// runWorkers makes n creates from workers goroutines and returns the errors.
func runWorkers(c *api.Client, n, workers int) []error {
	jobs := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				if _, err := c.CreateConnection(t0ctx, sinkOrg, []string{"logs"}); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errs
}

// TestPacingFixedWindow: one client, a server limit of L per P, N writes
// from 8 workers. The physical bound is ceil(N/L)-1 windows; the client
// must stay within 10% of it (plus a second) and meet almost no 429.
func TestPacingFixedWindow(t *testing.T) {
	const (
		limit   = 50
		period  = 10 * time.Second
		n       = 300
		workers = 8
	)
	tests := []struct {
		name   string
		offset time.Duration // how far into a window the run starts
		seed   api.Config    // Rate/Burst/RateIsCap only
	}{
		{name: "aligned start"},
		{name: "mid-window start", offset: 3700 * time.Millisecond},
		{name: "late start", offset: 9900 * time.Millisecond},
		{name: "seeded rate is raised by the headers", seed: api.Config{Rate: 1, Burst: 1}},
		{name: "generous cap", offset: 1200 * time.Millisecond, seed: api.Config{Rate: 100, Burst: 100, RateIsCap: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				srv := newWindowServer(limit, period, start.Add(-tt.offset))
				c := newMemClient(t, srv, 0, func(cfg *api.Config) {
					cfg.MaxRetries = 10
					cfg.Rate, cfg.Burst, cfg.RateIsCap = tt.seed.Rate, tt.seed.Burst, tt.seed.RateIsCap
				})
				errs := runWorkers(c, n, workers)
				elapsed := time.Since(start)
				require.Empty(t, errs)

				windows := (n+limit-1)/limit - 1
				bound := time.Duration(windows) * period
				firstEnd := period - tt.offset
				physical := firstEnd + time.Duration(windows-1)*period // with this start offset
				t.Logf("elapsed %v (bound %v, physical %v), 429s %d", elapsed, bound, physical, srv.throttled)
				assert.LessOrEqual(t, elapsed, bound*110/100+time.Second, "within 1.10x of the bound")
				assert.LessOrEqual(t, elapsed, physical*110/100+time.Second, "within 1.10x of the bound for this start")
				assert.GreaterOrEqual(t, elapsed, physical, "faster than the server allows?")
				assert.LessOrEqual(t, srv.throttled, 2, "429s")
				assert.Len(t, srv.served, n)
			})
		})
	}
}

// TestThrottleBlocksEveryWorker: a 429 with Retry-After: 30 (and no other
// header) makes every worker of the org wait ~30s, then all succeed.
func TestThrottleBlocksEveryWorker(t *testing.T) {
	const n, workers = 20, 4
	tests := []struct {
		name        string
		rate        float64
		burst       int
		maxElapsed  time.Duration
		maxThrottle int
	}{
		// Every worker may have a request in flight when the first 429 comes.
		{name: "no client limit", maxElapsed: 31*time.Second + 50*time.Millisecond, maxThrottle: workers},
		// As in the house style: rate.Every(1s), burst 2.
		{name: "rate 1/s", rate: 1, burst: 2, maxElapsed: 31*time.Second + 50*time.Millisecond + (n-2)*time.Second, maxThrottle: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				blockedUntil := start.Add(30 * time.Second)
				var mu sync.Mutex
				throttled := 0
				var served []time.Time
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					now := time.Now()
					if now.Before(blockedUntil) {
						throttled++
						w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(blockedUntil.Sub(now).Seconds()))))
						writeJSON(w, http.StatusTooManyRequests, `{"errors":["Too many requests"]}`)
						return
					}
					served = append(served, now)
					created(w, r)
				})
				c := newMemClient(t, h, 0, func(cfg *api.Config) {
					cfg.MaxRetries = 3
					cfg.Rate, cfg.Burst = rate.Limit(tt.rate), tt.burst
				})
				errs := runWorkers(c, n, workers)
				elapsed := time.Since(start)
				require.Empty(t, errs)
				t.Logf("elapsed %v, 429s %d", elapsed, throttled)
				assert.GreaterOrEqual(t, elapsed, 30*time.Second)
				assert.LessOrEqual(t, elapsed, tt.maxElapsed)
				assert.LessOrEqual(t, throttled, tt.maxThrottle, "only requests already in flight get a 429")
				require.Len(t, served, n)
				assert.LessOrEqual(t, served[0].Sub(start), 31*time.Second+50*time.Millisecond, "nobody waits much longer than asked")
			})
		})
	}
}

// TestUserCapIsNeverExceeded: with RateIsCap, --rate 5/s holds even when the
// server's headers allow 1000 per second.
func TestUserCapIsNeverExceeded(t *testing.T) {
	for _, burst := range []int{1, 3} {
		t.Run(fmt.Sprintf("burst %d", burst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const r = 5.0
				start := time.Now()
				srv := newWindowServer(1000, time.Second, start)
				c := newMemClient(t, srv, 0, func(cfg *api.Config) {
					cfg.Rate, cfg.Burst, cfg.RateIsCap = r, burst, true
				})
				const n = 60
				require.Empty(t, runWorkers(c, n, 8))
				require.Len(t, srv.served, n)
				// In any interval [a, b], at most burst + r*(b-a) requests.
				for i := range srv.served {
					for j := i + 1; j < len(srv.served); j++ {
						span := srv.served[j].Sub(srv.served[i]).Seconds()
						if float64(j-i+1) > float64(burst)+r*span+1e-9 {
							t.Fatalf("%d requests in %.3fs: over %v/s with burst %d", j-i+1, span, r, burst)
						}
					}
				}
				elapsed := time.Since(start)
				want := time.Duration(float64(n-burst) / r * float64(time.Second))
				assert.InDelta(t, want.Seconds(), elapsed.Seconds(), 0.5, "paced at the cap, not slower")
				assert.Zero(t, srv.throttled)
			})
		})
	}
}

// TestSharedBudget: another client uses 30 of the 50 requests of every
// window; the headers say so and the client paces on what remains.
func TestSharedBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			limit, others, n = 50, 30, 100
			period           = 10 * time.Second
		)
		start := time.Now()
		srv := newWindowServer(limit, period, start)
		srv.others = others
		c := newMemClient(t, srv, 0, func(cfg *api.Config) { cfg.MaxRetries = 10 })
		require.Empty(t, runWorkers(c, n, 8))
		elapsed := time.Since(start)
		windows := (n+limit-others-1)/(limit-others) - 1
		bound := time.Duration(windows) * period
		t.Logf("elapsed %v (bound %v), 429s %d", elapsed, bound, srv.throttled)
		assert.GreaterOrEqual(t, elapsed, bound)
		assert.LessOrEqual(t, elapsed, bound*110/100+time.Second)
		assert.LessOrEqual(t, srv.throttled, 1)
	})
}

// TestNoLimitLatency: without any limit, 32 workers and 20ms of latency do
// 1000 writes in about 1000*20ms/32.
func TestNoLimitLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, workers, latency = 1000, 32, 20 * time.Millisecond
		c := newMemClient(t, http.HandlerFunc(created), latency)
		start := time.Now()
		require.Empty(t, runWorkers(c, n, workers))
		elapsed := time.Since(start)
		ideal := time.Duration(n) * latency / workers
		t.Logf("elapsed %v (ideal %v)", elapsed, ideal)
		assert.LessOrEqual(t, elapsed, ideal*110/100)
	})
}

// TestNamedBuckets: endpoints in different X-RateLimit-Name buckets are
// paced apart: using up the write budget does not hold reads back.
func TestNamedBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		writes := newWindowServer(5, time.Minute, start)
		reads := newWindowServer(100, time.Minute, start)
		reads.name = "org_connections_read"
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/v2/org_connections", writes.ServeHTTP)
		mux.HandleFunc("GET /api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
			reads.mu.Lock()
			reads.served = append(reads.served, time.Now())
			reads.mu.Unlock()
			w.Header().Set("X-RateLimit-Name", reads.name)
			w.Header().Set("X-RateLimit-Limit", "100")
			w.Header().Set("X-RateLimit-Period", "60")
			w.Header().Set("X-RateLimit-Remaining", "99")
			w.Header().Set("X-RateLimit-Reset", "60")
			writeJSON(w, 200, `{"data":[],"meta":{"page":{"total_count":0,"total_filtered_count":0}}}`)
		})
		c := newMemClient(t, mux, 0, func(cfg *api.Config) { cfg.MaxRetries = 3 })
		require.Empty(t, runWorkers(c, 5, 1)) // the write window is used up
		_, err := c.ListConnections(t0ctx, api.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, time.Duration(0), time.Since(start), "reads do not wait for the write window")
		require.Empty(t, runWorkers(c, 1, 1))
		assert.GreaterOrEqual(t, time.Since(start), time.Minute, "the sixth write waits for the next window")
		assert.Zero(t, writes.throttled)
	})
}

// TestWindowsAtAnyOffset: pacing does not depend on the server's windows
// being aligned to multiples of the period in Unix time (Datadog's are),
// nor on the client being the org's only one. Whatever the windows'
// offset, and with another client using half of every window, a run takes
// at most 10% over its bound and meets at most one 429, although
// X-RateLimit-Reset only counts whole seconds.
func TestWindowsAtAnyOffset(t *testing.T) {
	const limit, period, n = 10, 2 * time.Second, 55
	for _, others := range []int{0, limit / 2} {
		for _, offset := range []time.Duration{0, 300 * time.Millisecond, 950 * time.Millisecond, 1700 * time.Millisecond} {
			t.Run(fmt.Sprintf("offset %s, others %d", offset, others), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					time.Sleep(700 * time.Millisecond) // start inside a window
					start := time.Now()
					origin := time.Unix(0, 0).Add(offset)
					srv := newWindowServer(limit, period, origin)
					srv.others = others
					c := newMemClient(t, srv, time.Millisecond, func(cfg *api.Config) { cfg.MaxRetries = 5 })
					// As apply reads first, the client has one answer before
					// the workers start.
					require.Empty(t, runWorkers(c, 1, 1))
					require.Empty(t, runWorkers(c, n-1, 32))
					elapsed := time.Since(start)
					// The window in which the last request may go, counting
					// the one the run starts in.
					windows := (n + limit - others - 1) / (limit - others)
					first := origin.Add(start.Sub(origin).Truncate(period))
					bound := first.Add(time.Duration(windows-1) * period).Sub(start)
					t.Logf("elapsed %v, bound %v, 429s %d", elapsed, bound, srv.throttled)
					assert.GreaterOrEqual(t, elapsed, bound)
					assert.LessOrEqual(t, elapsed, bound*110/100)
					assert.LessOrEqual(t, srv.throttled, 1)
				})
			})
		}
	}
}

// TestBurstAfterAnUnseenWindowEnd: the first answer leaves the window's end
// a second uncertain, and a burst goes out after the real end but before
// the estimated one. The server counts the burst in its next window; so
// must the client, or it would send that window's budget a second time.
func TestBurstAfterAnUnseenWindowEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, period, n = 10, 2 * time.Second, 30
		origin := time.Now().Truncate(period)
		time.Sleep(time.Until(origin.Add(1800 * time.Millisecond))) // 0.2 s before a window ends
		start := time.Now()
		srv := newWindowServer(limit, period, origin)
		c := newMemClient(t, srv, time.Millisecond, func(cfg *api.Config) { cfg.MaxRetries = 5 })
		require.Empty(t, runWorkers(c, 1, 1))
		time.Sleep(300 * time.Millisecond) // the window ended 0.1 s ago
		require.Empty(t, runWorkers(c, n-1, 32))
		elapsed := time.Since(start)
		// One request in the first window, then 10, 10 and 9: the last
		// window opens 4.2 s after the start.
		bound := 4200 * time.Millisecond
		t.Logf("elapsed %v, bound %v, 429s %d", elapsed, bound, srv.throttled)
		assert.LessOrEqual(t, elapsed, bound*110/100)
		assert.Zero(t, srv.throttled)
	})
}
