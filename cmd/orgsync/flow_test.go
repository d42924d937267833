package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// hubManifest declares team-a and team-b -> hub; team-b prunes.
const hubManifest = `version: 1
orgs:
  hub:
    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85
  team-a:
    id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5
    api_key_env: A_API
    app_key_env: A_APP
  team-b:
    id: 11111111-1111-4111-8111-111111111111
    api_key_env: B_API
    app_key_env: B_APP
    prune: true
connections:
  - from: [team-a, team-b]
    to: hub
    types: [logs]
`

// TestQuickstartFlow walks the README's tour on the sandbox: plan, apply,
// rerun with no changes, drift, and the outputs at each step.
func TestQuickstartFlow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	report := filepath.Join(dir, "report.json")

	r := runCLI(t, nil, "plan", "--sandbox", state, "-f", quickstart)
	require.Equal(t, 0, r.code, r.stderr)
	checkGolden(t, "quickstart-plan.golden", r.stdout)

	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", quickstart, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	checkGolden(t, "quickstart-plan.golden.json", r.stdout)

	r = runCLI(t, nil, "apply", "--sandbox", state, "-f", quickstart, "--auto-approve", "--report", report)
	require.Equal(t, 0, r.code, r.stderr)
	checkGolden(t, "quickstart-apply.golden", r.stdout)
	rep := readReport(t, report)
	assert.Equal(t, apply.Summary{Created: 3}, rep.Summary)
	for _, res := range rep.Results {
		assert.Equal(t, 1, res.Attempts)
		assert.Equal(t, 200, res.HTTPStatus)
		assert.NotEmpty(t, res.ConnectionID)
	}

	r = runCLI(t, nil, "apply", "--sandbox", state, "-f", quickstart, "--auto-approve", "--report", report)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "No changes.")
	assert.Equal(t, apply.Summary{Unchanged: 3}, readReport(t, report).Summary)

	// Drift, as in the README's tour: checkout's audit trail too.
	drifted := writeFile(t, dir, "my-orgs.yaml", strings.Replace(mustRead(t, quickstart),
		"types: [logs, metrics]", "types: [logs, metrics, audit]", 1))
	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", drifted, "--detailed-exitcode")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stdout, "~ update checkout -> hub [logs, metrics] -> [audit, logs, metrics] (id ")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged, 0 unmanaged.")
}

// TestTourPrune runs the README's prune steps.
func TestTourPrune(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "tour.json")
	r := runCLI(t, nil, "apply", "--sandbox", state, "-f", "../../examples/prune-before.yaml", "--auto-approve", "--report", filepath.Join(dir, "r.json"))
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", "../../examples/prune.yaml")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "- delete legacy -> archive [logs] (id ")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged, 0 unmanaged.")
	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", "../../examples/prune.yaml", "--max-deletes", "0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the plan deletes 1 connection, more than --max-deletes 0 allows")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestApplyNeedsApproval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	report := filepath.Join(dir, "report.json")
	r := runCLI(t, nil, "apply", "--sandbox", state, "-f", quickstart, "--report", report)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "apply needs approval and there is no terminal to ask")
	assert.Contains(t, r.stderr, "orgsync: hint: review the plan, then run again with --auto-approve")
	rep := readReport(t, report)
	assert.Equal(t, apply.Summary{Skipped: 3}, rep.Summary, "a report is written even when nothing ran")
	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", quickstart, "--detailed-exitcode")
	assert.Equal(t, 2, r.code, "nothing was applied")
}

// TestSavedPlan applies a reviewed plan file, and refuses it once live
// state has moved (also after it was applied once: no double apply).
func TestSavedPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	planFile := filepath.Join(dir, "plan.json")
	report := filepath.Join(dir, "report.json")
	m := writeFile(t, dir, "m.yaml", hubManifest)

	r := runCLI(t, nil, "plan", "--sandbox", state, "-f", m, "--out", planFile)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "saved the plan to "+planFile+"; apply it with \"orgsync apply "+planFile+" -f "+m+" --sandbox "+state+"\"")

	// The plan file validates against the published schema and holds no key.
	validateAgainstSchema(t, "plan.schema.json", mustRead(t, planFile))

	r = runCLI(t, nil, "apply", planFile, "--sandbox", state, "--report", report)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, apply.Summary{Created: 2}, readReport(t, report).Summary)
	assert.Contains(t, r.stderr, "orgsync: warning: the saved plan's origin was not verified: without -f", "without -f, apply says what it could not check")

	r = runCLI(t, nil, "apply", planFile, "--sandbox", state, "--report", report)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the saved plan is stale: live connections of team-a, team-b changed since it was made; nothing was applied")
	assert.Contains(t, r.stderr, "orgsync: hint: run orgsync plan again")
	assert.Equal(t, apply.Summary{Skipped: 2}, readReport(t, report).Summary)

	t.Run("a plan file that is not a plan", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.json", `{"format_version": 7}`)
		r := runCLI(t, nil, "apply", bad, "--sandbox", state, "--report", filepath.Join(dir, "bad-report.json"))
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "format_version 7 is not supported")
	})
}

