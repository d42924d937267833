package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits that keep Load fast and its memory bounded on hostile input. A
// manifest of 10,000 connections and 1,000 orgs is about 1 MiB and 100,000
// YAML nodes, far below all of them.
const (
	maxFileSize    = 32 << 20 // bytes per file
	maxNodes       = 500_000  // estimated YAML nodes per file, counted before parsing
	maxDepth       = 64       // nesting of mappings and lists
	maxScalar      = 64 << 10 // bytes per scalar
	maxChunkNodes  = 10_000   // YAML nodes in one org, one connection or the defaults
	maxConnections = 100_000  // connections after expanding from/to lists
)

// Load reads the manifest files and directories in paths, merges them into one
// manifest and validates it.
//
// A directory stands for the *.yaml and *.yml files directly inside it, in
// name order; subdirectories and names that start with "." are skipped. A file
// named twice (directly or through a directory) is read once. Every file holds
// one YAML document with its own version; orgs and connections are taken from
// all files, defaults from at most one.
//
// Validation is in three steps: YAML structure (no anchors, aliases, merge
// keys, non-string or duplicate keys, tags other than the core ones), the
// JSON Schema of schemas/manifest.schema.json, then checks across the whole
// manifest (labels and connections declared twice, unknown labels, sites,
// connections across sites, org ids, connection types, key env templates,
// keys written into the manifest).
//
// On success the result has Orgs sorted by label and Connections expanded to
// one per (source, sink) pair, sorted by source label then sink label (or sink
// id for a raw UUID sink that is no declared org), with types sorted and
// defaults applied: site datadoghq.com, api_key_env DD_API_KEY, app_key_env
// DD_APP_KEY, or the defaults' own (with {LABEL} expanded). Its Warnings
// hold what does not make it invalid.
//
// Otherwise the error is a *[ValidationErrors] holding every problem found, in
// file order then line and column order, each with a position of at least
// 1:1. Hostile input fails fast: a file is limited to 32 MiB, about 500,000
// YAML nodes, 64 levels of nesting and 64 KiB per scalar, the manifest to
// 100,000 connections after expansion, and at most 1,000 problems are
// reported. Load returns a plain error only when paths is empty or the
// embedded schema cannot be compiled.
func Load(paths []string) (*Manifest, error) {
	if len(paths) == 0 {
		return nil, errors.New("no manifest files given")
	}
	l, err := newLoader()
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if l.errs.full() {
			break
		}
		l.loadPath(p)
	}
	return l.finish()
}

// loadPath loads a file, or the manifest files of a directory.
func (l *loader) loadPath(p string) {
	fi, err := os.Stat(p)
	if err != nil {
		l.problem(p, "cannot read: "+ioReason(err))
		return
	}
	if !fi.IsDir() {
		l.readFile(p)
		return
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		l.problem(p, "cannot read directory: "+ioReason(err))
		return
	}
	found := 0
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		full := filepath.Join(p, name)
		if fi, err := os.Stat(full); err == nil && fi.IsDir() {
			continue
		}
		found++
		if l.errs.full() {
			return
		}
		l.readFile(full)
	}
	if found == 0 {
		l.problem(p, "directory holds no *.yaml or *.yml files")
	}
}

// readFile reads one manifest file, at most maxFileSize bytes of it.
func (l *loader) readFile(name string) {
	if abs, err := filepath.Abs(name); err == nil {
		if l.seen[abs] {
			return
		}
		l.seen[abs] = true
	}
	f, err := os.Open(name)
	if err != nil {
		l.problem(name, "cannot read: "+ioReason(err))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxFileSize {
		l.problem(name, fmt.Sprintf("file is larger than %d MiB", maxFileSize>>20))
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		l.problem(name, "cannot read: "+ioReason(err))
		return
	}
	if len(data) > maxFileSize {
		l.problem(name, fmt.Sprintf("file is larger than %d MiB", maxFileSize>>20))
		return
	}
	l.file(name, data)
}

// ioReason returns the reason of a file system error without the path, which
// the error position already names.
func ioReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}

