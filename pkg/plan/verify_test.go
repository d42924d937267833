package plan

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMismatches edits a copy of the mixed plan the ways a tampered or
// stale plan differs, and checks that each is named; the plan itself, after
// a JSON round trip and in another order, matches.
func TestMismatches(t *testing.T) {
	t.Parallel()
	fresh := Diff(mixedManifest(), mixedState())
	find := func(p *Plan, action Action, sink string) *Change {
		i := slices.IndexFunc(p.Changes, func(c Change) bool { return c.Action == action && c.SinkOrg.ID == sink })
		require.GreaterOrEqual(t, i, 0, "no %s to %s", action, sink)
		return &p.Changes[i]
	}
	tests := []struct {
		name string
		edit func(p *Plan)
		want []string
	}{
		{name: "the same plan", edit: func(p *Plan) {}},
		{name: "another order, no creators", edit: func(p *Plan) {
			slices.Reverse(p.Changes)
			for i := range p.Changes {
				p.Changes[i].CreatedBy = nil
			}
		}},
		{name: "unmanaged turned delete, prune set by hand", edit: func(p *Plan) {
			c := find(p, Unmanaged, idTeamC)
			c.Action, c.After = Delete, nil
			p.Orgs[slices.IndexFunc(p.Orgs, func(o SourceOrg) bool { return o.Label == "team-b" })].Prune = true
			p.Summary = summarize(p.Changes)
		}, want: []string{
			"org team-b: the saved plan has id " + idTeamB + ", site datadoghq.com, keys $B_API/$B_APP, prune true, the manifests have id " + idTeamB + ", site datadoghq.com, keys $B_API/$B_APP, prune false",
			"the saved plan has delete team-b -> team-c (" + idTeamC + ") [logs] (id c-b-c); the manifests and live state give unmanaged team-b -> team-c (" + idTeamC + ") [logs] (id c-b-c)",
		}},
		{name: "types changed", edit: func(p *Plan) { find(p, Create, idOther).After = []string{"audit", "logs"} },
			want: []string{"the saved plan has create team-b -> " + idOther + " [audit, logs]; the manifests and live state give create team-b -> " + idOther + " [audit]"}},
		{name: "sink id swapped under an unchanged label", edit: func(p *Plan) { find(p, Update, idHub).SinkOrg.ID = idOther },
			want: []string{
				"the saved plan has update team-a -> hub (" + idOther + ") [logs] -> [logs, metrics] (id c-a-hub); the manifests and live state give no such change",
				"the saved plan lacks update team-a -> hub (" + idHub + ") [logs] -> [logs, metrics] (id c-a-hub)",
			}},
		{name: "connection id changed", edit: func(p *Plan) { find(p, Delete, idTeamA).ConnectionID = "c-other" },
			want: []string{
				"the saved plan has delete team-c -> team-a (" + idTeamA + ") [audit] (id c-other); the manifests and live state give no such change",
				"the saved plan lacks delete team-c -> team-a (" + idTeamA + ") [audit] (id c-c-a)",
			}},
		{name: "stale", edit: func(p *Plan) { p.LiveState["team-a"] = Fingerprint(nil) },
			want: []string{"org team-a: its live connections changed since the plan was made"}},
		{name: "an org the manifests do not have as a source", edit: func(p *Plan) {
			p.Orgs = append(p.Orgs, SourceOrg{Label: "hub", ID: idHub, Site: "datadoghq.com"})
		}, want: []string{"org hub: in the saved plan, but not a source org of the manifests"}},
		{name: "an org left out", edit: func(p *Plan) {
			p.Orgs = slices.DeleteFunc(p.Orgs, func(o SourceOrg) bool { return o.Label == "team-c" })
			p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return c.SourceOrg.Label == "team-c" })
		}, want: []string{
			"org team-c: missing from the saved plan",
			"the saved plan lacks delete team-c -> team-a (" + idTeamA + ") [audit] (id c-c-a)",
			"the saved plan lacks noop team-c -> hub (" + idHub + ") [logs, metrics] (id c-c-hub)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			require.NoError(t, WriteJSON(&b, fresh))
			saved, err := ReadJSON(&b)
			require.NoError(t, err)
			tt.edit(saved)
			assert.Equal(t, tt.want, Mismatches(saved, fresh))
		})
	}
}

func TestMismatchesAreBounded(t *testing.T) {
	t.Parallel()
	fresh := &Plan{}
	saved := &Plan{}
	for i := range 15 {
		saved.Changes = append(saved.Changes, Change{Action: Create, SourceOrg: OrgRef{Label: "a", ID: idTeamA},
			SinkOrg: OrgRef{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)}, After: []string{"logs"}})
	}
	got := Mismatches(saved, fresh)
	require.Len(t, got, maxMismatches+1)
	assert.Equal(t, "and 5 more differences", got[maxMismatches])
}
