package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/plan"
)

var update = flag.Bool("update", false, "update golden files")

// fakeWriter is an in-memory Org Connections API for one or more source
// orgs. Failures are injected by sink id (peribolos style).
type fakeWriter struct {
	mu      sync.Mutex
	conns   map[string]plan.LiveConnection // key: source id + "->" + sink id
	failOn  map[string]error               // sink id -> error for any write to it
	calls   []string                       // "create src->sink", "delete id", ...
	nextID  int
	latency time.Duration // slept per call (fake time under synctest)

	inFlight, maxInFlight map[string]int // per source label
}

var _ Writer = (*fakeWriter)(nil)

func newFakeWriter() *fakeWriter {
	return &fakeWriter{conns: map[string]plan.LiveConnection{}, failOn: map[string]error{},
		inFlight: map[string]int{}, maxInFlight: map[string]int{}}
}

func (f *fakeWriter) enter(org plan.SourceOrg, call string) func() {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.inFlight[org.Label]++
	f.maxInFlight[org.Label] = max(f.maxInFlight[org.Label], f.inFlight[org.Label])
	f.mu.Unlock()
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	return func() {
		f.mu.Lock()
		f.inFlight[org.Label]--
		f.mu.Unlock()
	}
}

func (f *fakeWriter) put(src, sink string, types ...string) string {
	f.nextID++
	id := fmt.Sprintf("conn-%d", f.nextID)
	f.conns[src+"->"+sink] = plan.LiveConnection{ID: id, SourceID: src, SinkID: sink, Types: types}
	return id
}

func (f *fakeWriter) CreateConnection(ctx context.Context, org plan.SourceOrg, sinkID string, types []string) (string, Call, error) {
	defer f.enter(org, "create "+org.Label+"->"+sinkID)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failOn[sinkID]; err != nil {
		return "", Call{Attempts: 1, HTTPStatus: statusOf(err)}, err
	}
	if _, ok := f.conns[org.ID+"->"+sinkID]; ok {
		return "", Call{Attempts: 1, HTTPStatus: 409}, &api.Error{Method: "POST", StatusCode: 409, Errors: []string{"already exists"}}
	}
	return f.put(org.ID, sinkID, types...), Call{Attempts: 1, HTTPStatus: 200}, nil
}

func (f *fakeWriter) byID(id string) (string, bool) {
	for k, c := range f.conns {
		if c.ID == id {
			return k, true
		}
	}
	return "", false
}

func (f *fakeWriter) UpdateConnection(ctx context.Context, org plan.SourceOrg, id string, types []string) (Call, error) {
	defer f.enter(org, "update "+id)()
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.byID(id)
	if !ok {
		return Call{Attempts: 1, HTTPStatus: 404}, &api.Error{Method: "PATCH", StatusCode: 404, Errors: []string{"not found"}}
	}
	if err := f.failOn[f.conns[k].SinkID]; err != nil {
		return Call{Attempts: 1, HTTPStatus: statusOf(err)}, err
	}
	c := f.conns[k]
	c.Types = types
	f.conns[k] = c
	return Call{Attempts: 1, HTTPStatus: 200}, nil
}

func (f *fakeWriter) DeleteConnection(ctx context.Context, org plan.SourceOrg, id string) (Call, error) {
	defer f.enter(org, "delete "+id)()
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.byID(id)
	if !ok {
		return Call{Attempts: 1, HTTPStatus: 404}, &api.Error{Method: "DELETE", StatusCode: 404, Errors: []string{"not found"}}
	}
	if err := f.failOn[f.conns[k].SinkID]; err != nil {
		return Call{Attempts: 1, HTTPStatus: statusOf(err)}, err
	}
	delete(f.conns, k)
	return Call{Attempts: 1, HTTPStatus: 200}, nil
}

func (f *fakeWriter) FindConnection(ctx context.Context, org plan.SourceOrg, sinkID string) (plan.LiveConnection, bool, Call, error) {
	defer f.enter(org, "find "+org.Label+"->"+sinkID)()
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conns[org.ID+"->"+sinkID]
	return c, ok, Call{Attempts: 1, HTTPStatus: 200}, nil
}

