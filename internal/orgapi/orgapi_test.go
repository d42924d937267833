package orgapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// orgID makes a valid, recognisable org UUID: kind 1 for sources, 2 for sinks.
func orgID(kind, n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n)
}

// fixtureKeys returns a keys source that hands out the fixture's keys of
// each org, as the env vars would in production.
func fixtureKeys(f *sandbox.Fixture) keys.Source {
	return keys.Func(func(_ context.Context, o keys.Org) (keys.Pair, error) {
		for _, fo := range f.Orgs {
			if strings.EqualFold(fo.ID, o.ID) && fo.APIKey != "" {
				return keys.Pair{API: fo.APIKey, App: fo.AppKey}, nil
			}
		}
		return keys.Pair{}, fmt.Errorf("org %s has no keys in the fixture", o.Label)
	})
}

// typeSets are the connection types the world below hands out, some in an
// order other than sorted, to check that types compare as sets.
var typeSets = [][]string{{"logs"}, {"metrics", "logs"}, {"audit"}, {"logs", "metrics", "audit"}, {"metrics"}}

// world is a sandbox fixture and the manifest to converge it to.
type world struct {
	fixture  *sandbox.Fixture
	manifest *manifest.Manifest
	sources  []manifest.Org
	declared map[[2]string][]string // (source id, sink id) -> sorted types
}

// newWorld builds 4 source orgs (two with prune) and 60 sink orgs. Each
// source declares 50 connections, a quarter of which exist with the right
// types (some in another order), a quarter with other types, and half not
// at all; each also has 5 live connections the manifest does not declare
// (deleted on prune orgs, left alone on the others). src-1 declares a
// connection to src-0 and src-2 holds an undeclared one to src-0, so the
// lists of src-0 hold connections where it is only the sink, which pruning
// src-0 must not touch.
func newWorld() world {
	const nSources, nSinks, perSource, undeclared = 4, 60, 50, 5
	w := world{fixture: &sandbox.Fixture{}, manifest: &manifest.Manifest{}, declared: map[[2]string][]string{}}
	for i := range nSources {
		id := orgID(1, i)
		w.fixture.Orgs = append(w.fixture.Orgs, sandbox.FixtureOrg{ID: id, Name: fmt.Sprintf("Source %d", i),
			APIKey: fmt.Sprintf("api-key-%d", i), AppKey: fmt.Sprintf("app-key-%d", i)})
		o := manifest.Org{Label: fmt.Sprintf("src-%d", i), ID: id, Site: manifest.DefaultSite,
			APIKeyEnv: fmt.Sprintf("DD_API_KEY_%d", i), AppKeyEnv: fmt.Sprintf("DD_APP_KEY_%d", i), Prune: i < 2}
		w.manifest.Orgs = append(w.manifest.Orgs, o)
		w.sources = append(w.sources, o)
	}
	for j := range nSinks {
		id := orgID(2, j)
		w.fixture.Orgs = append(w.fixture.Orgs, sandbox.FixtureOrg{ID: id, Name: fmt.Sprintf("Sink %d", j)})
		w.manifest.Orgs = append(w.manifest.Orgs, manifest.Org{Label: fmt.Sprintf("sink-%02d", j), ID: id, Site: manifest.DefaultSite})
	}
	slices.SortFunc(w.manifest.Orgs, func(a, b manifest.Org) int { return strings.Compare(a.Label, b.Label) })

	declare := func(src manifest.Org, sinkLabel, sinkID string, types []string) {
		w.manifest.Connections = append(w.manifest.Connections, manifest.Connection{SourceLabel: src.Label, SinkLabel: sinkLabel, SinkID: sinkID, Types: types})
		w.declared[[2]string{src.ID, sinkID}] = slices.Sorted(slices.Values(types))
	}
	live := func(src, sink string, types []string) {
		w.fixture.Connections = append(w.fixture.Connections, sandbox.FixtureConnection{Source: src, Sink: sink, Types: types})
	}
	for i, src := range w.sources {
		for k := range perSource {
			j := (i*7 + k) % nSinks
			types := typeSets[(i+k)%len(typeSets)]
			declare(src, fmt.Sprintf("sink-%02d", j), orgID(2, j), types)
			switch k % 4 {
			case 1: // present with the same set of types, in reverse order
				live(src.ID, orgID(2, j), reversed(types))
			case 2: // present with other types
				live(src.ID, orgID(2, j), typeSets[(i+k+1)%len(typeSets)])
			}
		}
		for k := range undeclared {
			live(src.ID, orgID(2, (i*7+perSource+k)%nSinks), []string{"logs"})
		}
	}
	declare(w.sources[1], w.sources[0].Label, w.sources[0].ID, []string{"audit"})
	live(w.sources[2].ID, w.sources[0].ID, []string{"metrics"})
	return w
}

