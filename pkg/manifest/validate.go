package manifest

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/pkg/site"
)

// manifestSites are the Datadog sites a manifest may name: the client's
// list, so validation and the client never disagree. The UI aliases of
// site.Aliases are accepted too.
var manifestSites = site.Names

// manifestTypes are the connection types of the Org Connections API, sorted.
var manifestTypes = []string{"audit", "logs", "metrics"}

var (
	labelRE = regexp.MustCompile(`^` + labelSyntax + `$`)
	uuidRE  = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	envRE   = regexp.MustCompile(`^` + envSyntax + `$`)
)

// loader holds the state of one Load across files.
type loader struct {
	errs        collector
	schema      *compiledSchema
	seen        map[string]bool // absolute paths of the files read
	firstRoot   *rootRef
	parseFailed bool
	sawOrgs     bool
	defaults    *defaultsDecl
	orgs        map[string]*orgDecl
	orgIDs      map[string]*orgDecl
	orgList     []*orgDecl
	conns       []*connDecl
}

type rootRef struct {
	file int
	pos  Position
}

type defaultsDecl struct {
	pos            Position
	site           *valueRef
	apiEnv, appEnv *valueRef // valid templates (see envTemplateProblem)
	types          []string
	typesSet       bool
}

type orgDecl struct {
	org                  Org
	file                 int
	at                   fieldPath
	idPos                Position
	site                 *valueRef
	apiEnvRef, appEnvRef *valueRef
}

type connDecl struct {
	file     int
	at       fieldPath
	pos      Position
	from, to []valueRef
	fromList bool
	toList   bool
	types    []string
	typesSet bool
}

// valueRef is a string value of the manifest with its place.
type valueRef struct {
	file  int
	value string
	pos   Position
	at    fieldPath
	node  *yaml.Node
}

func newLoader() (*loader, error) {
	cs, err := loadSchema()
	if err != nil {
		return nil, err
	}
	return &loader{
		schema: cs,
		seen:   map[string]bool{},
		orgs:   map[string]*orgDecl{},
		orgIDs: map[string]*orgDecl{},
	}, nil
}

// str returns the value of a usable string scalar.
func (w *fileWalker) str(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || w.poisoned[n] || !validKeyTag(n) {
		return "", false
	}
	return n.Value, true
}

func (w *fileWalker) ref(n *yaml.Node, p fieldPath) (*valueRef, bool) {
	v, ok := w.str(n)
	if !ok {
		return nil, false
	}
	return &valueRef{file: w.file, value: v, pos: w.pos(n), at: p, node: n}, true
}

// collect records the declarations of one file, after its schema validation,
// and checks what can be checked at once: labels and org ids declared twice,
// defaults in a second file, keys and environment variable names. It skips
// values that the schema rejected, which are reported already.
func (l *loader) collect(w *fileWalker, root *yaml.Node) {
	if dk, dn := mapLookup(root, "defaults"); dk != nil {
		l.collectDefaults(w, dk, dn)
	}
	if k, on := mapLookup(root, "orgs"); k != nil {
		l.sawOrgs = true
		if on.Kind == yaml.MappingNode {
			l.collectOrgs(w, on)
		}
	}
	if _, cn := mapLookup(root, "connections"); cn != nil && cn.Kind == yaml.SequenceNode {
		p := fieldPath{}.key("connections")
		for i, item := range cn.Content {
			if l.errs.full() {
				return
			}
			if item.Kind == yaml.MappingNode && !w.poisoned[item] {
				l.collectConnection(w, item, p.index(i))
			}
		}
	}
}

func (l *loader) collectDefaults(w *fileWalker, key, n *yaml.Node) {
	p := fieldPath{}.key("defaults")
	if l.defaults != nil {
		w.errPlain(key, p, fmt.Sprintf("defaults are declared twice (first at %s); declare them in one file only", posString(l.defaults.pos)))
		return
	}
	d := &defaultsDecl{pos: w.pos(key)}
	l.defaults = d
	if n.Kind != yaml.MappingNode || w.poisoned[n] {
		return
	}
	if _, sn := mapLookupValid(n, "site", w); sn != nil {
		d.site, _ = w.ref(sn, p.key("site"))
	}
	// A template's problems are reported here, not by the schema.
	d.apiEnv, d.appEnv = w.keyEnvRefs(n, p, func(v string) (string, bool) {
		msg := envTemplateProblem(v)
		return msg, msg == ""
	})
	if _, tn := mapLookupValid(n, "connection_types", w); tn != nil {
		d.typesSet = true
		d.types = w.types(tn)
	}
}

// types returns the valid connection types of a list, sorted, each once.
func (w *fileWalker) types(n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode {
		return nil
	}
	var ts []string
	for _, c := range n.Content {
		if v, ok := w.str(c); ok && slices.Contains(manifestTypes, v) && !slices.Contains(ts, v) {
			ts = append(ts, v)
		}
	}
	slices.Sort(ts)
	return ts
}

