package manifest

import (
	"flag"
	"fmt"
	"github.com/orgsync/orgsync/internal/manifesttest"
	"github.com/orgsync/orgsync/pkg/site"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "update golden files")

const manifestsDir = "testdata/manifests"

// loadErrors returns the lines Load prints for paths, one per problem, or
// for a valid manifest one "warning: " line per warning.
func loadErrors(t *testing.T, paths ...string) string {
	t.Helper()
	m, err := Load(paths)
	if err == nil {
		var b strings.Builder
		for _, w := range m.Warnings {
			b.WriteString("warning: " + w.Error() + "\n")
		}
		return b.String()
	}
	var ves *ValidationErrors
	require.ErrorAs(t, err, &ves, "Load must return *ValidationErrors: %v", err)
	return err.Error() + "\n"
}

// TestLoadGolden loads each directory of testdata/manifests and compares the
// problems with its errors.golden (empty for a valid manifest). Run
// go test -update to rewrite them, and review the diff.
func TestLoadGolden(t *testing.T) {
	t.Parallel()
	dirs, err := os.ReadDir(manifestsDir)
	require.NoError(t, err)
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(manifestsDir, d.Name())
			got := loadErrors(t, dir)
			golden := filepath.Join(dir, "errors.golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden file; run go test -update")
			assert.Equal(t, string(want), got, "problems differ from %s; run go test -update and review the diff", golden)
			if strings.HasPrefix(d.Name(), "ok-") {
				for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
					assert.True(t, line == "" || strings.HasPrefix(line, "warning: "), "an ok- case must load: %s", line)
				}
			} else {
				assert.NotEmpty(t, got, "a case that is not ok- must fail")
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	const (
		hub   = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
		teamA = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
		teamB = "11111111-1111-4111-8111-111111111111"
		teamC = "22222222-2222-4222-8222-222222222222"
		raw   = "0f1e2d3c-4b5a-4968-8776-655443322110"
	)
	pos := func(file string, line, col int) Position {
		return Position{File: filepath.Join(manifestsDir, file), Line: line, Column: col}
	}
	tests := []struct {
		name  string
		paths []string
		want  *Manifest
	}{
		{
			name:  "contract example",
			paths: []string{"ok-contract/manifest.yaml"},
			want: &Manifest{
				Orgs: []Org{
					{Label: "hub", ID: hub, Site: "datadoghq.eu", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-contract/manifest.yaml", 7, 3)},
					{Label: "team-a", ID: teamA, Site: "datadoghq.eu", APIKeyEnv: "DD_API_KEY_TEAM_A", AppKeyEnv: "DD_APP_KEY_TEAM_A", Prune: true, Pos: pos("ok-contract/manifest.yaml", 10, 3)},
				},
				Connections: []Connection{
					{SourceLabel: "team-a", SinkLabel: "hub", SinkID: hub, Types: []string{"logs", "metrics"}, Pos: pos("ok-contract/manifest.yaml", 17, 5)},
				},
			},
		},
		{
			name:  "directory of files, fan-in, fan-out, raw sink, defaults",
			paths: []string{"ok-multi"},
			want: &Manifest{
				Orgs: []Org{
					{Label: "hub", ID: hub, Site: "us3.datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-multi/10-orgs.yaml", 6, 3)},
					{Label: "team-a", ID: teamA, Site: "us3.datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-multi/10-orgs.yaml", 9, 3)},
					{Label: "team-b", ID: teamB, Site: "us3.datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-multi/10-orgs.yaml", 11, 3)},
					{Label: "team.c", ID: teamC, Site: "us3.datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-multi/20-connections.yml", 3, 3)},
				},
				Connections: []Connection{
					{SourceLabel: "team-a", SinkLabel: "", SinkID: raw, Types: []string{"audit"}, Pos: pos("ok-multi/20-connections.yml", 10, 18)},
					{SourceLabel: "team-a", SinkLabel: "hub", SinkID: hub, Types: []string{"logs", "metrics"}, Pos: pos("ok-multi/20-connections.yml", 7, 12)},
					{SourceLabel: "team-a", SinkLabel: "team.c", SinkID: teamC, Types: []string{"audit"}, Pos: pos("ok-multi/20-connections.yml", 10, 10)},
					{SourceLabel: "team-b", SinkLabel: "hub", SinkID: hub, Types: []string{"logs", "metrics"}, Pos: pos("ok-multi/20-connections.yml", 7, 20)},
				},
			},
		},
		{
			name: "the same file twice is read once",
			paths: []string{
				"ok-contract/manifest.yaml",
				"./ok-contract/../ok-contract/manifest.yaml",
				"ok-contract",
			},
		},
		{
			name:  "a raw UUID sink that is a declared org is that org",
			paths: []string{"ok-uuid-sink-declared"},
			want: &Manifest{
				Orgs: []Org{
					{Label: "hub", ID: hub, Site: "datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-uuid-sink-declared/manifest.yaml", 5, 3)},
					{Label: "team-a", ID: teamA, Site: "datadoghq.com", APIKeyEnv: "DD_API_KEY", AppKeyEnv: "DD_APP_KEY", Pos: pos("ok-uuid-sink-declared/manifest.yaml", 7, 3)},
				},
				Connections: []Connection{
					{SourceLabel: "team-a", SinkLabel: "", SinkID: raw, Types: []string{"logs"}, Pos: pos("ok-uuid-sink-declared/manifest.yaml", 11, 48)},
					{SourceLabel: "team-a", SinkLabel: "hub", SinkID: hub, Types: []string{"logs"}, Pos: pos("ok-uuid-sink-declared/manifest.yaml", 11, 10)},
				},
			},
		},
		{
			name:  "key env templates in the defaults; an org's own value wins",
			paths: []string{"ok-env-templates"},
			want: &Manifest{
				Orgs: []Org{
					{Label: "hub", ID: hub, Site: "datadoghq.com", APIKeyEnv: "DD_API_KEY_HUB", AppKeyEnv: "HUB_HUB_APP", Pos: pos("ok-env-templates/manifest.yaml", 7, 3)},
					{Label: "team-a.eu-1", ID: teamA, Site: "datadoghq.com", APIKeyEnv: "TEAM_A_OWN_API_KEY", AppKeyEnv: "TEAM_A_EU_1_TEAM_A_EU_1_APP", Pos: pos("ok-env-templates/manifest.yaml", 8, 3)},
				},
				Connections: []Connection{
					{SourceLabel: "team-a.eu-1", SinkLabel: "hub", SinkID: hub, Types: []string{"logs"}, Pos: pos("ok-env-templates/manifest.yaml", 12, 5)},
				},
			},
		},
		{
			name:  "quoted labels",
			paths: []string{"ok-quoted-labels"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			paths := make([]string, len(tt.paths))
			for i, p := range tt.paths {
				paths[i] = filepath.Join(manifestsDir, p)
			}
			m, err := Load(paths)
			require.NoError(t, err)
			if tt.want != nil {
				assert.Equal(t, tt.want, m)
			}
		})
	}
}

