package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// world is the orgs of one scenario: sources that each create a connection
// to every sink. Sinks have no keys: they never call the API.
type world struct {
	sources, sinks int
	limit          int           // per org and limit name; 0 = no rate limit
	period         time.Duration // whole seconds, as the fixture takes
	latency        time.Duration // added by the emulator to every request
	// With offsets or others, the bench's own limiter ([windows]) applies
	// the limit instead of the sandbox's.
	offsets bool // windows start at an offset per org and limit name
	others  int  // requests of another client in every window
}

// ownLimiter tells whether the world needs the bench's limiter.
func (w world) ownLimiter() bool { return w.limit > 0 && (w.offsets || w.others > 0) }

func sourceID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", i) }
func sinkID(i int) string   { return fmt.Sprintf("00000000-0000-4000-9000-%012x", i) }

func sourceKeys(id string) (apiKey, appKey string) { return "bench-api-" + id, "bench-app-" + id }

func (w world) fixture() *sandbox.Fixture {
	f := &sandbox.Fixture{}
	for i := range w.sources {
		apiKey, appKey := sourceKeys(sourceID(i))
		f.Orgs = append(f.Orgs, sandbox.FixtureOrg{ID: sourceID(i), Name: fmt.Sprintf("source-%d", i), APIKey: apiKey, AppKey: appKey})
	}
	for i := range w.sinks {
		f.Orgs = append(f.Orgs, sandbox.FixtureOrg{ID: sinkID(i), Name: fmt.Sprintf("sink-%d", i)})
	}
	if w.limit > 0 && !w.ownLimiter() {
		f.RateLimit = &sandbox.RateLimitConfig{Limit: w.limit, Period: int(w.period / time.Second)}
	}
	return f
}

// manifest is what a user would write for the world: every source sends
// logs to every sink.
func (w world) manifest() *manifest.Manifest {
	m := &manifest.Manifest{}
	org := func(label, id string) manifest.Org {
		env := strings.ToUpper(strings.ReplaceAll(label, "-", "_"))
		return manifest.Org{Label: label, ID: id, Site: "datadoghq.com", APIKeyEnv: env + "_API_KEY", AppKeyEnv: env + "_APP_KEY"}
	}
	for i := range w.sources {
		m.Orgs = append(m.Orgs, org(fmt.Sprintf("source-%d", i), sourceID(i)))
	}
	for j := range w.sinks {
		m.Orgs = append(m.Orgs, org(fmt.Sprintf("sink-%03d", j), sinkID(j)))
	}
	for i := range w.sources {
		for j := range w.sinks {
			m.Connections = append(m.Connections, manifest.Connection{SourceLabel: fmt.Sprintf("source-%d", i),
				SinkLabel: fmt.Sprintf("sink-%03d", j), SinkID: sinkID(j), Types: []string{"logs"}})
		}
	}
	return m
}

// emulator is a fresh sandbox served over loopback HTTP, so that requests
// pay for real sockets, keep-alive and the server's goroutines rather than
// the in-memory transport. Its handler counts, per source org, the answered
// requests that count against the org_connections limit.
type emulator struct {
	srv     *sandbox.Server
	url     string
	stop    func()
	windows *windows // nil: the sandbox limits, if at all

	mu        sync.Mutex
	counted   map[string]int // by API key
	throttled map[string]int // 429s by API key
}