func statusOf(err error) int {
	if e, ok := err.(*api.Error); ok {
		return e.StatusCode
	}
	return 0
}

const (
	idHub = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	idA   = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	idB   = "11111111-1111-4111-8111-111111111111"
	idX   = "99999999-9999-4999-8999-999999999999"
)

var (
	orgA = plan.SourceOrg{Label: "team-a", ID: idA, Site: "datadoghq.com", APIKeyEnv: "A_API", AppKeyEnv: "A_APP", Prune: true}
	orgB = plan.SourceOrg{Label: "team-b", ID: idB, Site: "datadoghq.com", APIKeyEnv: "B_API", AppKeyEnv: "B_APP"}
	hub  = plan.OrgRef{Label: "hub", ID: idHub}
)

func ref(o plan.SourceOrg) plan.OrgRef { return plan.OrgRef{Label: o.Label, ID: o.ID} }

func newPlan(changes ...plan.Change) *plan.Plan {
	return &plan.Plan{FormatVersion: plan.FormatVersion, Orgs: []plan.SourceOrg{orgA, orgB}, Changes: changes,
		LiveState: map[string]string{"team-a": "sha256:a", "team-b": "sha256:b"}}
}

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(5 * time.Millisecond)
		return t
	}
}

func outcomes(rep *Report) []string {
	var out []string
	for _, r := range rep.Results {
		out = append(out, fmt.Sprintf("%s %s %s->%s", r.Action, r.Outcome, r.SourceOrg.Label, r.SinkOrg.ID[:8]))
	}
	slices.Sort(out)
	return out
}

func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(f *fakeWriter)
		changes func(f *fakeWriter) []plan.Change
		want    []string
		summary Summary
	}{
		{
			name: "create update delete noop",
			setup: func(f *fakeWriter) {
				f.put(idA, idHub, "logs")
				f.put(idA, idX, "audit")
				f.put(idB, idHub, "logs")
			},
			changes: func(f *fakeWriter) []plan.Change {
				return []plan.Change{
					{Action: plan.Create, SourceOrg: ref(orgB), SinkOrg: plan.OrgRef{ID: idX}, After: []string{"metrics"}},
					{Action: plan.Update, SourceOrg: ref(orgA), SinkOrg: hub, ConnectionID: "conn-1", Before: []string{"logs"}, After: []string{"logs", "metrics"}},
					{Action: plan.Delete, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: idX}, ConnectionID: "conn-2", Before: []string{"audit"}},
					{Action: plan.Noop, SourceOrg: ref(orgB), SinkOrg: hub, ConnectionID: "conn-3", Before: []string{"logs"}, After: []string{"logs"}},
				}
			},
			want:    []string{"create created team-b->99999999", "delete deleted team-a->99999999", "noop unchanged team-b->83999dcd", "update updated team-a->83999dcd"},
			summary: Summary{Created: 1, Updated: 1, Deleted: 1, Unchanged: 1},
		},
		{
			name:  "409 with the same types is already present",
			setup: func(f *fakeWriter) { f.put(idA, idHub, "logs") },
			changes: func(f *fakeWriter) []plan.Change {
				return []plan.Change{{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: hub, After: []string{"logs"}}}
			},
			want:    []string{"create already_present team-a->83999dcd"},
			summary: Summary{AlreadyPresent: 1},
		},
		{
			name:  "409 with other types is fixed",
			setup: func(f *fakeWriter) { f.put(idA, idHub, "logs") },
			changes: func(f *fakeWriter) []plan.Change {
				return []plan.Change{{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: hub, After: []string{"audit", "logs"}}}
			},
			want:    []string{"create updated team-a->83999dcd"},
			summary: Summary{Updated: 1},
		},
		{
			name:  "404 on delete counts as done",
			setup: func(f *fakeWriter) {},
			changes: func(f *fakeWriter) []plan.Change {
				return []plan.Change{{Action: plan.Delete, SourceOrg: ref(orgA), SinkOrg: hub, ConnectionID: "gone", Before: []string{"logs"}}}
			},
			want:    []string{"delete deleted team-a->83999dcd"},
			summary: Summary{Deleted: 1},
		},
		{
			name:  "404 on update recreates the connection",
			setup: func(f *fakeWriter) {},
			changes: func(f *fakeWriter) []plan.Change {
				return []plan.Change{{Action: plan.Update, SourceOrg: ref(orgA), SinkOrg: hub, ConnectionID: "gone", Before: []string{"logs"}, After: []string{"metrics"}}}
			},
			want:    []string{"update created team-a->83999dcd"},
			summary: Summary{Created: 1},
		},
		{
			name: "a 400 fails that change only",
			setup: func(f *fakeWriter) {
				f.failOn[idX] = &api.Error{Method: "POST", StatusCode: 400, Errors: []string{"connection between orgs is not allowed"}}
			},
			changes: func(f *fakeWriter) []plan.Change {
				return []plan.Change{
					{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: idX}, After: []string{"logs"}},
					{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: hub, After: []string{"logs"}},
				}
			},
			want:    []string{"create created team-a->83999dcd", "create failed team-a->99999999"},
			summary: Summary{Created: 1, Failed: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeWriter()
			tt.setup(f)
			rep := Run(context.Background(), newPlan(tt.changes(f)...), f, Options{Parallelism: 4, Now: fixedClock()})
			assert.Equal(t, tt.want, outcomes(rep))
			assert.Equal(t, tt.summary, rep.Summary)
		})
	}
}