func TestLoadErrorsAreValidationErrors(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{filepath.Join(manifestsDir, "multi-file-conflicts")})
	require.Error(t, err)
	var ves *ValidationErrors
	require.ErrorAs(t, err, &ves)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve, "errors.As reaches each problem through Unwrap() []error")
	assert.Equal(t, filepath.Join(manifestsDir, "multi-file-conflicts", "b.yaml"), ve.File)
	assert.Equal(t, []string{"org hub is declared twice (first at testdata/manifests/multi-file-conflicts/a.yaml:5:3)"}, msgsAt(ves, "orgs.hub"))

	_, err = Load(nil)
	assert.EqualError(t, err, "no manifest files given")
}

func msgsAt(ves *ValidationErrors, fieldPath string) []string {
	var msgs []string
	for _, e := range ves.Errors {
		if e.Path == fieldPath {
			msgs = append(msgs, e.Msg)
		}
	}
	return msgs
}

func TestLoadPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	got := loadErrors(t, missing, empty)
	assert.Equal(t, missing+":1:1: cannot read: no such file or directory\n"+
		empty+":1:1: directory holds no *.yaml or *.yml files\n", got)
}

// TestLoadLimits feeds Load hostile input and checks that it stops at the
// expected limit, with the expected problem. (How fast is for the
// benchmarks: a wall-clock bound here failed on a loaded machine.)
func TestLoadLimits(t *testing.T) {
	t.Parallel()
	const head = "version: 1\norgs:\n  hub:\n    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85\n"
	manyErrors := head + "connections:\n" + strings.Repeat("  - 1\n", 2000)
	fanIn := make([]string, 400)
	for i := range fanIn {
		fanIn[i] = fmt.Sprintf("o%d", i)
	}
	var orgs strings.Builder
	for i := range fanIn {
		fmt.Fprintf(&orgs, "  o%d: {id: 00000000-0000-4000-8000-%012d}\n", i, i)
	}
	list := "[" + strings.Join(fanIn, ", ") + "]"
	tests := []struct {
		name, data string
		want       string // one of the lines, after "FILE:"
		lines      int    // how many lines, if not 1
	}{
		{"file size", strings.Repeat("#", maxFileSize+1), "1:1: file is larger than 32 MiB", 1},
		{"flow depth", "a: " + strings.Repeat("[", 100000), "1:68: nesting is deeper than 64 levels", 1},
		{"flow depth in maps", strings.Repeat("{a: ", 100000), "1:257: nesting is deeper than 64 levels", 1},
		{"block depth", "version: 1\norgs:\n" + strings.Repeat("- ", 5000) + "a\n", "3:127: orgs" + strings.Repeat("[0]", 63) + ": nesting is deeper than 64 levels", 2},
		{"node count", "[" + strings.Repeat("a,", 600000) + "]", "1:1000001: file has more than 500000 YAML nodes; split the manifest into several files", 1},
		{"node count behind a quote", "a: b \"c\nd: [" + strings.Repeat("a\\,", 600000) + "]\n", "2:1499995: file has more than 500000 YAML nodes; split the manifest into several files", 1},
		{"node count in lines", strings.Repeat("- a\n", 300000), "250001:1: file has more than 500000 YAML nodes; split the manifest into several files", 1},
		{"scalar length", head + "connections: [{from: hub, to: \"" + strings.Repeat("x", maxScalar+1) + "\"}]\n", "5:31: connections[0].to: value is longer than 65536 bytes", 1},
		{"alias bomb", "version: 1\norgs: {}\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "4:8: b[0]: aliases are not allowed in a manifest; write the value out", 25},
		{"too many errors", manyErrors, "6:5: connections[0]: expected a mapping, got the number 1", maxErrors + 1},
		{"too many connections", head + orgs.String() + "connections:\n  - {from: " + list + ", to: " + list + ", types: [logs]}\n", "406:5: connections[0]: the manifest declares more than 100000 connections", 1},
		{"chunk size", head + "connections:\n  - {from: [" + strings.Repeat("hub, ", maxChunkNodes) + "], to: hub}\n", "6:5: connections[0]: too big: more than 10000 YAML nodes", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := filepath.Join(t.TempDir(), "m.yaml")
			require.NoError(t, os.WriteFile(name, []byte(tt.data), 0o644))
			_, err := Load([]string{name})
			var ves *ValidationErrors
			require.ErrorAs(t, err, &ves)
			require.NotEmpty(t, ves.Errors)
			assert.Contains(t, strings.Split(err.Error(), "\n"), name+":"+tt.want)
			assert.Len(t, ves.Errors, tt.lines, "%v", err)
			if tt.lines > maxErrors {
				assert.Equal(t, "too many errors; stopped after 1000", ves.Errors[maxErrors].Msg)
			}
		})
	}
}