// TestConvergesUnderFaults applies a plan of about 200 changes against a
// sandbox that answers 20% of requests with a 5xx and drops 5% of them
// before, and 5% of writes after, doing the work. The run must converge
// with nothing failed, skipped or duplicated, and the report must agree
// with the server. It runs in a synctest bubble, so retries' backoff waits
// take no real time.
func TestConvergesUnderFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		seed      int64
		rateLimit *sandbox.RateLimitConfig
	}{
		{name: "seed 1", seed: 1},
		{name: "seed 42", seed: 42},
		{name: "seed 20260101", seed: 20260101},
		{name: "seed 7 paced by a rate limit", seed: 7, rateLimit: &sandbox.RateLimitConfig{Limit: 50, Period: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				w.fixture.RateLimit = tt.rateLimit
				sb, err := sandbox.New(w.fixture, sandbox.Options{Faults: sandbox.Faults{
					Fail5xx: 0.2, DropBefore: 0.05, DropAfter: 0.05, Seed: tt.seed}})
				require.NoError(t, err)
				t.Cleanup(func() { _ = sb.Close() })
				counters := &apply.Counters{}
				clients, err := orgapi.New(orgapi.Config{
					Endpoints: orgapi.Everywhere(orgapi.SandboxURL, "the sandbox"), Transport: sb.Transport(), Keys: fixtureKeys(w.fixture),
					MaxRetries: 20, Parallelism: 8, Counters: counters,
				}, orgapi.FromManifest(w.sources))
				require.NoError(t, err)

				ctx := t.Context()
				st, err := plan.ReadState(ctx, clients, w.sources, 4)
				require.NoError(t, err)
				p := plan.Diff(w.manifest, st)
				require.Equal(t, plan.Summary{Create: 101, Update: 48, Delete: 10, Noop: 52, Unmanaged: 11}, p.Summary,
					"the world should plan creates, updates, prune deletes, noops and unmanaged connections")
				initial := liveByID(sb.Connections())
				readRequests := sb.Stats().Requests

				// The same Counters for reads and the run, as the CLI wires them.
				rep := apply.Run(ctx, p, clients, apply.Options{Parallelism: 4, Counters: counters})

				stats := sb.Stats()
				require.Positive(t, stats.Faults.Fail5xx, "faults must have been injected")
				require.Positive(t, stats.Faults.DropBefore)
				require.Positive(t, stats.Faults.DropAfter)
				assert.Zero(t, rep.Summary.Failed, "failed results: %v", failures(rep))
				assert.Zero(t, rep.Summary.Skipped)
				assert.Equal(t, p.Summary.Pending()+p.Summary.Noop, len(rep.Results), "one result per declared or deleted connection")
				assert.Equal(t, p.Summary.Noop, rep.Summary.Unchanged)
				assert.Equal(t, p.Summary.Delete, rep.Summary.Deleted)
				assert.Equal(t, p.Summary.Create+p.Summary.Update,
					rep.Summary.Created+rep.Summary.Updated+rep.Summary.AlreadyPresent)

				conns := sb.Connections()
				byPair := map[[2]string]sandbox.Connection{}
				for _, c := range conns {
					k := [2]string{c.Source, c.Sink}
					_, dup := byPair[k]
					assert.False(t, dup, "duplicate connection %s -> %s", c.Source, c.Sink)
					byPair[k] = c
				}
				for k, types := range w.declared {
					c, ok := byPair[k]
					if assert.True(t, ok, "declared connection %s -> %s missing", k[0], k[1]) {
						assert.Equal(t, types, slices.Sorted(slices.Values(c.Types)), "types of %s -> %s", k[0], k[1])
					}
				}
				for _, c := range conns {
					_, isDeclared := w.declared[[2]string{c.Source, c.Sink}]
					switch {
					case isDeclared:
					case c.Source == w.sources[0].ID || c.Source == w.sources[1].ID:
						t.Errorf("undeclared connection %s -> %s of a prune org survived", c.Source, c.Sink)
					default:
						orig, ok := initial[c.ID]
						assert.True(t, ok && slices.Equal(orig.Types, c.Types),
							"unmanaged connection %s -> %s was created or changed", c.Source, c.Sink)
					}
				}
				assert.Len(t, conns, len(w.declared)+p.Summary.Unmanaged)

				// The report agrees with the server: ids, types, and the
				// number of requests the server received during the run.
				attempts := 0
				for _, r := range rep.Results {
					attempts += r.Attempts
					switch r.Action {
					case plan.Delete:
						_, still := liveByID(conns)[r.ConnectionID]
						assert.False(t, still, "deleted connection %s is still there", r.ConnectionID)
						assert.Contains(t, initial, r.ConnectionID)
					default:
						c := byPair[[2]string{r.SourceOrg.ID, r.SinkOrg.ID}]
						assert.Equal(t, c.ID, r.ConnectionID, "connection_id of %s -> %s", r.SourceOrg.Label, r.SinkOrg.Label)
						assert.Equal(t, slices.Sorted(slices.Values(c.Types)), slices.Sorted(slices.Values(r.ConnectionTypes)))
					}
				}
				assert.Equal(t, stats.Requests-readRequests, int64(attempts), "attempts in the report vs requests the server got")
				// Every attempt beyond the first of a call is a retry; a
				// result makes at least one call.
				assert.Positive(t, rep.RateLimit.Retries)
				assert.LessOrEqual(t, rep.RateLimit.Retries, stats.Requests-int64(2*len(w.sources))-int64(rep.Summary.Created+rep.Summary.Updated+rep.Summary.Deleted+rep.Summary.AlreadyPresent),
					"more retries than requests beyond the first of each call")
				if tt.rateLimit != nil {
					assert.Equal(t, sumValues(stats.RateLimited), rep.RateLimit.ThrottledResponses, "429s in the report vs 429s the server sent")
				}

				st, err = plan.ReadState(ctx, clients, w.sources, 4)
				require.NoError(t, err)
				again := plan.Diff(w.manifest, st)
				assert.Zero(t, again.Summary.Pending(), "a second plan still has changes: %+v", again.Summary)
			})
		})
	}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func liveByID(conns []sandbox.Connection) map[string]sandbox.Connection {
	out := make(map[string]sandbox.Connection, len(conns))
	for _, c := range conns {
		out[c.ID] = c
	}
	return out
}

