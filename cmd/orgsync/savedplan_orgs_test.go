package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
)

// TestSavedPlanWithAnUnusableOrg: applying a saved plan when one of its
// source orgs cannot be used (here its keys are gone) applies the others'
// changes and reports that org as one failed verify result, with or
// without -f, as apply -f does.
func TestSavedPlanWithAnUnusableOrg(t *testing.T) {
	t.Parallel()
	for _, withManifest := range []bool{false, true} {
		name := "plan only"
		if withManifest {
			name = "plan and manifest"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, hs := serveHubWorld(t)
			dir := t.TempDir()
			m := writeFile(t, dir, "m.yaml", hubManifest)
			planFile := filepath.Join(dir, "plan.json")
			env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "b-api", "B_APP": "b-app"}
			r := runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m, "--out", planFile)
			require.Equal(t, 0, r.code, r.stderr)

			delete(env, "B_API")
			report := filepath.Join(dir, "r.json")
			args := []string{"apply", planFile, "--api-url", hs.URL, "--report", report}
			if withManifest {
				args = append(args, "-f", m)
			}
			r = runCLI(t, env, args...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "orgsync: error: org team-b: check keys: $B_API")
			rep := readReport(t, report)
			assert.Equal(t, apply.StatusFailed, rep.Status)
			assert.Equal(t, apply.Summary{Created: 1, Failed: 1}, rep.Summary)
			require.NotEmpty(t, rep.Results)
			assert.Equal(t, apply.ActionVerify, rep.Results[0].Action)
			assert.Equal(t, "team-b", rep.Results[0].SourceOrg.Label)
			conns := srv.Connections()
			require.Len(t, conns, 1, "only team-a's change was applied")
			assert.Equal(t, "4dee724d-00cc-11ea-a77b-570c9d03c6c5", conns[0].Source)
		})
	}
}