func TestCanonicalSite(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		"datadoghq.com": "datadoghq.com", "us2.ddog-gov.com": "us2.ddog-gov.com", "DatadogHQ.EU": "datadoghq.eu",
		"app.datadoghq.com": "datadoghq.com", "App.DatadogHQ.eu": "datadoghq.eu", "app.ddog-gov.com": "ddog-gov.com",
	}
	for s, want := range ok {
		got, msg := canonicalSite(s)
		assert.Empty(t, msg, s)
		assert.Equal(t, want, got, s)
	}
	const hint = "; a manifest names Datadog sites only: give other endpoints to orgsync with --api-url URL, --api-url SITE=URL or ORGSYNC_API_URL"
	const url = "a URL is not a Datadog site" + hint
	bad := map[string]string{
		"datadoghq.co":                     `"datadoghq.co" is not a Datadog site (did you mean datadoghq.com?)` + hint,
		"api.datadoghq.eu":                 `"api.datadoghq.eu" is not a Datadog site (did you mean datadoghq.eu?)` + hint,
		"https://x.example":                url,
		"http://127.0.0.1:8080":            url,
		"http://localhost":                 url,
		"https://user:secret@x.example":    url,
		"https://x.example/?key=secret":    url,
		"127.0.0.1:8080":                   `"127.0.0.1:8080" is not a Datadog site (want one of datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com)` + hint,
		"0123456789abcdef0123456789abcd":   `"0123456789abcdef0123456789abcd" is not a Datadog site (want one of datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com)` + hint,
		"0123456789abcdef0123456789abcdef": `(a value that looks like a key, not shown) is not a Datadog site (want one of datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com)` + hint,
	}
	for s, want := range bad {
		got, msg := canonicalSite(s)
		assert.Equal(t, want, msg, s)
		assert.Empty(t, got, s)
	}
}

