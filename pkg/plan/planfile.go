package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/orgsync/orgsync/pkg/site"
	"github.com/orgsync/orgsync/schemas"
)

// maxPlanSize bounds the saved plan orgsync reads: a plan of 100,000
// changes is about 40 MB.
const maxPlanSize = 64 << 20

// planSchema is schemas/plan.schema.json, compiled once.
var planSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	raw, err := schemas.FS.ReadFile("plan.schema.json")
	if err != nil {
		return nil, err
	}
	const url = "https://orgsync.invalid/schemas/plan.schema.json"
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(url, bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return c.Compile(url)
})

// ReadJSON reads a saved plan and checks that it can be applied as it is:
// it must match schemas/plan.schema.json (types to set from the API's enum)
// and hold together (every change's org among the plan's orgs with the same
// id, one id per label and one label per id, Datadog sites only, deletes
// only on orgs with prune, each pair once, a summary that counts the
// changes). A plan file is
// an artifact that travels through CI: a hand edit or a corrupted copy must
// not get round the manifest's guards.
func ReadJSON(r io.Reader) (*Plan, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPlanSize+1))
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if len(b) > maxPlanSize {
		return nil, fmt.Errorf("read plan: larger than %d MiB", maxPlanSize>>20)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read plan: not JSON: %w", err)
	}
	if m, ok := doc.(map[string]any); ok {
		if v, ok := m["format_version"].(json.Number); ok && v.String() != fmt.Sprint(FormatVersion) {
			return nil, fmt.Errorf("read plan: format_version %s is not supported (want %d)", v, FormatVersion)
		}
	}
	sch, err := planSchema()
	if err != nil {
		return nil, fmt.Errorf("plan schema: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		return nil, fmt.Errorf("read plan: %s", schemaProblems(err))
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return &p, nil
}

// schemaProblems lists the leaf failures of a schema validation, at most a
// few, as "at /changes/0/action: ...".
func schemaProblems(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var lines []string
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == "" || u.KeywordLocation == "" || strings.HasPrefix(u.Error, "doesn't validate with") {
			continue
		}
		loc := u.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		lines = append(lines, "at "+loc+": "+u.Error)
	}
	sort.Strings(lines)
	lines = compactStrings(lines)
	if len(lines) > 5 {
		lines = append(lines[:5], fmt.Sprintf("and %d more", len(lines)-5))
	}
	if len(lines) == 0 {
		return "does not match the plan schema"
	}
	return "does not match the plan schema: " + strings.Join(lines, "; ")
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// check verifies what the schema cannot: that the plan holds together.
// Without the manifests that is all that can be known of a saved plan: a
// consistent edit passes, which is why apply says so unless given -f.
func (p *Plan) check() error {
	orgs := make(map[string]SourceOrg, len(p.Orgs))
	// idOf and labelOf tie labels and ids together across the whole plan,
	// so that a sink id swapped under a label used elsewhere shows.
	idOf, labelOf := make(map[string]string), make(map[string]string)
	tie := func(what string, r OrgRef) error {
		if r.Label == "" {
			return nil
		}
		id := strings.ToLower(r.ID)
		if prev, ok := idOf[r.Label]; ok && prev != id {
			return fmt.Errorf("%s: org %s has id %s, but elsewhere in the plan %s", what, r.Label, r.ID, prev)
		}
		if prev, ok := labelOf[id]; ok && prev != r.Label {
			return fmt.Errorf("%s: org id %s is labelled %s, but elsewhere in the plan %s", what, r.ID, r.Label, prev)
		}
		idOf[r.Label], labelOf[id] = id, r.Label
		return nil
	}
	for _, o := range p.Orgs {
		if _, dup := orgs[o.Label]; dup {
			return fmt.Errorf("org %s is listed twice", o.Label)
		}
		if _, ok := p.LiveState[o.Label]; !ok {
			return fmt.Errorf("org %s has no live_state fingerprint", o.Label)
		}
		if !slices.Contains(site.Names, o.Site) {
			// The value is not quoted: it may be a URL with credentials.
			return fmt.Errorf("org %s: its site is not a Datadog site (a plan names sites, never URLs; endpoints are given with --api-url)", o.Label)
		}
		if err := tie("orgs", OrgRef{Label: o.Label, ID: o.ID}); err != nil {
			return err
		}
		orgs[o.Label] = o
	}
	pairs := make(map[string]int)
	for i, c := range p.Changes {
		if err := tie(fmt.Sprintf("change %d", i), c.SinkOrg); err != nil {
			return err
		}
		o, ok := orgs[c.SourceOrg.Label]
		switch {
		case !ok:
			return fmt.Errorf("change %d: source org %q is not among the plan's orgs", i, c.SourceOrg.Label)
		case !strings.EqualFold(o.ID, c.SourceOrg.ID):
			return fmt.Errorf("change %d: source org %s has id %s, but the plan's orgs say %s", i, o.Label, c.SourceOrg.ID, o.ID)
		case c.Action == Delete && !o.Prune:
			return fmt.Errorf("change %d: deletes a connection of %s, which does not prune", i, o.Label)
		case c.Action == Unmanaged && o.Prune:
			return fmt.Errorf("change %d: an unmanaged connection on %s, which prunes", i, o.Label)
		case (c.Action == Update || c.Action == Delete || c.Action == Noop || c.Action == Unmanaged) && c.ConnectionID == "":
			return fmt.Errorf("change %d: %s needs a connection_id", i, c.Action)
		case c.Action == Create && c.ConnectionID != "":
			return fmt.Errorf("change %d: a create has no connection_id", i)
		case (c.Action == Create || c.Action == Update) && len(c.After) == 0:
			return fmt.Errorf("change %d: %s needs after types", i, c.Action)
		case c.Action == Delete && len(c.After) != 0:
			return fmt.Errorf("change %d: a delete has no after types", i)
		}
		key := strings.ToLower(c.SourceOrg.ID + " " + c.SinkOrg.ID + " " + c.ConnectionID)
		if j, dup := pairs[key]; dup {
			return fmt.Errorf("change %d repeats change %d", i, j)
		}
		pairs[key] = i
	}
	if got := summarize(p.Changes); got != p.Summary {
		return fmt.Errorf("the summary %+v does not count the changes (%+v)", p.Summary, got)
	}
	return nil
}