func (l *loader) collectOrgs(w *fileWalker, n *yaml.Node) {
	p := fieldPath{}.key("orgs")
	for i := 0; i+1 < len(n.Content); i += 2 {
		if l.errs.full() {
			return
		}
		k, v := n.Content[i], n.Content[i+1]
		label, ok := stringKey(k, w)
		if !ok || !labelRE.MatchString(label) {
			continue
		}
		op := p.key(label)
		if first := l.orgs[label]; first != nil {
			w.errPlain(k, op, fmt.Sprintf("org %s is declared twice (first at %s)", label, posString(first.org.Pos)))
			continue
		}
		d := &orgDecl{file: w.file, at: op, org: Org{Label: label, Pos: w.pos(k)}}
		l.orgs[label] = d
		l.orgList = append(l.orgList, d)
		if v.Kind != yaml.MappingNode || w.poisoned[v] {
			continue
		}
		if _, idn := mapLookupValid(v, "id", w); idn != nil {
			if id, ok := w.str(idn); ok && uuidRE.MatchString(id) {
				id = strings.ToLower(id)
				d.org.ID, d.idPos = id, w.pos(idn)
				if first := l.orgIDs[id]; first != nil {
					w.errNode(idn, op.key("id"), fmt.Sprintf("org id %s is already used by org %s (first at %s)", id, first.org.Label, posString(first.idPos)))
				} else {
					l.orgIDs[id] = d
				}
			}
		}
		if _, sn := mapLookupValid(v, "site", w); sn != nil {
			d.site, _ = w.ref(sn, op.key("site"))
		}
		// A name that is not valid is reported by the schema.
		d.apiEnvRef, d.appEnvRef = w.keyEnvRefs(v, op, func(v string) (string, bool) { return "", envRE.MatchString(v) })
		if _, pn := mapLookupValid(v, "prune", w); pn != nil && pn.Kind == yaml.ScalarNode && pn.ShortTag() == "!!bool" {
			var b bool
			if pn.Decode(&b) == nil {
				d.org.Prune = b
			}
		}
	}
}

// keyEnvRefs returns the api_key_env and app_key_env values of mapping n
// at p, each nil when missing or unusable: check says whether a value is
// usable, with a message to report when it is not (none when the schema
// reports it), and a key written in its place is reported here.
func (w *fileWalker) keyEnvRefs(n *yaml.Node, p fieldPath, check func(string) (string, bool)) (apiEnv, appEnv *valueRef) {
	get := func(field string) *valueRef {
		_, en := mapLookupValid(n, field, w)
		r, ok := w.ref(en, p.key(field))
		if !ok {
			return nil // missing, or reported by the schema
		}
		if msg, ok := check(r.value); !ok {
			if msg != "" {
				w.errNode(en, r.at, msg)
			}
			return nil
		}
		if looksLikeKey(r.value) {
			w.errNode(en, r.at, "this looks like a key, not the name of an environment variable; keys must not be written into the manifest")
			return nil
		}
		return r
	}
	return get("api_key_env"), get("app_key_env")
}

func (l *loader) collectConnection(w *fileWalker, n *yaml.Node, p fieldPath) {
	c := &connDecl{file: w.file, at: p, pos: w.pos(n)}
	refs := func(field string) ([]valueRef, bool) {
		_, v := mapLookupValid(n, field, w)
		if v == nil {
			return nil, false
		}
		fp := p.key(field)
		if r, ok := w.ref(v, fp); ok {
			if !labelRE.MatchString(r.value) {
				return nil, false
			}
			return []valueRef{*r}, false
		}
		if v.Kind != yaml.SequenceNode {
			return nil, false
		}
		var rs []valueRef
		seen := make(map[string]bool, len(v.Content))
		for i, item := range v.Content {
			r, ok := w.ref(item, fp.index(i))
			if !ok || !labelRE.MatchString(r.value) || seen[r.value] {
				continue // reported by the schema
			}
			seen[r.value] = true
			rs = append(rs, *r)
		}
		return rs, true
	}
	c.from, c.fromList = refs("from")
	c.to, c.toList = refs("to")
	if _, tn := mapLookupValid(n, "types", w); tn != nil {
		c.typesSet = true
		c.types = w.types(tn)
	}
	l.conns = append(l.conns, c)
}