func TestEnvTemplate(t *testing.T) {
	t.Parallel()
	for tmpl, want := range map[string]string{
		"DD_API_KEY_{LABEL}": "",
		"{LABEL}":            "",
		"_{LABEL}{LABEL}_X":  "",
		"DD_API_KEY":         "",
		"{LABEL":             "unbalanced braces: a { without its }; the only placeholder is {LABEL}",
		"{{LABEL}}":          "unbalanced braces: a { without its }; the only placeholder is {LABEL}",
		"LABEL}":             "unbalanced braces: a } without its {; the only placeholder is {LABEL}",
		"X_{}":               `unknown placeholder "{}"; the only one is {LABEL}`,
		"X_{ID}":             `unknown placeholder "{ID}"; the only one is {LABEL}`,
		"9_{LABEL}":          "not a valid environment variable name, with {LABEL} for an org's label (want [A-Za-z_][A-Za-z0-9_]*)",
		"DD KEY {LABEL}":     "not a valid environment variable name, with {LABEL} for an org's label (want [A-Za-z_][A-Za-z0-9_]*)",
	} {
		assert.Equal(t, want, envTemplateProblem(tmpl), tmpl)
	}
	for label, want := range map[string]string{"team-a": "K_TEAM_A", "Team.B-2": "K_TEAM_B_2", "x_y": "K_X_Y"} {
		assert.Equal(t, want, expandEnvTemplate("K_{LABEL}", label), label)
	}
	assert.Equal(t, "PLAIN", expandEnvTemplate("PLAIN", "team-a"))
}

func TestKeyLike(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"api_key", "app_key", "apikey", "APIKey", "application_key", "key", "dd-api-key", "token", "client_secret", "password", "api_key_value"} {
		assert.True(t, keyLike(name), name)
	}
	for _, name := range []string{"api_key_env", "app_key_env", "apikey_env", "site", "id", "prune", "monkey_business_env"} {
		assert.False(t, keyLike(name), name)
	}
	assert.True(t, looksLikeKey("0123456789abcdef0123456789abcdef"))
	assert.False(t, looksLikeKey("DD_API_KEY_TEAM_A_0123456789abcdef"))
	assert.False(t, looksLikeKey("83999dcd-7f97-11f0-8de1-1ecf66f1aa85"))
}