func TestMaxDeletes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	// Three connections from team-b, then a manifest that declares none of them.
	wide := writeFile(t, dir, "wide.yaml", hubManifest+"  - from: team-b\n    to: [team-a, 22222222-2222-4222-8222-222222222222]\n    types: [metrics]\n")
	r := runCLI(t, nil, "apply", "--sandbox", state, "-f", wide, "--auto-approve", "--report", filepath.Join(dir, "r0.json"))
	require.Equal(t, 0, r.code, r.stderr)

	narrow := writeFile(t, dir, "narrow.yaml", strings.Replace(hubManifest, "from: [team-a, team-b]", "from: team-a", 1))
	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", narrow, "--max-deletes", "2")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 3 to delete")
	assert.Contains(t, r.stderr, "the plan deletes 3 connections, more than --max-deletes 2 allows")

	report := filepath.Join(dir, "r1.json")
	r = runCLI(t, nil, "apply", "--sandbox", state, "-f", narrow, "--max-deletes", "2", "--auto-approve", "--report", report)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, apply.Summary{Skipped: 3, Unchanged: 1}, readReport(t, report).Summary, "every change of the refused plan is in the report")

	r = runCLI(t, nil, "apply", "--sandbox", state, "-f", narrow, "--auto-approve", "--report", report)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, apply.Summary{Deleted: 3, Unchanged: 1}, readReport(t, report).Summary)
}

func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "sandbox.json")
	m := writeFile(t, dir, "m.yaml", hubManifest+"  - from: team-a\n    to: 22222222-2222-4222-8222-222222222222\n    types: [audit, metrics]\n")
	r := runCLI(t, nil, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--report", filepath.Join(dir, "r.json"))
	require.Equal(t, 0, r.code, r.stderr)

	r = runCLI(t, nil, "export", "--sandbox", state, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	checkGolden(t, "export.golden.yaml", r.stdout)
	exported := writeFile(t, dir, "exported.yaml", r.stdout)

	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", exported, "--detailed-exitcode")
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "No changes.")

	r = runCLI(t, nil, "export", "--sandbox", state, "-f", m, "--org", "hub")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "connections: []", "hub has no outgoing connections")
}

// TestShardedRunsMergeToOneRun splits a 1,000-org rollout over 4 shards and
// checks that the merged report equals the report of one run over all.
func TestShardedRunsMergeToOneRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const orgs = 1000
	m := writeFile(t, dir, "m.yaml", hubFanIn(orgs, "team-%04d"))

	single := filepath.Join(dir, "single.json")
	r := runCLI(t, nil, "apply", "--sandbox", filepath.Join(dir, "one.json"), "-f", m, "--auto-approve", "--report", single)
	require.Equal(t, 0, r.code, r.stderr)

	state := filepath.Join(dir, "sharded.json")
	args := []string{"report", "merge"}
	for i := 1; i <= 4; i++ {
		rep := filepath.Join(dir, "shard"+string(rune('0'+i))+".json")
		r := runCLI(t, nil, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--shard", string(rune('0'+i))+"/4", "--report", rep)
		require.Equal(t, 0, r.code, r.stderr)
		shardRep := readReport(t, rep)
		assert.InDelta(t, orgs/4, shardRep.Summary.Created, orgs/10, "a shard takes about a quarter")
		assert.Equal(t, &apply.Shard{Index: i, Count: 4}, shardRep.Shard)
		assert.Equal(t, apply.StatusComplete, shardRep.Status)
		args = append(args, rep)
	}
	merged := filepath.Join(dir, "merged.json")
	r = runCLI(t, nil, append(args, "-o", merged)...)
	require.Equal(t, 0, r.code, r.stderr)

	want, got := readReport(t, single), readReport(t, merged)
	assert.Equal(t, want.Summary, got.Summary)
	assert.Equal(t, apply.StatusComplete, got.Status)
	assert.Nil(t, got.Shard, "the merged report covers every shard")
	require.Len(t, got.Results, len(want.Results))
	for i := range want.Results {
		w, g := want.Results[i], got.Results[i]
		assert.Equal(t, w.Action, g.Action)
		assert.Equal(t, w.Outcome, g.Outcome)
		assert.Equal(t, w.SourceOrg, g.SourceOrg)
		assert.Equal(t, w.SinkOrg, g.SinkOrg)
		assert.Equal(t, w.ConnectionTypes, g.ConnectionTypes)
	}
	validateAgainstSchema(t, "report.schema.json", mustRead(t, merged))
}

func TestApplyOutputJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	r := runCLI(t, nil, "apply", "--sandbox", filepath.Join(dir, "s.json"), "-f", m, "--auto-approve", "--output", "json", "--report", filepath.Join(dir, "r.json"))
	require.Equal(t, 0, r.code, r.stderr)
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	n := 0
	for sc.Scan() {
		var res map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &res), "stdout is NDJSON only: %q", sc.Text())
		assert.Equal(t, "created", res["outcome"])
		n++
	}
	assert.Equal(t, 2, n)
	assert.Contains(t, r.stderr, "Apply complete: 2 created", "the human summary moves to stderr")
}

func TestGitHubStepSummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	summary := filepath.Join(dir, "summary.md")
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}
	state := filepath.Join(dir, "s.json")
	r := runCLI(t, env, "plan", "--sandbox", state, "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, env, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--report", filepath.Join(dir, "r.json"))
	require.Equal(t, 0, r.code, r.stderr)
	checkGolden(t, "step-summary.golden.md", mustRead(t, summary))
}

func TestSelectedOrgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	state := filepath.Join(dir, "s.json")
	r := runCLI(t, nil, "plan", "--sandbox", state, "-f", m, "--org", "team-a", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var p plan.Plan
	decodeJSON(t, r.stdout, &p)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, "team-a", p.Changes[0].SourceOrg.Label)

	r = runCLI(t, nil, "plan", "--sandbox", state, "-f", m, "--org", "nope")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "--org nope: no org with that label in the manifest")
}

// TestNoKeysNoNetwork: without --sandbox or --api-url orgsync talks only to
// real Datadog, so missing keys must fail before any request.
func TestNoKeysNoNetwork(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "plan", "-f", quickstart)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "org checkout: check keys: $DD_API_KEY_CHECKOUT and $DD_APP_KEY_CHECKOUT: not set")
}

// TestApplyAlwaysWritesAReport: even input that fails before any plan
// leaves a report, so a pipeline never reads a stale one; an org without
// keys is a failed verify result of its own.
func TestApplyAlwaysWritesAReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, manifest, wantErr string
		wantStatus              apply.Status
		wantReason              string
		wantSummary             apply.Summary
		wantVerify              []string // source orgs with a failed verify result
	}{
		{name: "invalid manifest", manifest: "version: 2\n", wantErr: "the manifest is invalid",
			wantStatus: apply.StatusRefused, wantReason: "the manifest is invalid: 2 problems"},
		{name: "missing keys", manifest: hubManifest, wantErr: "org team-a: check keys: $A_API and $A_APP: not set",
			wantStatus: apply.StatusFailed, wantSummary: apply.Summary{Failed: 2}, wantVerify: []string{"team-a", "team-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			report := writeFile(t, dir, "report.json", `{"stale": true}`)
			m := writeFile(t, dir, "m.yaml", tt.manifest)
			r := runCLI(t, nil, "apply", "-f", m, "--auto-approve", "--report", report)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, tt.wantErr)
			validateAgainstSchema(t, "report.schema.json", mustRead(t, report))
			rep := readReport(t, report)
			assert.Equal(t, tt.wantStatus, rep.Status)
			assert.Equal(t, tt.wantReason, rep.Reason)
			assert.Equal(t, tt.wantSummary, rep.Summary)
			var verify []string
			for _, res := range rep.Results {
				if res.Action == apply.ActionVerify && res.Outcome == apply.Failed {
					verify = append(verify, res.SourceOrg.Label)
				}
			}
			assert.Equal(t, tt.wantVerify, verify)
		})
	}
}