// TestCreateToAnUnknownSink: a 404 on create names the site the sink was
// looked for on, and why Datadog would not find it there.
func TestCreateToAnUnknownSink(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	f.failOn[idX] = &api.Error{Method: "POST", URL: "/api/v2/org_connections", StatusCode: 404, Errors: []string{"Not found"}}
	src := orgA
	src.Site = "datadoghq.eu"
	p := newPlan(plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: idX}, After: []string{"logs"}})
	p.Orgs = []plan.SourceOrg{src}
	rep := Run(context.Background(), p, f, Options{Now: fixedClock()})
	require.Len(t, rep.Results, 1)
	r := rep.Results[0]
	assert.Equal(t, Failed, r.Outcome)
	assert.Equal(t, 404, r.HTTPStatus)
	assert.Equal(t, "sink org "+idX+" not found on site datadoghq.eu: Datadog connects orgs of the same account and site only: "+
		"POST /api/v2/org_connections: 404 Not Found: Not found", r.Error)
}

func TestRunConvergesLiveState(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	f.put(idA, idHub, "logs")
	rep := Run(context.Background(), newPlan(
		plan.Change{Action: plan.Update, SourceOrg: ref(orgA), SinkOrg: hub, ConnectionID: "conn-1", Before: []string{"logs"}, After: []string{"audit"}},
		plan.Change{Action: plan.Create, SourceOrg: ref(orgB), SinkOrg: hub, After: []string{"logs", "metrics"}},
	), f, Options{Parallelism: 2})
	require.True(t, rep.OK())
	assert.Equal(t, []string{"audit"}, f.conns[idA+"->"+idHub].Types)
	assert.Equal(t, []string{"logs", "metrics"}, f.conns[idB+"->"+idHub].Types)
	for _, r := range rep.Results {
		assert.NotEmpty(t, r.ConnectionID, "every applied result names its connection")
		assert.Equal(t, 1, r.Attempts)
		assert.Equal(t, 200, r.HTTPStatus)
	}
}