// TestSchemaParts checks that the parts of the schema that validateSchema
// uses one by one exist, and that the fields the messages list are right.
func TestSchemaParts(t *testing.T) {
	t.Parallel()
	cs, err := loadSchema()
	require.NoError(t, err)
	assert.Equal(t, []string{"connections", "defaults", "orgs", "version"}, schemaFields(cs.root))
	assert.Equal(t, []string{"api_key_env", "app_key_env", "connection_types", "site"}, schemaFields(cs.defaults))
	assert.Equal(t, []string{"api_key_env", "app_key_env", "id", "prune", "site"}, schemaFields(cs.org))
	assert.Equal(t, []string{"from", "to", "types"}, schemaFields(cs.connection))
	assert.Equal(t, []string{"version"}, schemaRequired(cs.root))
	assert.Equal(t, []string{"id"}, schemaRequired(cs.org))
	assert.Equal(t, []string{"from", "to"}, schemaRequired(cs.connection))
	// The root schema wires the parts in: a whole manifest validates in one go.
	require.NoError(t, cs.root.Validate(map[string]any{
		"version": 1,
		"orgs":    map[string]any{"hub": map[string]any{"id": "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"}},
		"connections": []any{
			map[string]any{"from": "hub", "to": []any{"0f1e2d3c-4b5a-4968-8776-655443322110"}, "types": []any{"logs"}},
		},
	}))
	assert.Error(t, cs.root.Validate(map[string]any{"version": 1, "orgs": map[string]any{"bad label": map[string]any{"id": "x"}}}))
}

// FuzzLoadManifest checks that Load never panics and that every problem it
// reports is a positioned *ValidationError. The seed corpus is every
// manifest file under testdata/manifests.
func FuzzLoadManifest(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(manifestsDir, "*", "*.y*ml"))
	require.NoError(f, err)
	for _, s := range seeds {
		if fi, err := os.Stat(s); err != nil || fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(s)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		name := filepath.Join(t.TempDir(), "fuzz.yaml")
		require.NoError(t, os.WriteFile(name, data, 0o644))
		m, err := Load([]string{name})
		if err == nil {
			require.NotNil(t, m)
			return
		}
		var ves *ValidationErrors
		require.ErrorAs(t, err, &ves, "%v", err)
		require.NotEmpty(t, ves.Errors)
		for _, e := range ves.Unwrap() {
			var ve *ValidationError
			require.ErrorAs(t, e, &ve)
			require.Equal(t, name, ve.File)
			require.GreaterOrEqual(t, ve.Line, 1)
			require.GreaterOrEqual(t, ve.Column, 1)
			require.NotEmpty(t, ve.Msg)
		}
	})
}

// TestBigManifestLoads keeps the benchmarks' manifest valid, since go test
// does not run the benchmarks.
func TestBigManifestLoads(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(name, manifesttest.Big(100, 1000), 0o644))
	m, err := Load([]string{name})
	require.NoError(t, err)
	assert.Len(t, m.Connections, 1000)
	assert.Len(t, m.Warnings, 100, "every org has 10 sinks")
}

// BenchmarkLoadManifest loads a generated manifest of 1,000 orgs and 10,000
// connections (target: < 1 s and < 300 MB per load).
func BenchmarkLoadManifest(b *testing.B) {
	name := filepath.Join(b.TempDir(), "big.yaml")
	require.NoError(b, os.WriteFile(name, manifesttest.Big(1000, 10000), 0o644))
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		m, err := Load([]string{name})
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Connections) != 10000 {
			b.Fatalf("got %d connections", len(m.Connections))
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
}

