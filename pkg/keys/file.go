package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is the content of a keys file: YAML or JSON, a map from org id or
// label to {api_key, app_key}. One file can serve every org of a fleet, and
// every shard of a run: entries for orgs outside the run are not looked at.
type File struct {
	path    string
	entries map[string]*fileEntry // by name, as written
	folded  map[string]*fileEntry // by lower-case name, for ids in any case
}

// fileEntry is one entry of a keys file. A malformed entry is kept with its
// problem, which fails only an org that uses it.
type fileEntry struct {
	name    string
	line    int
	pair    Pair
	problem string
}

// maxFileSize bounds a keys file: 16 MiB hold the keys of 100,000 orgs.
const maxFileSize = 16 << 20

// ReadFile reads a keys file. It fails when the file cannot be read or is
// not a map; a malformed entry fails only the org that uses it, when it is
// used. warn gets a warning when group or others can read the file.
func ReadFile(path string, warn func(string)) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("keys file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o044 != 0 && runtime.GOOS != "windows" && warn != nil {
		warn(fmt.Sprintf("keys file %s can be read by group or others (mode %04o); run chmod 600 %s", path, perm, path))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("keys file %s: larger than %d MiB", path, maxFileSize>>20)
	}
	return parseFile(path, b)
}

// yamlLine finds the line number in a yaml.v3 error. Only the number is
// kept: the rest of a parse error may quote the file, which holds keys.
var yamlLine = regexp.MustCompile(`line (\d+)`)

func parseFile(path string, b []byte) (*File, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("keys file %s is empty", path)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		where := ""
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			where = " (at line " + m[1] + ")"
		}
		return nil, fmt.Errorf("keys file %s is not valid YAML or JSON%s", path, where)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("keys file %s holds more than one YAML document", path)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("keys file %s: want a map from org id or label to {api_key, app_key} (line %d)", path, root.Line)
	}
	n := len(root.Content) / 2
	kf := &File{path: path, entries: make(map[string]*fileEntry, n), folded: make(map[string]*fileEntry, n)}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("keys file %s: line %d: an entry's name must be an org id or label", path, k.Line)
		}
		twice := func(prev *fileEntry) string {
			return fmt.Sprintf("appears twice (lines %d and %d); keep one", prev.line, k.Line)
		}
		if prev, ok := kf.entries[k.Value]; ok {
			prev.problem = twice(prev)
			continue
		}
		e := &fileEntry{name: k.Value, line: k.Line}
		e.pair, e.problem = parseEntry(v)
		kf.entries[k.Value] = e
		folded := strings.ToLower(k.Value)
		if prev, ok := kf.folded[folded]; ok {
			// The same id in another case: neither entry is used for it.
			e = &fileEntry{name: k.Value, line: k.Line, problem: twice(prev)}
		}
		kf.folded[folded] = e
	}
	return kf, nil
}

// parseEntry reads {api_key, app_key}, or says what is wrong with it
// without quoting it.
func parseEntry(v *yaml.Node) (Pair, string) {
	if v.Kind != yaml.MappingNode {
		return Pair{}, "want {api_key: ..., app_key: ...}"
	}
	var p Pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		var dst *string
		switch k.Value {
		case "api_key":
			dst = &p.API
		case "app_key":
			dst = &p.App
		default:
			// The field's name is not shown: it may be a key pasted in
			// the wrong place.
			return Pair{}, fmt.Sprintf("has a field other than api_key and app_key at line %d", k.Line)
		}
		if seen[k.Value] {
			return Pair{}, fmt.Sprintf("has %s twice (line %d)", k.Value, k.Line)
		}
		seen[k.Value] = true
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			return Pair{}, fmt.Sprintf("%s must be a string (line %d)", k.Value, val.Line)
		}
		*dst = val.Value
	}
	for _, f := range []struct {
		name, key string
	}{{"api_key", p.API}, {"app_key", p.App}} {
		if !seen[f.name] {
			return Pair{}, "has no " + f.name
		}
		if msg := checkKey(f.key); msg != "" {
			return Pair{}, f.name + " " + msg
		}
	}
	return p, ""
}

// Keys implements [Source]: the entry named by the org's id, or else by its
// label.
func (kf *File) Keys(_ context.Context, org Org) (Pair, error) {
	byID, byLabel := kf.folded[strings.ToLower(org.ID)], kf.entries[org.Label]
	e := byID
	switch {
	case byID != nil && byLabel != nil && byID != byLabel:
		return Pair{}, &Error{Org: org.Label, Where: "keys file " + kf.path,
			Msg: fmt.Sprintf("org %s has an entry by id (line %d) and one by label (line %d); keep one", org.Label, byID.line, byLabel.line)}
	case e == nil:
		e = byLabel
	}
	if e == nil {
		return Pair{}, &Error{Org: org.Label, Where: "keys file " + kf.path, Missing: true,
			Msg: fmt.Sprintf("no entry for org %s (by its id %s or its label); add one", org.Label, org.ID), LeaveOut: true}
	}
	if e.problem != "" {
		return Pair{}, &Error{Org: org.Label, Where: fmt.Sprintf("keys file %s, entry %q (line %d)", kf.path, e.name, e.line), Msg: e.problem}
	}
	return e.pair, nil
}
