package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/manifest"
)

// TestCLIRoughEdges: mistakes people make on the command line get a
// message that says what to do instead.
func TestCLIRoughEdges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	state := filepath.Join(dir, "s.json")
	report := filepath.Join(dir, "r.json")
	// With two source orgs, at least two of four shards are empty.
	taken := map[int]bool{manifest.ShardOf("4dee724d-00cc-11ea-a77b-570c9d03c6c5", 4): true, manifest.ShardOf("11111111-1111-4111-8111-111111111111", 4): true}
	emptyShard := ""
	for i := 4; i >= 1 && emptyShard == ""; i-- {
		if !taken[i] {
			emptyShard = fmt.Sprintf("%d/4", i)
		}
	}
	require.NotEmpty(t, emptyShard)
	tests := []struct {
		name               string
		args               []string
		wantCode           int
		wantStdout         string
		wantStderr         []string
		dontWant           string
		wantReportComplete bool
	}{
		{name: "plan --org a b", args: []string{"plan", "--sandbox", state, "-f", m, "--org", "team-a", "team-b"}, wantCode: 1,
			wantStderr: []string{"orgsync: error: team-b is not a file: --org takes one label", "orgsync: hint: to select several orgs, repeat --org: --org team-a --org team-b"}},
		{name: "apply --org a b", args: []string{"apply", "--sandbox", state, "-f", m, "--org", "team-a", "team-b", "--report", report}, wantCode: 1,
			wantStderr: []string{"orgsync: hint: to select several orgs, repeat --org: --org team-a --org team-b"}},
		{name: "apply --org a b without -f", args: []string{"apply", "--sandbox", state, "--org", "team-a", "team-b", "--report", report}, wantCode: 1,
			wantStderr: []string{"orgsync: hint: to select several orgs, repeat --org: --org team-a --org team-b"}},
		{name: "export --org a b", args: []string{"export", "--sandbox", state, "-f", m, "--org", "team-a", "team-b"}, wantCode: 1,
			wantStderr: []string{"orgsync: hint: to select several orgs, repeat --org: --org team-a --org team-b"}},
		{name: "--org in the wrong case", args: []string{"plan", "--sandbox", state, "-f", m, "--org", "Team-A"}, wantCode: 1,
			wantStderr: []string{"orgsync: error: --org Team-A: no org with that label in the manifest", "orgsync: hint: did you mean --org team-a?"}},
		{name: "--org with a typo", args: []string{"plan", "--sandbox", state, "-f", m, "--org", "team-c"}, wantCode: 1,
			wantStderr: []string{"orgsync: hint: did you mean --org team-a?"}},
		{name: "--org far from any label", args: []string{"plan", "--sandbox", state, "-f", m, "--org", "platform"}, wantCode: 1,
			wantStderr: []string{"--org platform: no org with that label in the manifest"}, dontWant: "did you mean"},
		{name: "apply a manifest without -f", args: []string{"apply", m, "--sandbox", state, "--report", report}, wantCode: 1,
			wantStderr: []string{"orgsync: error: " + m + " is a manifest, not a saved plan", "orgsync: hint: apply a manifest with -f: orgsync apply -f " + m}},
		{name: "apply a file that is not JSON", args: []string{"apply", "--plan", m, "--sandbox", state, "--report", report}, wantCode: 1,
			wantStderr: []string{"not JSON", "orgsync: hint: apply a manifest with -f: orgsync apply -f " + m}},
		{name: "apply a file that is neither JSON nor a manifest", args: []string{"apply", writeFile(t, dir, "notes.txt", "just some text\n"), "--sandbox", state, "--report", report}, wantCode: 1,
			wantStderr: []string{"not JSON"}, dontWant: "apply a manifest with -f"},
		{name: "plan of an empty shard", args: []string{"plan", "--sandbox", state, "-f", m, "--shard", emptyShard},
			wantStdout: "No source orgs in shard " + emptyShard + ": nothing to plan.", dontWant: "No changes"},
		{name: "--rate NaN", args: []string{"plan", "--sandbox", state, "-f", m, "--rate", "NaN"}, wantCode: 1,
			wantStderr: []string{`orgsync: error: invalid value "NaN" for flag -rate: want requests per second, a number above 0`}, dontWant: "org team-a"},
		{name: "--sandbox with an empty value", args: []string{"plan", "--sandbox", "", "-f", m}, wantCode: 1,
			wantStderr: []string{`orgsync: error: invalid value "" for flag -sandbox: must not be empty`}, dontWant: "org team-a"},
		{name: "--keys-file with an empty value", args: []string{"plan", "--keys-file", "", "-f", m}, wantCode: 1,
			wantStderr: []string{`orgsync: error: invalid value "" for flag -keys-file: must not be empty`}, dontWant: "org team-a"},
		{name: "--keys-command with an empty value", args: []string{"plan", "--keys-command", "", "-f", m}, wantCode: 1,
			wantStderr: []string{`orgsync: error: invalid value "" for flag -keys-command: must not be empty`}, dontWant: "org team-a"},
		{name: "apply of an empty shard", args: []string{"apply", "--sandbox", state, "-f", m, "--shard", emptyShard, "--auto-approve", "--report", report},
			wantStdout: "No source orgs in shard " + emptyShard + ": nothing to apply.", dontWant: "No changes", wantReportComplete: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			assert.Equal(t, tt.wantCode, r.code, r.stderr)
			assert.Contains(t, r.stdout, tt.wantStdout)
			for _, want := range tt.wantStderr {
				assert.Contains(t, r.stderr, want)
			}
			if tt.dontWant != "" {
				assert.NotContains(t, r.stdout+r.stderr, tt.dontWant)
			}
			if tt.wantReportComplete {
				rep := readReport(t, report)
				assert.Equal(t, apply.StatusComplete, rep.Status)
				assert.NotNil(t, rep.Shard)
			}
		})
	}
}

