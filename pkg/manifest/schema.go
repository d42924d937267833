package manifest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/schemas"
)

// schemaURL names the embedded schema. It is absolute and synthetic: the
// validator never fetches it, and messages hold no machine-specific path.
const schemaURL = "https://orgsync.invalid/schemas/manifest.schema.json"

// compiledSchema is manifest.schema.json compiled once, with the parts that a
// file is validated against one by one (see validateSchema).
type compiledSchema struct {
	root, defaults, org, connection, label *jsonschema.Schema
}

var loadSchema = sync.OnceValues(func() (*compiledSchema, error) {
	raw, err := schemas.FS.ReadFile("manifest.schema.json")
	if err != nil {
		return nil, fmt.Errorf("read embedded manifest schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(schemaURL, bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("load embedded manifest schema: %w", err)
	}
	var cs compiledSchema
	for _, s := range []struct {
		dst  **jsonschema.Schema
		frag string
	}{
		{&cs.root, ""},
		{&cs.defaults, "#/$defs/defaults"},
		{&cs.org, "#/$defs/org"},
		{&cs.connection, "#/$defs/connection"},
		{&cs.label, "#/$defs/label"},
	} {
		if *s.dst, err = c.Compile(schemaURL + s.frag); err != nil {
			return nil, fmt.Errorf("compile embedded manifest schema%s: %w", s.frag, err)
		}
	}
	return &cs, nil
})

// objectSchema returns the schema of the mapping at p (the root, the
// defaults, an org or a connection), for its allowed and required fields.
func (cs *compiledSchema) objectSchema(p fieldPath) *jsonschema.Schema {
	switch pathKind(p) {
	case "root":
		return cs.root
	case "defaults":
		return cs.defaults
	case "org":
		return cs.org
	case "connection":
		return cs.connection
	}
	return nil
}

// schemaFields returns the property names of an object schema, sorted.
func schemaFields(s *jsonschema.Schema) []string {
	for s != nil && len(s.Properties) == 0 && s.Ref != nil {
		s = s.Ref
	}
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func schemaRequired(s *jsonschema.Schema) []string {
	for s != nil && len(s.Required) == 0 && s.Ref != nil {
		s = s.Ref
	}
	if s == nil {
		return nil
	}
	return s.Required
}

// validateSchema validates the file's value v (converted from root) against
// the manifest schema. To keep memory bounded whatever the input, it does so
// piece by piece: the top level (with orgs and connections emptied), then each
// org label, each org and each connection, stopping once enough problems are
// known; a piece bigger than maxChunkNodes is reported, not validated.
func (w *fileWalker) validateSchema(root *yaml.Node, v map[string]any) {
	cs := w.l.schema
	top := make(map[string]any, len(v))
	for k, x := range v {
		top[k] = x
	}
	_, orgsNode := mapLookup(root, "orgs")
	_, connsNode := mapLookup(root, "connections")
	orgs, orgsOK := v["orgs"].(map[string]any)
	if orgsOK {
		top["orgs"] = map[string]any{}
	}
	conns, connsOK := v["connections"].([]any)
	if connsOK {
		top["connections"] = []any{}
	}
	if dk, dn := mapLookup(root, "defaults"); dn != nil && w.tooBig(dk, dn, fieldPath{}.key("defaults")) {
		top["defaults"] = map[string]any{}
	}
	w.validate(cs.root, top, root, nil, nil)

	if orgsOK && orgsNode != nil {
		p := fieldPath{}.key("orgs")
		seen := make(map[string]bool, len(orgs))
		for i := 0; i+1 < len(orgsNode.Content) && !w.l.errs.full(); i += 2 {
			k, n := orgsNode.Content[i], orgsNode.Content[i+1]
			label, ok := stringKey(k, w)
			if !ok || seen[label] {
				continue // not a label, or declared twice: collect reports that
			}
			seen[label] = true
			w.validate(cs.label, label, k, nil, p) // propertyNames
			if !w.tooBig(k, n, p.key(label)) {
				w.validate(cs.org, orgs[label], n, k, p.key(label))
			}
		}
	}
	if connsOK && connsNode != nil {
		p := fieldPath{}.key("connections")
		for i, n := range connsNode.Content {
			if w.l.errs.full() {
				break
			}
			if i < len(conns) && !w.tooBig(nil, n, p.index(i)) {
				w.validate(cs.connection, conns[i], n, nil, p.index(i))
			}
		}
	}
}

// tooBig reports (and returns true) when the subtree at n has more than
// maxChunkNodes nodes.
func (w *fileWalker) tooBig(key, n *yaml.Node, p fieldPath) bool {
	count := 0
	var walk func(*yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		count++
		if count > maxChunkNodes {
			return false
		}
		for _, c := range n.Content {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	if walk(n) {
		return false
	}
	at := n
	if key != nil {
		at = key
	}
	w.errNode(at, p, fmt.Sprintf("too big: more than %d YAML nodes", maxChunkNodes))
	w.poison(n) // collect skips it too
	return true
}

// validate validates v, converted from node n (whose mapping key is key, if
// any) at path p, against sch and reports each failure as a problem.
func (w *fileWalker) validate(sch *jsonschema.Schema, v any, n, key *yaml.Node, p fieldPath) {
	err := sch.Validate(v)
	if err == nil {
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		w.errNode(cmp.Or(key, n), p, "cannot validate: "+err.Error())
		return
	}
	var failures []*jsonschema.ValidationError
	var visit func(e *jsonschema.ValidationError)
	visit = func(e *jsonschema.ValidationError) {
		switch kw := lastKeyword(e.KeywordLocation); {
		case kw == "anyOf" || kw == "oneOf" || len(e.Causes) == 0:
			failures = append(failures, e)
		default:
			for _, c := range e.Causes {
				visit(c)
			}
		}
	}
	visit(ve)
	// The validator walks Go maps: sort for a stable order of problems.
	slices.SortFunc(failures, func(a, b *jsonschema.ValidationError) int {
		return cmp.Or(strings.Compare(a.InstanceLocation, b.InstanceLocation), strings.Compare(a.KeywordLocation, b.KeywordLocation))
	})
	for _, f := range failures {
		w.failure(f, n, key, p)
	}
}

// lastKeyword returns the last keyword of a schema location such as
// "/properties/orgs/additionalProperties/$ref/properties/id/pattern".
func lastKeyword(loc string) string {
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

// failure reports one schema failure, found while validating the value of
// node n at path p, in orgsync's words.
func (w *fileWalker) failure(f *jsonschema.ValidationError, base, baseKey *yaml.Node, p fieldPath) {
	n, key, p, ok := resolvePointer(base, baseKey, p, f.InstanceLocation, w)
	if !ok || w.poisoned[n] {
		return // a value already reported by the YAML walk
	}
	kw := lastKeyword(f.KeywordLocation)
	switch k := pathKind(p); {
	case kw == "type":
		w.errNode(n, p, typeMessage(k, f.Message, n))
	case kw == "required":
		present := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			present[n.Content[i].Value] = true
		}
		var missing []string
		for _, name := range schemaRequired(w.l.schema.objectSchema(p)) {
			if !present[name] {
				missing = append(missing, strconv.Quote(name))
			}
		}
		if len(missing) == 0 { // not expected: fall back to the validator's words
			w.errNode(cmp.Or(key, n), p, f.Message)
			break
		}
		field := "field"
		if len(missing) > 1 {
			field = "fields"
		}
		w.errNode(cmp.Or(key, n), p, fmt.Sprintf("missing required %s %s", field, strings.Join(missing, ", ")))
	case kw == "additionalProperties":
		allowed := schemaFields(w.l.schema.objectSchema(p))
		reported := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			name, ok := stringKey(n.Content[i], w)
			if !ok || slices.Contains(allowed, name) {
				continue
			}
			w.errNode(n.Content[i], p.key(name), unknownField(name, allowed))
			reported = true
		}
		if !reported {
			w.errNode(cmp.Or(key, n), p, f.Message)
		}
	case kw == "uniqueItems":
		w.duplicates(n, p)
	case k == "site" || k == "defaultSite":
		// canonicalSite says precisely what is wrong with a site.
	case k == "defaultEnv" && kw == "pattern":
		// envTemplateProblem says precisely what is wrong with a template.
	case kw == "pattern":
		w.errNode(n, p, patternMessage(k, n.Value))
	case kw == "enum" && (k == "type"):
		w.errNode(n, p, fmt.Sprintf("%s is not a connection type (want %s)", showNode(n), typeList("or")))
	case kw == "const" && k == "version":
		w.errNode(n, p, fmt.Sprintf("unsupported manifest version %s (want 1)", showNode(n)))
	case kw == "minItems":
		w.errNode(n, p, emptyListMessage(k))
	default:
		w.errNode(cmp.Or(key, n), p, f.Message)
	}
}

// resolvePointer finds the node at the JSON pointer loc below base. The validator
// escapes each token with ~0 and ~1 and then url.PathEscape.
func resolvePointer(base, baseKey *yaml.Node, p fieldPath, loc string, w *fileWalker) (n, key *yaml.Node, _ fieldPath, ok bool) {
	n, key = base, baseKey
	if loc == "" {
		return n, key, p, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(loc, "/"), "/") {
		t, err := url.PathUnescape(tok)
		if err != nil {
			return nil, nil, nil, false
		}
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		switch n.Kind {
		case yaml.MappingNode:
			k, v := mapLookupValid(n, t, w)
			if v == nil {
				return nil, nil, nil, false
			}
			n, key, p = v, k, p.key(t)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil, nil, nil, false
			}
			n, key, p = n.Content[i], nil, p.index(i)
		default:
			return nil, nil, nil, false
		}
	}
	return n, key, p, true
}

// pathKind names what the value at p is, for messages: "root", "version",
// "defaults", "defaultSite", "defaultEnv", "types", "type", "orgs", "org", "id", "site",
// "env", "prune", "connections", "connection", "from", "fromItem", "to",
// "toItem", or "" for anything else.
func pathKind(p fieldPath) string {
	if len(p) == 0 {
		return "root"
	}
	at := func(i int) string {
		if i < len(p) && p[i].idx < 0 {
			return p[i].key
		}
		return ""
	}
	switch at(0) {
	case "version":
		if len(p) == 1 {
			return "version"
		}
	case "defaults":
		switch {
		case len(p) == 1:
			return "defaults"
		case len(p) == 2 && at(1) == "site":
			return "defaultSite"
		case len(p) == 2 && (at(1) == "api_key_env" || at(1) == "app_key_env"):
			return "defaultEnv"
		case len(p) == 2 && at(1) == "connection_types":
			return "types"
		case len(p) == 3 && at(1) == "connection_types":
			return "type"
		}
	case "orgs":
		switch len(p) {
		case 1:
			return "orgs"
		case 2:
			return "org"
		case 3:
			switch f := at(2); f {
			case "id", "site", "prune":
				return f
			case "api_key_env", "app_key_env":
				return "env"
			}
		}
	case "connections":
		switch {
		case len(p) == 1:
			return "connections"
		case len(p) == 2:
			return "connection"
		case len(p) == 3:
			return at(2) // from, to, types
		case len(p) == 4 && at(2) == "types":
			return "type"
		case len(p) == 4:
			return at(2) + "Item"
		}
	}
	return ""
}

var jsonTypeWords = map[string]string{
	"object":  "a mapping",
	"array":   "a list",
	"string":  "a string",
	"integer": "an integer",
	"number":  "a number",
	"boolean": "true or false",
	"null":    "an empty value",
}

// typeMessage rewrites "expected string or array, but got number".
func typeMessage(k, msg string, n *yaml.Node) string {
	var want string
	switch k {
	case "from":
		want = "an org label or a list of org labels"
	case "to":
		want = "an org label, an org UUID or a list of them"
	case "fromItem":
		want = "an org label"
	case "toItem":
		want = "an org label or an org UUID"
	case "version":
		want = "the number 1"
	case "root":
		want = "a mapping"
	default:
		types, _, _ := strings.Cut(strings.TrimPrefix(msg, "expected "), ", but got")
		var words []string
		for _, t := range strings.Split(types, " or ") {
			words = append(words, cmp.Or(jsonTypeWords[t], t))
		}
		want = strings.Join(words, " or ")
	}
	got := describeNode(n)
	if strings.Contains(want, "string") || strings.Contains(want, "label") {
		if t := n.ShortTag(); n.Kind == yaml.ScalarNode && (t == "!!int" || t == "!!float" || t == "!!bool") {
			got += "; quote it to make it a string"
		}
	}
	return fmt.Sprintf("expected %s, got %s", want, got)
}

const (
	labelSyntax = "[A-Za-z0-9][A-Za-z0-9_.-]*"
	envSyntax   = "[A-Za-z_][A-Za-z0-9_]*"
)

func patternMessage(k, v string) string {
	switch k {
	case "id":
		if looksLikeKey(v) {
			return "this looks like an API or application key, not an org UUID; keys must not be written into the manifest"
		}
		return quoteValue(v) + " is not an org UUID (want 8-4-4-4-12 hex digits)"
	case "env":
		if looksLikeKey(v) {
			return "this looks like a key, not the name of an environment variable; keys must not be written into the manifest"
		}
		return "not a valid environment variable name (want " + envSyntax + ")"
	case "from", "fromItem", "orgs":
		return quoteValue(v) + " is not a valid org label (want " + labelSyntax + ")"
	case "to", "toItem":
		return quoteValue(v) + " is neither a valid org label nor an org UUID"
	}
	return quoteValue(v) + " does not have the expected form"
}

func emptyListMessage(k string) string {
	switch k {
	case "from":
		return "the list of source orgs is empty"
	case "to":
		return "the list of sink orgs is empty"
	case "types":
		return "the list of connection types is empty (want one or more of " + typeList("and") + ")"
	}
	return "the list is empty"
}

// duplicates reports every item of list n that repeats an earlier one.
func (w *fileWalker) duplicates(n *yaml.Node, p fieldPath) {
	seen := make(map[string]bool, len(n.Content))
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || w.poisoned[c] {
			continue
		}
		v := c.ShortTag() + "\x00" + c.Value
		if seen[v] {
			w.errNode(c, p.index(i), showNode(c)+" is listed twice")
		}
		seen[v] = true
	}
}

// unknownField explains why a field is not allowed, with a dedicated message
// for fields that would hold a key.
func unknownField(name string, allowed []string) string {
	if keyLike(name) {
		env := "api_key_env"
		if n := normalizeField(name); strings.Contains(n, "app") {
			env = "app_key_env"
		}
		return "keys must not be written into the manifest; put the key in an environment variable and name it with " + env
	}
	if near := closest(name, allowed); near != "" {
		return fmt.Sprintf("unknown field (did you mean %s?)", near)
	}
	return "unknown field (want one of " + strings.Join(allowed, ", ") + ")"
}

func normalizeField(name string) string {
	return strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(strings.ToLower(name))
}

// keyLike reports whether a field name suggests that its value is a key or
// another secret (api_key, app_key, apikey, application_key, key, token, ...),
// as opposed to the name of an environment variable (api_key_env).
func keyLike(name string) bool {
	n := normalizeField(name)
	if strings.Contains(n, "env") || strings.Contains(n, "variable") {
		return false
	}
	for _, s := range []string{"key", "secret", "token", "password", "passwd", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// showNode shows a scalar's value for a message.
func showNode(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return describeNode(n)
	}
	if t := n.ShortTag(); t == "!!str" || t == "!!timestamp" {
		return quoteValue(n.Value)
	}
	return clip(n.Value)
}

// stringKey returns the name of a usable mapping key.
func stringKey(k *yaml.Node, w *fileWalker) (string, bool) {
	if k.Kind != yaml.ScalarNode || w.poisoned[k] || !validKeyTag(k) {
		return "", false
	}
	return k.Value, true
}

// mapLookupValid returns the first pair of mapping m whose key is the string name.
func mapLookupValid(m *yaml.Node, name string, w *fileWalker) (key, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k, ok := stringKey(m.Content[i], w); ok && k == name {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// mapLookup is mapLookupValid for a mapping whose keys the walker has already
// checked (no poisoned keys to skip), such as the root.
func mapLookup(m *yaml.Node, name string) (key, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && validKeyTag(k) && k.Value == name {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// closest returns the candidate nearest to s: the same but for case, or a few
// edits away (one for short names, two from six characters on), or "".
func closest(s string, candidates []string) string {
	limit := 0
	switch {
	case len(s) >= 6:
		limit = 2
	case len(s) >= 3:
		limit = 1
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if strings.EqualFold(c, s) {
			return c
		}
		if d := editDistance(s, c, bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance returns the optimal string alignment distance of a and b
// (insertions, deletions, substitutions and swaps of adjacent bytes), or
// limit when it is at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	rows := [3][]int{make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)}
	for j := range rows[1] {
		rows[1][j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur, prev, prev2 := rows[(i+1)%3], rows[i%3], rows[(i+2)%3] // row i is rows[(i+1)%3]
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
	}
	return min(rows[(len(a)+1)%3][len(b)], limit)
}