func failures(rep *apply.Report) []string {
	var out []string
	for _, r := range rep.Results {
		if r.Outcome == apply.Failed || r.Outcome == apply.Skipped {
			out = append(out, fmt.Sprintf("%s %s -> %s: %s", r.Action, r.SourceOrg.Label, r.SinkOrg.Label, r.Error))
		}
	}
	return out
}

func sumValues(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// countingTransport counts requests and answers none: a test that expects
// no request fails if one is made.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, fmt.Errorf("no request was expected")
}

func TestNewFailsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	const secret = "leaky secret" // a key with a space is an invalid header value
	orgA := plan.SourceOrg{Label: "team-a", ID: orgID(1, 1), Site: "datadoghq.com", APIKeyEnv: "A_API", AppKeyEnv: "A_APP"}
	orgB := plan.SourceOrg{Label: "team-b", ID: orgID(1, 2), Site: "datadoghq.com", APIKeyEnv: "B_API", AppKeyEnv: "B_APP"}
	allKeys := map[string]string{"A_API": "a1", "A_APP": "a2", "B_API": "b1", "B_APP": "b2"}
	with := func(o plan.SourceOrg, site string) plan.SourceOrg { o.Site = site; return o }
	tests := []struct {
		name       string
		orgs       []plan.SourceOrg
		endpoints  orgapi.Endpoints
		env        map[string]string
		wantErr    []string
		wantFailed []string // labels of the orgs left out, in order
	}{
		{name: "unknown site", orgs: []plan.SourceOrg{with(orgA, "datadoghq.invalid"), orgB}, env: allKeys,
			wantErr: []string{"org team-a", `unknown site "datadoghq.invalid"`}, wantFailed: []string{"team-a"}},
		{name: "plain http off loopback", orgs: []plan.SourceOrg{orgA}, endpoints: orgapi.Everywhere("http://api.example.com", "set by a test"), env: allKeys,
			wantErr: []string{"org team-a", "http:// is allowed only on a loopback address"}, wantFailed: []string{"team-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := &countingTransport{}
			c, err := orgapi.New(orgapi.Config{Endpoints: tt.endpoints, Transport: rt,
				Keys: keys.Env{Getenv: getenv(tt.env)}}, tt.orgs)
			var se *orgapi.SetupError
			require.ErrorAs(t, err, &se)
			require.NotNil(t, c, "the other orgs keep their clients")
			var failed []string
			for _, f := range se.Orgs {
				failed = append(failed, f.Label)
			}
			assert.Equal(t, tt.wantFailed, failed)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), secret)
			assert.Zero(t, rt.n.Load(), "New must not send any request")
		})
	}
}

