package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

func TestParseDiscoverArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    func(t *testing.T, a discoverArgs)
		wantErr string
	}{
		{name: "defaults", args: nil, want: func(t *testing.T, a discoverArgs) {
			assert.Equal(t, "datadoghq.com", a.site)
			assert.Equal(t, "DD_API_KEY", a.apiKeyEnv)
			assert.Equal(t, "DD_APP_KEY", a.appKeyEnv)
			assert.False(t, a.connections)
			assert.Empty(t, a.out)
			assert.Equal(t, 10, a.target.parallelism)
		}},
		{name: "everything", args: []string{"-o", "orgs.yaml", "--site", "App.DatadogHQ.EU", "--filter-name", "team", "--connections",
			"--api-key-env", "PARENT_API", "--app-key-env", "PARENT_APP", "--api-url", "http://127.0.0.1:1", "--parallelism", "3", "-v"},
			want: func(t *testing.T, a discoverArgs) {
				assert.Equal(t, "orgs.yaml", a.out)
				assert.Equal(t, "datadoghq.eu", a.site, "the UI host name is an alias of the site")
				assert.Equal(t, "team", a.filterName)
				assert.True(t, a.connections)
				assert.Equal(t, "PARENT_API", a.apiKeyEnv)
				assert.Equal(t, "PARENT_APP", a.appKeyEnv)
				assert.Equal(t, "http://127.0.0.1:1", a.target.apiURL.all)
				assert.Equal(t, 3, a.target.parallelism)
				assert.True(t, a.target.verbose)
			}},
		{name: "site in capitals", args: []string{"--site", "US5.DATADOGHQ.COM"}, want: func(t *testing.T, a discoverArgs) {
			assert.Equal(t, "us5.datadoghq.com", a.site)
		}},
		{name: "sandbox with its manifest", args: []string{"--sandbox", "s.json", "-f", "m.yaml", "--connections"}, want: func(t *testing.T, a discoverArgs) {
			assert.Equal(t, "s.json", a.target.sandbox)
			assert.Equal(t, []string{"m.yaml"}, []string(a.target.files))
		}},
		{name: "site as a URL", args: []string{"--site", "https://api.datadoghq.com"}, wantErr: "is not a Datadog site"},
		{name: "unknown site", args: []string{"--site", "datadoghq.org"}, wantErr: "is not a Datadog site"},
		{name: "sandbox without manifest", args: []string{"--sandbox", "s.json"}, wantErr: "--sandbox needs -f PATH"},
		{name: "manifest without sandbox", args: []string{"-f", "m.yaml"}, wantErr: "-f is only for --sandbox"},
		{name: "positional argument", args: []string{"orgs.yaml"}, wantErr: "discover takes no arguments"},
		{name: "empty key env", args: []string{"--api-key-env", ""}, wantErr: "must name env vars"},
		{name: "sandbox and api-url", args: []string{"--sandbox", "s.json", "-f", "m.yaml", "--api-url", "http://127.0.0.1:1"}, wantErr: "exclude each other"},
		{name: "org is not a discover flag", args: []string{"--org", "a"}, wantErr: "flag provided but not defined: -org"},
		{name: "shard is not a discover flag", args: []string{"--shard", "1/2"}, wantErr: "flag provided but not defined: -shard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDiscoverArgs(tt.args, streams{stderr: &bytes.Buffer{}})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.want(t, got)
		})
	}
}

// discoverWorld is an emulated account: a parent that manages n orgs with
// awkward names, connections among them, and an org of another account
// connected to the parent. The sandbox serves the connections and
// current_user; managedOrgs adds GET /api/v2/org for the parent's keys.
type discoverWorld struct {
	fixture *sandbox.Fixture
	parent  sandbox.FixtureOrg
	managed []sandbox.FixtureOrg
	foreign sandbox.FixtureOrg
	env     map[string]string
}

const discoverKeyMarker = "d1sc0v3r"