// TestKeysOfAnotherOrgNeverWrite: team-b's env vars hold the hub's keys.
// team-b must get no connection, while team-a goes on.
func TestKeysOfAnotherOrgNeverWrite(t *testing.T) {
	t.Parallel()
	srv, hs := serveHubWorld(t)

	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	report := filepath.Join(dir, "r.json")
	env := map[string]string{"A_API": "a-api", "A_APP": "a-app", "B_API": "hub-api", "B_APP": "hub-app"}
	r := runCLI(t, env, "apply", "--api-url", hs.URL, "-f", m, "--auto-approve", "--report", report)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "org team-b: keys belong to another org: the org's keys are for org 83999dcd-7f97-11f0-8de1-1ecf66f1aa85, not the declared id 11111111-1111-4111-8111-111111111111")
	rep := readReport(t, report)
	assert.Equal(t, apply.Summary{Created: 1, Failed: 1}, rep.Summary)
	assert.Contains(t, r.stdout, "Not planned: team-b (could not check the keys or read live connections; see the errors).")
	conns := srv.Connections()
	require.Len(t, conns, 1, "only team-a's connection exists")
	assert.Equal(t, "4dee724d-00cc-11ea-a77b-570c9d03c6c5", conns[0].Source)

	r = runCLI(t, env, "plan", "--api-url", hs.URL, "-f", m)
	assert.Equal(t, 1, r.code, "plan refuses to guess about an org it cannot verify")
	assert.Contains(t, r.stderr, "orgsync: hint: check that the keys each org gets (from its env vars, keys file entry or keys command) are those of the org whose id the manifest declares")
}

// TestManifestSecretsAreNotEchoed: a key put where it must not be (a field,
// URL credentials, a URL query) is reported without its value.
func TestManifestSecretsAreNotEchoed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", `version: 1
orgs:
  hub:
    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85
    site: https://admin:c4n4ry-1@api.example.com
  a:
    id: 4dee724d-00cc-11ea-a77b-570c9d03c6c5
    site: https://api.example.com/?api_key=c4n4ry-2
  b:
    id: 11111111-1111-4111-8111-111111111111
    api_key: c4n4ry-3
    app_key_env: c4n4ry4c4n4ry4c4n4ry4c4n4ry4c4n4ry4
connections: []
`)
	for _, env := range []map[string]string{nil, {"GITHUB_ACTIONS": "true"}} {
		r := runCLI(t, env, "validate", "-f", m)
		assert.Equal(t, 1, r.code)
		assert.Equal(t, 4, strings.Count(r.stderr, m+":"), r.stderr)
		assert.NotContains(t, r.stdout+r.stderr, "c4n4ry")
	}
}

// hubFanIn is a manifest of n source orgs (labels from labelFormat and
// their index) each connected to one hub with [logs].
func hubFanIn(n int, labelFormat string) string {
	var b strings.Builder
	b.WriteString("version: 1\norgs:\n  hub:\n    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85\n")
	var from []string
	for i := range n {
		label := fmt.Sprintf(labelFormat, i)
		from = append(from, label)
		fmt.Fprintf(&b, "  %s:\n    id: %08x-0000-4000-8000-000000000000\n", label, i+1)
	}
	b.WriteString("connections:\n  - from: [" + strings.Join(from, ", ") + "]\n    to: hub\n    types: [logs]\n")
	return b.String()
}

// serveHubWorld serves, on a loopback port, a sandbox holding the orgs of
// hubManifest, each with keys "<label>-api"/"<label>-app" (hub-, a-, b-).
func serveHubWorld(t *testing.T) (*sandbox.Server, *httptest.Server) {
	t.Helper()
	f := &sandbox.Fixture{Orgs: []sandbox.FixtureOrg{
		{ID: "83999dcd-7f97-11f0-8de1-1ecf66f1aa85", Name: "hub", APIKey: "hub-api", AppKey: "hub-app"},
		{ID: "4dee724d-00cc-11ea-a77b-570c9d03c6c5", Name: "team-a", APIKey: "a-api", AppKey: "a-app"},
		{ID: "11111111-1111-4111-8111-111111111111", Name: "team-b", APIKey: "b-api", AppKey: "b-app"},
	}}
	return serveFixture(t, f)
}

// serveFixture serves a sandbox of fixture f on a loopback port.
func serveFixture(t *testing.T, f *sandbox.Fixture) (*sandbox.Server, *httptest.Server) {
	t.Helper()
	srv, err := sandbox.New(f, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs
}
