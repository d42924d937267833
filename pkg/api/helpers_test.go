package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

// Keys that must never show up in an error.
const (
	testAPIKey = "apikey-0123456789abcdef0123456789ab"
	testAppKey = "appkey-fedcba9876543210fedcba9876543210fedc"
)

// baseURLPath is a non-root base path, so that a client which drops it
// (or builds URLs from "/") fails the tests, as in go-github's setup.
const baseURLPath = "/api-proxy"

const (
	sourceOrg = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	sinkOrg   = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
)

// testEnv is a client wired to a local server, with a fake clock.
type testEnv struct {
	client *api.Client
	mux    *http.ServeMux
	server *httptest.Server
	clock  *fakeClock
}

// newTestClient returns a client whose base URL is a local httptest server
// under baseURLPath, and the mux to register the handlers on. Its clock is
// fake: waits are recorded, never slept.
func newTestClient(t *testing.T, opts ...func(*api.Config)) (*api.Client, *http.ServeMux) {
	t.Helper()
	env := setup(t, opts...)
	return env.client, env.mux
}

func setup(t *testing.T, opts ...func(*api.Config)) *testEnv {
	t.Helper()
	mux := http.NewServeMux()
	root := http.NewServeMux()
	root.Handle(baseURLPath+"/", http.StripPrefix(baseURLPath, mux))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside the base path", http.StatusBadRequest)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	cfg := api.Config{
		BaseURL:    srv.URL + baseURLPath + "/",
		APIKey:     testAPIKey,
		AppKey:     testAppKey,
		UserAgent:  "orgsync/test",
		HTTPClient: srv.Client(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := api.NewClient(cfg)
	require.NoError(t, err)
	clk := newFakeClock()
	api.SetClock(c, clk.Now, clk.Sleep, func() float64 { return 0.5 })
	return &testEnv{client: c, mux: mux, server: srv, clock: clk}
}

// fakeClock advances only when the client sleeps, and records the waits.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	f.waits = append(f.waits, d)
	return nil
}

func (f *fakeClock) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// testMethod, testHeaders, testQuery and testBody check a request inside a
// handler: they report with t.Errorf (through assert), never FailNow.
func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method, "method")
}

func testHeaders(t *testing.T, r *http.Request) {
	t.Helper()
	assert.Equal(t, testAPIKey, r.Header.Get("DD-API-KEY"), "DD-API-KEY")
	assert.Equal(t, testAppKey, r.Header.Get("DD-APPLICATION-KEY"), "DD-APPLICATION-KEY")
	assert.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "orgsync/"), "User-Agent %q", r.Header.Get("User-Agent"))
	wantAccept := "application/json"
	if r.Method == http.MethodDelete {
		wantAccept = "*/*"
	}
	assert.Equal(t, wantAccept, r.Header.Get("Accept"), "Accept")
	switch r.Method {
	case http.MethodPost, http.MethodPatch:
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "Content-Type")
	default:
		assert.Empty(t, r.Header.Get("Content-Type"), "Content-Type of a %s", r.Method)
	}
}

func testQuery(t *testing.T, r *http.Request, want url.Values) {
	t.Helper()
	assert.Equal(t, want, r.URL.Query(), "query")
}

func testBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if !assert.NoError(t, err) {
		return
	}
	if want == "" {
		assert.Empty(t, b, "body")
		return
	}
	assert.JSONEq(t, want, string(b), "body")
}

// connJSON is a create answer as recorded, for a given id.
func connJSON(id string, types ...string) string {
	if len(types) == 0 {
		types = []string{"logs"}
	}
	tj, _ := json.Marshal(types)
	return `{"data":{"type":"org_connection","id":"` + id + `","attributes":{"created_at":"2025-08-26T20:19:36.177236+00:00","connection_types":` + string(tj) +
		`},"relationships":{"source_org":{"data":{"type":"orgs","id":"` + sourceOrg + `","name":"Source"}},"sink_org":{"data":{"type":"orgs","id":"` + sinkOrg +
		`","name":"Sink"}},"created_by":{"data":{"type":"users","id":"03e6bc43-7ecc-11f0-b50b-f28f2be41840","name":"Amy"}}}}}`
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// handlerTransport is an in-memory http.RoundTripper that serves requests
// with a handler through httptest.NewRecorder: inside a synctest bubble
// there must be no network. latency delays each answer on the (fake) clock.
type handlerTransport struct {
	h       http.Handler
	latency time.Duration
}

func (ht handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:1234"
	sreq.Body = http.NoBody
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		sreq.Body = io.NopCloser(bytes.NewReader(b))
	}
	if ht.latency > 0 {
		timer := time.NewTimer(ht.latency)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, sreq)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// newMemClient returns a client that serves requests in memory with h.
func newMemClient(t *testing.T, h http.Handler, latency time.Duration, opts ...func(*api.Config)) *api.Client {
	t.Helper()
	cfg := api.Config{
		BaseURL:    "http://localhost" + baseURLPath,
		APIKey:     testAPIKey,
		AppKey:     testAppKey,
		HTTPClient: &http.Client{Transport: handlerTransport{h: http.StripPrefix(baseURLPath, h), latency: latency}},
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := api.NewClient(cfg)
	require.NoError(t, err)
	return c
}

// t0ctx is the context of the worker calls in the pacing tests.
var t0ctx = context.Background()