func TestRunDeletesLast(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	var changes []plan.Change
	for i := range 10 {
		sink := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if i%2 == 0 {
			id := f.put(idA, sink, "logs")
			changes = append(changes, plan.Change{Action: plan.Delete, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: sink}, ConnectionID: id, Before: []string{"logs"}})
		} else {
			changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: sink}, After: []string{"logs"}})
		}
	}
	slices.Reverse(changes) // deletes first in the input: Run must still delete last
	rep := Run(context.Background(), newPlan(changes...), f, Options{Parallelism: 8})
	require.True(t, rep.OK())
	lastCreate := slices.IndexFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "delete") })
	for _, c := range f.calls[lastCreate:] {
		assert.True(t, strings.HasPrefix(c, "delete"), "a create ran after a delete: %v", f.calls)
	}
}

// TestRunRefusedKeysStopAskingAtOnce: once a write of an org is refused
// (401/403), the org's changes not yet sent fail without a request; only
// those already in flight got their own answer.
func TestRunRefusedKeysStopAskingAtOnce(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	var changes []plan.Change
	for i := range 40 {
		sink := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		f.failOn[sink] = &api.Error{Method: "POST", StatusCode: 403, Errors: []string{"Forbidden"}}
		changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: sink}, After: []string{"logs"}})
	}
	rep := Run(context.Background(), newPlan(changes...), f, Options{Parallelism: 4})
	assert.Equal(t, Summary{Failed: 40}, rep.Summary)
	assert.LessOrEqual(t, len(f.calls), 4, "at most one request per worker, not one per change")
}

func TestRunRefusedKeysStopThatOrgOnly(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	f.failOn[idHub] = &api.Error{Method: "POST", StatusCode: 403, Errors: []string{"Forbidden"}}
	var changes []plan.Change
	changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: hub, After: []string{"logs"}})
	for i := range 5 {
		changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}, After: []string{"logs"}})
	}
	changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(orgB), SinkOrg: plan.OrgRef{ID: idX}, After: []string{"logs"}})
	// One worker per org, so team-a's first change (the 403) runs before the rest.
	rep := Run(context.Background(), newPlan(changes...), f, Options{Parallelism: 1})
	assert.Equal(t, Summary{Created: 1, Failed: 6}, rep.Summary)
	for _, r := range rep.Results {
		if r.SourceOrg.Label == "team-a" && r.SinkOrg.ID != idHub {
			assert.Contains(t, r.Error, "not attempted")
			assert.Zero(t, r.Attempts)
		}
	}
}

func TestRunStop(t *testing.T) {
	t.Parallel()
	t.Run("before start everything is skipped", func(t *testing.T) {
		f := newFakeWriter()
		stop := make(chan struct{})
		close(stop)
		rep := Run(context.Background(), newPlan(
			plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: hub, After: []string{"logs"}},
			plan.Change{Action: plan.Create, SourceOrg: ref(orgB), SinkOrg: hub, After: []string{"logs"}},
		), f, Options{Parallelism: 2, Stop: stop})
		assert.Equal(t, Summary{Skipped: 2}, rep.Summary)
		assert.Empty(t, f.calls)
		assert.False(t, rep.OK())
	})
	t.Run("mid-run in-flight changes finish and the rest are skipped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeWriter()
			f.latency = time.Second
			stop := make(chan struct{})
			var changes []plan.Change
			for i := range 10 {
				changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: plan.OrgRef{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}, After: []string{"logs"}})
			}
			go func() {
				time.Sleep(1500 * time.Millisecond) // during the second wave of 2
				close(stop)
			}()
			rep := Run(context.Background(), newPlan(changes...), f, Options{Parallelism: 2, Stop: stop})
			assert.Equal(t, Summary{Created: 4, Skipped: 6}, rep.Summary)
			assert.Len(t, f.conns, 4, "the report agrees with the server")
		})
	})
}