func newDiscoverWorld(t *testing.T, n int) *discoverWorld {
	t.Helper()
	w := &discoverWorld{fixture: &sandbox.Fixture{}}
	key := func(kind string, i int) string { return fmt.Sprintf("%s-%s-%d-5e1f", discoverKeyMarker, kind, i) }
	w.parent = sandbox.FixtureOrg{ID: discoverOrgID(3, 0), Name: "Acme (Parent)", APIKey: key("api", 0), AppKey: key("app", 0)}
	names := []string{"Team A", "Team A", "Zürich (Ops)", "東京", "PAYMENTS eu", "search.v2"}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("Team %02d", i)
		if i <= len(names) {
			name = names[i-1]
		}
		w.managed = append(w.managed, sandbox.FixtureOrg{ID: discoverOrgID(3, i), Name: name, APIKey: key("api", i), AppKey: key("app", i)})
	}
	w.foreign = sandbox.FixtureOrg{ID: discoverOrgID(4, 0), Name: "Other Account", APIKey: key("api", 999), AppKey: key("app", 999)}
	w.fixture.Orgs = append(append([]sandbox.FixtureOrg{w.parent}, w.managed...), w.foreign)
	conn := func(src, sink string, types ...string) {
		w.fixture.Connections = append(w.fixture.Connections, sandbox.FixtureConnection{Source: src, Sink: sink, Types: types})
	}
	for i, m := range w.managed {
		switch i % 3 {
		case 0:
			conn(m.ID, w.parent.ID, "logs", "metrics")
		case 1:
			conn(w.parent.ID, m.ID, "audit")
		}
		if i > 0 {
			conn(m.ID, w.managed[i-1].ID, "logs")
		}
	}
	conn(w.foreign.ID, w.parent.ID, "logs")
	conn(w.managed[0].ID, w.foreign.ID, "metrics")
	w.env = map[string]string{"DD_API_KEY": w.parent.APIKey, "DD_APP_KEY": w.parent.AppKey}
	return w
}

// managedOrgs answers GET /api/v2/org like Datadog (contract 8.7) for the
// parent's keys, and passes every other request to next.
func (w *discoverWorld) managedOrgs(t *testing.T, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/org" {
			next.ServeHTTP(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		if r.Header.Get("DD-API-KEY") != w.parent.APIKey || r.Header.Get("DD-APPLICATION-KEY") != w.parent.AppKey {
			rw.WriteHeader(http.StatusForbidden)
			fmt.Fprint(rw, `{"errors":["Forbidden"]}`)
			return
		}
		type ref struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		filter := strings.ToLower(r.URL.Query().Get("filter[name]"))
		refs := []ref{}
		included := []map[string]any{{"id": w.parent.ID, "type": "orgs", "attributes": map[string]any{
			"name": w.parent.Name, "public_id": "parentpublicid00", "created_at": "2019-01-01T00:00:00+00:00",
			"modified_at": "2025-06-01T00:00:00+00:00", "description": "", "disabled": false, "sharing": "none", "url": "https://app.datadoghq.com"}}}
		for i, o := range w.managed {
			if !strings.Contains(strings.ToLower(o.Name), filter) {
				continue
			}
			refs = append(refs, ref{o.ID, "orgs"})
			included = append(included, map[string]any{"id": o.ID, "type": "orgs", "attributes": map[string]any{
				"name": o.Name, "public_id": fmt.Sprintf("pub%013d", i), "created_at": fmt.Sprintf("2025-01-01T00:%02d:00+00:00", i),
				"modified_at": "2025-06-01T00:00:00+00:00", "description": "", "disabled": false, "sharing": "none", "url": "https://app.datadoghq.com"}})
		}
		body := map[string]any{
			"data": map[string]any{"id": w.parent.ID, "type": "managed_orgs", "relationships": map[string]any{
				"current_org":  map[string]any{"data": ref{w.parent.ID, "orgs"}},
				"managed_orgs": map[string]any{"data": refs}}},
			"included": included,
		}
		if err := json.NewEncoder(rw).Encode(body); err != nil {
			t.Errorf("encode: %v", err)
		}
	})
}

func (w *discoverWorld) serve(t *testing.T) *httptest.Server {
	t.Helper()
	sb, err := sandbox.New(w.fixture, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	ts := httptest.NewServer(w.managedOrgs(t, sb)) // on 127.0.0.1
	t.Cleanup(ts.Close)
	return ts
}

// discoverOrgID makes a valid org UUID: kind 3 for the account, 4 for
// another account.
func discoverOrgID(kind, n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n) }

