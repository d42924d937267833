package plan

import (
	"fmt"
	"slices"
	"strings"
)

// maxMismatches bounds the differences Mismatches lists one by one.
const maxMismatches = 10

// Mismatches lists how a saved plan differs from fresh, the plan that the
// manifests give against live state now; it is empty when they are the
// same plan: the same orgs (label, id, site, key env vars, prune), the same
// changes (action, source and sink labels and ids, connection id, before
// and after types) and the same live-state fingerprints. Order does not
// matter, nor does who created a connection, which informs and decides
// nothing. A saved plan travels through CI as an artifact that anyone with
// write access to the workflow can swap: only an exact match may be applied.
func Mismatches(saved, fresh *Plan) []string {
	var out []string
	freshOrgs := make(map[string]SourceOrg, len(fresh.Orgs))
	for _, o := range fresh.Orgs {
		freshOrgs[o.Label] = o
	}
	savedOrgs := make(map[string]bool, len(saved.Orgs))
	for _, o := range saved.Orgs {
		savedOrgs[o.Label] = true
		f, ok := freshOrgs[o.Label]
		// Where keys come from is the apply's own choice (a note, not a
		// difference).
		f.KeySource, o.KeySource = "", ""
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("org %s: in the saved plan, but not a source org of the manifests", o.Label))
		case f != o:
			out = append(out, fmt.Sprintf("org %s: the saved plan has %s, the manifests have %s", o.Label, describeOrg(o), describeOrg(f)))
		case saved.LiveState[o.Label] != fresh.LiveState[o.Label]:
			out = append(out, fmt.Sprintf("org %s: its live connections changed since the plan was made", o.Label))
		}
	}
	for _, o := range fresh.Orgs {
		if !savedOrgs[o.Label] {
			out = append(out, fmt.Sprintf("org %s: missing from the saved plan", o.Label))
		}
	}

	key := func(c Change) string {
		return strings.ToLower(c.SourceOrg.ID + " " + c.SinkOrg.ID + " " + c.ConnectionID)
	}
	freshChanges := make(map[string]Change, len(fresh.Changes))
	for _, c := range fresh.Changes {
		freshChanges[key(c)] = c
	}
	matched := make(map[string]bool, len(saved.Changes))
	for _, c := range saved.Changes {
		k := key(c)
		f, ok := freshChanges[k]
		if !ok {
			out = append(out, fmt.Sprintf("the saved plan has %s; the manifests and live state give no such change", describeChange(c)))
			continue
		}
		matched[k] = true
		if !sameChange(c, f) {
			out = append(out, fmt.Sprintf("the saved plan has %s; the manifests and live state give %s", describeChange(c), describeChange(f)))
		}
	}
	for _, c := range fresh.Changes {
		if !matched[key(c)] {
			out = append(out, fmt.Sprintf("the saved plan lacks %s", describeChange(c)))
		}
	}
	if len(out) == 0 && saved.Summary != fresh.Summary {
		out = append(out, fmt.Sprintf("the saved summary %+v differs from %+v", saved.Summary, fresh.Summary))
	}
	if len(out) > maxMismatches {
		out = append(out[:maxMismatches], fmt.Sprintf("and %d more differences", len(out)-maxMismatches))
	}
	return out
}

// sameChange compares what applying a change does and to what.
func sameChange(a, b Change) bool {
	return a.Action == b.Action && a.SourceOrg == b.SourceOrg &&
		strings.EqualFold(a.SinkOrg.ID, b.SinkOrg.ID) && a.SinkOrg.Label == b.SinkOrg.Label &&
		a.ConnectionID == b.ConnectionID && slices.Equal(a.Before, b.Before) && slices.Equal(a.After, b.After)
}

func describeOrg(o SourceOrg) string {
	return fmt.Sprintf("id %s, site %s, keys $%s/$%s, prune %t", o.ID, o.Site, o.APIKeyEnv, o.AppKeyEnv, o.Prune)
}

// describeChange names a change fully, the sink by label and id, so that a
// sink id swapped under an unchanged label shows.
func describeChange(c Change) string {
	sink := c.SinkOrg.ID
	if c.SinkOrg.Label != "" {
		sink = c.SinkOrg.Label + " (" + c.SinkOrg.ID + ")"
	}
	s := fmt.Sprintf("%s %s -> %s", c.Action, c.SourceOrg.Label, sink)
	switch c.Action {
	case Create:
		s += " " + formatTypes(c.After)
	case Update:
		s += " " + formatTypes(c.Before) + " -> " + formatTypes(c.After)
	default:
		s += " " + formatTypes(c.Before)
	}
	if c.ConnectionID != "" {
		s += " (id " + c.ConnectionID + ")"
	}
	return s
}