// problem reports a problem that belongs to a whole file or directory, at 1:1.
func (l *loader) problem(name, msg string) {
	l.errs.files = append(l.errs.files, name)
	l.errs.add(len(l.errs.files)-1, Position{File: name, Line: 1, Column: 1}, "", msg)
}

// file validates the contents of one manifest file and records its
// declarations.
func (l *loader) file(name string, data []byte) {
	l.errs.files = append(l.errs.files, name)
	fw := &fileWalker{l: l, file: len(l.errs.files) - 1, name: name}
	if pos, msg := checkText(data); msg != "" {
		fw.errAt(pos, nil, msg)
		return
	}
	if pos, msg := prescan(data); msg != "" {
		fw.errAt(pos, nil, msg)
		return
	}
	root, problems := parseYAML(data)
	for _, p := range problems {
		fw.errAt(p.pos, nil, p.msg)
	}
	if root == nil {
		l.parseFailed = true
		return
	}
	if root.Kind != yaml.MappingNode {
		fw.errNode(root, nil, "a manifest must be a mapping with version, orgs and connections, got "+describeNode(root))
		l.parseFailed = true
		return
	}
	if l.firstRoot == nil {
		l.firstRoot = &rootRef{file: fw.file, pos: fw.pos(root)}
	}
	value, ok := fw.value(root, nil, 0).(map[string]any)
	if !ok || l.errs.full() {
		return // a tagged root, reported
	}
	fw.validateSchema(root, value)
	if l.errs.full() {
		return
	}
	l.collect(fw, root)
}

// checkText reports the first byte that is not valid UTF-8, or the first
// character that YAML does not allow in a stream.
func checkText(data []byte) (Position, string) {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return Position{Line: line, Column: col}, "file is not valid UTF-8"
		case r == '\n':
			line, col = line+1, 0
		case r < 0x20 && r != '\t' && r != '\r', r == 0x7f, r >= 0x80 && r < 0xa0 && r != 0x85,
			r >= 0xd800 && r < 0xe000, r == 0xfffe, r == 0xffff:
			return Position{Line: line, Column: col}, fmt.Sprintf("file contains the control character %U, which YAML does not allow", r)
		}
		i += size
		col++
	}
	return Position{}, ""
}

// prescan bounds what yaml.v3 will build before it sees the bytes: the depth of
// flow collections ("[[[[...") and the number of nodes, estimated from the
// indicators that can start one (",", "[", "{", "- ", ": ", "? " and lines with
// content) outside comments. The estimate also counts inside what looks like a
// quoted scalar, so that a quote that yaml.v3 reads as part of a plain scalar
// cannot hide what follows; the depth skips quoted text, to avoid false alarms.
// yaml.v3 has its own depth limit of 10,000, and parseYAML recovers from
// parser panics; this gives an early, positioned error well before either.
func prescan(data []byte) (Position, string) {
	sc := prescanner{line: 1, prev: '\n'}
	for i, c := range data {
		next := byte('\n')
		if i+1 < len(data) {
			next = data[i+1]
		}
		if pos, msg := sc.step(c, next); msg != "" {
			return pos, msg
		}
	}
	return Position{}, ""
}

// What prescan is reading.
const (
	inPlain = iota
	inComment
	inDoubleQuoted
	inSingleQuoted
)

// prescanner is the state of prescan between two bytes.
type prescanner struct {
	state          int  // inPlain, inComment, ...
	escaped        bool // the previous byte escaped this one
	depth, nodes   int
	line, col      int
	lineHasContent bool
	prev           byte // the byte before the current one
}

func blank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// step reads byte c, followed by next, and returns the problem it finds.
func (sc *prescanner) step(c, next byte) (Position, string) {
	if c&0xc0 != 0x80 { // not a UTF-8 continuation byte
		sc.col++
	}
	if sc.state != inComment && startsNode(c, next) {
		sc.nodes++
	}
	if msg := sc.advance(c, next); msg != "" {
		return Position{Line: sc.line, Column: sc.col}, msg
	}
	if c == '\n' {
		if sc.lineHasContent {
			sc.nodes++
		}
		sc.line, sc.col, sc.lineHasContent = sc.line+1, 0, false
	} else if sc.state != inComment && !blank(c) {
		sc.lineHasContent = true
	}
	sc.prev = c
	if sc.nodes > maxNodes {
		return Position{Line: sc.line, Column: max(sc.col, 1)}, fmt.Sprintf("file has more than %d YAML nodes; split the manifest into several files", maxNodes)
	}
	return Position{}, ""
}