// handlerTransport sends requests to an http.Handler in memory, so that
// tests can run in a synctest bubble (no network).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// wireConn renders a connection as the list endpoint does.
func wireConn(id, source, sink string, types ...string) map[string]any {
	rel := func(id string) map[string]any {
		return map[string]any{"data": map[string]any{"id": id, "type": "orgs"}}
	}
	return map[string]any{"id": id, "type": "org_connection",
		"attributes":    map[string]any{"connection_types": types, "created_at": "2025-08-20T10:00:00Z"},
		"relationships": map[string]any{"source_org": rel(source), "sink_org": rel(sink)}}
}

func TestFindConnectionKeepsTheOrgsOwnConnection(t *testing.T) {
	t.Parallel()
	org := plan.SourceOrg{Label: "team-a", ID: orgID(1, 1), APIKeyEnv: "A_API", AppKeyEnv: "A_APP"}
	other, sink := orgID(1, 2), orgID(2, 1)
	const ownID, otherID, reverseID = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	tests := []struct {
		name      string
		list      []map[string]any // what the server answers, whatever the filter
		wantFound bool
		want      plan.LiveConnection
	}{
		{name: "own connection among others",
			list: []map[string]any{
				wireConn(reverseID, sink, org.ID, "logs"),                         // the org is the sink
				wireConn(otherID, other, sink, "audit"),                           // another org to the same sink
				wireConn(ownID, strings.ToUpper(org.ID), sink, "metrics", "logs"), // ids in upper case
			},
			wantFound: true,
			want:      plan.LiveConnection{ID: ownID, SourceID: org.ID, SinkID: sink, Types: []string{"metrics", "logs"}}},
		{name: "only connections of other sources",
			list: []map[string]any{wireConn(reverseID, sink, org.ID, "logs"), wireConn(otherID, other, sink, "audit")}},
		{name: "empty list", list: []map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				assert.Equal(t, http.MethodGet, r.Method)
				assert.Equal(t, "/api/v2/org_connections", r.URL.Path)
				assert.Equal(t, sink, r.URL.Query().Get("sink_org_id"), "the list is filtered by sink")
				assert.Equal(t, "a1", r.Header.Get("DD-API-KEY"), "the org's own keys are used")
				w.Header().Set("Content-Type", "application/json")
				n := len(tt.list)
				_ = json.NewEncoder(w).Encode(map[string]any{"data": tt.list,
					"meta": map[string]any{"page": map[string]any{"total_count": n, "total_filtered_count": n}}})
			})
			counters := &apply.Counters{}
			c, err := orgapi.New(orgapi.Config{Endpoints: orgapi.Everywhere(orgapi.SandboxURL, "the sandbox"), Transport: handlerTransport{h},
				Keys: keys.Env{Getenv: getenv(map[string]string{"A_API": "a1", "A_APP": "a2"})}, Counters: counters}, []plan.SourceOrg{org})
			require.NoError(t, err)
			got, found, call, err := c.FindConnection(t.Context(), org, sink)
			require.NoError(t, err)
			assert.Equal(t, tt.wantFound, found)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, apply.Call{Attempts: 1, HTTPStatus: http.StatusOK}, call)
			assert.Equal(t, int64(1), requests.Load())
		})
	}
}

