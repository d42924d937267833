package apply

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/plan"
)

// shardReport is a report of shard i/n in which org made one connection.
func shardReport(i, n int, org plan.SourceOrg, status Status) *Report {
	r := &Report{FormatVersion: FormatVersion, Status: status, StartedAt: time.Unix(int64(100+i), 0).UTC(), FinishedAt: time.Unix(int64(200+i), 0).UTC(),
		Results: []Result{{Action: plan.Create, Outcome: Created, SourceOrg: ref(org), SinkOrg: hub, ConnectionTypes: []string{"logs"}, Attempts: 1, HTTPStatus: 200}}}
	if n > 0 {
		r.Shard = &Shard{Index: i, Count: n}
	}
	if status == StatusFailed {
		r.Results[0].Outcome, r.Results[0].Error = Failed, "boom"
	}
	if status == StatusRefused {
		r.Results[0].Outcome, r.Results[0].Error, r.Reason = Skipped, "not started", "the plan deletes 11 connections"
	}
	r.Summarize()
	return r
}

var orgC = plan.SourceOrg{Label: "team-c", ID: idX}

func TestMerge(t *testing.T) {
	t.Parallel()
	in := func(name string, r *Report) MergeInput { return MergeInput{Name: name, Report: r} }
	s1, s2, s3 := shardReport(1, 3, orgA, StatusComplete), shardReport(2, 3, orgB, StatusComplete), shardReport(3, 3, orgC, StatusComplete)
	tests := []struct {
		name       string
		inputs     []MergeInput
		partial    bool
		wantErr    string
		wantStatus Status
		wantReason string
		wantMiss   []int
	}{
		{name: "every shard", inputs: []MergeInput{in("a", s1), in("b", s2), in("c", s3)}, wantStatus: StatusComplete},
		{name: "one shard failed", inputs: []MergeInput{in("a", s1), in("b", shardReport(2, 3, orgB, StatusFailed)), in("c", s3)}, wantStatus: StatusFailed},
		{name: "one shard interrupted", inputs: []MergeInput{in("a", shardReport(1, 3, orgA, StatusInterrupted)), in("b", shardReport(2, 3, orgB, StatusFailed)), in("c", s3)}, wantStatus: StatusInterrupted},
		{name: "one shard refused", inputs: []MergeInput{in("a", s1), in("b", shardReport(2, 3, orgB, StatusRefused)), in("c", s3)}, wantStatus: StatusFailed},
		{name: "every shard refused", inputs: []MergeInput{in("a", shardReport(1, 2, orgA, StatusRefused)), in("b", shardReport(2, 2, orgB, StatusRefused))},
			wantStatus: StatusRefused, wantReason: "shard 1/2: the plan deletes 11 connections; shard 2/2: the plan deletes 11 connections"},
		{name: "unsharded disjoint runs", inputs: []MergeInput{in("a", shardReport(1, 0, orgA, StatusComplete)), in("b", shardReport(2, 0, orgB, StatusComplete))}, wantStatus: StatusComplete},
		{name: "missing shard", inputs: []MergeInput{in("a", s1), in("c", s3)},
			wantErr: "shard 2/3 is missing: merge every shard of the run, or pass --partial"},
		{name: "missing shard, partial", inputs: []MergeInput{in("a", s1), in("c", s3)}, partial: true, wantStatus: StatusFailed, wantMiss: []int{2}},
		{name: "different shard counts", inputs: []MergeInput{in("a", s1), in("b", shardReport(2, 4, orgB, StatusComplete))},
			wantErr: "a is shard 1/3 but b is shard 2/4: they are not shards of one run"},
		{name: "duplicate shard", inputs: []MergeInput{in("a", s1), in("b", s2), in("b2", shardReport(2, 3, orgC, StatusComplete)), in("c", s3)},
			wantErr: "b and b2 are both shard 2/3"},
		{name: "the same report twice", inputs: []MergeInput{in("a", s1), in("a", s1)}, wantErr: "a and a are both shard 1/3"},
		{name: "the same unsharded report twice", inputs: []MergeInput{in("x", shardReport(1, 0, orgA, StatusComplete)), in("y", shardReport(1, 0, orgA, StatusComplete))},
			wantErr: "x and y are the same report"},
		{name: "sharded and unsharded", inputs: []MergeInput{in("a", s1), in("u", shardReport(2, 0, orgB, StatusComplete))},
			wantErr: "a is shard 1/3 but u is not sharded"},
		{name: "overlapping orgs", inputs: []MergeInput{in("x", shardReport(1, 0, orgA, StatusComplete)), in("y", shardReport(2, 0, orgA, StatusComplete))},
			wantErr: "x and y both hold source org team-a: they are not disjoint shards of one run"},
		{name: "unknown outcome", inputs: []MergeInput{in("a", func() *Report { r := shardReport(1, 1, orgA, StatusComplete); r.Results[0].Outcome = "bogus"; return r }())},
			wantErr: `a: result 1 has unknown outcome "bogus"`},
		{name: "unknown status", inputs: []MergeInput{in("a", func() *Report { r := shardReport(1, 1, orgA, StatusComplete); r.Status = ""; return r }())},
			wantErr: `a: unknown status ""`},
		{name: "complete with a failed result", inputs: []MergeInput{in("a", func() *Report { r := shardReport(1, 1, orgA, StatusFailed); r.Status = StatusComplete; return r }())},
			wantErr: "a: its status is complete but 1 of its results failed or were skipped"},
		{name: "complete with a skipped result", inputs: []MergeInput{in("a", func() *Report {
			r := shardReport(1, 1, orgA, StatusRefused)
			r.Status, r.Reason = StatusComplete, ""
			return r
		}())},
			wantErr: "a: its status is complete but 1 of its results failed or were skipped"},
		{name: "shard index above the count", inputs: []MergeInput{in("a", s1), in("b", shardReport(9, 3, orgB, StatusComplete)), in("c", s3)}, partial: true,
			wantErr: "b is shard 9/3: no such shard"},
		{name: "nothing", wantErr: "no report to merge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Merge(tt.inputs, MergeOptions{Partial: tt.partial})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, m.Status)
			assert.Equal(t, tt.wantReason, m.Reason)
			assert.Equal(t, tt.wantMiss, m.MissingShards)
			assert.Nil(t, m.Shard)
			assert.Equal(t, len(tt.inputs), len(m.Results))
		})
	}
}