// TestStepSummaryTruncated: GitHub drops a step summary over 1 MiB, so a
// long one is cut below that, with a line that says how much was left out.
func TestStepSummaryTruncated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const orgs = 300
	m := writeFile(t, dir, "m.yaml", hubFanIn(orgs, "team-with-a-rather-long-label-%04d"))
	// Earlier steps of the job already filled the summary close to the limit.
	summary := filepath.Join(dir, "summary.md")
	earlier := strings.Repeat("x", stepSummaryLimit-8*1024-1) + "\n"
	require.NoError(t, os.WriteFile(summary, []byte(earlier), 0o644))
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}

	r := runCLI(t, env, "plan", "--sandbox", filepath.Join(dir, "s.json"), "-f", m)
	require.Equal(t, 0, r.code, r.stderr)
	got := mustRead(t, summary)
	assert.LessOrEqual(t, len(got), stepSummaryLimit)
	assert.Less(t, stepSummaryLimit, 1<<20, "the limit is below GitHub's 1 MiB")
	added := strings.TrimPrefix(got, earlier)
	shown := strings.Count(added, "| + create |")
	require.Positive(t, shown)
	require.Less(t, shown, orgs)
	assert.Contains(t, added, fmt.Sprintf("_%d more changes left out: GitHub drops a step summary over 1 MiB", orgs-shown))
	assert.True(t, strings.HasSuffix(added, "\n"))
}

func TestTruncateSummary(t *testing.T) {
	t.Parallel()
	head := "### orgsync plan\n\n| a | b |\n|---|---|\n"
	md := head + strings.Repeat("| 1 | 2 |\n", 40) + "- item\n"
	note := "\n_41 more changes left out: GitHub drops a step summary over 1 MiB; the full list is in the plan JSON or the report._\n\n"
	tests := []struct {
		name   string
		budget int
		want   string
	}{
		{name: "fits exactly", budget: len(md), want: md},
		{name: "no room for the note", budget: 10, want: ""},
		{name: "cut after the table header", budget: len(head) + len(note) + 2, want: head + note},
		{name: "cut after two rows", budget: len(head) + 2*len("| 1 | 2 |\n") + len(note) + 1,
			want: head + "| 1 | 2 |\n| 1 | 2 |\n" + strings.Replace(note, "41", "39", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(truncateSummary([]byte(md), tt.budget, "changes"))
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), tt.budget)
		})
	}
}

// TestRefusalOnOneLine: a multi-line refusal (a stale saved plan lists its
// differences under a line ending in ":") reads as one sentence in the
// report's reason and the step summary, without the ":;" it used to get.
func TestRefusalOnOneLine(t *testing.T) {
	t.Parallel()
	err := errors.New("the saved plan is not the plan the manifests give; nothing was applied:\n  - create a -> b\n  - delete c | d\n")
	assert.Equal(t, "the saved plan is not the plan the manifests give; nothing was applied: - create a -> b; - delete c | d", reasonOf(err))
	assert.Equal(t, `the saved plan is not the plan the manifests give; nothing was applied: - create a -> b; - delete c \| d`, mdLine(err.Error()))
}
