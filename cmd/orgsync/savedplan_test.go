package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/plan"
)

// TestPlanOutHintRepeatsFlags: the command plan --out suggests carries every
// flag the apply needs, and works as printed. Here the plan deletes 11
// connections, one more than the default --max-deletes allows, and requires
// service accounts (which the sandbox's keys are).
func TestPlanOutHintRepeatsFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	var sinks []string
	for i := range 11 {
		sinks = append(sinks, fmt.Sprintf("%08d-0000-4000-8000-000000000000", i+1))
	}
	wide := writeFile(t, dir, "wide.yaml", hubManifest+"  - from: team-b\n    to: ["+strings.Join(sinks, ", ")+"]\n    types: [metrics]\n")
	r := runCLI(t, nil, "apply", "--sandbox", state, "-f", wide, "--auto-approve", "--report", filepath.Join(dir, "r0.json"))
	require.Equal(t, 0, r.code, r.stderr)

	narrow := writeFile(t, dir, "my orgs/narrow.yaml", hubManifest)
	planFile := filepath.Join(dir, "plan.json")
	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", narrow, "--out", planFile, "--max-deletes", "12", "--require-service-account")
	require.Equal(t, 0, r.code, r.stderr)
	want := "orgsync apply " + planFile + " -f '" + narrow + "' --max-deletes 12 --require-service-account --sandbox " + state
	assert.Contains(t, r.stderr, `apply it with "`+want+`"`)

	r = runCLI(t, nil, "apply", planFile, "--sandbox", state, "-f", narrow, "--report", filepath.Join(dir, "r1.json"))
	assert.Equal(t, 1, r.code, "the default limit refuses the saved plan too")
	assert.Contains(t, r.stderr, "the plan deletes 11 connections, more than --max-deletes 10 allows")

	// The suggested command, as printed (the one quoted path unquoted).
	args := strings.Fields(strings.Replace(want, "'"+narrow+"'", "NARROW", 1))[1:]
	for i, a := range args {
		if a == "NARROW" {
			args[i] = narrow
		}
	}
	report := filepath.Join(dir, "r2.json")
	r = runCLI(t, nil, append(args, "--report", report)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, apply.Summary{Deleted: 11, Unchanged: 2}, readReport(t, report).Summary)
}

func TestApplyCommand(t *testing.T) {
	t.Parallel()
	few, many := &plan.Plan{Summary: plan.Summary{Delete: 10}}, &plan.Plan{Summary: plan.Summary{Delete: 11}}
	tests := []struct {
		args []string
		p    *plan.Plan
		want string
	}{
		{[]string{"-f", "orgs/", "--out", "p.json"}, few, "orgsync apply p.json -f orgs/"},
		{[]string{"a.yaml", "b dir", "--out", "p.json", "--max-deletes", "30"}, few, "orgsync apply p.json -f a.yaml -f 'b dir'"},
		{[]string{"-f", "orgs/", "--out", "p.json", "--max-deletes", "30"}, many, "orgsync apply p.json -f orgs/ --max-deletes 30"},
		{[]string{"-f", "orgs/", "--out", "p.json", "--require-service-account", "--sandbox", "s.json"}, few,
			"orgsync apply p.json -f orgs/ --require-service-account --sandbox s.json"},
	}
	for _, tt := range tests {
		a, err := parsePlanArgs(tt.args, streams{stderr: &bytes.Buffer{}})
		require.NoError(t, err)
		assert.Equal(t, tt.want, a.applyCommand(tt.p), "%v", tt.args)
		_, err = parseApplyArgs(strings.Fields(strings.TrimPrefix(tt.want, "orgsync apply ")), streams{stderr: &bytes.Buffer{}})
		if !strings.Contains(tt.want, "'") {
			assert.NoError(t, err, "the suggested command parses")
		}
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"orgs/":         "orgs/",
		"a b.yaml":      "'a b.yaml'",
		"it's":          `'it'\''s'`,
		"":              "''",
		"$HOME/x":       "'$HOME/x'",
		"https://h:8/p": "https://h:8/p",
	} {
		assert.Equal(t, want, shellQuote(in), in)
	}
}

// TestSavedPlanOfSomeOrgs: a plan made for some source orgs (--org) is
// verified against the manifests for those orgs only, and applied.
func TestSavedPlanOfSomeOrgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	m := writeFile(t, dir, "m.yaml", hubManifest)
	planFile := filepath.Join(dir, "plan.json")
	r := runCLI(t, nil, "plan", "--sandbox", state, "-f", m, "--org", "team-b", "--out", planFile)
	require.Equal(t, 0, r.code, r.stderr)
	report := filepath.Join(dir, "r.json")
	r = runCLI(t, nil, "apply", "--sandbox", state, "--plan", planFile, "-f", m, "--report", report)
	require.Equal(t, 0, r.code, r.stderr)
	rep := readReport(t, report)
	assert.Equal(t, apply.Summary{Created: 1}, rep.Summary)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, "team-b", rep.Results[0].SourceOrg.Label)

	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", m, "--detailed-exitcode", "--org", "team-a")
	assert.Equal(t, 2, r.code, "team-a was not in the plan, and was left alone")
}
