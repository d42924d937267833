package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/pkg/site"
)

// The permissions the emulated endpoints check (their `x-permission`):
// the Org Connections API needs read or write, and listing managed orgs
// (GET /api/v2/org) needs org_management or org_connections_write.
const (
	PermissionRead       = "org_connections_read"
	PermissionWrite      = "org_connections_write"
	PermissionManageOrgs = "org_management"
)

// DefaultSite is the site of a fixture org that names none.
const DefaultSite = "datadoghq.com"

// connectionTypes is OrgConnectionTypeEnum of the API spec.
var connectionTypes = map[string]bool{"logs": true, "metrics": true, "audit": true}

// Fixture is the sandbox's starting world: the orgs that exist, the
// connections between them, and an optional rate limit. It is the only place
// where keys are written down (CONTRACT.md section 7).
type Fixture struct {
	Orgs        []FixtureOrg        `yaml:"orgs"`
	Connections []FixtureConnection `yaml:"connections"`
	RateLimit   *RateLimitConfig    `yaml:"rate_limit"`
}

// FixtureOrg is one org. An org without keys cannot call the API and can only
// be a sink. Permissions nil means both [PermissionRead] and
// [PermissionWrite]; an empty list means none, to test 403 handling. Site
// empty means [DefaultSite]: Datadog connects orgs of one site only, so a
// create to a sink on another site is answered 404 like an unknown org.
// Parent is the org that manages this one (GET /api/v2/org).
type FixtureOrg struct {
	ID          string       `yaml:"id"`
	Name        string       `yaml:"name"`
	Site        string       `yaml:"site"`
	APIKey      string       `yaml:"api_key"`
	AppKey      string       `yaml:"app_key"`
	Permissions []string     `yaml:"permissions"`
	User        *FixtureUser `yaml:"user"`
	Parent      string       `yaml:"parent"`
}

// FixtureUser is the user an org's keys belong to, as current_user and the
// created_by of its connections show it. nil is a personal user with a
// made-up handle; Datadog deletes a user's connections when the user is
// deactivated, which is why service accounts matter.
type FixtureUser struct {
	Handle         string `yaml:"handle"`
	ServiceAccount bool   `yaml:"service_account"`
}

// FixtureConnection is a connection that exists when the sandbox starts.
type FixtureConnection struct {
	Source string   `yaml:"source"`
	Sink   string   `yaml:"sink"`
	Types  []string `yaml:"types"`
}

// RateLimitConfig allows Limit requests per Period seconds, per org and per
// rate-limit name, in windows aligned to multiples of Period like Datadog's
// "calendar aligned" periods.
type RateLimitConfig struct {
	Limit  int `yaml:"limit"`
	Period int `yaml:"period"`
}

// FixtureError is one problem in a fixture file, with the place it was
// found so that an editor can jump to it. LoadFixture joins several of them
// with errors.Join.
type FixtureError struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	Msg    string
}

func (e *FixtureError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// LoadFixture reads and validates a fixture file. It is strict, because a
// typo such as `app-key` would otherwise silently make an org key-less:
// unknown fields, bad UUIDs, reused keys, unknown types or permissions and
// connections to orgs the fixture does not define are all reported, each
// with its line and column.
func LoadFixture(path string) (*Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fixture: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FixtureError{File: path, Msg: "empty fixture"}
		}
		return nil, yamlError(path, err)
	}
	if len(doc.Content) == 0 {
		return nil, &FixtureError{File: path, Msg: "empty fixture"}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(path, err)
		}
		return nil, &FixtureError{File: path, Line: extra.Line, Column: extra.Column,
			Msg: "a fixture holds a single YAML document"}
	}

	if root := doc.Content[0]; root.Kind != yaml.MappingNode {
		return nil, &FixtureError{File: path, Line: root.Line, Column: root.Column,
			Msg: fmt.Sprintf("a fixture is a mapping with orgs, connections and rate_limit, not %s (put the orgs under \"orgs:\")", describeKind(root))}
	}

	var f Fixture
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(&f); err != nil {
		return nil, yamlError(path, err, &doc)
	}
	var errs []error
	for _, p := range f.problems() {
		n := nodeAt(&doc, p.keys)
		errs = append(errs, &FixtureError{File: path, Line: n.Line, Column: n.Column,
			Msg: p.String()})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &f, nil
}

func describeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "this"
}

// yamlLine matches the "line N: msg" form of yaml.v3's messages.
var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	duplicateKey = regexp.MustCompile(`^mapping key "([^"]*)" already defined`)
	wrongType    = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: (`.*`))? into (\\S+)$")
)

