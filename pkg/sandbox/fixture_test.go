package sandbox

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/schemas"
)

func TestLoadFixtureExamples(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture("../../testdata/sandbox/demo.yaml")
	require.NoError(t, err)
	assert.Len(t, f.Orgs, 4)
	assert.Len(t, f.Connections, 2)
	assert.Equal(t, &RateLimitConfig{Limit: 1000, Period: 60}, f.RateLimit)
	assert.Nil(t, f.Orgs[0].Permissions, "absent permissions mean both")
	assert.Equal(t, []string{PermissionRead}, f.Orgs[2].Permissions)
	_, err = New(f, Options{})
	require.NoError(t, err)

	f = recordedFixture(t)
	assert.Equal(t, srcName, f.Orgs[0].Name)
}

func TestLoadFixtureErrors(t *testing.T) {
	t.Parallel()
	const (
		a = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
		b = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	)
	tests := []struct {
		name    string
		content string
		want    []string // each error line, after FILE
	}{
		{"empty file", "", []string{": empty fixture"}},
		{"only a comment", "# nothing\n", []string{": empty fixture"}},
		{"two documents", "orgs: []\n---\norgs: []\n", []string{":2:1: a fixture holds a single YAML document"}},
		{"syntax error", "orgs: [\n", []string{":1: did not find expected node content"}},
		{"unknown top-level field", "orgs: []\nrate-limit: {}\n", []string{`:2:1: unknown field "rate-limit"`}},
		{"unknown org field", "orgs:\n  - id: " + a + "\n    app-key: x\n", []string{`:3:5: unknown field "app-key"`}},
		{"wrong type", "orgs:\n  - id: " + a + "\n    permissions: read\n", []string{":3: expected a list, got a string (`read`)"}},
		{"orgs as a mapping", "orgs:\n  hub: {id: " + a + "}\n", []string{":2: expected a list, got a mapping"}},
		{"a list for a number", "orgs: []\nrate_limit: {limit: [1], period: 10}\n", []string{":2: expected a number, got a list"}},
		{"duplicate key", "orgs: []\norgs: []\n", []string{`:2:1: mapping key "orgs" already defined at line 1`}},
		{"missing id", "orgs:\n  - name: x\n", []string{":2:5: orgs[0]: id is required"}},
		{"bad id", "orgs:\n  - id: team-a\n", []string{`:2:9: orgs[0].id: "team-a" is not a UUID`}},
		{"duplicate id", "orgs:\n  - id: " + a + "\n  - id: " + strings.ToUpper(a) + "\n",
			[]string{":3:9: orgs[1].id: org " + strings.ToUpper(a) + " is already defined at orgs[0]"}},
		{"half the keys", "orgs:\n  - id: " + a + "\n    api_key: k\n",
			[]string{":3:14: orgs[0].api_key: api_key is set but app_key is not; set both, or neither for a sink-only org"}},
		{"shared keys", "orgs:\n  - {id: " + a + ", api_key: k, app_key: p}\n  - {id: " + b + ", api_key: k, app_key: p}\n",
			[]string{":3:57: orgs[1].api_key: api_key is also the api_key of orgs[0]; keys must be unique",
				":3:69: orgs[1].app_key: app_key is also the app_key of orgs[0]; keys must be unique"}},
		{"unknown permission", "orgs:\n  - id: " + a + "\n    permissions: [org_connections_read, admin]\n",
			[]string{`:3:41: orgs[0].permissions[1]: unknown permission "admin" (want org_connections_read, org_connections_write or org_management)`}},
		{"a list", "- id: " + a + "\n", []string{`:1:1: a fixture is a mapping with orgs, connections and rate_limit, not a list (put the orgs under "orgs:")`}},
		{"a single value", "orgs\n", []string{`:1:1: a fixture is a mapping with orgs, connections and rate_limit, not a single value (put the orgs under "orgs:")`}},
		{"sites, users and parents",
			"orgs:\n  - {id: " + a + ", site: datadoghq.EU, parent: " + b + "}\n" +
				"  - {id: " + b + ", site: https://evil.example, user: {service_account: true}, parent: " + b + "}\n" +
				"  - {id: 00000000-0000-0000-0000-000000000000, parent: 11111111-1111-1111-1111-111111111111}\n" +
				"  - {id: 22222222-2222-2222-2222-222222222222, parent: nope}\n",
			[]string{
				`:3:54: orgs[1].site: "https://evil.example" is not a Datadog site (want one of datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com)`,
				`:3:82: orgs[1].user: user.handle is required (an email address, or the name of a service account)`,
				`:3:115: orgs[1].parent: an org cannot be its own parent`,
				`:4:56: orgs[2].parent: parent org 11111111-1111-1111-1111-111111111111 is not defined in orgs`,
				`:5:56: orgs[3].parent: "nope" is not a UUID`,
			}},
		{"connection problems",
			"orgs:\n  - id: " + a + "\n  - id: " + b + "\nconnections:\n" +
				"  - {source: " + a + ", sink: " + b + ", types: [logs]}\n" +
				"  - {source: " + a + ", sink: " + b + ", types: [logs, apm]}\n" +
				"  - {source: " + a + ", sink: " + a + ", types: []}\n" +
				"  - {source: nope, types: [logs]}\n" +
				"  - {source: " + a + ", sink: 00000000-0000-0000-0000-000000000000, types: [metrics, metrics]}\n",
			[]string{
				`:6:103: connections[1].types: unknown connection type "apm" (want logs, metrics or audit)`,
				":6:5: connections[1]: connection " + a + " -> " + b + " is already defined at connections[0]",
				":7:58: connections[2].sink: an org cannot be connected to itself",
				":7:103: connections[2].types: at least one connection type is required",
				`:8:14: connections[3].source: "nope" is not a UUID`,
				":8:5: connections[3]: sink is required",
				":9:58: connections[4].sink: org 00000000-0000-0000-0000-000000000000 is not defined in orgs",
				`:9:103: connections[4].types: connection type "metrics" is listed twice`,
			}},
		{"rate limit", "rate_limit: {limit: 0, period: -1}\n",
			[]string{":1:21: rate_limit.limit: limit must be at least 1", ":1:32: rate_limit.period: period must be at least 1 (seconds)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "f.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			_, err := LoadFixture(path)
			require.Error(t, err)
			var want []string
			for _, w := range tt.want {
				want = append(want, path+w)
			}
			assert.ElementsMatch(t, want, strings.Split(err.Error(), "\n"))
			assert.NotContains(t, err.Error(), "api_key: k", "keys are never echoed")
		})
	}
}

