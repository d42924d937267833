package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestSandboxStateUnwritable: a state that cannot be created is an error
// before any change (issue 12: apply said "Apply complete" and kept nothing,
// and sandbox serve started).
func TestSandboxStateUnwritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	missing := filepath.Join(dir, "nonexistent", "sb.db")

	r := runCLI(t, nil, "apply", "--sandbox", missing, "-f", m, "--auto-approve", "--report", filepath.Join(dir, "r.json"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "orgsync: error: sandbox: open sandbox state: open "+missing+": no such file or directory")
	assert.NotContains(t, r.stdout, "Apply complete")

	r = runCLI(t, nil, "plan", "--sandbox", missing, "-f", m)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no such file or directory")

	r = runCLI(t, nil, "sandbox", "serve", "--fixture", "../../examples/sandbox-fixture.yaml", "--state", missing, "--listen", "127.0.0.1:0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "orgsync: error: open sandbox state: open "+missing+": no such file or directory")
	assert.NotContains(t, r.stderr, "listening")
}

func TestSandboxServeMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := writeFile(t, dir, "list.yaml", "- id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5\n  name: Team A\n")
	r := runCLI(t, nil, "sandbox", "serve", "--fixture", list, "--listen", "127.0.0.1:0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, list+`:1:1: a fixture is a mapping with orgs, connections and rate_limit, not a list (put the orgs under "orgs:")`)
	assert.NotContains(t, r.stderr, "cannot unmarshal")

	// A stopped context: serve prints its address, then shuts down.
	one := writeFile(t, dir, "one.yaml", "orgs:\n  - id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = runCLIContext(t, ctx, nil, "sandbox", "serve", "--fixture", one, "--listen", "127.0.0.1:0")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `orgsync: sandbox listening on http://127\.0\.0\.1:\d+ \(1 org\); stop with Ctrl-C`, r.stderr)

	for _, p := range []string{"NaN", "-0.1", "1.5", "+Inf"} {
		r := runCLI(t, nil, "sandbox", "serve", "--fixture", list, "--fail-5xx", p)
		assert.Equal(t, 1, r.code, p)
		assert.Contains(t, r.stderr, "--fail-5xx must be a probability between 0 and 1", p)
	}
}

func TestListenURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ addr, want string }{
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://127.0.0.1:8080"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"192.0.2.7:80", "http://192.0.2.7:80"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		require.NoError(t, err)
		assert.Equal(t, tt.want, listenURL(addr), tt.addr)
	}
}

// TestSandboxFixtureUsers: a fixture org without `user` has personal keys,
// which plan warns about; the fixture's service account quiets it; with
// --sandbox FILE every org's keys act as a service account's.
func TestSandboxFixtureUsers(t *testing.T) {
	t.Parallel()
	_, hs := serveFixture(t, &sandbox.Fixture{Orgs: []sandbox.FixtureOrg{
		{ID: "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", Name: "hub"},
		{ID: "4dee724d-00cc-11ea-a77b-570c9d03c6c5", Name: "team-a", APIKey: "a-api", AppKey: "a-app"},
		{ID: "11111111-1111-4111-8111-111111111111", Name: "team-b", APIKey: "b-api", AppKey: "b-app",
			User: &sandbox.FixtureUser{Handle: "ci-bot", ServiceAccount: true}},
	}})
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "b-api", "B_APP": "b-app"}

	r := runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: warning: org team-a: its keys belong to sandbox-4dee724d@orgsync.invalid, a personal user")
	assert.Equal(t, 1, strings.Count(r.stderr, "warning"), "team-b's keys are the fixture's service account:\n%s", r.stderr)

	r = runCLI(t, nil, "plan", "--sandbox", filepath.Join(dir, "s.db"), "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "warning", "--sandbox keys act as service accounts")
}

// TestSandboxConvertsV1State: a state file of version 1 (JSON) is
// converted on first use, says so once, keeps the old file, and keeps its
// connections.
func TestSandboxConvertsV1State(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	state := writeFile(t, dir, "state.json", `{"format_version": 1, "connections": [{"id": "2f1f3a52-4b6e-4d0a-9f5e-0c1d2e3f4a5b",
  "source": "4dee724d-00cc-11ea-a77b-570c9d03c6c5", "sink": "83999dcd-7f97-11f0-8de1-1ecf66f1aa85",
  "types": ["logs"], "created_at": "2025-08-26T20:19:35.554634Z"}]}`)

	r := runCLI(t, nil, "plan", "--sandbox", state, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: converted the sandbox state "+state+" (1 connection) from version 1 (JSON) to version 2; the old file is kept as "+state+".v1.bak\n")
	assert.Contains(t, r.stdout, "Plan: 1 to create, 0 to update, 0 to delete, 1 unchanged")
	backup, err := os.ReadFile(state + ".v1.bak")
	require.NoError(t, err)
	assert.Contains(t, string(backup), `"format_version": 1`)

	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "converted", "once")
	assert.Contains(t, r.stdout, "1 unchanged")
}