// startsNode reports whether c (before next) is an indicator that can
// start a YAML node.
func startsNode(c, next byte) bool {
	return c == ',' || c == '[' || c == '{' || ((c == '-' || c == '?' || c == ':') && blank(next))
}

// advance moves the state on by c: in and out of comments and quoted
// text, and the depth of flow collections in plain text.
func (sc *prescanner) advance(c, next byte) string {
	switch sc.state {
	case inComment:
		if c == '\n' {
			sc.state = inPlain
		}
	case inDoubleQuoted:
		switch {
		case sc.escaped:
			sc.escaped = false
		case c == '\\':
			sc.escaped = true
		case c == '"':
			sc.state = inPlain
		}
	case inSingleQuoted:
		switch {
		case sc.escaped:
			sc.escaped = false
		case c == '\'' && next == '\'':
			sc.escaped = true // '' is an escaped quote
		case c == '\'':
			sc.state = inPlain
		}
	default:
		return sc.plain(c)
	}
	return ""
}

// plain reads c outside comments and quotes.
func (sc *prescanner) plain(c byte) string {
	afterSpace := blank(sc.prev)
	scalarStart := afterSpace || sc.prev == '[' || sc.prev == '{' || sc.prev == ','
	switch {
	case c == '#' && afterSpace:
		sc.state = inComment
	case c == '"' && scalarStart:
		sc.state = inDoubleQuoted
	case c == '\'' && scalarStart:
		sc.state = inSingleQuoted
	case (c == '[' || c == '{') && (scalarStart || sc.depth > 0):
		sc.depth++
		if sc.depth > maxDepth {
			return fmt.Sprintf("nesting is deeper than %d levels", maxDepth)
		}
	case (c == ']' || c == '}') && sc.depth > 0:
		sc.depth--
	}
	return ""
}

type problemAt struct {
	pos Position
	msg string
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the problems that yaml.v3's parser (parserc.go)
// reports, as opposed to its scanner.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// parseYAML parses the one YAML document of a manifest file. root is nil when
// the file is empty or not YAML; problems are positioned in the file.
func parseYAML(data []byte) (root *yaml.Node, problems []problemAt) {
	defer func() {
		if r := recover(); r != nil {
			root = nil
			problems = append(problems, problemAt{Position{Line: 1, Column: 1}, fmt.Sprintf("invalid YAML: the parser failed: %v", r)})
		}
	}()
	syntax := func(err error) problemAt {
		msg := err.Error()
		pos := Position{Line: 1, Column: 1}
		if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
			if yamlParserProblems[msg] {
				// yaml.v3 reports a 0-based line for parser (not scanner)
				// errors: that of the construct being parsed, or of the
				// problem when the construct starts on the first line.
				pos.Line++
			}
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		return problemAt{pos, "invalid YAML: " + msg}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []problemAt{{Position{Line: 1, Column: 1}, "empty manifest"}}
		}
		return nil, []problemAt{syntax(err)}
	}
	if len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, []problemAt{{Position{Line: max(doc.Line, 1), Column: max(doc.Column, 1)}, "empty manifest"}}
	}
	root = doc.Content[0]
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, syntax(err))
			break
		}
		if len(next.Content) == 1 && isNull(next.Content[0]) && next.Content[0].Value == "" {
			continue // a stray "---" at the end holds nothing
		}
		problems = append(problems, problemAt{Position{Line: max(next.Line, 1), Column: max(next.Column, 1)}, "a manifest file holds one YAML document"})
		break
	}
	return root, problems
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// fileWalker turns the YAML tree of one file into plain values for the schema
// and records where each value came from.
type fileWalker struct {
	l        *loader
	file     int
	name     string
	poisoned map[*yaml.Node]bool // nodes already reported, whose value stands in as nil
	tooDeep  bool
}

