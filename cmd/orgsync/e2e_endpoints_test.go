//go:build unix

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestE2EManifestCannotChooseWhereKeysGo: a manifest whose site names a
// listener of the test (as a pull request author would name a collector)
// fails validation in every command, and the listener receives nothing.
func TestE2EManifestCannotChooseWhereKeysGo(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)
	dir := t.TempDir()
	for _, tt := range []struct{ name, manifest, wantAt string }{
		{name: "org site", wantAt: "m.yaml:5:11: orgs.hub.site: a URL is not a Datadog site", manifest: fmt.Sprintf(`version: 1
orgs:
  hub:
    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85
    site: %s
  team-a:
    id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5
connections:
  - {from: team-a, to: hub, types: [logs]}
`, collector.URL)},
		{name: "default site", wantAt: "m.yaml:3:9: defaults.site: a URL is not a Datadog site", manifest: fmt.Sprintf(`version: 1
defaults:
  site: %s/
orgs:
  hub:
    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85
  team-a:
    id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5
connections:
  - {from: team-a, to: hub, types: [logs]}
`, collector.URL)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub := t.TempDir()
			writeFile(t, sub, "m.yaml", tt.manifest)
			env := map[string]string{"DD_API_KEY": "c4n4ry-api", "DD_APP_KEY": "c4n4ry-app"}
			for _, args := range [][]string{
				{"validate", "-f", "m.yaml"},
				{"plan", "-f", "m.yaml"},
				{"apply", "-f", "m.yaml", "--auto-approve", "--report", filepath.Join(dir, tt.name+".json")},
				{"export", "-f", "m.yaml"},
			} {
				r := runOrgsync(t, sub, env, args...)
				assert.Equal(t, 1, r.code, "%v\n%s", args, r.stderr)
				assert.Contains(t, r.stderr, tt.wantAt, args)
				assert.Contains(t, r.stderr, "--api-url URL, --api-url SITE=URL or ORGSYNC_API_URL", args)
				assert.NotContains(t, r.stdout+r.stderr, "c4n4ry", args)
			}
		})
	}
	t.Cleanup(func() { assert.Zero(t, got.Load(), "requests that reached the manifest's listener") })
}

// TestE2EVerboseNamesTheEndpoint: -v says where each org's calls go, and a
// failed read names the endpoint it tried.
func TestE2EVerboseNamesTheEndpoint(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 1, 1, "c4n4ry")
	_, ts := w.serve(t, sandbox.Faults{})
	r := runOrgsync(t, w.dir, w.env, "plan", "-f", w.manifest, "-v", "--api-url", "datadoghq.com="+ts.URL)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: org src-0: endpoint "+ts.URL+", set by --api-url datadoghq.com=URL\n")

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	env := map[string]string{"ORGSYNC_API_URL": closed.URL}
	for k, v := range w.env {
		env[k] = v
	}
	r = runOrgsync(t, w.dir, env, "plan", "-f", w.manifest, "--max-retries", "0")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: error: org src-0: check keys: GET /api/v2/current_user: ")
	assert.Contains(t, r.stderr, "(endpoint "+closed.URL+", set by ORGSYNC_API_URL)")
	assert.NotContains(t, r.stdout+r.stderr, "c4n4ry")
	assert.False(t, strings.Contains(r.stderr, "endpoint "+closed.URL+", set by ORGSYNC_API_URL\n"), "no endpoint lines without -v")
}
