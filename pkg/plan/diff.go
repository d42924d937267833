package plan

import (
	"cmp"
	"github.com/orgsync/orgsync/pkg/manifest"
	"slices"
	"sort"
	"strings"
)

// Diff computes the plan that makes live state equal to the manifest for the
// source orgs present in live. It is a pure function: the same inputs give
// the same plan, in the same order.
//
// Connection types are compared as sets. A declared connection whose source
// org is not in live (filtered out by --org or --shard, or not readable) is
// left out; live connections to a sink the manifest does not declare are
// deleted on orgs with prune and listed as unmanaged on the others.
func Diff(m *manifest.Manifest, live State) *Plan {
	labelByID := make(map[string]string, len(m.Orgs))
	for _, o := range m.Orgs {
		labelByID[strings.ToLower(o.ID)] = o.Label
	}
	declared := make(map[string]map[string]manifest.Connection) // source label -> sink id -> connection
	for _, c := range m.Connections {
		if declared[c.SourceLabel] == nil {
			declared[c.SourceLabel] = make(map[string]manifest.Connection)
		}
		declared[c.SourceLabel][strings.ToLower(c.SinkID)] = c
	}

	p := &Plan{FormatVersion: FormatVersion, Changes: []Change{}, Orgs: []SourceOrg{}, LiveState: make(map[string]string)}
	for _, org := range m.Orgs {
		conns, ok := live.Orgs[org.Label]
		if !ok {
			continue
		}
		p.Orgs = append(p.Orgs, SourceOrg{Label: org.Label, ID: org.ID, Site: org.Site,
			APIKeyEnv: org.APIKeyEnv, AppKeyEnv: org.AppKeyEnv, Prune: org.Prune})
		p.LiveState[org.Label] = Fingerprint(conns)
		src := OrgRef{Label: org.Label, ID: org.ID}
		want := declared[org.Label]
		seen := make(map[string]bool, len(conns))
		// Stable order of live connections, so duplicates (which the API
		// should never hold) resolve the same way on every run.
		conns = slices.SortedFunc(slices.Values(conns), func(a, b LiveConnection) int { return cmp.Compare(a.ID, b.ID) })
		for _, lc := range conns {
			sinkID := strings.ToLower(lc.SinkID)
			sink := OrgRef{Label: labelByID[sinkID], ID: sinkID}
			before := normalizeTypes(lc.Types)
			d, isDeclared := want[sinkID]
			switch {
			case isDeclared && !seen[sinkID]:
				seen[sinkID] = true
				ch := Change{Action: Noop, SourceOrg: src, SinkOrg: sink, ConnectionID: lc.ID, Before: before, After: normalizeTypes(d.Types), CreatedBy: lc.CreatedBy}
				if !SameTypes(ch.Before, ch.After) {
					ch.Action = Update
				}
				p.Changes = append(p.Changes, ch)
			case org.Prune:
				p.Changes = append(p.Changes, Change{Action: Delete, SourceOrg: src, SinkOrg: sink, ConnectionID: lc.ID, Before: before, CreatedBy: lc.CreatedBy})
			default:
				p.Changes = append(p.Changes, Change{Action: Unmanaged, SourceOrg: src, SinkOrg: sink, ConnectionID: lc.ID, Before: before, After: before, CreatedBy: lc.CreatedBy})
			}
		}
		for sinkID, d := range want {
			if seen[sinkID] {
				continue
			}
			p.Changes = append(p.Changes, Change{Action: Create, SourceOrg: src,
				SinkOrg: OrgRef{Label: d.SinkLabel, ID: sinkID}, After: normalizeTypes(d.Types)})
		}
	}
	sortChanges(p.Changes)
	p.Summary = summarize(p.Changes)
	return p
}

// sortChanges puts changes in apply order (creates, updates, deletes, then
// the rest), then by source label and sink.
func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		return cmp.Or(
			cmp.Compare(actionOrder[a.Action], actionOrder[b.Action]),
			cmp.Compare(a.SourceOrg.Label, b.SourceOrg.Label),
			CompareSinks(a.SinkOrg, b.SinkOrg),
			cmp.Compare(a.ConnectionID, b.ConnectionID),
		)
	})
}

// CompareSinks orders sinks by label, labelled ones before raw UUIDs.
func CompareSinks(a, b OrgRef) int {
	key := func(r OrgRef) string {
		if r.Label != "" {
			return "0" + r.Label
		}
		return "1" + r.ID
	}
	return cmp.Compare(key(a), key(b))
}

// SameTypes reports whether two lists name the same set of connection
// types: order and repeats do not matter.
func SameTypes(a, b []string) bool { return slices.Equal(normalizeTypes(a), normalizeTypes(b)) }

// normalizeTypes returns the types as a sorted set.
func normalizeTypes(types []string) []string {
	out := slices.Clone(types)
	sort.Strings(out)
	return slices.Compact(out)
}
