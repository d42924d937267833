package discover

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
)

var update = flag.Bool("update", false, "update golden files")

const (
	hubID     = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	teamAID   = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	teamA2ID  = "4dee724d-00cc-11ea-a77b-570c9d030002"
	zurichID  = "4dee724d-00cc-11ea-a77b-570c9d030003"
	tokyoID   = "4dee724d-00cc-11ea-a77b-570c9d030004"
	parensID  = "4dee724d-00cc-11ea-a77b-570c9d030005"
	failID    = "4dee724d-00cc-11ea-a77b-570c9d030006"
	foreignID = "0f0f0f0f-0000-4000-8000-00000000f0f0" // an org of another account
)

// apiOrg is one org of a fake GET /api/v2/org answer.
type apiOrg struct{ id, name, publicID, created string }

// managedOrgs builds the answer the way the official client models it,
// through JSON, so that it goes through the same decoding as the client's.
func managedOrgs(t *testing.T, parent apiOrg, withParent bool, orgs ...apiOrg) *api.ManagedOrgsResponse {
	t.Helper()
	type ref struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	var body struct {
		Data struct {
			ID            string `json:"id"`
			Type          string `json:"type"`
			Relationships struct {
				CurrentOrg  struct{ Data ref }   `json:"current_org"`
				ManagedOrgs struct{ Data []ref } `json:"managed_orgs"`
			} `json:"relationships"`
		} `json:"data"`
		Included []map[string]any `json:"included"`
	}
	body.Data.ID, body.Data.Type = parent.id, "managed_orgs"
	body.Data.Relationships.CurrentOrg.Data = ref{parent.id, "orgs"}
	body.Data.Relationships.ManagedOrgs.Data = []ref{}
	include := func(o apiOrg) {
		body.Included = append(body.Included, map[string]any{"id": o.id, "type": "orgs", "attributes": map[string]any{
			"name": o.name, "public_id": o.publicID, "created_at": o.created, "modified_at": o.created,
			"description": "", "disabled": false, "sharing": "none", "url": "https://app.datadoghq.com"}})
	}
	if withParent {
		include(parent)
	}
	for _, o := range orgs {
		body.Data.Relationships.ManagedOrgs.Data = append(body.Data.Relationships.ManagedOrgs.Data, ref{o.id, "orgs"})
		include(o)
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	var resp api.ManagedOrgsResponse
	require.NoError(t, json.Unmarshal(b, &resp))
	return &resp
}

func conn(id, src, sink string, types ...string) api.Connection {
	return api.Connection{ID: id, Type: "org_connection", Attributes: api.ConnectionAttributes{ConnectionTypes: types},
		Relationships: api.ConnectionRelationships{
			SourceOrg: &api.Relationship{Data: &api.RelationshipData{ID: src, Type: "orgs"}},
			SinkOrg:   &api.Relationship{Data: &api.RelationshipData{ID: sink, Type: "orgs"}}}}
}

// fakeParent is the parent org's client.
type fakeParent struct {
	keysOrg  string
	resp     *api.ManagedOrgsResponse
	conns    []api.Connection
	connsErr error
	filter   string
}

var _ Parent = (*fakeParent)(nil)

func (f *fakeParent) CurrentOrg(context.Context) (string, error) { return f.keysOrg, nil }
func (f *fakeParent) ListManagedOrgs(_ context.Context, filter string) (*api.ManagedOrgsResponse, error) {
	f.filter = filter
	return f.resp, nil
}
func (f *fakeParent) ListConnections(_ context.Context, opt api.ListOptions) ([]api.Connection, error) {
	if opt != (api.ListOptions{}) {
		return nil, fmt.Errorf("the parent's list is unfiltered, got %+v", opt)
	}
	return f.conns, f.connsErr
}

// fakeReader reads managed orgs with their own keys; an org's failure is
// set by label.
type fakeReader struct {
	mu    sync.Mutex
	conns map[string][]plan.LiveConnection // by label
	fail  map[string]error
	read  []string
}

var _ plan.Reader = (*fakeReader)(nil)

func (f *fakeReader) CurrentUser(_ context.Context, o manifest.Org) (plan.KeyOwner, error) {
	if err := f.fail[o.Label]; err != nil {
		return plan.KeyOwner{}, err
	}
	return plan.KeyOwner{OrgID: o.ID, User: plan.User{ID: "u-" + o.Label}}, nil
}

func (f *fakeReader) ListConnections(_ context.Context, o manifest.Org) ([]plan.LiveConnection, error) {
	f.mu.Lock()
	f.read = append(f.read, o.Label)
	f.mu.Unlock()
	return f.conns[o.Label], nil
}

func live(src, sink string, types ...string) plan.LiveConnection {
	return plan.LiveConnection{ID: "c-" + src[len(src)-4:] + "-" + sink[len(sink)-4:], SourceID: src, SinkID: sink, Types: types}
}

// account is the fixture of the golden tests: a hub that manages six orgs
// with awkward names, connections in both directions, and one connection
// with an org of another account.
func account(t *testing.T, withParentName bool) *fakeParent {
	return &fakeParent{
		keysOrg: hubID,
		resp: managedOrgs(t, apiOrg{hubID, "Hub", "hubpublicid00000", "2019-01-01T00:00:00+00:00"}, withParentName,
			apiOrg{teamAID, "Team A", "fasjyydbcgwwc2uc", "2019-11-06T14:46:40+00:00"},
			apiOrg{teamA2ID, "team a", "teama2publicid00", "2024-05-30T08:00:00.123456+00:00"},
			apiOrg{zurichID, "Zürich Ops", zurichID, "2025-01-01T00:00:00+00:00"},
			apiOrg{tokyoID, "東京", tokyoID, "2025-02-01T00:00:00+00:00"},
			apiOrg{parensID, "Payments (EU) #1", parensID, "2025-03-01T00:00:00+00:00"},
			apiOrg{failID, "Fails\nTo Read", failID, "2025-04-01T00:00:00+00:00"},
		),
		conns: []api.Connection{
			conn("1", teamAID, hubID, "metrics", "logs"),
			conn("2", hubID, zurichID, "audit"),
			conn("3", foreignID, hubID, "logs"),
			conn("4", strings.ToUpper(parensID), hubID, "logs", "logs"),
		},
	}
}

func TestWriteGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		parent      func(t *testing.T) *fakeParent
		connections bool
		opt         WriteOptions
	}{
		{name: "parent-only", parent: func(t *testing.T) *fakeParent { return account(t, true) }, opt: WriteOptions{SchemaRef: SchemaURL}},
		{name: "connections", parent: func(t *testing.T) *fakeParent { return account(t, false) }, connections: true,
			opt: WriteOptions{SchemaRef: SchemaURL, ParentAPIKeyEnv: "DD_API_KEY_PARENT", ParentAppKeyEnv: "DD_APP_KEY_PARENT"}},
		{name: "parent-list-unreadable", parent: func(t *testing.T) *fakeParent {
			p := account(t, true)
			p.connsErr = errors.New("GET /api/v2/org_connections: 403 Forbidden: Forbidden")
			return p
		}},
		{name: "no-managed-orgs", parent: func(t *testing.T) *fakeParent {
			return &fakeParent{keysOrg: hubID, resp: managedOrgs(t, apiOrg{hubID, "Solo", "x", ""}, true)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := ReadAccount(t.Context(), tt.parent(t), "datadoghq.eu", "")
			require.NoError(t, err)
			if tt.connections {
				r := &fakeReader{
					conns: map[string][]plan.LiveConnection{
						"team-a":        {live(teamAID, hubID, "logs"), live(teamAID, zurichID, "metrics")},
						"team-a-2":      {live(teamA2ID, foreignID, "logs"), live(hubID, teamA2ID, "logs")},
						"zurich-ops":    {live(zurichID, teamAID, "audit", "logs")},
						"payments-eu-1": {live(parensID, hubID, "logs")},
						"fails-to-read": {live(failID, hubID, "logs")},
						"org-4dee724d":  {},
					},
					fail: map[string]error{"fails-to-read": errors.New("GET /api/v2/current_user: 401 Unauthorized: Unauthorized")},
				}
				var calls []int
				var mu sync.Mutex
				a.ReadOrgs(t.Context(), r, a.Managed, 3, func(n int) { mu.Lock(); calls = append(calls, n); mu.Unlock() })
				slices.Sort(calls)
				assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, calls, "progress")
			}
			out, err := Write(a, tt.opt)
			require.NoError(t, err)
			golden := filepath.Join("testdata", tt.name+".golden.yaml")
			if *update {
				require.NoError(t, os.WriteFile(golden, out, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(out))

			// The org of another account, and public ids, appear nowhere.
			assert.NotContains(t, string(out), foreignID)
			assert.NotContains(t, string(out), "publicid")
			assert.NotContains(t, string(out), "fasjyydbcgwwc2uc")

			// What is written validates and declares every org and connection.
			m, err := manifest.Load([]string{golden})
			require.NoError(t, err)
			assert.Len(t, m.Orgs, len(a.Managed)+1)
			assert.Len(t, m.Connections, len(a.Connections))
			for _, o := range m.Orgs {
				assert.Equal(t, "datadoghq.eu", o.Site)
			}
		})
	}
}

// TestReadAccountFailures covers the answers that stop discovery before
// anything is written.
func TestReadAccountFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		parent  func(t *testing.T) Parent
		wantErr string
	}{
		{"answer for another org", func(t *testing.T) Parent {
			return &fakeParent{keysOrg: teamAID, resp: managedOrgs(t, apiOrg{hubID, "Hub", "", ""}, true)}
		}, "the answer is for org " + hubID + ", but the keys are of org " + teamAID},
		{"current org id is a public id", func(t *testing.T) Parent {
			return &fakeParent{keysOrg: "fasjyydbcgwwc2uc", resp: managedOrgs(t, apiOrg{"fasjyydbcgwwc2uc", "Hub", "", ""}, true)}
		}, `the current org's id "fasjyydbcgwwc2uc" is not an org UUID`},
		{"keys refused", func(t *testing.T) Parent { return errParent{errors.New("401 Unauthorized")} }, "check the parent org's keys: 401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadAccount(t.Context(), tt.parent(t), "datadoghq.com", "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

type errParent struct{ err error }

func (e errParent) CurrentOrg(context.Context) (string, error) { return "", e.err }
func (e errParent) ListManagedOrgs(context.Context, string) (*api.ManagedOrgsResponse, error) {
	return nil, e.err
}
func (e errParent) ListConnections(context.Context, api.ListOptions) ([]api.Connection, error) {
	return nil, e.err
}

func TestReadAccountLeavesOutOrgsWithoutUUID(t *testing.T) {
	t.Parallel()
	p := &fakeParent{keysOrg: hubID, resp: managedOrgs(t, apiOrg{hubID, "Hub", "", ""}, true,
		apiOrg{"fasjyydbcgwwc2uc", "Old Org", "", ""}, apiOrg{teamAID, "Team A", "", ""})}
	a, err := ReadAccount(t.Context(), p, "datadoghq.com", "team")
	require.NoError(t, err)
	assert.Equal(t, "team", p.filter)
	require.Len(t, a.Managed, 1)
	assert.Equal(t, "team-a", a.Managed[0].Label)
	assert.Equal(t, []string{`managed org "Old Org" has the id "fasjyydbcgwwc2uc", which is not an org UUID: it is left out`}, a.Problems)
	out, err := Write(a, WriteOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(out), "\n# Left out: managed org \"Old Org\" has the id \"fasjyydbcgwwc2uc\", which is not an org UUID: it is left out\n")
	assert.NotContains(t, string(out), "old-org")
}