// TestReadsKeyOwnerAndCreators: the user behind the keys and the creator of
// each live connection reach the plan, as the recorded list answer names
// them (created_by plus the included users).
func TestReadsKeyOwnerAndCreators(t *testing.T) {
	t.Parallel()
	org := manifest.Org{Label: "team-a", ID: orgID(1, 1), APIKeyEnv: "A_API", AppKeyEnv: "A_APP"}
	sink := orgID(2, 1)
	const personID, botID = "3ad549bf-eba0-11e9-a77a-0705486660d0", "4bd549bf-eba0-11e9-a77a-0705486660d0"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v2/current_user":
			_, _ = io.WriteString(w, `{"data":{"type":"users","id":"`+personID+`","attributes":{"handle":"frog@datadoghq.com","service_account":false},`+
				`"relationships":{"org":{"data":{"type":"orgs","id":"`+org.ID+`"}}}}}`)
		default:
			byPerson := wireConn("11111111-1111-4111-8111-111111111111", org.ID, sink, "logs")
			byPerson["relationships"].(map[string]any)["created_by"] = map[string]any{"data": map[string]any{"type": "users", "id": personID, "name": "frog"}}
			anonymous := wireConn("22222222-2222-4222-8222-222222222222", org.ID, orgID(2, 2), "logs")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": []any{byPerson, anonymous},
				"included": []any{map[string]any{"type": "users", "id": personID, "attributes": map[string]any{"handle": "frog@datadoghq.com", "service_account": false}},
					map[string]any{"type": "users", "id": botID, "attributes": map[string]any{"handle": "bot", "service_account": true}}},
				"meta": map[string]any{"page": map[string]any{"total_count": 2, "total_filtered_count": 2}}})
		}
	})
	c, err := orgapi.New(orgapi.Config{Endpoints: orgapi.Everywhere(orgapi.SandboxURL, "the sandbox"), Transport: handlerTransport{h},
		Keys: keys.Env{Getenv: getenv(map[string]string{"A_API": "a1", "A_APP": "a2"})}}, orgapi.FromManifest([]manifest.Org{org}))
	require.NoError(t, err)
	st, err := plan.ReadState(t.Context(), c, []manifest.Org{org}, 1)
	require.NoError(t, err)
	no := false
	frog := plan.User{ID: personID, Handle: "frog@datadoghq.com", ServiceAccount: &no}
	assert.Equal(t, frog, st.Owners[org.Label])
	require.Len(t, st.Orgs[org.Label], 2)
	assert.Equal(t, &frog, st.Orgs[org.Label][0].CreatedBy)
	assert.Nil(t, st.Orgs[org.Label][1].CreatedBy, "a connection without created_by has no creator")
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// Spoiled answers for scriptedFaults, besides an HTTP status.
const (
	dropBefore = 0  // the connection drops before the server sees the request
	dropAfter  = -1 // the server does the work, then the connection drops
)