// typeMismatch words yaml.v3's "cannot unmarshal !!map into
// []sandbox.FixtureOrg" the way the manifest's errors do, without Go's
// type names: "expected a list, got a mapping".
func typeMismatch(g []string) string {
	got := map[string]string{"map": "a mapping", "seq": "a list", "str": "a string", "int": "a number",
		"float": "a number", "bool": "true or false", "null": "nothing", "timestamp": "a timestamp"}[g[1]]
	if got == "" {
		got = g[1]
	}
	if g[2] != "" {
		got += " (" + g[2] + ")"
	}
	want := "a mapping"
	switch t := g[3]; {
	case strings.HasPrefix(t, "[]"):
		want = "a list"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		want = "a number"
	case t == "string":
		want = "a string"
	case t == "bool":
		want = "true or false"
	}
	return fmt.Sprintf("expected %s, got %s", want, got)
}

// yamlError turns yaml.v3's "yaml: line 3: ..." errors into FILE:LINE:COL
// ones. yaml.v3 gives no column for unknown or repeated keys, so it is
// looked up in doc when given.
func yamlError(path string, err error, doc ...*yaml.Node) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		fe := &FixtureError{File: path, Msg: strings.TrimPrefix(m, "yaml: ")}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			fe.Line, _ = strconv.Atoi(g[1])
			fe.Msg = g[2]
			key := ""
			if u := unknownField.FindStringSubmatch(g[2]); u != nil {
				fe.Msg = fmt.Sprintf("unknown field %q", u[1])
				key = u[1]
			} else if d := duplicateKey.FindStringSubmatch(g[2]); d != nil {
				key = d[1]
			} else if w := wrongType.FindStringSubmatch(g[2]); w != nil {
				fe.Msg = typeMismatch(w)
			}
			if key != "" && len(doc) > 0 {
				fe.Column = keyColumn(doc[0], key, fe.Line)
			}
		}
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
}

// keyColumn finds the column of mapping key name on line, or 0.
func keyColumn(n *yaml.Node, name string, line int) int {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Value == name && k.Line == line {
				return k.Column
			}
		}
	}
	for _, c := range n.Content {
		if col := keyColumn(c, name, line); col != 0 {
			return col
		}
	}
	return 0
}

// nodeAt walks doc along keys (mapping keys as strings, sequence indexes as
// ints) and returns the deepest node it reaches, so that a problem is
// reported at the value when it exists and at its parent otherwise.
func nodeAt(doc *yaml.Node, keys []any) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		var next *yaml.Node
		switch k := k.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

// problem is one semantic error in a fixture, located by its path
// ("orgs", 1, "id") so that LoadFixture can add a line and column and New
// can still name it for a fixture built in code.
type problem struct {
	keys []any
	msg  string
}

func (p problem) String() string {
	var b strings.Builder
	for _, k := range p.keys {
		switch k := k.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	if b.Len() == 0 {
		return p.msg
	}
	return b.String() + ": " + p.msg
}

// validate reports every problem of a fixture built in code.
func (f *Fixture) validate() error {
	ps := f.problems()
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = errors.New(p.String())
	}
	return fmt.Errorf("invalid fixture: %w", errors.Join(errs...))
}

