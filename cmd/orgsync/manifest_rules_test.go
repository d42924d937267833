package main

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestManySinksWarning: more than 5 sinks for one source org is a warning
// in validate and plan, on stderr and as a GitHub annotation, not an error.
func TestManySinksWarning(t *testing.T) {
	t.Parallel()
	var m strings.Builder
	m.WriteString("version: 1\norgs:\n  platform: {id: 00000000-0000-4000-8000-000000000001}\n")
	var sinks []string
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&m, "  s%d: {id: 00000000-0000-4000-8000-0000000000%02d}\n", i, 10+i)
		sinks = append(sinks, fmt.Sprintf("s%d", i))
	}
	fmt.Fprintf(&m, "connections:\n  - from: platform\n    to: [%s]\n    types: [logs]\n", strings.Join(sinks, ", "))
	dir := t.TempDir()
	path := writeFile(t, dir, "m.yaml", m.String())
	const msg = "connections[0].to[5]: org platform shares with 6 other orgs (the 6th here): Datadog allows more than 5 on Enterprise plans only"
	for _, args := range [][]string{
		{"validate", "-f", path},
		{"plan", "--sandbox", filepath.Join(dir, "state.json"), "-f", path},
	} {
		r := runCLI(t, nil, args...)
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "orgsync: warning: "+path+":12:30: "+msg+"\n", args)
		assert.NotContains(t, r.stderr, "::warning", args)

		r = runCLI(t, map[string]string{"GITHUB_ACTIONS": "true"}, args...)
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "::warning file="+escapeProperty(path)+",line=12,col=30::"+msg+"\n", args)
	}
}

// TestRawUUIDSinkOfADeclaredOrg: a sink named by the UUID of a declared org
// is that org, named by its label in the plan before and after applying.
func TestRawUUIDSinkOfADeclaredOrg(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	m := writeFile(t, dir, "m.yaml", `version: 1
orgs:
  hub: {id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85}
  team-a: {id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5}
connections:
  - {from: team-a, to: 83999DCD-7F97-11F0-8DE1-1ECF66F1AA85, types: [logs]}
`)
	for i, want := range []plan.Action{plan.Create, plan.Noop} {
		r := runCLI(t, nil, "plan", "--sandbox", state, "-f", m, "--json")
		require.Equal(t, 0, r.code, r.stderr)
		var p plan.Plan
		decodeJSON(t, r.stdout, &p)
		require.Len(t, p.Changes, 1)
		assert.Equal(t, want, p.Changes[0].Action)
		assert.Equal(t, plan.OrgRef{Label: "hub", ID: "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"}, p.Changes[0].SinkOrg, "plan %d", i)
		if i == 0 {
			r = runCLI(t, nil, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--report", filepath.Join(dir, "r.json"))
			require.Equal(t, 0, r.code, r.stderr)
		}
	}
}

// TestKeyEnvTemplates: defaults.api_key_env and app_key_env with {LABEL}
// name each org's key variables; an org's own value wins.
func TestKeyEnvTemplates(t *testing.T) {
	t.Parallel()
	const hub, teamA, teamB = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", "4dee724d-00cc-11ea-a77b-570c9d03c6c5", "11111111-1111-4111-8111-111111111111"
	sb, err := sandbox.New(&sandbox.Fixture{Orgs: []sandbox.FixtureOrg{
		{ID: hub, Name: "hub"},
		{ID: teamA, Name: "team-a", APIKey: "a-api", AppKey: "a-app"},
		{ID: teamB, Name: "team.b", APIKey: "b-api", AppKey: "b-app"},
	}}, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	m := writeFile(t, t.TempDir(), "m.yaml", `version: 1
defaults:
  api_key_env: DD_API_KEY_{LABEL}
  app_key_env: DD_APP_KEY_{LABEL}
orgs:
  hub: {id: `+hub+`}
  team-a: {id: `+teamA+`}
  team.b: {id: `+teamB+`, app_key_env: TEAM_B_OWN}
connections:
  - {from: [team-a, team.b], to: hub, types: [logs]}
`)
	env := map[string]string{"DD_API_KEY_TEAM_A": "a-api", "DD_APP_KEY_TEAM_A": "a-app", "DD_API_KEY_TEAM_B": "b-api", "TEAM_B_OWN": "b-app"}
	r := runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	delete(env, "TEAM_B_OWN")
	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "$TEAM_B_OWN")
}
