package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// keyOwners wraps an API handler and rewrites its current_user answers the
// way Datadog describes a user: by the caller's API key, a handle and
// whether it is a service account.
func keyOwners(next http.Handler, owners map[string]struct {
	handle  string
	service bool
}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/current_user" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		attrs := body["data"].(map[string]any)["attributes"].(map[string]any)
		o := owners[r.Header.Get("DD-API-KEY")]
		attrs["handle"], attrs["service_account"] = o.handle, o.service
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

// TestServiceAccounts: team-a's keys belong to a person, team-b's to a
// service account. plan and apply warn once about team-a;
// --require-service-account fails team-a (a failed verify, no write with
// its keys) while team-b goes on; the plan then names the creator of the
// live connection and counts those made by personal users.
func TestServiceAccounts(t *testing.T) {
	t.Parallel()
	const idA, idB = "4dee724d-00cc-11ea-a77b-570c9d03c6c5", "11111111-1111-4111-8111-111111111111"
	srv, err := sandbox.New(&sandbox.Fixture{Orgs: []sandbox.FixtureOrg{
		{ID: "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", Name: "hub"},
		{ID: idA, Name: "team-a", APIKey: "a-api", AppKey: "a-app"},
		{ID: idB, Name: "team-b", APIKey: "b-api", AppKey: "b-app"},
	}}, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(keyOwners(srv, map[string]struct {
		handle  string
		service bool
	}{"a-api": {"amy@example.com", false}, "b-api": {"ci-bot", true}}))
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "b-api", "B_APP": "b-app"}
	const warning = "orgsync: warning: org team-a: its keys belong to amy@example.com, a personal user, not a service account: " +
		"Datadog deletes the connections a user created when that user is deactivated; use the keys of a service account"

	r := runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, warning)
	assert.Equal(t, 1, strings.Count(r.stderr, "orgsync: warning:"), "one warning, for the one org with personal keys:\n%s", r.stderr)

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
	conns := srv.Connections()
	require.Len(t, conns, 1, "no write with team-a's keys; team-b went on")
	assert.Equal(t, idB, conns[0].Source)

	// The sandbox reports its default user (a person) as the creator.
	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--json", "--org", "team-b")
	require.Equal(t, 0, r.code, r.stderr)
	var p struct {
		Changes []struct {
			Action    string
			CreatedBy *struct {
				ID             string `json:"id"`
				ServiceAccount *bool  `json:"service_account"`
			} `json:"created_by"`
		}
	}
	decodeJSON(t, r.stdout, &p)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, "noop", p.Changes[0].Action)
	require.NotNil(t, p.Changes[0].CreatedBy, "a change built from a live connection names its creator")
	assert.NotEmpty(t, p.Changes[0].CreatedBy.ID)
	require.NotNil(t, p.Changes[0].CreatedBy.ServiceAccount)
	assert.False(t, *p.Changes[0].CreatedBy.ServiceAccount)
	validateAgainstSchema(t, "plan.schema.json", r.stdout)

	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--org", "team-b")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Made by personal users (Datadog deletes a user's connections when the user is deactivated; prefer a service account):\n  team-b: 1 of 1 live connection\n")
	assert.NotContains(t, r.stderr, "warning", "team-b's keys are a service account's")
}