func (w *fileWalker) pos(n *yaml.Node) Position {
	return Position{File: w.name, Line: n.Line, Column: n.Column}
}

func (w *fileWalker) errAt(pos Position, p fieldPath, msg string) {
	pos.File = w.name
	ps := p.String()
	if ps != "" {
		msg = ps + ": " + msg
	}
	w.l.errs.add(w.file, pos, ps, msg)
}

func (w *fileWalker) errNode(n *yaml.Node, p fieldPath, msg string) {
	w.errAt(w.pos(n), p, msg)
}

// errPlain reports msg at n without a path prefix in the message.
func (w *fileWalker) errPlain(n *yaml.Node, p fieldPath, msg string) {
	w.l.errs.add(w.file, w.pos(n), p.String(), msg)
}

func (w *fileWalker) poison(n *yaml.Node) {
	if w.poisoned == nil {
		w.poisoned = make(map[*yaml.Node]bool)
	}
	w.poisoned[n] = true
}

// value converts n to the plain Go value the schema validator accepts:
// map[string]any, []any, string, bool, int, float64 or nil. Scalars are typed
// by their YAML tag; timestamps stay strings. Duplicate keys keep their first
// value.
func (w *fileWalker) value(n *yaml.Node, p fieldPath, depth int) any {
	if w.l.errs.full() {
		return nil
	}
	if n.Anchor != "" {
		w.errNode(n, p, fmt.Sprintf("anchors (&%s) are not allowed in a manifest", clip(n.Anchor)))
	}
	switch n.Kind {
	case yaml.AliasNode:
		w.errNode(n, p, "aliases are not allowed in a manifest; write the value out")
		w.poison(n)
		return nil
	case yaml.ScalarNode:
		return w.scalar(n, p)
	case yaml.MappingNode, yaml.SequenceNode:
		if depth >= maxDepth {
			if !w.tooDeep {
				w.tooDeep = true
				w.errNode(n, p, fmt.Sprintf("nesting is deeper than %d levels", maxDepth))
			}
			w.poison(n)
			return nil
		}
		if tag := n.ShortTag(); tag != "!!map" && tag != "!!seq" {
			w.errNode(n, p, fmt.Sprintf("the YAML tag %s is not supported", clip(tag)))
			w.poison(n)
			return nil
		}
		if n.Kind == yaml.SequenceNode {
			items := make([]any, len(n.Content))
			for i, c := range n.Content {
				items[i] = w.value(c, p.index(i), depth+1)
			}
			return items
		}
		return w.mapping(n, p, depth)
	}
	w.errNode(n, p, "unexpected YAML node")
	w.poison(n)
	return nil
}

func (w *fileWalker) mapping(n *yaml.Node, p fieldPath, depth int) map[string]any {
	m := make(map[string]any, len(n.Content)/2)
	var first map[string]*yaml.Node // key nodes by name, for big mappings
	if len(n.Content) > 32 {
		first = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	orgs := len(p) == 1 && p[0].key == "orgs"
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := w.key(k, p)
		if !ok {
			continue
		}
		var prior *yaml.Node
		if first != nil {
			prior = first[key]
			if prior == nil {
				first[key] = k
			}
		} else {
			for j := 0; j < i; j += 2 {
				if pk := n.Content[j]; pk.Kind == yaml.ScalarNode && pk.Value == key && !w.poisoned[pk] && validKeyTag(pk) {
					prior = pk
					break
				}
			}
		}
		if prior != nil {
			// Org labels declared twice are reported by collect, in the
			// same words within a file and across files.
			if !orgs {
				w.errNode(k, p.key(key), fmt.Sprintf("declared twice (first at %s)", posString(w.pos(prior))))
			}
			w.value(v, p.key(key), depth+1) // for its own problems; the first value wins
			continue
		}
		m[key] = w.value(v, p.key(key), depth+1)
	}
	return m
}

func validKeyTag(k *yaml.Node) bool {
	t := k.ShortTag()
	return t == "!!str" || t == "!!timestamp"
}