// TestReadReportValidates: report merge reads only reports that match
// schemas/report.schema.json (`{"format_version":1}` used to merge as an
// empty report, and an outcome "bogus" was kept but not counted).
func TestReadReportValidates(t *testing.T) {
	t.Parallel()
	valid := `{"format_version":1,"status":"complete","started_at":"2026-11-27T12:00:00Z","finished_at":"2026-11-27T12:00:01Z",
"summary":{"created":1,"updated":0,"deleted":0,"already_present":0,"unchanged":0,"failed":0,"skipped":0},
"results":[{"action":"create","outcome":"OUTCOME","source_org":{"label":"a","id":"4dee724d-00cc-11ea-a77b-570c9d03c6c5"},"sink_org":{"label":"hub","id":"83999dcd-7f97-11f0-8de1-1ecf66f1aa85"},"connection_id":"c1","connection_types":["logs"],"attempts":1,"http_status":200,"duration_ms":3,"error":null}],
"rate_limit":{"throttled_responses":0,"retries":0}}`
	tests := []struct {
		name, doc, wantErr string
	}{
		{name: "valid", doc: strings.ReplaceAll(valid, "OUTCOME", "created")},
		{name: "empty object", doc: `{"format_version":1}`, wantErr: "does not match schemas/report.schema.json"},
		{name: "bogus outcome", doc: strings.ReplaceAll(valid, "OUTCOME", "bogus"), wantErr: "does not match schemas/report.schema.json"},
		{name: "refused without reason", doc: strings.ReplaceAll(strings.ReplaceAll(valid, "OUTCOME", "created"), `"complete"`, `"refused"`), wantErr: "does not match schemas/report.schema.json"},
		{name: "counts that do not match the results", doc: strings.ReplaceAll(strings.ReplaceAll(valid, "OUTCOME", "created"), `"created":1`, `"created":2`),
			wantErr: "its summary does not count its results"},
		{name: "not JSON", doc: `nope`, wantErr: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "r.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.doc), 0o644))
			r, err := ReadReport(path)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, StatusComplete, r.Status)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), path)
		})
	}
}