func TestDiscoverParentConnections(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 31)
	ts := w.serve(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "orgs.yaml")
	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "-o", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "orgsync: discover: acme-parent manages 31 orgs\n")
	assert.Contains(t, r.stderr, "orgsync: discover: wrote "+out+": 32 orgs, 21 connections\n")

	m, err := manifest.Load([]string{out})
	require.NoError(t, err)
	labels := map[string]string{}
	for _, o := range m.Orgs {
		labels[o.ID] = o.Label
		assert.Equal(t, "datadoghq.com", o.Site)
	}
	assert.Len(t, m.Orgs, 32)
	assert.Equal(t, "acme-parent", labels[w.parent.ID])
	assert.Equal(t, "team-a", labels[w.managed[0].ID], "the older of two orgs named alike keeps the label")
	assert.Equal(t, "team-a-2", labels[w.managed[1].ID])
	assert.Equal(t, "zurich-ops", labels[w.managed[2].ID])
	assert.Equal(t, "org-00000003", labels[w.managed[3].ID], "a name without a Latin letter gives a label from the id")
	assert.Equal(t, "payments-eu", labels[w.managed[4].ID])
	assert.Equal(t, "search.v2", labels[w.managed[5].ID])
	// Only the parent's own connections: 11 to it, 10 from it.
	for _, c := range m.Connections {
		assert.True(t, c.SourceLabel == "acme-parent" || c.SinkLabel == "acme-parent", "%+v", c)
	}
	assert.Len(t, m.Connections, 21)

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	text := string(b)
	assert.NotContains(t, text, w.foreign.ID, "an org of another account never appears")
	assert.NotContains(t, text, "Other Account")
	assert.NotContains(t, text, "pub0", "public ids are never written")
	assert.Contains(t, text, "  # Zürich (Ops)\n  zurich-ops:\n")
	assert.Contains(t, text, "  # 東京\n  org-00000003:\n")
	assert.Contains(t, text, "    # 1 connection with orgs outside this manifest left out\n    id: "+w.parent.ID)
	assert.NotContains(t, text, discoverKeyMarker)
}

func TestDiscoverFilterName(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 12)
	ts := w.serve(t)
	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "--filter-name", "team a", "--site", "us3.datadoghq.com")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "# yaml-language-server: $schema=https://raw.githubusercontent.com/orgsync/orgsync/main/schemas/manifest.schema.json\n")
	assert.Contains(t, r.stdout, "defaults:\n  site: us3.datadoghq.com\n")
	assert.Contains(t, r.stdout, "\n  team-a:\n")
	assert.Contains(t, r.stdout, "\n  team-a-2:\n")
	assert.NotContains(t, r.stdout, "zurich")
	// The parent's connections with the two; team-a-2 -> team-a is not the parent's.
	assert.Contains(t, r.stdout, "  - from: acme-parent\n    to: team-a-2\n    types: [audit]\n")
	assert.Contains(t, r.stdout, "  - from: team-a\n    to: acme-parent\n    types: [logs, metrics]\n")
	assert.Equal(t, 2, strings.Count(r.stdout, "- from:"))
}

func TestDiscoverFailures(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 3)
	ts := w.serve(t)
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantStderr []string
	}{
		{name: "no parent keys", env: map[string]string{},
			wantStderr: []string{"orgsync: error: $DD_API_KEY and $DD_APP_KEY not set", "orgsync: hint: export the parent org's keys"}},
		{name: "keys under other names", env: map[string]string{"DD_API_KEY": w.parent.APIKey}, args: []string{"--app-key-env", "PARENT_APP"},
			wantStderr: []string{"orgsync: error: $PARENT_APP not set"}},
		{name: "keys without the permission", env: map[string]string{"DD_API_KEY": w.managed[0].APIKey, "DD_APP_KEY": w.managed[0].AppKey},
			wantStderr: []string{"orgsync: error: list managed orgs: GET /api/v2/org: 403 Forbidden", "orgsync: hint: listing the managed orgs needs the org_management or org_connections_write permission"}},
		{name: "wrong keys", env: map[string]string{"DD_API_KEY": discoverKeyMarker + "-wrong", "DD_APP_KEY": discoverKeyMarker + "-wrong2"},
			wantStderr: []string{"orgsync: error: check the parent org's keys: GET /api/v2/current_user: 401 Unauthorized"}},
		{name: "connections without a keys source", env: w.env, args: []string{"--connections"},
			wantStderr: []string{"orgsync: error: --connections needs a keys source for the managed orgs", "orgsync: hint: give --keys-file FILE or --keys-command CMD"}},
		{name: "output directory missing", env: w.env, args: []string{"-o", "/nonexistent/dir/orgs.yaml"},
			wantStderr: []string{"orgsync: error: -o /nonexistent/dir/orgs.yaml: the directory /nonexistent/dir does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.env, append([]string{"discover", "--api-url", ts.URL, "--max-retries", "0"}, tt.args...)...)
			assert.Equal(t, 1, r.code)
			for _, want := range tt.wantStderr {
				assert.Contains(t, r.stderr, want)
			}
			assert.NotContains(t, r.stdout+r.stderr, discoverKeyMarker, "a key leaked")
		})
	}
}

