//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// countWrites counts the requests that could change live state.
func countWrites(next http.Handler, writes *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// TestE2ETamperedPlansAreRefused: a plan saved by plan --out, edited the
// ways a pull request or a workflow could edit it, is refused by the
// binary with exit 1 and no write at all; the plan as saved is applied.
func TestE2ETamperedPlansAreRefused(t *testing.T) {
	t.Parallel()
	const (
		idHub   = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
		idA     = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
		idB     = "11111111-1111-4111-8111-111111111111"
		idOther = "22222222-2222-4222-8222-222222222222"
	)
	// team-a already sends audit to an org the manifest does not declare:
	// unmanaged, since team-a does not prune.
	fixture := &sandbox.Fixture{
		Orgs: []sandbox.FixtureOrg{
			{ID: idHub, Name: "hub"}, {ID: idOther, Name: "other"},
			{ID: idA, Name: "team-a", APIKey: "a-api", AppKey: "a-app"},
			{ID: idB, Name: "team-b", APIKey: "b-api", AppKey: "b-app"},
		},
		Connections: []sandbox.FixtureConnection{{Source: idA, Sink: idOther, Types: []string{"audit"}}},
	}
	env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "b-api", "B_APP": "b-app"}
	type edit func(t *testing.T, p map[string]any)
	changeTo := func(t *testing.T, p map[string]any, action, source, sink string) map[string]any {
		for _, c := range p["changes"].([]any) {
			c := c.(map[string]any)
			if c["action"] == action && c["source_org"].(map[string]any)["label"] == source && c["sink_org"].(map[string]any)["id"] == sink {
				return c
			}
		}
		t.Fatalf("the plan has no %s %s -> %s", action, source, sink)
		return nil
	}
	tests := []struct {
		name     string
		edit     edit
		withF    string // the error with -f
		withoutF string // the error without -f; "" when only -f can tell
	}{
		{name: "unmanaged turned delete, prune set by hand",
			edit: func(t *testing.T, p map[string]any) {
				c := changeTo(t, p, "unmanaged", "team-a", idOther)
				c["action"], c["after"] = "delete", nil
				for _, o := range p["orgs"].([]any) {
					if o := o.(map[string]any); o["label"] == "team-a" {
						o["prune"] = true
					}
				}
				s := p["summary"].(map[string]any)
				s["delete"], s["unmanaged"] = 1, 0
			},
			withF: "the saved plan has delete team-a -> " + idOther + " [audit] (id "},
		{name: "types outside the enum",
			edit: func(t *testing.T, p map[string]any) {
				changeTo(t, p, "create", "team-a", idHub)["after"] = []string{"logs", "bogus"}
			},
			withF:    "does not match the plan schema: at /changes/0/after",
			withoutF: "does not match the plan schema: at /changes/0/after"},
		{name: "types changed within the enum",
			edit: func(t *testing.T, p map[string]any) {
				changeTo(t, p, "create", "team-a", idHub)["after"] = []string{"logs", "metrics"}
			},
			withF: "the saved plan has create team-a -> hub (" + idHub + ") [logs, metrics]; the manifests and live state give create team-a -> hub (" + idHub + ") [logs]"},
		{name: "sink id swapped under an unchanged label",
			edit: func(t *testing.T, p map[string]any) {
				changeTo(t, p, "create", "team-a", idHub)["sink_org"].(map[string]any)["id"] = idOther
			},
			withF:    "org hub has id " + idHub + ", but elsewhere in the plan " + idOther,
			withoutF: "org hub has id " + idHub + ", but elsewhere in the plan " + idOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, err := sandbox.New(fixture, sandbox.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = sb.Close() })
			var writes atomic.Int64
			hs := serveHandler(t, countWrites(sb, &writes))
			dir := t.TempDir()
			m := writeFile(t, dir, "orgs/m.yaml", hubManifest)
			r := runOrgsync(t, dir, env, "plan", "--api-url", hs.URL, "-f", "orgs/", "--out", "plan.json")
			require.Equal(t, 0, r.code, r.stderr)
			require.FileExists(t, m)

			var p map[string]any
			decodeJSON(t, mustRead(t, filepath.Join(dir, "plan.json")), &p)
			tt.edit(t, p)
			b, err := json.Marshal(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plan.json"), b, 0o644))
			before := sb.Connections()

			for _, args := range [][]string{
				{"apply", "plan.json", "-f", "orgs/"},
				{"apply", "--plan", "plan.json", "-f", "orgs/"},
				{"apply", "plan.json"},
			} {
				withF := len(args) > 2
				want := tt.withoutF
				if withF {
					want = tt.withF
				} else if want == "" {
					continue // only the manifests can tell this edit
				}
				r := runOrgsync(t, dir, env, append(args, "--api-url", hs.URL, "--report", "r.json")...)
				assert.Equal(t, 1, r.code, "%v\n%s", args, r.stderr)
				assert.Contains(t, r.stderr, want, "%v", args)
				assert.Zero(t, writes.Load(), "%v: no write", args)
				assert.Equal(t, before, sb.Connections(), "%v: live state untouched", args)
				rep := readReport(t, filepath.Join(dir, "r.json"))
				assert.Zero(t, rep.Summary.Created+rep.Summary.Updated+rep.Summary.Deleted, "%v", args)
			}
		})
	}

	t.Run("the plan as saved is applied, once", func(t *testing.T) {
		t.Parallel()
		sb, err := sandbox.New(fixture, sandbox.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sb.Close() })
		hs := serveHandler(t, sb)
		dir := t.TempDir()
		writeFile(t, dir, "orgs/m.yaml", hubManifest)
		r := runOrgsync(t, dir, env, "plan", "--api-url", hs.URL, "-f", "orgs/", "--out", "plan.json")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, `apply it with "orgsync apply plan.json -f orgs/ --api-url `+hs.URL+`"`)

		r = runOrgsync(t, dir, env, "apply", "plan.json", "-f", "orgs/", "--api-url", hs.URL, "--report", "r.json")
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stderr, "not verified", "with -f the plan's origin is verified")
		assert.Equal(t, apply.Summary{Created: 2}, readReport(t, filepath.Join(dir, "r.json")).Summary)

		r = runOrgsync(t, dir, env, "apply", "plan.json", "-f", "orgs/", "--api-url", hs.URL, "--report", "r.json")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "the saved plan is stale: live connections of team-a, team-b changed since it was made")

		// A manifest edited after the plan was made: the plan is no longer
		// what the manifests say, even though live state matches it.
		r = runOrgsync(t, dir, env, "plan", "--api-url", hs.URL, "-f", "orgs/", "--out", "plan2.json")
		require.Equal(t, 0, r.code, r.stderr)
		writeFile(t, dir, "orgs/m.yaml", strings.Replace(hubManifest, "types: [logs]", "types: [logs, audit]", 1))
		r = runOrgsync(t, dir, env, "apply", "plan2.json", "-f", "orgs/", "--api-url", hs.URL, "--report", "r.json")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "orgsync: error: the saved plan is not the plan the manifests give against live state now; nothing was applied:")
		assert.Contains(t, r.stderr, "orgsync: error:   - the saved plan has noop team-a -> hub ("+idHub+") [logs] (id ")
		assert.Contains(t, r.stderr, "orgsync: hint: make the plan again")
	})
}