// problems checks what YAML decoding cannot. Keys are never quoted in the
// messages: the fixture may be shared, its error output pasted anywhere.
func (f *Fixture) problems() []problem {
	var ps []problem
	add := func(msg string, keys ...any) { ps = append(ps, problem{keys: keys, msg: msg}) }

	ids := map[string]int{}
	apiKeys := map[string]int{}
	appKeys := map[string]int{}
	for i, o := range f.Orgs {
		for _, p := range orgProblems(o) {
			add(p.msg, append([]any{"orgs", i}, p.keys...)...)
		}
		id := strings.ToLower(o.ID)
		if j, dup := ids[id]; dup && o.ID != "" {
			add(fmt.Sprintf("org %s is already defined at orgs[%d]", o.ID, j), "orgs", i, "id")
		} else {
			ids[id] = i
		}
		if j, dup := apiKeys[o.APIKey]; dup && o.APIKey != "" {
			add(fmt.Sprintf("api_key is also the api_key of orgs[%d]; keys must be unique", j), "orgs", i, "api_key")
		} else {
			apiKeys[o.APIKey] = i
		}
		if j, dup := appKeys[o.AppKey]; dup && o.AppKey != "" {
			add(fmt.Sprintf("app_key is also the app_key of orgs[%d]; keys must be unique", j), "orgs", i, "app_key")
		} else {
			appKeys[o.AppKey] = i
		}
	}

	for i, o := range f.Orgs {
		if _, known := ids[strings.ToLower(o.Parent)]; o.Parent != "" && isUUID(o.Parent) && !known {
			add(fmt.Sprintf("parent org %s is not defined in orgs", o.Parent), "orgs", i, "parent")
		}
	}

	type pair struct{ source, sink string }
	pairs := map[pair]int{}
	for i, c := range f.Connections {
		src, sink := strings.ToLower(c.Source), strings.ToLower(c.Sink)
		for _, end := range []struct{ field, id string }{{"source", c.Source}, {"sink", c.Sink}} {
			switch _, known := ids[strings.ToLower(end.id)]; {
			case end.id == "":
				add(end.field+" is required", "connections", i)
			case !isUUID(end.id):
				add(fmt.Sprintf("%q is not a UUID", end.id), "connections", i, end.field)
			case !known:
				add(fmt.Sprintf("org %s is not defined in orgs", end.id), "connections", i, end.field)
			}
		}
		if src != "" && src == sink {
			add("an org cannot be connected to itself", "connections", i, "sink")
		}
		if msg := typesProblem(c.Types); msg != "" {
			add(msg, "connections", i, "types")
		}
		k := pair{src, sink}
		if j, dup := pairs[k]; dup {
			add(fmt.Sprintf("connection %s -> %s is already defined at connections[%d]", c.Source, c.Sink, j), "connections", i)
		} else {
			pairs[k] = i
		}
	}

	if rl := f.RateLimit; rl != nil {
		if rl.Limit < 1 {
			add("limit must be at least 1", "rate_limit", "limit")
		}
		if rl.Period < 1 {
			add("period must be at least 1 (seconds)", "rate_limit", "period")
		}
	}
	return ps
}

// orgProblems checks one org on its own; AddOrg uses it too.
func orgProblems(o FixtureOrg) []problem {
	var ps []problem
	switch {
	case o.ID == "":
		ps = append(ps, problem{msg: "id is required"})
	case !isUUID(o.ID):
		ps = append(ps, problem{keys: []any{"id"}, msg: fmt.Sprintf("%q is not a UUID", o.ID)})
	}
	switch {
	case o.APIKey != "" && o.AppKey == "":
		ps = append(ps, problem{keys: []any{"api_key"}, msg: "api_key is set but app_key is not; set both, or neither for a sink-only org"})
	case o.APIKey == "" && o.AppKey != "":
		ps = append(ps, problem{keys: []any{"app_key"}, msg: "app_key is set but api_key is not; set both, or neither for a sink-only org"})
	}
	if o.Site != "" && canonicalSite(o.Site) == "" {
		ps = append(ps, problem{keys: []any{"site"}, msg: fmt.Sprintf("%q is not a Datadog site (want one of %s)", o.Site, strings.Join(site.Names, ", "))})
	}
	switch {
	case o.Parent == "":
	case !isUUID(o.Parent):
		ps = append(ps, problem{keys: []any{"parent"}, msg: fmt.Sprintf("%q is not a UUID", o.Parent)})
	case strings.EqualFold(o.Parent, o.ID):
		ps = append(ps, problem{keys: []any{"parent"}, msg: "an org cannot be its own parent"})
	}
	if o.User != nil && strings.TrimSpace(o.User.Handle) == "" {
		ps = append(ps, problem{keys: []any{"user"}, msg: "user.handle is required (an email address, or the name of a service account)"})
	}
	for j, p := range o.Permissions {
		switch {
		case p != PermissionRead && p != PermissionWrite && p != PermissionManageOrgs:
			ps = append(ps, problem{keys: []any{"permissions", j},
				msg: fmt.Sprintf("unknown permission %q (want %s, %s or %s)", p, PermissionRead, PermissionWrite, PermissionManageOrgs)})
		case slices.Index(o.Permissions, p) < j:
			ps = append(ps, problem{keys: []any{"permissions", j}, msg: fmt.Sprintf("permission %q is listed twice", p)})
		}
	}
	return ps
}

// canonicalSite returns the Datadog site name s stands for (a site name or
// a UI alias, in any case), or "".
func canonicalSite(s string) string {
	name, _ := site.Canonical(s)
	return name
}

// typesProblem applies the API's rules for connection_types to a fixture or
// state file, or returns "".
func typesProblem(types []string) string {
	if len(types) == 0 {
		return "at least one connection type is required"
	}
	for i, t := range types {
		if !connectionTypes[t] {
			return fmt.Sprintf("unknown connection type %q (want logs, metrics or audit)", t)
		}
		if slices.Index(types, t) < i {
			return fmt.Sprintf("connection type %q is listed twice", t)
		}
	}
	return ""
}
