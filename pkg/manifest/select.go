package manifest

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// Selection narrows the source orgs of a run.
type Selection struct {
	Labels     []string // --org: only these (empty = all)
	ShardIndex int      // --shard i/n: 1-based i; 0 = no sharding
	ShardCount int
}

// Select returns the orgs of candidates that sel keeps. A label that names
// no org of the manifest is an error; so is a label that is not among the
// candidates, unless anyOrg allows every org of m (export reads any org).
func Select(m *Manifest, candidates []Org, sel Selection, anyOrg bool) ([]Org, error) {
	pool := candidates
	if len(sel.Labels) > 0 {
		pool = nil
		for _, l := range sel.Labels {
			o, ok := m.Org(l)
			if !ok {
				return nil, fmt.Errorf("--org %s: no org with that label in the manifest", l)
			}
			if !anyOrg && !slices.ContainsFunc(candidates, func(c Org) bool { return c.Label == l }) {
				return nil, fmt.Errorf("--org %s: not a source org (no connection from it, and no prune)", l)
			}
			if !slices.ContainsFunc(pool, func(c Org) bool { return c.Label == l }) {
				pool = append(pool, o)
			}
		}
		slices.SortFunc(pool, func(a, b Org) int { return strings.Compare(a.Label, b.Label) })
	}
	if sel.ShardCount <= 1 {
		return pool, nil
	}
	var out []Org
	for _, o := range pool {
		if ShardOf(o.ID, sel.ShardCount) == sel.ShardIndex {
			out = append(out, o)
		}
	}
	return out, nil
}

// ShardOf returns the 1-based shard of n that an org belongs to. It hashes
// the org's id, so the split does not move when other orgs are added to or
// removed from the manifest. Any n is safe (n < 2 is one shard), though
// the CLI bounds --shard's n far lower.
func ShardOf(orgID string, n int) int {
	if n < 2 {
		return 1
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(orgID)))
	return int(uint64(h.Sum32())%uint64(n)) + 1
}

// SuggestLabel returns the label of m nearest to one that names no org (the
// same but for case, or an edit or two away), or "" when none is near: the
// "did you mean" of --org, with the same measure as unknown field names.
func SuggestLabel(m *Manifest, label string) string {
	labels := make([]string, len(m.Orgs))
	for i, o := range m.Orgs {
		labels[i] = o.Label
	}
	return closest(label, labels)
}
