package apply_test

// Tests of apply over the real client stack (orgapi, api, the sandbox
// through its in-memory transport) in a synctest bubble, where the
// sandbox's latency passes on the fake clock: how stops and timeouts meet
// the --parallelism slots, the rate-limit waits and the per-org pools.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// fleet is nSources source orgs that each declare [logs, metrics] to each
// of nSinks sinks; with existing set, every connection already exists
// with [logs] only, so that each change is an update.
type fleet struct {
	fixture  *sandbox.Fixture
	manifest *manifest.Manifest
}

func newFleet(nSources, nSinks int, existing bool) fleet {
	f := fleet{fixture: &sandbox.Fixture{}, manifest: &manifest.Manifest{}}
	id := func(kind, n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n) }
	for j := range nSinks {
		f.fixture.Orgs = append(f.fixture.Orgs, sandbox.FixtureOrg{ID: id(2, j), Name: fmt.Sprintf("sink-%d", j)})
		f.manifest.Orgs = append(f.manifest.Orgs, manifest.Org{Label: fmt.Sprintf("sink-%d", j), ID: id(2, j), Site: "datadoghq.com"})
	}
	for i := range nSources {
		label := fmt.Sprintf("src-%d", i)
		f.fixture.Orgs = append(f.fixture.Orgs, sandbox.FixtureOrg{ID: id(1, i), Name: label, APIKey: "api-" + label, AppKey: "app-" + label})
		f.manifest.Orgs = append(f.manifest.Orgs, manifest.Org{Label: label, ID: id(1, i), Site: "datadoghq.com", APIKeyEnv: "K", AppKeyEnv: "K"})
		for j := range nSinks {
			f.manifest.Connections = append(f.manifest.Connections, manifest.Connection{SourceLabel: label,
				SinkLabel: fmt.Sprintf("sink-%d", j), SinkID: id(2, j), Types: []string{"logs", "metrics"}})
			if existing {
				f.fixture.Connections = append(f.fixture.Connections, sandbox.FixtureConnection{Source: id(1, i), Sink: id(2, j), Types: []string{"logs"}})
			}
		}
	}
	return f
}

// keys hands out the fixture's keys of each org.
var fleetKeys = keys.Func(func(_ context.Context, o keys.Org) (keys.Pair, error) {
	return keys.Pair{API: "api-" + o.Label, App: "app-" + o.Label}, nil
})

var sandboxEndpoint = orgapi.Everywhere(orgapi.SandboxURL, "the sandbox")

// plan reads the live state and diffs the manifest against it.
func (f fleet) plan(t *testing.T, c *orgapi.Clients) *plan.Plan {
	t.Helper()
	orgs := manifest.SourceOrgs(f.manifest)
	st, err := plan.ReadState(t.Context(), c, orgs, len(orgs))
	require.NoError(t, err)
	return plan.Diff(f.manifest, st)
}

// wireLog records when each write reached the server.
type wireLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent []time.Time
}

func (l *wireLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		l.mu.Lock()
		l.sent = append(l.sent, time.Now())
		l.mu.Unlock()
	}
	return l.next.RoundTrip(r)
}

// TestStopAcrossOrgs: a stop mid-run ends the start of new changes in every
// org at once. 40 orgs, 4 requests in flight at most, 500 ms per request:
// the stop comes while the second round of creates is on the wire. Those
// finish; nothing is sent after the stop; every other change is skipped,
// without an attempt; the run ends when the requests on the wire do; the
// server holds exactly the connections the report says were created.
func TestStopAcrossOrgs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			sources, sinks = 40, 2
			latency        = 500 * time.Millisecond
			parallelism    = 4
		)
		f := newFleet(sources, sinks, false)
		sb, err := sandbox.New(f.fixture, sandbox.Options{Faults: sandbox.Faults{Latency: latency}})
		require.NoError(t, err)
		defer sb.Close()
		wire := &wireLog{next: sb.Transport()}
		stop := make(chan struct{})
		c, err := orgapi.New(orgapi.Config{Endpoints: sandboxEndpoint, Transport: wire, Keys: fleetKeys,
			Parallelism: parallelism, MaxRetries: 10, Stop: stop}, orgapi.FromManifest(manifest.SourceOrgs(f.manifest)))
		require.NoError(t, err)
		p := f.plan(t, c)
		require.Equal(t, sources*sinks, p.Summary.Create)

		var stoppedAt time.Time
		time.AfterFunc(latency+latency/2, func() { stoppedAt = time.Now(); close(stop) })
		rep := apply.Run(t.Context(), p, c, apply.Options{Parallelism: parallelism, Stop: stop})
		synctest.Wait()

		require.False(t, stoppedAt.IsZero(), "the run ended before the stop")
		assert.Equal(t, stoppedAt.Add(latency/2), time.Now(), "the run ends when the requests on the wire do")
		for _, at := range wire.sent {
			assert.True(t, at.Before(stoppedAt), "a write went out %s after the stop", at.Sub(stoppedAt))
		}
		s := rep.Summary
		assert.Equal(t, 2*parallelism, s.Created, "two rounds of creates were sent")
		assert.Equal(t, sources*sinks, s.Created+s.Skipped, "every change was made or skipped")
		assert.Zero(t, s.Failed)
		onServer := map[string]bool{}
		for _, conn := range sb.Connections() {
			onServer[conn.ID] = true
		}
		assert.Len(t, onServer, s.Created, "the server holds exactly what was created")
		for _, r := range rep.Results {
			switch r.Outcome {
			case apply.Created:
				assert.True(t, onServer[r.ConnectionID], "created %s is on the server", r.ConnectionID)
			case apply.Skipped:
				assert.Zero(t, r.Attempts, "a skipped change sent nothing")
			}
		}
	})
}

