package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGitHubEarlyFailures: inside GitHub Actions, a run that is refused or
// fails before its changes (a stale saved plan, --max-deletes, orgs that
// cannot be read, an invalid manifest) still writes the step summary and an
// ::error annotation, so the run page says why.
func TestGitHubEarlyFailures(t *testing.T) {
	t.Parallel()
	narrow := strings.Replace(hubManifest, "from: [team-a, team-b]", "from: team-a", 1)
	tests := []struct {
		name        string
		setup       func(t *testing.T, dir, state, m string) // before the step under test
		args        func(dir, state, m string) []string
		manifest    string
		wantError   string // in the ::error line
		wantSummary []string
	}{
		{name: "apply of a stale saved plan",
			setup: func(t *testing.T, dir, state, m string) {
				requireRun(t, "plan", "--sandbox", state, "-f", m, "--out", filepath.Join(dir, "plan.json"))
				requireRun(t, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--report", filepath.Join(dir, "r0.json"))
			},
			args: func(dir, state, _ string) []string {
				return []string{"apply", filepath.Join(dir, "plan.json"), "--sandbox", state}
			},
			wantError:   "::error title=orgsync apply::the saved plan is stale",
			wantSummary: []string{"### orgsync apply", "**Refused**: the saved plan is stale", "| 0 | 0 | 0 | 0 | 0 | 0 | 2 |"}},
		{name: "apply over --max-deletes",
			setup: func(t *testing.T, dir, state, _ string) {
				requireRun(t, "apply", "--sandbox", state, "-f", writeFile(t, dir, "wide.yaml", hubManifest), "--auto-approve", "--report", filepath.Join(dir, "r0.json"))
			},
			manifest: narrow,
			args: func(_, state, m string) []string {
				return []string{"apply", "--sandbox", state, "-f", m, "--auto-approve", "--max-deletes", "0"}
			},
			wantError:   "::error title=orgsync apply::the plan deletes 1 connection, more than --max-deletes 0 allows",
			wantSummary: []string{"### orgsync apply", "**Refused**: the plan deletes 1 connection"}},
		{name: "apply with orgs that cannot be read",
			args:        func(_, _, m string) []string { return []string{"apply", "-f", m, "--auto-approve"} },
			wantError:   "::error title=orgsync apply::org team-a: check keys: $A_API and $A_APP: not set",
			wantSummary: []string{"### orgsync apply", "**Failed**", "`verify` team-a"}},
		{name: "apply of an invalid manifest",
			manifest:    "version: 2\n",
			args:        func(_, _, m string) []string { return []string{"apply", "-f", m, "--auto-approve"} },
			wantError:   "::error title=orgsync apply::the manifest is invalid: 2 problems",
			wantSummary: []string{"### orgsync apply", "**Refused**: the manifest is invalid: 2 problems"}},
		{name: "plan with orgs that cannot be read",
			args:        func(_, _, m string) []string { return []string{"plan", "-f", m} },
			wantError:   "::error title=orgsync plan::org team-a: check keys: $A_API and $A_APP: not set",
			wantSummary: []string{"### orgsync plan", "**Failed**: org team-a: check keys: $A_API and $A_APP: not set"}},
		{name: "plan over --max-deletes",
			setup: func(t *testing.T, dir, state, _ string) {
				requireRun(t, "apply", "--sandbox", state, "-f", writeFile(t, dir, "wide.yaml", hubManifest), "--auto-approve", "--report", filepath.Join(dir, "r0.json"))
			},
			manifest: narrow,
			args: func(_, state, m string) []string {
				return []string{"plan", "--sandbox", state, "-f", m, "--max-deletes", "0"}
			},
			wantError:   "::error title=orgsync plan::the plan deletes 1 connection",
			wantSummary: []string{"### orgsync plan", "| 0 | 0 | 1 | 1 | 0 |", "**Refused**: the plan deletes 1 connection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			state := filepath.Join(dir, "s.json")
			manifest := tt.manifest
			if manifest == "" {
				manifest = hubManifest
			}
			m := writeFile(t, dir, "m.yaml", manifest)
			if tt.setup != nil {
				tt.setup(t, dir, state, writeFile(t, dir, "setup.yaml", hubManifest))
			}
			summary := filepath.Join(dir, "summary.md")
			env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}
			args := append(tt.args(dir, state, m), "--report", filepath.Join(dir, "r.json"))
			if args[0] == "plan" {
				args = args[:len(args)-2]
			}
			r := runCLI(t, env, args...)
			assert.Equal(t, 1, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.wantError)
			b, err := os.ReadFile(summary)
			require.NoError(t, err, "the step summary was written")
			for _, want := range tt.wantSummary {
				assert.Contains(t, string(b), want)
			}
		})
	}
}

// requireRun runs a setup step that must succeed.
func requireRun(t *testing.T, args ...string) {
	t.Helper()
	r := runCLI(t, nil, args...)
	require.Equal(t, 0, r.code, "%s\n%s", strings.Join(args, " "), r.stderr)
}

// TestGitHubNoAnnotationForExitCodes: an exit code that is no error (plan
// --detailed-exitcode's 2) or an error already reported per change makes
// no "exit N" annotation.
func TestGitHubNoAnnotationForExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md")}
	r := runCLI(t, env, "plan", "--sandbox", filepath.Join(dir, "s.json"), "-f", m, "--detailed-exitcode")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "::error")
}