// TestLoadFixtureNoPermissions checks that YAML's `[]` is kept apart from an
// absent list: the first means no permission, the second both.
func TestLoadFixtureNoPermissions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.yaml")
	content := "orgs:\n  - {id: " + srcID + ", api_key: a, app_key: b, permissions: []}\n  - {id: " + sinkID + ", api_key: c, app_key: d}\n"
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	f, err := LoadFixture(path)
	require.NoError(t, err)
	assert.NotNil(t, f.Orgs[0].Permissions)
	assert.Empty(t, f.Orgs[0].Permissions)
	assert.Nil(t, f.Orgs[1].Permissions)
	s := newServer(t, f, Options{})
	assert.Equal(t, 403, call(s, keys{"a", "b"}, "GET", "/api/v2/org_connections", "").Code)
	assert.Equal(t, 200, call(s, keys{"c", "d"}, "GET", "/api/v2/org_connections", "").Code)
}

func TestLoadFixtureMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadFixture(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestNewValidatesFixture covers fixtures built in code, which have no
// positions: the path still names the problem.
func TestNewValidatesFixture(t *testing.T) {
	t.Parallel()
	_, err := New(&Fixture{Orgs: []FixtureOrg{{ID: "x"}}, Connections: []FixtureConnection{{Source: srcID, Sink: sinkID, Types: []string{"logs"}}}}, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `orgs[0].id: "x" is not a UUID`)
	assert.Contains(t, err.Error(), "connections[0].source: org "+srcID+" is not defined in orgs")
}

// fixtureSchema compiles schemas/fixture.schema.json.
func fixtureSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := schemas.FS.ReadFile("fixture.schema.json")
	require.NoError(t, err)
	const url = "https://orgsync.invalid/schemas/fixture.schema.json"
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	require.NoError(t, c.AddResource(url, bytes.NewReader(raw)))
	s, err := c.Compile(url)
	require.NoError(t, err)
	return s
}