// scriptedFaults wraps a transport and spoils the first requests of each
// "METHOD /path" as its script says, so that a test knows exactly how many
// retries and 429s a call met.
type scriptedFaults struct {
	next   http.RoundTripper
	mu     sync.Mutex
	script map[string][]int
}

func (s *scriptedFaults) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	q, spoil := s.script[key]
	spoil = spoil && len(q) > 0
	var fault int
	if spoil {
		fault, s.script[key] = q[0], q[1:]
	}
	s.mu.Unlock()
	switch {
	case !spoil:
		return s.next.RoundTrip(r)
	case fault == dropAfter:
		resp, err := s.next.RoundTrip(r)
		if err == nil {
			resp.Body.Close()
		}
		return nil, io.ErrUnexpectedEOF
	}
	if r.Body != nil {
		r.Body.Close()
	}
	if fault == dropBefore {
		return nil, io.ErrUnexpectedEOF
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	if fault == http.StatusTooManyRequests {
		rec.Header().Set("Retry-After", "3")
	}
	rec.WriteHeader(fault)
	_, _ = rec.WriteString(`{"errors":["spoiled by the test"]}`)
	return rec.Result(), nil
}

func TestClientsCountRetriesAndThrottles(t *testing.T) {
	t.Parallel()
	const (
		currentUser = "GET /api/v2/current_user"
		list        = "GET /api/v2/org_connections"
		create      = "POST /api/v2/org_connections"
	)
	src := manifest.Org{Label: "team-a", ID: orgID(1, 1), Site: manifest.DefaultSite, APIKeyEnv: "A_API", AppKeyEnv: "A_APP"}
	sink := manifest.Org{Label: "hub", ID: orgID(2, 1), Site: manifest.DefaultSite}
	fixture := &sandbox.Fixture{Orgs: []sandbox.FixtureOrg{
		{ID: src.ID, Name: "Team A", APIKey: "a1", AppKey: "a2"}, {ID: sink.ID, Name: "Hub"}}}
	want := &manifest.Manifest{Orgs: []manifest.Org{sink, src},
		Connections: []manifest.Connection{{SourceLabel: src.Label, SinkLabel: sink.Label, SinkID: sink.ID, Types: []string{"logs"}}}}
	tests := []struct {
		name          string
		script        map[string][]int
		run           func(t *testing.T, c *orgapi.Clients, counters *apply.Counters)
		wantRetries   int64
		wantThrottled int64
	}{
		{name: "a read retried after a 5xx", script: map[string][]int{currentUser: {http.StatusServiceUnavailable}},
			run: func(t *testing.T, c *orgapi.Clients, _ *apply.Counters) {
				owner, err := c.CurrentUser(t.Context(), src)
				require.NoError(t, err)
				assert.Equal(t, src.ID, owner.OrgID)
			},
			wantRetries: 1},
		{name: "a read throttled, then dropped", script: map[string][]int{list: {http.StatusTooManyRequests, dropBefore}},
			run: func(t *testing.T, c *orgapi.Clients, _ *apply.Counters) {
				_, err := c.ListConnections(t.Context(), src)
				require.NoError(t, err)
			},
			wantRetries: 2, wantThrottled: 1},
		{name: "a write returns its cost and leaves counting to apply", script: map[string][]int{create: {http.StatusTooManyRequests, dropBefore}},
			run: func(t *testing.T, c *orgapi.Clients, _ *apply.Counters) {
				id, call, err := c.CreateConnection(t.Context(), plan.SourceOrg{Label: src.Label, ID: src.ID}, sink.ID, []string{"logs"})
				require.NoError(t, err)
				assert.NotEmpty(t, id)
				assert.Equal(t, apply.Call{Attempts: 3, HTTPStatus: http.StatusOK, Throttled: 1, Unanswered: 1}, call)
			}},
		{name: "plan and apply sharing the counters count each retry once",
			script: map[string][]int{currentUser: {http.StatusBadGateway}, create: {dropAfter}},
			run: func(t *testing.T, c *orgapi.Clients, counters *apply.Counters) {
				st, err := plan.ReadState(t.Context(), c, []manifest.Org{src}, 1)
				require.NoError(t, err)
				rep := apply.Run(t.Context(), plan.Diff(want, st), c, apply.Options{Counters: counters})
				require.Len(t, rep.Results, 1)
				r := rep.Results[0]
				// The create landed, its answer was lost, the retry got a
				// 409 and a re-read found the connection.
				assert.Equal(t, apply.AlreadyPresent, r.Outcome, r.Error)
				assert.Equal(t, 3, r.Attempts, "two POSTs and one GET")
				assert.Equal(t, http.StatusConflict, r.HTTPStatus)
				assert.Equal(t, apply.RateLimitStats{Retries: 2}, rep.RateLimit, "one read retry and one create retry")
			},
			wantRetries: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				sb, err := sandbox.New(fixture, sandbox.Options{})
				require.NoError(t, err)
				counters := &apply.Counters{}
				c, err := orgapi.New(orgapi.Config{Endpoints: orgapi.Everywhere(orgapi.SandboxURL, "the sandbox"), MaxRetries: 3, Counters: counters,
					Transport: &scriptedFaults{next: sb.Transport(), script: tt.script},
					Keys:      keys.Env{Getenv: getenv(map[string]string{"A_API": "a1", "A_APP": "a2"})}},
					orgapi.FromManifest([]manifest.Org{src}))
				require.NoError(t, err)
				tt.run(t, c, counters)
				assert.Equal(t, tt.wantRetries, counters.Retries.Load(), "retries")
				assert.Equal(t, tt.wantThrottled, counters.Throttled.Load(), "throttled")
			})
		})
	}
}

