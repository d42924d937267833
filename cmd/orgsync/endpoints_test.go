package main

import (
	"bytes"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

func TestAPIURLFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    orgapi.Endpoints
		hint    string
		wantErr string
	}{
		{name: "none", want: orgapi.Endpoints{}},
		{name: "every org", args: []string{"--api-url", "https://proxy.example.com/dd/"},
			want: orgapi.Everywhere("https://proxy.example.com/dd", "set by --api-url"), hint: " --api-url https://proxy.example.com/dd/"},
		{name: "env for every org", env: map[string]string{"ORGSYNC_API_URL": "http://127.0.0.1:8080"},
			want: orgapi.Everywhere("http://127.0.0.1:8080", "set by ORGSYNC_API_URL")},
		{name: "the flag wins over the env", args: []string{"--api-url", "http://[::1]:1"}, env: map[string]string{"ORGSYNC_API_URL": "http://127.0.0.1:8080"},
			want: orgapi.Everywhere("http://[::1]:1", "set by --api-url"), hint: " --api-url http://[::1]:1"},
		{name: "per site, in any case and by alias", args: []string{"--api-url", "DatadogHQ.eu=http://127.0.0.1:2", "--api-url", "app.datadoghq.com=https://us.example.com"},
			want: orgapi.Endpoints{BySite: map[string]orgapi.Endpoint{
				"datadoghq.eu":  {URL: "http://127.0.0.1:2", From: "set by --api-url datadoghq.eu=URL"},
				"datadoghq.com": {URL: "https://us.example.com", From: "set by --api-url datadoghq.com=URL"},
			}},
			hint: " --api-url DatadogHQ.eu=http://127.0.0.1:2 --api-url app.datadoghq.com=https://us.example.com"},
		{name: "per site with the env for the others", args: []string{"--api-url", "datadoghq.eu=http://127.0.0.1:2"}, env: map[string]string{"ORGSYNC_API_URL": "http://127.0.0.1:3"},
			want: orgapi.Endpoints{All: &orgapi.Endpoint{URL: "http://127.0.0.1:3", From: "set by ORGSYNC_API_URL"},
				BySite: map[string]orgapi.Endpoint{"datadoghq.eu": {URL: "http://127.0.0.1:2", From: "set by --api-url datadoghq.eu=URL"}}},
			hint: " --api-url datadoghq.eu=http://127.0.0.1:2"},
		{name: "a URL with = in its path", args: []string{"--api-url", "https://x.example/a=b"},
			want: orgapi.Everywhere("https://x.example/a=b", "set by --api-url"), hint: " --api-url https://x.example/a=b"},

		{name: "http off loopback", args: []string{"--api-url", "http://collector.example.net"}, wantErr: "only on a loopback"},
		{name: "http off loopback per site", args: []string{"--api-url", "datadoghq.com=http://10.0.0.1"}, wantErr: "only on a loopback"},
		{name: "a site is no URL", args: []string{"--api-url", "datadoghq.eu"}, wantErr: "scheme must be https"},
		{name: "unknown site", args: []string{"--api-url", "datadoghq.co=https://x.example"}, wantErr: `unknown site "datadoghq.co"`},
		{name: "every org twice", args: []string{"--api-url", "https://a.example", "--api-url", "https://b.example"}, wantErr: "given twice"},
		{name: "a site twice", args: []string{"--api-url", "datadoghq.eu=https://a.example", "--api-url", "app.datadoghq.eu=https://b.example"}, wantErr: "site datadoghq.eu is given twice"},
		{name: "a key in the URL", args: []string{"--api-url", "https://x.example/?api_key=c4n4ry"}, wantErr: "query"},
		{name: "a bad env", env: map[string]string{"ORGSYNC_API_URL": "http://collector.example.net"}, wantErr: "ORGSYNC_API_URL: invalid base URL"},
		{name: "a site in the env", env: map[string]string{"ORGSYNC_API_URL": "datadoghq.eu=https://x.example"}, wantErr: "ORGSYNC_API_URL: invalid base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			a, err := parsePlanArgs(append([]string{"-f", "m.yaml"}, tt.args...), streams{stderr: &stderr})
			if err == nil {
				var e orgapi.Endpoints
				e, err = a.target.apiURL.endpoints(func(k string) string { return tt.env[k] })
				if err == nil {
					require.Empty(t, tt.wantErr)
					assert.Equal(t, tt.want, e)
					assert.Equal(t, tt.hint, a.target.endpointFlags())
					return
				}
			}
			require.NotEmpty(t, tt.wantErr, "unexpected error %v", err)
			assert.Contains(t, stderr.String()+err.Error(), tt.wantErr)
			assert.NotContains(t, stderr.String()+err.Error(), "c4n4ry")
		})
	}
}

// TestAPIURLPerSite: with --api-url SITE=URL the orgs of that site go
// there, and the others to --api-url URL.
func TestAPIURLPerSite(t *testing.T) {
	t.Parallel()
	const (
		euHub, euA = "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f", "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f8a"
		usHub, usA = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"
	)
	serve := func(orgs ...sandbox.FixtureOrg) *sandbox.Server {
		sb, err := sandbox.New(&sandbox.Fixture{Orgs: orgs}, sandbox.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sb.Close() })
		return sb
	}
	eu := serve(sandbox.FixtureOrg{ID: euHub, Name: "eu-hub"}, sandbox.FixtureOrg{ID: euA, Name: "eu-a", APIKey: "eu-api", AppKey: "eu-app"})
	us := serve(sandbox.FixtureOrg{ID: usHub, Name: "us-hub"}, sandbox.FixtureOrg{ID: usA, Name: "us-a", APIKey: "us-api", AppKey: "us-app"})
	euURL, usURL := httptest.NewServer(eu), httptest.NewServer(us)
	t.Cleanup(euURL.Close)
	t.Cleanup(usURL.Close)
	m := writeFile(t, t.TempDir(), "m.yaml", `version: 1
orgs:
  eu-hub: {id: `+euHub+`, site: datadoghq.eu}
  eu-a: {id: `+euA+`, site: app.datadoghq.eu, api_key_env: EU_API, app_key_env: EU_APP}
  us-hub: {id: `+usHub+`}
  us-a: {id: `+usA+`, api_key_env: US_API, app_key_env: US_APP}
connections:
  - {from: eu-a, to: eu-hub, types: [logs]}
  - {from: us-a, to: us-hub, types: [metrics]}
`)
	env := map[string]string{"EU_API": "eu-api", "EU_APP": "eu-app", "US_API": "us-api", "US_APP": "us-app"}
	r := runCLI(t, env, "apply", "-f", m, "--auto-approve", "--report", filepath.Join(t.TempDir(), "r.json"),
		"--api-url", "DatadogHQ.eu="+euURL.URL, "--api-url", usURL.URL, "-v")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: org eu-a: endpoint "+euURL.URL+", set by --api-url datadoghq.eu=URL\n")
	assert.Contains(t, r.stderr, "orgsync: org us-a: endpoint "+usURL.URL+", set by --api-url\n")
	if ec := eu.Connections(); assert.Len(t, ec, 1) {
		assert.Equal(t, [2]string{euA, euHub}, [2]string{ec[0].Source, ec[0].Sink})
	}
	if uc := us.Connections(); assert.Len(t, uc, 1) {
		assert.Equal(t, [2]string{usA, usHub}, [2]string{uc[0].Source, uc[0].Sink})
	}
}