// keysFile writes a keys file (by org id) for every org of the account
// except those left out, readable by its owner only.
func (w *discoverWorld) keysFile(t *testing.T, dir string, leaveOut ...string) string {
	t.Helper()
	var b strings.Builder
	for _, o := range append([]sandbox.FixtureOrg{w.parent}, w.managed...) {
		if slices.Contains(leaveOut, o.ID) {
			continue
		}
		fmt.Fprintf(&b, "%s: {api_key: %s, app_key: %s}\n", o.ID, o.APIKey, o.AppKey)
	}
	p := filepath.Join(dir, "keys.yaml")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o600))
	return p
}

// TestDiscoverRoundTrip is the done-when test of issue 13: on an emulated
// account of 32 orgs with connections among them, discover with
// --connections writes a manifest that plans to no changes.
func TestDiscoverRoundTrip(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 31)
	ts := w.serve(t)
	dir := t.TempDir()
	keysFile := w.keysFile(t, dir)
	out := filepath.Join(dir, "orgs.yaml")

	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "--connections", "--keys-file", keysFile, "-o", out)
	require.Equal(t, 0, r.code, r.stderr)
	// Progress for a large account: a line per tenth of the orgs read.
	assert.Contains(t, r.stderr, "orgsync: discover: read the connections of 31/31 orgs\n")
	assert.GreaterOrEqual(t, strings.Count(r.stderr, "orgsync: discover: read the connections of"), 5)
	// 21 of the parent, 30 among the managed orgs.
	assert.Contains(t, r.stderr, "orgsync: discover: wrote "+out+": 32 orgs, 51 connections\n")
	text := mustRead(t, out)
	assert.NotContains(t, text, w.foreign.ID, "an org of another account never appears")
	assert.Contains(t, text, "  # Team A\n  team-a:\n    # 1 connection with orgs outside this manifest left out\n")
	assert.NotContains(t, r.stdout+r.stderr+text, discoverKeyMarker, "a key leaked")

	p := runCLI(t, nil, "plan", "--api-url", ts.URL, "-f", out, "--keys-file", keysFile, "--detailed-exitcode")
	assert.Equal(t, 0, p.code, "plan of the discovered manifest:\n%s\n%s", p.stdout, p.stderr)
	assert.Contains(t, p.stdout, "No changes.")
	assert.NotContains(t, p.stdout+p.stderr, discoverKeyMarker, "a key leaked")
}

// TestDiscoverKeysCommandGetsLabels checks that the keys command is asked
// with the labels discover gives, and that an org whose keys cannot be had
// is written with a comment saying why, the run exiting 1 after writing.
func TestDiscoverKeysCommandGetsLabels(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 4)
	ts := w.serve(t)
	dir := t.TempDir()
	// The command answers by label; it knows no keys for zurich-ops.
	var script strings.Builder
	script.WriteString("case \"$ORGSYNC_ORG_LABEL/$ORGSYNC_ORG_SITE\" in\n")
	for _, c := range []struct {
		label string
		org   sandbox.FixtureOrg
	}{{"team-a", w.managed[0]}, {"team-a-2", w.managed[1]}, {"org-00000003", w.managed[3]}} {
		fmt.Fprintf(&script, "%s/datadoghq.com) echo '{\"api_key\": \"%s\", \"app_key\": \"%s\"}' ;;\n", c.label, c.org.APIKey, c.org.AppKey)
	}
	script.WriteString("*) echo \"no keys for $ORGSYNC_ORG_LABEL\" >&2; exit 3 ;;\nesac\n")
	cmdPath := writeFile(t, dir, "keys.sh", script.String())

	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "--connections", "--keys-command", "sh "+cmdPath)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: error: org zurich-ops: connections not read: ")
	assert.Contains(t, r.stderr, "orgsync: hint: the manifest was written without what could not be read")
	assert.Contains(t, r.stdout, "  # Zürich (Ops)\n  zurich-ops:\n    # connections not read: ")
	assert.Contains(t, r.stdout, "  - from: team-a-2\n    to: team-a\n    types: [logs]\n", "read with the keys the command gave for team-a-2")
	assert.Contains(t, r.stdout, "  - from: org-00000003\n    to: zurich-ops\n    types: [logs]\n")
	assert.NotContains(t, r.stdout, "  - from: zurich-ops\n    to: team-a-2\n", "zurich-ops was not read")
	_, err := manifest.Load([]string{writeFile(t, dir, "orgs.yaml", r.stdout)})
	require.NoError(t, err, "what is written validates, also when an org was not read")
	assert.NotContains(t, r.stdout+r.stderr, discoverKeyMarker, "a key leaked")
}