func startEmulator(w world) (*emulator, error) {
	srv, err := sandbox.New(w.fixture(), sandbox.Options{Faults: sandbox.Faults{Latency: w.latency}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &emulator{srv: srv, url: "http://" + ln.Addr().String(), counted: map[string]int{}, throttled: map[string]int{}}
	if w.ownLimiter() {
		e.windows = newWindows(w.limit, w.period, w.offsets, w.others)
	}
	hs := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	e.stop = func() { _ = hs.Close(); _ = srv.Close() }
	return e, nil
}

// ServeHTTP passes the request to the sandbox and counts it when it was
// served rather than refused with a 429: refused requests use up the quota
// too, but they are waste, not work, so the bound leaves them out.
func (e *emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	e.serve(sw, r)
	key := r.Header.Get("DD-API-KEY")
	e.mu.Lock()
	defer e.mu.Unlock()
	if sw.status == http.StatusTooManyRequests {
		e.throttled[key]++
	} else if strings.HasPrefix(r.URL.Path, "/api/v2/org_connections") {
		e.counted[key]++
	}
}

// serve answers with the sandbox, under the bench's limiter if the world
// has one. Requests without keys go straight to the sandbox, which
// refuses them.
func (e *emulator) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("DD-API-KEY")
	if e.windows == nil || key == "" {
		e.srv.ServeHTTP(w, r)
		return
	}
	h, ok := e.windows.take(key, limitName(r.URL.Path), time.Now())
	for k, v := range h {
		w.Header()[k] = v
	}
	if !ok {
		w.Header().Set("Retry-After", h.Get("X-RateLimit-Reset"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errors":["Too many requests"]}`))
		return
	}
	e.srv.ServeHTTP(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// result reads what the emulator saw: the counted requests of each source
// org, the 429s it answered, and the most 429s one org met.
func (e *emulator) result(w world) (requests []int, throttled int64, mostPerOrg int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range w.sources {
		apiKey, _ := sourceKeys(sourceID(i))
		requests = append(requests, e.counted[apiKey])
		throttled += int64(e.throttled[apiKey])
		mostPerOrg = max(mostPerOrg, e.throttled[apiKey])
	}
	return requests, throttled, mostPerOrg
}

// origins are where the org_connections windows of each source org start,
// modulo the period.
func (e *emulator) origins(w world) []time.Time {
	var out []time.Time
	for i := range w.sources {
		apiKey, _ := sourceKeys(sourceID(i))
		o := time.Unix(0, 0)
		if e.windows != nil {
			o = e.windows.origin(apiKey, "org_connections")
		}
		out = append(out, o)
	}
	return out
}

// run is one measured run.
type run struct {
	start     time.Time     // just before the first request
	wall      time.Duration // until the last answer
	requests  []int         // per source org: served requests counted against org_connections
	throttled int64         // 429 answers
	most429s  int           // the most 429s that one source org met
	retries   int64         // retried requests, as the report counts them
	origins   []time.Time   // per source org: where its windows start, modulo the period
}

// runOrgsync applies the world's manifest to a fresh emulator the way
// `orgsync apply -f ... --auto-approve --api-url URL` does (cmd/orgsync
// apply.go and target.go): one client per org from orgapi.New with the
// CLI's defaults, ReadState, Diff, then apply.Run. The clock starts before
// ReadState, since its list pages count against the same limit as the creates.
func runOrgsync(ctx context.Context, w world, parallelism int) (run, error) {
	e, err := startEmulator(w)
	if err != nil {
		return run{}, err
	}
	defer e.stop()
	m := w.manifest()
	orgs := manifest.SourceOrgs(m)
	// One Counters for the clients and the run, as cmd/orgsync wires them.
	counters := &apply.Counters{}
	clients, err := orgapi.New(orgapi.Config{
		Endpoints: orgapi.Everywhere(e.url, "the benchmark's server"),
		Keys: keys.Func(func(_ context.Context, o keys.Org) (keys.Pair, error) {
			apiKey, appKey := sourceKeys(o.ID)
			return keys.Pair{API: apiKey, App: appKey}, nil
		}),
		UserAgent:   "orgsync/bench",
		Timeout:     30 * time.Second, // the CLI's defaults: no --rate, so Burst is unused
		MaxRetries:  10,
		Burst:       10,
		Parallelism: parallelism,
		Counters:    counters,
	}, orgapi.FromManifest(orgs))
	if err != nil {
		return run{}, err
	}

	r := run{start: time.Now()}
	st, err := plan.ReadState(ctx, clients, orgs, parallelism)
	if err != nil {
		return r, fmt.Errorf("read state: %w", err)
	}
	p := plan.Diff(m, st)
	want := w.sources * w.sinks
	if p.Summary.Create != want {
		return r, fmt.Errorf("the plan creates %d connections, want %d", p.Summary.Create, want)
	}
	rep := apply.Run(ctx, p, clients, apply.Options{Parallelism: parallelism, Counters: counters})
	r.wall = time.Since(r.start)
	if !rep.OK() || rep.Summary.Created != want {
		return r, fmt.Errorf("apply: %d created, %d failed, %d skipped", rep.Summary.Created, rep.Summary.Failed, rep.Summary.Skipped)
	}
	r.requests, r.throttled, r.most429s = e.result(w)
	r.retries, r.origins = rep.RateLimit.Retries, e.origins(w)
	return r, nil
}

// runPlain is the loop a user would write instead of orgsync: one POST after
// another with net/http, in the plan's order (source by source), and on a
// 429 a sleep of X-RateLimit-Reset seconds (else Retry-After) before trying
// again. It skips the reads orgsync makes, which only helps it.
func runPlain(ctx context.Context, w world) (run, error) {
	e, err := startEmulator(w)
	if err != nil {
		return run{}, err
	}
	defer e.stop()
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	r := run{start: time.Now()}
	for i := range w.sources {
		apiKey, appKey := sourceKeys(sourceID(i))
		for j := range w.sinks {
			body := `{"data":{"type":"org_connection","attributes":{"connection_types":["logs"]},` +
				`"relationships":{"sink_org":{"data":{"type":"orgs","id":"` + sinkID(j) + `"}}}}}`
			for {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/api/v2/org_connections", bytes.NewReader([]byte(body)))
				if err != nil {
					return r, err
				}
				req.Header.Set("DD-API-KEY", apiKey)
				req.Header.Set("DD-APPLICATION-KEY", appKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					return r, err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				if resp.StatusCode != http.StatusTooManyRequests {
					return r, fmt.Errorf("plain loop: POST answered %s", resp.Status)
				}
				wait := resp.Header.Get("X-RateLimit-Reset")
				if wait == "" {
					wait = resp.Header.Get("Retry-After")
				}
				secs, err := strconv.Atoi(wait)
				if err != nil {
					return r, fmt.Errorf("plain loop: 429 without a usable reset (%q)", wait)
				}
				t := time.NewTimer(time.Duration(secs) * time.Second)
				select {
				case <-ctx.Done():
					t.Stop()
					return r, ctx.Err()
				case <-t.C:
				}
			}
		}
	}
	r.wall = time.Since(r.start)
	r.requests, r.throttled, r.most429s = e.result(w)
	r.origins = e.origins(w)
	if len(e.srv.Connections()) != w.sources*w.sinks {
		return r, errors.New("plain loop: connections missing")
	}
	return r, nil
}
