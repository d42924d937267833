package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestServiceAccounts: team-a's keys belong to a person, team-b's to a
// service account. plan and apply warn once about team-a;
// --require-service-account fails team-a (a failed verify, no write with
// its keys) while team-b goes on; the plan then names the creator of the
// live connection and counts those made by personal users.
func TestServiceAccounts(t *testing.T) {
	t.Parallel()
	const idHub, idA, idB, idX = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", "4dee724d-00cc-11ea-a77b-570c9d03c6c5",
		"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	// team-a already sends audit to another org (unmanaged: team-a does
	// not prune), a connection its user made.
	srv, hs := serveFixture(t, &sandbox.Fixture{
		Orgs: []sandbox.FixtureOrg{
			{ID: idHub, Name: "hub"}, {ID: idX, Name: "x"},
			{ID: idA, Name: "team-a", APIKey: "a-api", AppKey: "a-app", User: &sandbox.FixtureUser{Handle: "amy@example.com"}},
			{ID: idB, Name: "team-b", APIKey: "b-api", AppKey: "b-app", User: &sandbox.FixtureUser{Handle: "ci-bot", ServiceAccount: true}},
		},
		Connections: []sandbox.FixtureConnection{{Source: idA, Sink: idX, Types: []string{"audit"}}},
	})
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "b-api", "B_APP": "b-app"}
	const warning = "orgsync: warning: org team-a: its keys belong to amy@example.com, a personal user, not a service account: " +
		"Datadog deletes the connections a user created when that user is deactivated; use the keys of a service account"

	r := runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, warning)
	assert.Equal(t, 1, strings.Count(r.stderr, "orgsync: warning:"), "one warning, for the one org with personal keys:\n%s", r.stderr)
	assert.Contains(t, r.stdout, "Made by personal users (Datadog deletes a user's connections when the user is deactivated; prefer a service account):\n  team-a: 1 of 1 live connection\n")

	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var p struct {
		Changes []struct {
			Action    string
			CreatedBy *struct {
				ID             string `json:"id"`
				Handle         string `json:"handle"`
				ServiceAccount *bool  `json:"service_account"`
			} `json:"created_by"`
		}
	}
	decodeJSON(t, r.stdout, &p)
	validateAgainstSchema(t, "plan.schema.json", r.stdout)
	for _, c := range p.Changes {
		if c.Action != "unmanaged" {
			assert.Nil(t, c.CreatedBy, "a create has no creator")
			continue
		}
		require.NotNil(t, c.CreatedBy, "a change built from a live connection names its creator")
		assert.NotEmpty(t, c.CreatedBy.ID)
		assert.Equal(t, "amy@example.com", c.CreatedBy.Handle)
		require.NotNil(t, c.CreatedBy.ServiceAccount)
		assert.False(t, *c.CreatedBy.ServiceAccount)
	}

	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--require-service-account")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "org team-a: keys do not belong to a service account: they belong to amy@example.com, a personal user, and --require-service-account is set")
	assert.NotContains(t, r.stderr, "warning", "a failed org is not also warned about")

	report := filepath.Join(dir, "r.json")
	r = runCLI(t, env, "apply", "--api-url", hs.URL, "-f", m, "--auto-approve", "--report", report, "--require-service-account")
	assert.Equal(t, 1, r.code)
	rep := readReport(t, report)
	assert.Equal(t, apply.Summary{Created: 1, Failed: 1}, rep.Summary)
	var verify *apply.Result
	for i := range rep.Results {
		if rep.Results[i].Action == apply.ActionVerify {
			verify = &rep.Results[i]
		}
	}
	require.NotNil(t, verify, "team-a is a failed verify result")
	assert.Equal(t, "team-a", verify.SourceOrg.Label)
	assert.Equal(t, apply.Failed, verify.Outcome)
	assert.Contains(t, verify.Error, "--require-service-account is set")
	var fromB int
	for _, c := range srv.Connections() {
		assert.False(t, c.Source == idA && c.Sink == idHub, "no write with team-a's keys")
		if c.Source == idB {
			fromB++
		}
	}
	assert.Equal(t, 1, fromB, "team-b went on")
	assert.Len(t, srv.Connections(), 2)

	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--org", "team-b", "--require-service-account")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "warning", "team-b's keys are a service account's")
	assert.NotContains(t, r.stdout, "Made by personal users", "team-b's connection was made by its service account")
}

// TestSandboxKeysAreServiceAccounts: with --sandbox FILE the keys act as
// service accounts, so the quickstart has nothing to warn about, even when
// service accounts are required.
func TestSandboxKeysAreServiceAccounts(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "sandbox.json")
	for _, args := range [][]string{
		{"apply", "--auto-approve", "--report", filepath.Join(t.TempDir(), "r.json")},
		{"plan", "--require-service-account"},
	} {
		r := runCLI(t, nil, append(args, "--sandbox", state, "-f", quickstart)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stderr, "warning")
		assert.NotContains(t, r.stdout, "personal")
	}
}
