package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/orgsync/orgsync/internal/manifesttest"
	"github.com/orgsync/orgsync/pkg/manifest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "update golden files")

const (
	idHub   = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	idTeamA = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	idTeamB = "11111111-1111-4111-8111-111111111111"
	idTeamC = "22222222-2222-4222-8222-222222222222"
	idOther = "99999999-9999-4999-8999-999999999999"
)

// mixedManifest declares a hub and three teams; team-c prunes.
func mixedManifest() *manifest.Manifest {
	return &manifest.Manifest{
		Orgs: []manifest.Org{
			{Label: "hub", ID: idHub, Site: "datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY"},
			{Label: "team-a", ID: idTeamA, Site: "datadoghq.eu", APIKeyEnv: "A_API", AppKeyEnv: "A_APP"},
			{Label: "team-b", ID: idTeamB, Site: "datadoghq.com", APIKeyEnv: "B_API", AppKeyEnv: "B_APP"},
			{Label: "team-c", ID: idTeamC, Site: "datadoghq.com", APIKeyEnv: "C_API", AppKeyEnv: "C_APP", Prune: true},
		},
		Connections: []manifest.Connection{
			{SourceLabel: "team-a", SinkLabel: "hub", SinkID: idHub, Types: []string{"logs", "metrics"}},
			{SourceLabel: "team-b", SinkLabel: "hub", SinkID: idHub, Types: []string{"logs"}},
			{SourceLabel: "team-b", SinkID: idOther, Types: []string{"audit"}},
			{SourceLabel: "team-c", SinkLabel: "hub", SinkID: idHub, Types: []string{"metrics", "logs"}},
		},
	}
}

// Creators of live connections: a person, a service account, and a user
// the list answer did not describe.
var (
	yes, no    = true, false
	userPerson = &User{ID: "3ad549bf-eba0-11e9-a77a-0705486660d0", Handle: "frog@example.com", ServiceAccount: &no}
	userBot    = &User{ID: "5ad549bf-eba0-11e9-a77a-0705486660d0", Handle: "ci-bot", ServiceAccount: &yes}
	userAnon   = &User{ID: "6ad549bf-eba0-11e9-a77a-0705486660d0"}
)

// mixedState mixes matching, drifted, undeclared and incoming connections,
// made by people, service accounts and unknown users.
func mixedState() State {
	return State{Orgs: map[string][]LiveConnection{
		"team-a": { // drifted: only logs live
			{ID: "c-a-hub", SourceID: idTeamA, SinkID: idHub, Types: []string{"logs"}, CreatedBy: userPerson},
		},
		"team-b": { // hub matches; undeclared one to team-c on an org without prune
			{ID: "c-b-hub", SourceID: idTeamB, SinkID: idHub, Types: []string{"logs"}, CreatedBy: userBot},
			{ID: "c-b-c", SourceID: idTeamB, SinkID: idTeamC, Types: []string{"logs"}, CreatedBy: userPerson},
		},
		"team-c": { // matches in another order; undeclared one is pruned
			{ID: "c-c-hub", SourceID: idTeamC, SinkID: idHub, Types: []string{"logs", "metrics"}, CreatedBy: userAnon},
			{ID: "c-c-a", SourceID: idTeamC, SinkID: idTeamA, Types: []string{"audit"}},
		},
	}}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		manifest *manifest.Manifest
		state    State
		want     []string // action source -> sink
		summary  Summary
	}{
		{
			name:     "mixed live state",
			manifest: mixedManifest(),
			state:    mixedState(),
			want: []string{
				"create team-b -> " + idOther,
				"update team-a -> hub",
				"delete team-c -> team-a",
				"noop team-b -> hub",
				"noop team-c -> hub",
				"unmanaged team-b -> team-c",
			},
			summary: Summary{Create: 1, Update: 1, Delete: 1, Noop: 2, Unmanaged: 1},
		},
		{
			name:     "empty live state creates everything",
			manifest: mixedManifest(),
			state:    State{Orgs: map[string][]LiveConnection{"team-a": nil, "team-b": nil, "team-c": nil}},
			want: []string{
				"create team-a -> hub",
				"create team-b -> hub",
				"create team-b -> " + idOther,
				"create team-c -> hub",
			},
			summary: Summary{Create: 4},
		},
		{
			name:     "orgs not read are left out",
			manifest: mixedManifest(),
			state:    State{Orgs: map[string][]LiveConnection{"team-a": nil}},
			want:     []string{"create team-a -> hub"},
			summary:  Summary{Create: 1},
		},
		{
			name:     "incoming connections are not the org's own",
			manifest: mixedManifest(),
			state: State{Orgs: map[string][]LiveConnection{"team-a": {
				{ID: "c-a-hub", SourceID: idTeamA, SinkID: idHub, Types: []string{"metrics", "logs"}},
			}}},
			want:    []string{"noop team-a -> hub"},
			summary: Summary{Noop: 1},
		},
		{
			name:     "a duplicate live pair is pruned or unmanaged",
			manifest: mixedManifest(),
			state: State{Orgs: map[string][]LiveConnection{"team-c": {
				{ID: "c-2", SourceID: idTeamC, SinkID: idHub, Types: []string{"logs"}},
				{ID: "c-1", SourceID: idTeamC, SinkID: idHub, Types: []string{"logs", "metrics"}},
			}}},
			want:    []string{"delete team-c -> hub", "noop team-c -> hub"},
			summary: Summary{Delete: 1, Noop: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Diff(tt.manifest, tt.state)
			var got []string
			for _, c := range p.Changes {
				got = append(got, string(c.Action)+" "+c.SourceOrg.Label+" -> "+c.SinkName())
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.summary, p.Summary)
			assert.Len(t, p.LiveState, len(tt.state.Orgs))
		})
	}
}