// finish runs the checks that need the whole manifest and builds the result.
func (l *loader) finish() (*Manifest, error) {
	w := func(file int) *fileWalker { return &fileWalker{l: l, file: file, name: l.errs.files[file]} }
	if !l.sawOrgs && l.firstRoot != nil && !l.parseFailed {
		l.errs.add(l.firstRoot.file, l.firstRoot.pos, "", `missing required field "orgs"`)
	}

	defaultSite := DefaultSite
	if d := l.defaults; d != nil && d.site != nil {
		if name, msg := canonicalSite(d.site.value); msg != "" {
			w(d.site.file).errAt(d.site.pos, d.site.at, msg)
		} else {
			defaultSite = name
		}
	}
	for _, o := range l.orgList {
		o.org.Site = defaultSite
		if o.site != nil {
			name, msg := canonicalSite(o.site.value)
			if msg != "" {
				w(o.file).errAt(o.site.pos, o.site.at, msg)
			}
			o.org.Site = name
		}
	}

	l.resolveKeyEnvs(w)
	conns := l.expand(w)
	if err := l.errs.result(); err != nil {
		return nil, err
	}
	m := &Manifest{Orgs: make([]Org, 0, len(l.orgList)), Connections: conns}
	if len(l.errs.warnings) > 0 {
		m.Warnings = sorted(l.errs.warnings)
	}
	for _, o := range l.orgList {
		m.Orgs = append(m.Orgs, o.org)
	}
	slices.SortFunc(m.Orgs, func(a, b Org) int { return strings.Compare(a.Label, b.Label) })
	slices.SortFunc(m.Connections, func(a, b Connection) int {
		return cmp.Or(strings.Compare(a.SourceLabel, b.SourceLabel), strings.Compare(cmp.Or(a.SinkLabel, a.SinkID), cmp.Or(b.SinkLabel, b.SinkID)))
	})
	return m, nil
}

// resolveKeyEnvs names the key env vars of every org: its own, else the
// defaults' template for its label, else DD_API_KEY / DD_APP_KEY. It
// reports a template that makes no valid name for an org, and an org whose
// two names are the same.
func (l *loader) resolveKeyEnvs(w func(int) *fileWalker) {
	var apiTmpl, appTmpl *valueRef
	if d := l.defaults; d != nil {
		apiTmpl, appTmpl = d.apiEnv, d.appEnv
	}
	name := func(o *orgDecl, own, tmpl *valueRef, def string) (string, *valueRef) {
		switch {
		case own != nil:
			return own.value, own
		case tmpl == nil:
			return def, nil
		}
		v := expandEnvTemplate(tmpl.value, o.org.Label)
		if !envRE.MatchString(v) {
			w(tmpl.file).errAt(tmpl.pos, tmpl.at, fmt.Sprintf("for org %s this makes %s, not a valid environment variable name (want %s); give the org its own %s",
				o.org.Label, quoteValue(v), envSyntax, tmpl.at[len(tmpl.at)-1].key))
		}
		return v, tmpl
	}
	for _, o := range l.orgList {
		var apiRef, appRef *valueRef
		o.org.APIKeyEnv, apiRef = name(o, o.apiEnvRef, apiTmpl, DefaultAPIKeyEnv)
		o.org.AppKeyEnv, appRef = name(o, o.appEnvRef, appTmpl, DefaultAppKeyEnv)
		if o.org.APIKeyEnv != o.org.AppKeyEnv {
			continue
		}
		// Reported at the org's own field when it has one, else at the
		// defaults, once per org.
		r := cmp.Or(o.appEnvRef, o.apiEnvRef, appRef, apiRef)
		if r == nil {
			continue
		}
		msg := fmt.Sprintf("api_key_env and app_key_env both name %s; the API key and the application key are different keys", o.org.APIKeyEnv)
		if o.appEnvRef == nil && o.apiEnvRef == nil {
			msg = fmt.Sprintf("for org %s, api_key_env and app_key_env both name %s; the API key and the application key are different keys", o.org.Label, o.org.APIKeyEnv)
		}
		w(r.file).errAt(r.pos, r.at, msg)
	}
}

// suggestLabel returns a label close to s, for manifests small enough to search.
func suggestLabel(s string, labels []string) string {
	if len(labels) > 5000 {
		return ""
	}
	return closest(s, labels)
}

// endpointsHint says where endpoints other than the Datadog sites go.
const endpointsHint = "a manifest names Datadog sites only: give other endpoints to orgsync with --api-url URL, --api-url SITE=URL or ORGSYNC_API_URL"

// canonicalSite returns the site that s names (see site.Canonical), or a
// message that says what is wrong with it.
func canonicalSite(s string) (string, string) {
	if name, ok := site.Canonical(s); ok {
		return name, ""
	}
	if strings.Contains(s, "://") {
		// The URL is not shown: a careless one may carry a key.
		return "", "a URL is not a Datadog site; " + endpointsHint
	}
	near := closest(s, manifestSites)
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "api."); ok {
		if name, ok := site.Canonical(rest); ok {
			near = name
		}
	}
	if near != "" {
		return "", fmt.Sprintf("%s is not a Datadog site (did you mean %s?); %s", quoteValue(s), near, endpointsHint)
	}
	return "", fmt.Sprintf("%s is not a Datadog site (want one of %s); %s", quoteValue(s), strings.Join(manifestSites, ", "), endpointsHint)
}

// typeList lists the connection types for a message: "logs, metrics or audit".
func typeList(conj string) string {
	return "logs, metrics " + conj + " audit"
}
