package orgapi

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/keys"
)

// TestOpenSandboxWorld: with --sandbox FILE the orgs are on their manifest
// sites (a raw-UUID sink on its source's), a cross-site create is 404, the
// keys are a service account's, and the first org manages the others.
func TestOpenSandboxWorld(t *testing.T) {
	t.Parallel()
	const (
		hub  = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
		euA  = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
		usB  = "11111111-1111-4111-8111-111111111111"
		rawS = "22222222-2222-4222-8222-222222222222"
	)
	srv, err := OpenSandbox(filepath.Join(t.TempDir(), "s.db"), []SandboxOrg{
		{Label: "hub", ID: hub, Site: "datadoghq.com", Declared: true},
		{Label: "eu-a", ID: euA, Site: "datadoghq.eu", Declared: true},
		{Label: "us-b", ID: usB, Site: "datadoghq.com", Declared: true},
		{ID: rawS, Site: "datadoghq.eu"},
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	client := &http.Client{Transport: srv.Transport()}
	do := func(id, method, path, body string) (int, string) {
		p, err := SandboxKeys(context.Background(), keys.Org{ID: id})
		require.NoError(t, err)
		req, err := http.NewRequest(method, SandboxURL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("DD-API-KEY", p.API)
		req.Header.Set("DD-APPLICATION-KEY", p.App)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	create := func(sink string) string {
		return `{"data":{"type":"org_connection","attributes":{"connection_types":["logs"]},"relationships":{"sink_org":{"data":{"id":"` + sink + `","type":"orgs"}}}}}`
	}

	code, body := do(euA, "POST", "/api/v2/org_connections", create(hub))
	assert.Equal(t, http.StatusNotFound, code, "eu-a and hub are on different sites")
	assert.Equal(t, `{"errors":["Not found"]}`+"\n", body)
	code, _ = do(euA, "POST", "/api/v2/org_connections", create(rawS))
	assert.Equal(t, http.StatusOK, code, "the raw-UUID sink is on eu-a's site")
	code, _ = do(usB, "POST", "/api/v2/org_connections", create(hub))
	assert.Equal(t, http.StatusOK, code)

	code, body = do(usB, "GET", "/api/v2/current_user", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"handle":"orgsync-us-b"`)
	assert.Contains(t, body, `"service_account":true`)

	code, body = do(hub, "GET", "/api/v2/org", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"managed_orgs":{"data":[{"id":"`+euA+`","type":"orgs"},{"id":"`+usB+`","type":"orgs"}]}`,
		"the first org manages the other declared orgs, not the raw-UUID sink")
}