func TestClosest(t *testing.T) {
	t.Parallel()
	schemaFields := []string{"api_key_env", "app_key_env", "id", "prune", "site"}
	for in, want := range map[string]string{
		"prnue": "prune", "Site": "site", "sites": "site", "k1": "", "ID": "id", "idd": "id", "api_key_nev": "api_key_env", "color": "",
		"app_kye_env": "app_key_env",
	} {
		assert.Equal(t, want, closest(in, schemaFields), in)
	}
	assert.Equal(t, 1, editDistance("hbu", "hub", 3))
	assert.Equal(t, 3, editDistance("kitten", "sitting", 5))
	assert.Equal(t, 2, editDistance("kitten", "sitting", 2))
	assert.Equal(t, 0, editDistance("", "", 2))
}

// TestYAMLDoesNotExpandAliases pins the yaml.v3 behaviour that makes alias
// bombs harmless: decoding into a yaml.Node keeps each alias as one node.
func TestYAMLDoesNotExpandAliases(t *testing.T) {
	t.Parallel()
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for c := 'b'; c <= 'j'; c++ {
		prev := string(c - 1)
		bomb += fmt.Sprintf("%c: &%c [%s]\n", c, c, strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", "))
	}
	root, problems := parseYAML([]byte(bomb)) // 10^10 strings if expanded
	require.Empty(t, problems)
	var count func(n *yaml.Node) int
	count = func(n *yaml.Node) int {
		c := 1
		for _, k := range n.Content {
			c += count(k)
		}
		return c
	}
	assert.Less(t, count(root), 200)
}

func TestPathString(t *testing.T) {
	t.Parallel()
	p := fieldPath{}.key("orgs").key("team.a").key("site")
	assert.Equal(t, `orgs["team.a"].site`, p.String())
	assert.Equal(t, "connections[2].to[1]", fieldPath{}.key("connections").index(2).key("to").index(1).String())
	assert.Equal(t, `orgs.hub[(a value that looks like a key, not shown)]`, fieldPath{}.key("orgs").key("hub").key("0123456789abcdef0123456789abcdef").String())
}

// TestSchemaSitesAreTheCanonicalOnes: editors read the schema, orgsync
// reads site.Canonical; they accept the same sites.
func TestSchemaSitesAreTheCanonicalOnes(t *testing.T) {
	t.Parallel()
	cs, err := loadSchema()
	require.NoError(t, err)
	samples := []string{"datadoghq.co", "https://api.datadoghq.com", "http://127.0.0.1:8080", "api.datadoghq.eu", "DATADOGHQ.COM.", "", "app.us5.datadoghq.com"}
	for _, n := range site.Names {
		samples = append(samples, n, strings.ToUpper(n), "x"+n)
	}
	for a := range site.Aliases {
		samples = append(samples, a, strings.ToUpper(a))
	}
	for _, s := range samples {
		_, want := site.Canonical(s)
		err := cs.org.Validate(map[string]any{"id": "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", "site": s})
		assert.Equal(t, want, err == nil, "site %q: schema error %v", s, err)
	}
}

// TestReadmeManifestExample loads the example of README's "Manifest
// reference", so that it stays a valid manifest that means what it says.
func TestReadmeManifestExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## Manifest reference")
	require.True(t, ok, "README has no Manifest reference section")
	_, block, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	name := filepath.Join(t.TempDir(), "readme.yaml")
	require.NoError(t, os.WriteFile(name, []byte(block), 0o644))
	m, err := Load([]string{name})
	require.NoError(t, err)
	hub, ok := m.Org("hub")
	require.True(t, ok)
	assert.Equal(t, [2]string{"DD_API_KEY_HUB", "DD_APP_KEY_HUB"}, [2]string{hub.APIKeyEnv, hub.AppKeyEnv}, "from the defaults' templates")
	teamA, ok := m.Org("team-a")
	require.True(t, ok)
	assert.Equal(t, [2]string{"TEAM_A_API_KEY", "TEAM_A_APP_KEY"}, [2]string{teamA.APIKeyEnv, teamA.AppKeyEnv}, "the org's own values win")
	assert.Equal(t, "datadoghq.eu", teamA.Site)
}
