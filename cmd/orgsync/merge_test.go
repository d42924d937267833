package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
)

// TestReportMergeCLI: report merge refuses what is not every shard of one
// run once, and an input that is not a report; --partial merges anyway and
// says what is missing.
func TestReportMergeCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	state := filepath.Join(dir, "s.json")
	shard := func(i string) string {
		rep := filepath.Join(dir, "r"+i+".json")
		r := runCLI(t, nil, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--shard", i+"/3", "--report", rep)
		require.Equal(t, 0, r.code, r.stderr)
		return rep
	}
	r1, r2, r3 := shard("1"), shard("2"), shard("3")
	empty := writeFile(t, dir, "empty.json", `{"format_version":1}`)
	merged := filepath.Join(dir, "merged.json")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "every shard", args: []string{r1, r2, r3, "-o", merged}},
		{name: "missing shard", args: []string{r1, r3}, wantCode: 1, wantErr: "orgsync: error: shard 2/3 is missing: merge every shard of the run, or pass --partial"},
		{name: "missing shard, partial", args: []string{"--partial", r1, r3, "-o", merged}, wantErr: "orgsync: warning: merged without shards [2] of 3 (--partial)"},
		{name: "the same report twice", args: []string{r1, r2, r3, r2}, wantCode: 1, wantErr: "are both shard 2/3"},
		{name: "not a report", args: []string{r1, r2, r3, empty}, wantCode: 1, wantErr: "empty.json: does not match schemas/report.schema.json"},
		{name: "output over an input", args: []string{r1, r2, r3, "-o", r1}, wantCode: 1, wantErr: "orgsync: error: -o " + r1 + " is an input of this run (a report to merge): refusing to overwrite it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, append([]string{"report", "merge"}, tt.args...)...)
			assert.Equal(t, tt.wantCode, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.wantErr)
			if tt.wantCode == 0 {
				validateAgainstSchema(t, "report.schema.json", mustRead(t, merged))
			}
		})
	}
	rep := readReport(t, merged) // the last merge: partial
	assert.Equal(t, []int{2}, rep.MissingShards)
	assert.Equal(t, apply.StatusFailed, rep.Status, "a partial merge is never complete")
}