// schemaCheck validates YAML text against the fixture schema.
func schemaCheck(t *testing.T, s *jsonschema.Schema, content string) error {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal([]byte(content), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	require.NoError(t, dec.Decode(&doc))
	return s.Validate(doc)
}

// TestFixtureSchema: the schema that documents the fixture accepts every
// fixture of the repository, and it and LoadFixture agree on the rest.
func TestFixtureSchema(t *testing.T) {
	t.Parallel()
	s := fixtureSchema(t)
	paths, err := filepath.Glob("../../testdata/sandbox/*.yaml")
	require.NoError(t, err)
	paths = append(paths, "../../examples/sandbox-fixture.yaml")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.NoError(t, schemaCheck(t, s, string(b)), p)
		_, err = LoadFixture(p)
		assert.NoError(t, err, p)
	}

	const a, b = "4dee724d-00cc-11ea-a77b-570c9d03c6c5", "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	tests := []struct {
		name, content string
		valid         bool
	}{
		{"every field", "orgs:\n  - {id: " + a + ", name: Parent, site: datadoghq.eu, api_key: k, app_key: p, permissions: [org_management], user: {handle: ci-bot, service_account: true}}\n" +
			"  - {id: " + b + ", site: DatadogHQ.eu, parent: " + a + "}\n" +
			"connections:\n  - {source: " + a + ", sink: " + b + ", types: [logs, audit]}\nrate_limit: {limit: 10, period: 60}\n", true},
		{"a list", "- id: " + a + "\n", false},
		{"unknown field", "orgs:\n  - {id: " + a + ", app-key: x}\n", false},
		{"bad site", "orgs:\n  - {id: " + a + ", site: https://example.com}\n", false},
		{"UI alias for a site", "orgs:\n  - {id: " + a + ", site: App.DatadogHQ.com}\n", true},
		{"half the keys", "orgs:\n  - {id: " + a + ", api_key: k}\n", false},
		{"unknown permission", "orgs:\n  - {id: " + a + ", permissions: [admin]}\n", false},
		{"user without handle", "orgs:\n  - {id: " + a + ", user: {service_account: true}}\n", false},
		{"bad parent", "orgs:\n  - {id: " + a + ", parent: nope}\n", false},
		{"no types", "orgs:\n  - {id: " + a + "}\n  - {id: " + b + "}\nconnections:\n  - {source: " + a + ", sink: " + b + ", types: []}\n", false},
		{"duplicate type", "orgs:\n  - {id: " + a + "}\n  - {id: " + b + "}\nconnections:\n  - {source: " + a + ", sink: " + b + ", types: [logs, logs]}\n", false},
		{"zero rate limit", "rate_limit: {limit: 0, period: 1}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "f.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			_, loadErr := LoadFixture(path)
			schemaErr := schemaCheck(t, s, tt.content)
			if tt.valid {
				assert.NoError(t, loadErr)
				assert.NoError(t, schemaErr)
				return
			}
			assert.Error(t, loadErr, "LoadFixture")
			assert.Error(t, schemaErr, "schema")
		})
	}
}

// TestREADMEFixture: the fixture the README shows loads, and the schema
// accepts it.
func TestREADMEFixture(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "### Fixture\n")
	require.True(t, ok, "the README has a Fixture section")
	_, block, ok := strings.Cut(after, "```yaml\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	require.NoError(t, schemaCheck(t, fixtureSchema(t), block))
	path := filepath.Join(t.TempDir(), "readme.yaml")
	require.NoError(t, os.WriteFile(path, []byte(block), 0o600))
	f, err := LoadFixture(path)
	require.NoError(t, err)
	require.Len(t, f.Orgs, 2)
	assert.Equal(t, &FixtureUser{Handle: "orgsync-ci", ServiceAccount: true}, f.Orgs[0].User)
}
