package main

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