// TestE2EPlanOnlyReads: plan, whatever it finds to create, update or
// delete, and with --out, sends only GET requests, so that pull request
// jobs can plan with read-only application keys.
func TestE2EPlanOnlyReads(t *testing.T) {
	t.Parallel()
	const idHub, idA, idB = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", "4dee724d-00cc-11ea-a77b-570c9d03c6c5", "11111111-1111-4111-8111-111111111111"
	sb, err := sandbox.New(&sandbox.Fixture{
		Orgs: []sandbox.FixtureOrg{{ID: idHub, Name: "hub"},
			{ID: idA, Name: "team-a", APIKey: "a-api", AppKey: "a-app"}, {ID: idB, Name: "team-b", APIKey: "b-api", AppKey: "b-app"}},
		// team-b prunes: its connection to team-a is a delete; team-a's
		// drifted types an update; team-b -> hub a create.
		Connections: []sandbox.FixtureConnection{{Source: idB, Sink: idA, Types: []string{"logs"}}, {Source: idA, Sink: idHub, Types: []string{"audit"}}},
	}, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	var writes atomic.Int64
	hs := serveHandler(t, countWrites(sb, &writes))
	dir := t.TempDir()
	writeFile(t, dir, "m.yaml", hubManifest)
	env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "b-api", "B_APP": "b-app"}
	r := runOrgsync(t, dir, env, "plan", "--api-url", hs.URL, "-f", "m.yaml", "--out", "plan.json", "--detailed-exitcode")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Plan: 1 to create, 1 to update, 1 to delete")
	assert.Zero(t, writes.Load(), "plan sent a request that is not a GET")
}