// TestKeysAreFoundOnFirstCallOnly checks that New asks for no keys, that an
// org's keys are asked for once however many calls it makes, and that an
// org whose keys cannot be found fails alone, sending no request, while the
// others are read.
func TestKeysAreFoundOnFirstCallOnly(t *testing.T) {
	t.Parallel()
	w := newWorld()
	sb, err := sandbox.New(w.fixture, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	var mu sync.Mutex
	asked := map[string]int{}
	broken := w.sources[1].Label
	src := keys.Func(func(ctx context.Context, o keys.Org) (keys.Pair, error) {
		mu.Lock()
		asked[o.Label]++
		mu.Unlock()
		if o.Label == broken {
			return keys.Pair{}, &keys.Error{Org: o.Label, Where: "keys command", Msg: "exit status 1; its output is not used"}
		}
		return fixtureKeys(w.fixture).Keys(ctx, o)
	})
	clients, err := orgapi.New(orgapi.Config{Endpoints: orgapi.Everywhere(orgapi.SandboxURL, "the sandbox"), Transport: sb.Transport(), Keys: src, Parallelism: 4},
		orgapi.FromManifest(w.sources))
	require.NoError(t, err)
	assert.Empty(t, asked, "New asks for no keys")

	st, err := plan.ReadState(t.Context(), clients, w.sources, 4)
	var ke *keys.Error
	require.ErrorAs(t, err, &ke)
	assert.EqualError(t, err, "org "+broken+": check keys: keys command: exit status 1; its output is not used")
	assert.Len(t, st.Orgs, len(w.sources)-1, "the other orgs were read")
	for _, o := range w.sources {
		assert.Equal(t, 1, asked[o.Label], "keys of %s asked for once, by its two reads", o.Label)
	}
	_, _, _, err = clients.FindConnection(t.Context(), orgapi.FromManifest(w.sources)[0], orgID(2, 1))
	require.NoError(t, err)
	_, err = clients.DeleteConnection(t.Context(), orgapi.FromManifest(w.sources)[1], "11111111-1111-4111-8111-111111111111")
	assert.ErrorAs(t, err, &ke, "the org's writes fail with its keys error")
	assert.Equal(t, 1, asked[w.sources[0].Label], "later calls reuse the keys")
	assert.Equal(t, 1, asked[broken], "a failure is not retried within the run")
}
