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
			assert.Equal(t, 128, a.target.parallelism)
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
		{name: "keys file without connections", args: []string{"--keys-file", "k.yaml"}, wantErr: "only --connections uses"},
		{name: "keys command without connections", args: []string{"--keys-command", "pass"}, wantErr: "only --connections uses"},
		{name: "keys file and command", args: []string{"--connections", "--keys-file", "k.yaml", "--keys-command", "pass"}, wantErr: "exclude each other"},
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
// connected to the parent. The sandbox serves it all, GET /api/v2/org
// included (fixture `parent`).
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
		w.managed = append(w.managed, sandbox.FixtureOrg{ID: discoverOrgID(3, i), Name: name, APIKey: key("api", i), AppKey: key("app", i), Parent: w.parent.ID})
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

// publicIDs are the public ids the account's GET /api/v2/org answer holds,
// which must never be written.
func (w *discoverWorld) publicIDs(t *testing.T, url string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/api/v2/org", nil)
	require.NoError(t, err)
	req.Header.Set("DD-API-KEY", w.parent.APIKey)
	req.Header.Set("DD-APPLICATION-KEY", w.parent.AppKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Included []struct {
			Attributes struct {
				PublicID string `json:"public_id"`
			} `json:"attributes"`
		} `json:"included"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	var ids []string
	for _, o := range body.Included {
		ids = append(ids, o.Attributes.PublicID)
	}
	require.Len(t, ids, len(w.managed)+1)
	return ids
}

func (w *discoverWorld) serve(t *testing.T) *httptest.Server {
	t.Helper()
	sb, err := sandbox.New(w.fixture, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	ts := httptest.NewServer(sb) // on 127.0.0.1
	t.Cleanup(ts.Close)
	return ts
}

// TestDiscoverCountsInWords: one managed org and one connection are said
// in the singular ("1 connections" used to be printed).
func TestDiscoverCountsInWords(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 1)
	ts := w.serve(t)
	out := filepath.Join(t.TempDir(), "orgs.yaml")
	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "-o", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: discover: acme-parent manages 1 org\n")
	assert.Contains(t, r.stderr, "orgsync: discover: wrote "+out+": 2 orgs, 1 connection\n")
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
	for _, id := range w.publicIDs(t, ts.URL) {
		assert.NotContains(t, text, id, "public ids are never written")
	}
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
	// A parent whose keys may read connections only: GET /api/v2/org needs
	// org_management or org_connections_write.
	ro := newDiscoverWorld(t, 3)
	ro.fixture.Orgs[0].Permissions = []string{sandbox.PermissionRead}
	tsRO := ro.serve(t)
	keysPath := w.keysFile(t, t.TempDir())
	tests := []struct {
		name       string
		env        map[string]string
		readOnly   bool
		args       []string
		wantStderr []string
	}{
		{name: "no parent keys", env: map[string]string{},
			wantStderr: []string{"orgsync: error: $DD_API_KEY and $DD_APP_KEY not set", "orgsync: hint: export the parent org's keys"}},
		{name: "keys under other names", env: map[string]string{"DD_API_KEY": w.parent.APIKey}, args: []string{"--app-key-env", "PARENT_APP"},
			wantStderr: []string{"orgsync: error: $PARENT_APP not set"}},
		{name: "keys without the permission", env: ro.env, readOnly: true,
			wantStderr: []string{"orgsync: error: list managed orgs: GET /api/v2/org: 403 Forbidden", "orgsync: hint: listing the managed orgs needs the org_management or org_connections_write permission"}},
		{name: "wrong keys", env: map[string]string{"DD_API_KEY": discoverKeyMarker + "-wrong", "DD_APP_KEY": discoverKeyMarker + "-wrong2"},
			wantStderr: []string{"orgsync: error: check the parent org's keys: GET /api/v2/current_user: 401 Unauthorized"}},
		{name: "connections without a keys source", env: w.env, args: []string{"--connections"},
			wantStderr: []string{"orgsync: error: --connections needs a keys source for the managed orgs", "orgsync: hint: give --keys-file FILE or --keys-command CMD"}},
		{name: "output directory missing", env: w.env, args: []string{"-o", "/nonexistent/dir/orgs.yaml"},
			wantStderr: []string{"orgsync: error: -o /nonexistent/dir/orgs.yaml: cannot write there (no such file or directory); nothing was done"}},
		{name: "output over the keys file", env: w.env, args: []string{"--connections", "--keys-file", keysPath, "-o", keysPath},
			wantStderr: []string{"orgsync: error: -o " + keysPath + " is an input of this run (--keys-file " + keysPath + "): refusing to overwrite it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := ts.URL
			if tt.readOnly {
				url = tsRO.URL
			}
			r := runCLI(t, tt.env, append([]string{"discover", "--api-url", url, "--max-retries", "0"}, tt.args...)...)
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
	// As in the README's steps 1 to 3, -o replaces a manifest written before.
	require.NoError(t, os.WriteFile(out, []byte("# written by step 1\n"), 0o644))

	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "--connections", "--keys-file", keysFile, "-o", out)
	require.Equal(t, 0, r.code, r.stderr)
	// Progress for a large account: a line per tenth of the orgs read.
	assert.Contains(t, r.stderr, "orgsync: discover: read the connections of 31/31 orgs\n")
	assert.GreaterOrEqual(t, strings.Count(r.stderr, "orgsync: discover: read the connections of"), 5)
	// 21 of the parent, 30 among the managed orgs.
	assert.Contains(t, r.stderr, "orgsync: discover: wrote "+out+": 32 orgs, 51 connections\n")
	text := mustRead(t, out)
	assert.NotContains(t, text, "written by step 1")
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

// TestDiscoverMissingKeysEntry checks that an org without an entry in the
// keys file is written with a comment naming the file, and that neither the
// comment nor the error advises --org, which discover does not take.
func TestDiscoverMissingKeysEntry(t *testing.T) {
	t.Parallel()
	w := newDiscoverWorld(t, 4)
	ts := w.serve(t)
	keysFile := w.keysFile(t, t.TempDir(), w.managed[2].ID)

	r := runCLI(t, w.env, "discover", "--api-url", ts.URL, "--connections", "--keys-file", keysFile)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: error: org zurich-ops: connections not read: check keys: keys file "+keysFile+": no entry for org zurich-ops")
	assert.Contains(t, r.stdout, "  zurich-ops:\n    # connections not read: check keys: keys file "+keysFile+": no entry for org zurich-ops")
	assert.NotContains(t, r.stdout+r.stderr, "--org", "discover takes no --org")
	assert.NotContains(t, r.stderr, "read the connections of", "no progress under 10 orgs to read")
	assert.Equal(t, 1, runCLI(t, w.env, "discover", "--org", "x").code, "discover rejects --org")
}

// TestDiscoverOnTheSandbox is the first run of the README: the sandbox
// makes the manifest's first org the parent of the others, so discover
// reads back what apply made, and planning that finds no changes.
func TestDiscoverOnTheSandbox(t *testing.T) {
	t.Parallel()
	for _, example := range []string{quickstart, "../../examples/fleet.yaml"} {
		t.Run(filepath.Base(example), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			state, out := filepath.Join(dir, "sandbox.db"), filepath.Join(dir, "discovered.yaml")
			r := runCLI(t, nil, "apply", "--sandbox", state, "-f", example, "--auto-approve", "--report", filepath.Join(dir, "report.json"))
			require.Equal(t, 0, r.code, r.stderr)

			r = runCLI(t, nil, "discover", "--sandbox", state, "-f", example, "--connections", "-o", out)
			require.Equal(t, 0, r.code, r.stderr)
			if example == quickstart {
				// hub comes first in the file, checkout first by label.
				assert.Contains(t, r.stderr, "orgsync: discover: checkout manages 3 orgs\n", "the parent is the first org by label")
			}

			want, err := manifest.Load([]string{example})
			require.NoError(t, err)
			got, err := manifest.Load([]string{out})
			require.NoError(t, err)
			// The emulator names each org by its label, so discover gives the
			// labels back, and the connections are those the example declares.
			require.Len(t, got.Orgs, len(want.Orgs))
			for i := range want.Orgs {
				assert.Equal(t, want.Orgs[i].Label, got.Orgs[i].Label)
				assert.Equal(t, want.Orgs[i].ID, got.Orgs[i].ID)
			}
			require.Len(t, got.Connections, len(want.Connections))
			for i := range want.Connections {
				assert.Equal(t, want.Connections[i].SourceLabel, got.Connections[i].SourceLabel)
				assert.Equal(t, want.Connections[i].SinkLabel, got.Connections[i].SinkLabel)
				assert.Equal(t, want.Connections[i].Types, got.Connections[i].Types)
			}

			p := runCLI(t, nil, "plan", "--sandbox", state, "-f", out, "--detailed-exitcode")
			assert.Equal(t, 0, p.code, "%s\n%s", p.stdout, p.stderr)
			assert.Contains(t, p.stdout, "No changes.")
		})
	}
}

// echoKeysWhen answers the requests for which echo is true with an error
// that quotes the request's key headers back, like a careless proxy: orgsync
// must redact them.
func echoKeysWhen(echo func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !echo(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		msg := fmt.Sprintf("bad request with DD-API-KEY=%s DD-APPLICATION-KEY=%s", r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY"))
		_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
	})
}

// TestDiscoverKeysNeverLeak runs discover in every mode that prints or
// writes something, with keys that all carry a marker, and looks for the
// marker in stdout, stderr and the manifest written.
func TestDiscoverKeysNeverLeak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     func(w *discoverWorld, dir string) []string
		echo     bool
		env      func(w *discoverWorld) map[string]string
		wantCode int
		check    func(t *testing.T, r cliResult, manifest string)
	}{
		{name: "verbose with a keys file", wantCode: 0,
			args: func(w *discoverWorld, dir string) []string {
				return []string{"-v", "--connections", "--keys-file", w.keysFile(t, dir)}
			},
			check: func(t *testing.T, r cliResult, m string) {
				assert.Contains(t, r.stderr, "GET /api/v2/org -> 200")
				assert.Contains(t, m, "- from: team-a-2")
			}},
		{name: "verbose with a keys command", wantCode: 0,
			args: func(w *discoverWorld, dir string) []string {
				return []string{"-v", "--connections", "--keys-command", "grep \"^$ORGSYNC_ORG_ID:\" " + w.keysFile(t, dir) + " | sed 's/^[^:]*: {api_key: \\([^,]*\\), app_key: \\([^}]*\\)}/{\"api_key\": \"\\1\", \"app_key\": \"\\2\"}/'"}
			},
			check: func(t *testing.T, r cliResult, m string) { assert.Contains(t, m, "- from: team-a-2") }},
		{name: "a server that echoes the keys", echo: true, wantCode: 1,
			args: func(w *discoverWorld, dir string) []string {
				return []string{"--connections", "--keys-file", w.keysFile(t, dir)}
			},
			check: func(t *testing.T, r cliResult, m string) {
				assert.Contains(t, m, "# connections not read: list connections: GET /api/v2/org_connections")
				assert.Contains(t, m, "DD-API-KEY=[redacted]", "the echo reached the manifest, redacted")
				assert.Contains(t, r.stderr, "DD-API-KEY=[redacted]")
			}},
		{name: "wrong parent keys", wantCode: 1,
			env: func(w *discoverWorld) map[string]string {
				return map[string]string{"DD_API_KEY": w.parent.APIKey + "x", "DD_APP_KEY": w.parent.AppKey}
			},
			args:  func(*discoverWorld, string) []string { return []string{"-v"} },
			check: func(t *testing.T, r cliResult, _ string) { assert.Contains(t, r.stderr, "401") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newDiscoverWorld(t, 4)
			sb, err := sandbox.New(w.fixture, sandbox.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = sb.Close() })
			var h http.Handler = sb
			if tt.echo {
				// Every managed org's list of connections.
				h = echoKeysWhen(func(r *http.Request) bool {
					return r.URL.Path == "/api/v2/org_connections" && r.Header.Get("DD-API-KEY") != w.parent.APIKey
				}, h)
			}
			ts := httptest.NewServer(h)
			t.Cleanup(ts.Close)
			dir := t.TempDir()
			out := filepath.Join(dir, "orgs.yaml")
			env := w.env
			if tt.env != nil {
				env = tt.env(w)
			}
			r := runCLI(t, env, append([]string{"discover", "--api-url", ts.URL, "-o", out}, tt.args(w, dir)...)...)
			assert.Equal(t, tt.wantCode, r.code, r.stderr)
			written := ""
			if b, err := os.ReadFile(out); err == nil {
				written = string(b)
			}
			tt.check(t, r, written)
			for _, text := range []string{r.stdout, r.stderr, written} {
				assert.NotContains(t, text, discoverKeyMarker, "a key leaked")
			}
		})
	}
}