// key returns the name of a mapping key, or false after reporting why it is
// not a usable one.
func (w *fileWalker) key(k *yaml.Node, p fieldPath) (string, bool) {
	if k.Anchor != "" {
		w.errNode(k, p, fmt.Sprintf("anchors (&%s) are not allowed in a manifest", clip(k.Anchor)))
	}
	switch {
	case k.Kind == yaml.AliasNode:
		w.errNode(k, p, "aliases are not allowed in a manifest; write the value out")
	case k.Kind != yaml.ScalarNode:
		w.errNode(k, p, "mapping keys must be strings, got "+describeNode(k))
	case k.ShortTag() == "!!merge":
		w.errNode(k, p, "merge keys (<<) are not allowed in a manifest; write the fields out")
	case len(k.Value) > maxScalar:
		w.errNode(k, p, fmt.Sprintf("mapping key is longer than %d bytes", maxScalar))
	case !validKeyTag(k):
		w.errNode(k, p, fmt.Sprintf("mapping keys must be strings, got %s; quote it to make it a string", describeNode(k)))
	default:
		return k.Value, true
	}
	w.poison(k)
	return "", false
}

func (w *fileWalker) scalar(n *yaml.Node, p fieldPath) any {
	if len(n.Value) > maxScalar {
		w.errNode(n, p, fmt.Sprintf("value is longer than %d bytes", maxScalar))
		w.poison(n)
		return nil
	}
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp":
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return true
		case "false", "False", "FALSE":
			return false
		}
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
		w.errNode(n, p, "not a valid boolean")
	case "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			switch v := v.(type) {
			case int, int64, uint64:
				return v
			case float64:
				if math.IsInf(v, 0) || math.IsNaN(v) {
					return n.Value // the schema validator needs finite numbers; describe() still says "a number"
				}
				return v
			}
		}
		w.errNode(n, p, "not a valid number")
	default:
		w.errNode(n, p, fmt.Sprintf("the YAML tag %s is not supported", clip(tag)))
	}
	w.poison(n)
	return nil
}

// describeNode names the kind of a YAML node for messages, without its value
// unless that is a number or a boolean.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		return "a string"
	case "!!int", "!!float":
		if len(n.Value) >= 32 { // could be a key made of digits only
			return "a number"
		}
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + clip(n.Value)
	case "!!null":
		return "an empty value (null)"
	}
	return "a value tagged " + clip(n.ShortTag())
}

// fieldPath is a location in a manifest: keys and list indexes from the root.
type fieldPath []seg

type seg struct {
	key string
	idx int // -1 for a key
}

// key and index return a copy of p extended by one step, safe to keep.
func (p fieldPath) key(k string) fieldPath {
	return append(p[:len(p):len(p)], seg{key: k, idx: -1})
}

func (p fieldPath) index(i int) fieldPath {
	return append(p[:len(p):len(p)], seg{idx: i})
}

var plainPathKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// String renders p as in "orgs.team-a.site" or "connections[2].to[1]"; keys
// that are not plain words are quoted (orgs["team.a"]), and keys that look
// like secrets are not shown.
func (p fieldPath) String() string {
	var b strings.Builder
	for _, s := range p {
		switch {
		case s.idx >= 0:
			b.WriteString("[" + strconv.Itoa(s.idx) + "]")
		case plainPathKey.MatchString(s.key) && !looksLikeKey(s.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteString("[" + quoteValue(s.key) + "]")
		}
	}
	return b.String()
}

// quoteValue quotes a value from the manifest for a message, cut to 64 characters.
// A value that looks like an API or application key is never shown.
func quoteValue(s string) string {
	if looksLikeKey(s) {
		return "(a value that looks like a key, not shown)"
	}
	return strconv.Quote(clip(s))
}

// clip cuts s to 64 characters.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	n := 0
	for i := range s {
		if n == 61 {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

// looksLikeKey reports whether s could be a Datadog API key (32 hex digits),
// an application key (40) or a similar secret: 32 or more letters and digits,
// with both letters and digits, and nothing else.
func looksLikeKey(s string) bool {
	if len(s) < 32 {
		return false
	}
	var letter, digit bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		default:
			return false
		}
	}
	return letter && digit
}