// TestTimeoutBoundsTheWireOnly is the QA repro of issue 9, defect 2: 40
// updates, 2 requests in flight, a 2 s timeout, no retries, 500 ms per
// request. Most updates wait far longer than 2 s for a slot; none may time
// out for it, and each response's elapsed time (what -v prints) is the
// request's own.
func TestTimeoutBoundsTheWireOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const latency = 500 * time.Millisecond
		f := newFleet(40, 1, true)
		sb, err := sandbox.New(f.fixture, sandbox.Options{Faults: sandbox.Faults{Latency: latency}})
		require.NoError(t, err)
		defer sb.Close()
		var mu sync.Mutex
		var elapsed []time.Duration
		c, err := orgapi.New(orgapi.Config{Endpoints: sandboxEndpoint, Transport: sb.Transport(), Keys: fleetKeys,
			Parallelism: 2, Timeout: 2 * time.Second, MaxRetries: 0,
			OnResponse: func(ri api.ResponseInfo) {
				mu.Lock()
				elapsed = append(elapsed, ri.Elapsed)
				mu.Unlock()
			}}, orgapi.FromManifest(manifest.SourceOrgs(f.manifest)))
		require.NoError(t, err)
		p := f.plan(t, c)
		require.Equal(t, 40, p.Summary.Update)

		start := time.Now()
		rep := apply.Run(t.Context(), p, c, apply.Options{Parallelism: 2})
		assert.Equal(t, 20*latency, time.Since(start), "40 updates, 2 at a time")
		assert.Equal(t, 40, rep.Summary.Updated)
		for _, r := range rep.Results {
			assert.Empty(t, r.Error)
		}
		require.Len(t, elapsed, 2*40+40, "two reads per org, then the updates")
		for _, e := range elapsed {
			assert.Equal(t, latency, e, "elapsed is the request's own")
		}
	})
}

// stoppedWriter answers a create with create (call and error), and a re-read
// with a call stopped before it was sent.
type stoppedWriter struct {
	call apply.Call
	err  error
}

func (w stoppedWriter) CreateConnection(context.Context, plan.SourceOrg, string, []string) (string, apply.Call, error) {
	return "", w.call, w.err
}

func (w stoppedWriter) UpdateConnection(context.Context, plan.SourceOrg, string, []string) (apply.Call, error) {
	return apply.Call{}, fmt.Errorf("PATCH: %w", api.ErrStopped)
}

func (w stoppedWriter) DeleteConnection(context.Context, plan.SourceOrg, string) (apply.Call, error) {
	return apply.Call{}, fmt.Errorf("DELETE: %w", api.ErrStopped)
}

func (w stoppedWriter) FindConnection(context.Context, plan.SourceOrg, string) (plan.LiveConnection, bool, apply.Call, error) {
	return plan.LiveConnection{}, false, apply.Call{}, fmt.Errorf("GET: %w", api.ErrStopped)
}

// TestStoppedChangeOutcome: a change stopped while it waited for a slot, a
// rate-limit window or a retry is skipped when nothing it sent can have
// changed anything, and failed otherwise, so that the report never calls
// skipped a change that may have landed.
func TestStoppedChangeOutcome(t *testing.T) {
	stopped := func(last error) error {
		if last == nil {
			return fmt.Errorf("POST: %w", api.ErrStopped)
		}
		return fmt.Errorf("POST: %w (attempt 2); the last attempt got: %w", api.ErrStopped, last)
	}
	throttled := &api.Error{Method: "POST", StatusCode: 429, Errors: []string{"Too many requests"}}
	unavailable := &api.Error{Method: "POST", StatusCode: 503, Errors: []string{"unavailable"}}
	conflict := &api.Error{Method: "POST", StatusCode: 409, Errors: []string{"already exists"}}
	tests := []struct {
		name         string
		w            stoppedWriter
		want         apply.Outcome
		wantAttempts int
	}{
		{name: "waiting for a slot or a window", w: stoppedWriter{err: stopped(nil)}, want: apply.Skipped},
		{name: "waiting for the window after a 429", w: stoppedWriter{call: apply.Call{Attempts: 1, HTTPStatus: 429, Throttled: 1}, err: stopped(throttled)},
			want: apply.Skipped, wantAttempts: 1},
		{name: "waiting to retry a 5xx", w: stoppedWriter{call: apply.Call{Attempts: 2, HTTPStatus: 503}, err: stopped(unavailable)},
			want: apply.Skipped, wantAttempts: 2},
		{name: "waiting to retry a dropped connection", w: stoppedWriter{call: apply.Call{Attempts: 1, Unanswered: 1}, err: stopped(io.ErrUnexpectedEOF)},
			want: apply.Failed, wantAttempts: 1},
		{name: "a 409, then stopped before the re-read", w: stoppedWriter{call: apply.Call{Attempts: 1, HTTPStatus: 409}, err: conflict},
			want: apply.Failed, wantAttempts: 1},
	}
	org := plan.SourceOrg{Label: "a", ID: "00000001-0000-4000-8000-000000000000"}
	p := &plan.Plan{Orgs: []plan.SourceOrg{org}, Changes: []plan.Change{{Action: plan.Create, SourceOrg: plan.OrgRef{Label: "a", ID: org.ID},
		SinkOrg: plan.OrgRef{Label: "b", ID: "00000002-0000-4000-8000-000000000000"}, After: []string{"logs"}}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := apply.Run(t.Context(), p, tt.w, apply.Options{})
			require.Len(t, rep.Results, 1)
			r := rep.Results[0]
			assert.Equal(t, tt.want, r.Outcome, r.Error)
			assert.Equal(t, tt.wantAttempts, r.Attempts)
		})
	}
}
