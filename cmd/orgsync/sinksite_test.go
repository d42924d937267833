package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestRawSinkOnAnotherSite: a raw-UUID sink is assumed to be on the source's
// site; the emulator, like Datadog, answers 404 for an org on another site,
// and the failed result says where the sink was looked for and why.
func TestRawSinkOnAnotherSite(t *testing.T) {
	t.Parallel()
	const idA, idEU = "4dee724d-00cc-11ea-a77b-570c9d03c6c5", "22222222-2222-4222-8222-222222222222"
	srv, hs := serveFixture(t, &sandbox.Fixture{Orgs: []sandbox.FixtureOrg{
		{ID: idA, Name: "team-a", APIKey: "a-api", AppKey: "a-app"},
		{ID: idEU, Name: "eu-hub", Site: "datadoghq.eu"},
	}})
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", `version: 1
orgs:
  team-a:
    id: `+idA+`
    api_key_env: A_API
    app_key_env: A_APP
connections:
  - {from: team-a, to: `+idEU+`, types: [logs]}
`)
	report := filepath.Join(dir, "r.json")
	r := runCLI(t, map[string]string{"A_API": "a-api", "A_APP": "a-app"}, "apply", "--api-url", hs.URL, "-f", m, "--auto-approve", "--report", report)
	assert.Equal(t, 1, r.code)
	want := "sink org " + idEU + " not found on site datadoghq.com: Datadog connects orgs of the same account and site only"
	assert.Contains(t, r.stderr, want)
	rep := readReport(t, report)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, apply.Failed, rep.Results[0].Outcome)
	assert.Equal(t, 404, rep.Results[0].HTTPStatus)
	assert.Contains(t, rep.Results[0].Error, want)
	assert.Empty(t, srv.Connections())
}