func TestDiffIsDeterministic(t *testing.T) {
	t.Parallel()
	first := Diff(mixedManifest(), mixedState())
	for range 20 {
		assert.Equal(t, first, Diff(mixedManifest(), mixedState()))
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	a := []LiveConnection{
		{ID: "1", SinkID: idHub, Types: []string{"logs", "metrics"}},
		{ID: "2", SinkID: idTeamA, Types: []string{"audit"}},
	}
	reordered := []LiveConnection{
		{ID: "2", SinkID: idTeamA, Types: []string{"audit"}},
		{ID: "1", SinkID: idHub, Types: []string{"metrics", "logs"}},
	}
	drifted := []LiveConnection{
		{ID: "1", SinkID: idHub, Types: []string{"logs"}},
		{ID: "2", SinkID: idTeamA, Types: []string{"audit"}},
	}
	assert.Equal(t, Fingerprint(a), Fingerprint(reordered))
	assert.NotEqual(t, Fingerprint(a), Fingerprint(drifted))
	assert.NotEqual(t, Fingerprint(a), Fingerprint(a[:1]))
	assert.NotEqual(t, Fingerprint(nil), Fingerprint(a))
}

// TestRenderGolden pins the text and JSON forms of the mixed plan.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	p := Diff(mixedManifest(), mixedState())
	noChanges := Diff(mixedManifest(), State{Orgs: map[string][]LiveConnection{"team-b": {
		{ID: "c-b-hub", SourceID: idTeamB, SinkID: idHub, Types: []string{"logs"}},
		{ID: "c-b-o", SourceID: idTeamB, SinkID: idOther, Types: []string{"audit"}},
	}}})
	tests := []struct {
		name   string
		golden string
		render func(*bytes.Buffer) error
	}{
		{"text", "mixed.plan.golden", func(b *bytes.Buffer) error { return RenderText(b, p, RenderOptions{}) }},
		{"text color", "mixed.plan.color.golden", func(b *bytes.Buffer) error { return RenderText(b, p, RenderOptions{Color: true}) }},
		{"json", "mixed.plan.golden.json", func(b *bytes.Buffer) error { return WriteJSON(b, p) }},
		{"no changes", "nochanges.plan.golden", func(b *bytes.Buffer) error { return RenderText(b, noChanges, RenderOptions{}) }},
		{"orgs not read", "unread.plan.golden", func(b *bytes.Buffer) error {
			return RenderText(b, noChanges, RenderOptions{Unread: []string{"team-a", "team-c"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			require.NoError(t, tt.render(&b))
			checkGolden(t, filepath.Join("testdata", "plans", tt.golden), b.Bytes())
		})
	}
}

func TestPlanJSONRoundTrip(t *testing.T) {
	t.Parallel()
	p := Diff(mixedManifest(), mixedState())
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, p))
	back, err := ReadJSON(&b)
	require.NoError(t, err)
	assert.Equal(t, p, back)
}

func TestReadJSONRejects(t *testing.T) {
	t.Parallel()
	// Each case edits a valid saved plan (the mixed one) the way a hand
	// edit or a broken copy might.
	valid := func(t *testing.T) map[string]any {
		var b bytes.Buffer
		require.NoError(t, WriteJSON(&b, Diff(mixedManifest(), mixedState())))
		var m map[string]any
		require.NoError(t, json.Unmarshal(b.Bytes(), &m))
		return m
	}
	change := func(m map[string]any, i int) map[string]any { return m["changes"].([]any)[i].(map[string]any) }
	summary := func(m map[string]any) map[string]any { return m["summary"].(map[string]any) }
	tests := []struct {
		name    string
		edit    func(m map[string]any)
		raw     string
		wantErr string
	}{
		{name: "not json", raw: "{", wantErr: "read plan: not JSON"},
		{name: "future version", raw: `{"format_version": 2}`, wantErr: "format_version 2 is not supported"},
		{name: "unknown action", edit: func(m map[string]any) { change(m, 0)["action"] = "explode" },
			wantErr: "does not match the plan schema: at /changes/0/action: value must be one of"},
		{name: "a delete on an org without prune", edit: func(m map[string]any) {
			c := change(m, 5) // unmanaged team-b -> team-c
			c["action"], c["after"] = "delete", nil
			summary(m)["delete"], summary(m)["unmanaged"] = 2.0, 0.0
		}, wantErr: "change 5: deletes a connection of team-b, which does not prune"},
		{name: "summary that does not count", edit: func(m map[string]any) { summary(m)["delete"] = 0.0 },
			wantErr: "does not count the changes"},
		{name: "org id swapped", edit: func(m map[string]any) {
			change(m, 0)["source_org"].(map[string]any)["id"] = idOther
		}, wantErr: "change 0: source org team-b has id " + idOther},
		{name: "update without id", edit: func(m map[string]any) { change(m, 1)["connection_id"] = nil },
			wantErr: "change 1: update needs a connection_id"},
		{name: "missing fingerprint", edit: func(m map[string]any) { delete(m["live_state"].(map[string]any), "team-a") },
			wantErr: "org team-a has no live_state fingerprint"},
		{name: "types outside the enum", edit: func(m map[string]any) { change(m, 0)["after"] = []any{"logs", "bogus"} },
			wantErr: "at /changes/0/after"},
		{name: "types in the wrong case", edit: func(m map[string]any) { change(m, 1)["after"] = []any{"Logs"} },
			wantErr: "at /changes/1/after"},
		{name: "sink id swapped under its label", edit: func(m map[string]any) {
			change(m, 1)["sink_org"].(map[string]any)["id"] = idOther // update team-a -> hub
		}, wantErr: "change 3: org hub has id " + idHub + ", but elsewhere in the plan " + idOther},
		{name: "a label moved to another id", edit: func(m map[string]any) {
			change(m, 2)["sink_org"].(map[string]any)["label"] = "hub" // delete team-c -> team-a
		}, wantErr: "change 2: org hub has id " + idTeamA},
		{name: "a site that is not Datadog's", edit: func(m map[string]any) {
			m["orgs"].([]any)[0].(map[string]any)["site"] = "https://user:c4n4ry@collector.example.net"
		}, wantErr: "org team-a: its site is not a Datadog site (a plan names sites, never URLs"},
		{name: "a change twice", edit: func(m map[string]any) {
			m["changes"] = append(m["changes"].([]any), change(m, 0))
			summary(m)["create"] = 2.0
		}, wantErr: "change 6 repeats change 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.raw
			if tt.edit != nil {
				m := valid(t)
				tt.edit(m)
				b, err := json.Marshal(m)
				require.NoError(t, err)
				in = string(b)
			}
			_, err := ReadJSON(bytes.NewBufferString(in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "c4n4ry", "a secret in the plan is never echoed")
		})
	}
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	assert.Equal(t, string(want), string(got), "output differs from %s; run go test -update and review the diff", path)
}

// BenchmarkDiff diffs a 1,000-org, 10,000-connection manifest against live
// state that matches it but for every tenth connection (drifted types).
func BenchmarkDiff(b *testing.B) {
	name := filepath.Join(b.TempDir(), "big.yaml")
	require.NoError(b, os.WriteFile(name, manifesttest.Big(1000, 10000), 0o644))
	m, err := manifest.Load([]string{name})
	require.NoError(b, err)
	orgByLabel := make(map[string]manifest.Org)
	for _, o := range m.Orgs {
		orgByLabel[o.Label] = o
	}
	live := State{Orgs: make(map[string][]LiveConnection)}
	for _, o := range manifest.SourceOrgs(m) {
		live.Orgs[o.Label] = nil
	}
	for i, c := range m.Connections {
		types := c.Types
		if i%10 == 0 {
			types = []string{"audit"}
		}
		src := orgByLabel[c.SourceLabel]
		live.Orgs[c.SourceLabel] = append(live.Orgs[c.SourceLabel], LiveConnection{
			ID: fmt.Sprintf("conn-%d", i), SourceID: src.ID, SinkID: c.SinkID, Types: types})
	}
	b.ReportAllocs()
	for b.Loop() {
		p := Diff(m, live)
		if p.Summary.Update != 1000 || p.Summary.Noop != 9000 {
			b.Fatalf("unexpected plan summary %+v", p.Summary)
		}
	}
}

// TestExportQuotesYAML11Booleans: labels such as "yes" or "off" are valid
// and must stay strings for YAML 1.1 readers of the exported file too.
func TestExportQuotesYAML11Booleans(t *testing.T) {
	t.Parallel()
	m := &manifest.Manifest{Orgs: []manifest.Org{
		{Label: "yes", ID: idTeamA, Site: manifest.DefaultSite, APIKeyEnv: manifest.DefaultAPIKeyEnv, AppKeyEnv: manifest.DefaultAppKeyEnv},
		{Label: "off", ID: idHub, Site: manifest.DefaultSite, APIKeyEnv: manifest.DefaultAPIKeyEnv, AppKeyEnv: manifest.DefaultAppKeyEnv},
	}}
	out, err := Export(m, State{Orgs: map[string][]LiveConnection{"yes": {{ID: "c", SourceID: idTeamA, SinkID: idHub, Types: []string{"logs"}}}}}, "")
	require.NoError(t, err)
	assert.Contains(t, string(out), "\n  \"yes\":\n")
	assert.Contains(t, string(out), "\n  \"off\":\n")
	assert.Contains(t, string(out), "from: \"yes\"\n    to: \"off\"\n")
	name := filepath.Join(t.TempDir(), "exported.yaml")
	require.NoError(t, os.WriteFile(name, out, 0o644))
	back, err := manifest.Load([]string{name})
	require.NoError(t, err)
	assert.Equal(t, []manifest.Connection{{SourceLabel: "yes", SinkLabel: "off", SinkID: idHub, Types: []string{"logs"}, Pos: back.Connections[0].Pos}}, back.Connections)
}

func TestWithoutOrgs(t *testing.T) {
	t.Parallel()
	p := &Plan{FormatVersion: FormatVersion,
		Orgs: []SourceOrg{{Label: "a", ID: "1"}, {Label: "b", ID: "2"}},
		Changes: []Change{
			{Action: Create, SourceOrg: OrgRef{Label: "a", ID: "1"}, SinkOrg: OrgRef{ID: "9"}},
			{Action: Delete, SourceOrg: OrgRef{Label: "b", ID: "2"}, SinkOrg: OrgRef{ID: "9"}},
			{Action: Noop, SourceOrg: OrgRef{Label: "b", ID: "2"}, SinkOrg: OrgRef{ID: "8"}},
		},
		LiveState: map[string]string{"a": "sha256:a", "b": "sha256:b"}}
	p.Summary = summarize(p.Changes)

	got := p.WithoutOrgs("b")
	assert.Equal(t, []SourceOrg{{Label: "a", ID: "1"}}, got.Orgs)
	assert.Equal(t, p.Changes[:1], got.Changes)
	assert.Equal(t, map[string]string{"a": "sha256:a"}, got.LiveState)
	assert.Equal(t, Summary{Create: 1}, got.Summary)
	assert.Len(t, p.Changes, 3, "p itself is unchanged")
	assert.Equal(t, Summary{Create: 1, Delete: 1, Noop: 1}, p.Summary)
	assert.Same(t, p, p.WithoutOrgs())
}