func TestRunConcurrency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFakeWriter()
		f.latency = time.Second
		var changes []plan.Change
		for i := range 12 {
			for _, o := range []plan.SourceOrg{orgA, orgB} {
				changes = append(changes, plan.Change{Action: plan.Create, SourceOrg: ref(o), SinkOrg: plan.OrgRef{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}, After: []string{"logs"}})
			}
		}
		start := time.Now()
		rep := Run(context.Background(), newPlan(changes...), f, Options{Parallelism: 3})
		require.True(t, rep.OK())
		// 12 changes per org, 3 at a time, both orgs at once: 4 rounds of 1 s.
		assert.Equal(t, 4*time.Second, time.Since(start))
		assert.Equal(t, map[string]int{"team-a": 3, "team-b": 3}, f.maxInFlight)
	})
}

func TestRunVerifyFailures(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	oe := &plan.OrgError{Org: manifest.Org{Label: "team-c", ID: idX}, Err: fmt.Errorf("%w: the keys in $C_API/$C_APP are for org %s", plan.ErrWrongOrg, idB)}
	rep := Run(context.Background(), newPlan(), f, Options{OrgErrors: []*plan.OrgError{oe}})
	require.Len(t, rep.Results, 1)
	assert.Equal(t, ActionVerify, rep.Results[0].Action)
	assert.Equal(t, Failed, rep.Results[0].Outcome)
	assert.Contains(t, rep.Results[0].Error, "keys belong to another org")
	assert.Equal(t, 1, rep.Summary.Failed)
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	f := newFakeWriter()
	f.put(idA, idHub, "logs")
	f.failOn[idX] = &api.Error{Method: "POST", URL: "/api/v2/org_connections", StatusCode: 400, Errors: []string{"connection between orgs is not allowed"}}
	var results []Result
	rep := Run(context.Background(), newPlan(
		plan.Change{Action: plan.Create, SourceOrg: ref(orgA), SinkOrg: hub, After: []string{"logs"}},
		plan.Change{Action: plan.Create, SourceOrg: ref(orgB), SinkOrg: plan.OrgRef{ID: idX}, After: []string{"logs"}},
		plan.Change{Action: plan.Noop, SourceOrg: ref(orgB), SinkOrg: hub, ConnectionID: "conn-9", Before: []string{"logs"}, After: []string{"logs"}},
	), f, Options{Parallelism: 1, Now: fixedClock(), OnResult: func(r Result) { results = append(results, r) }})
	assert.ElementsMatch(t, rep.Results, results, "OnResult sees every result once")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(rep))
	checkGolden(t, filepath.Join("testdata", "report.golden.json"), b.Bytes())

	path := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, rep.WriteFile(path))
	back, err := ReadReport(path)
	require.NoError(t, err)
	assert.Equal(t, rep.Summary, back.Summary)
	assert.Equal(t, len(rep.Results), len(back.Results))
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	assert.Equal(t, string(want), string(got), "output differs from %s; run go test -update and review the diff", path)
}

// TestWorkerShares: the workers of a phase stay within a few per slot, one
// org alone gets the whole parallelism, and small orgs leave their unused
// share to the large ones.
func TestWorkerShares(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		counts      []int
		parallelism int
		want        []int
	}{
		{name: "one org gets the parallelism", counts: []int{1000}, parallelism: 32, want: []int{32}},
		{name: "never more than its changes", counts: []int{3}, parallelism: 32, want: []int{3}},
		{name: "a fleet gets one each", counts: repeat(1000, 10), parallelism: 32, want: repeat(1000, 1)},
		{name: "small orgs leave room for a big one", counts: []int{1, 1, 1, 500}, parallelism: 10, want: []int{1, 1, 1, 10}},
		{name: "the budget is shared fairly", counts: []int{50, 50, 50, 50, 50}, parallelism: 8, want: []int{6, 6, 6, 7, 7}},
		{name: "parallelism one", counts: []int{5, 5}, parallelism: 1, want: []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := workerShares(tt.counts, tt.parallelism)
			assert.Equal(t, tt.want, got)
			total := 0
			for _, n := range got {
				total += n
			}
			assert.LessOrEqual(t, total, max(workersPerSlot*tt.parallelism, len(tt.counts)))
		})
	}
}

func repeat(n, v int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}
