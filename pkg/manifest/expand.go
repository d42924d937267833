package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// expand resolves the labels of each connection and expands its from and to
// lists, reporting unknown labels, connections of an org to itself or to an
// org of another site, pairs declared twice and connections without types,
// and warning about orgs with more than maxSinks sinks.
func (l *loader) expand(w func(int) *fileWalker) []Connection {
	x := &expansion{l: l, pairs: map[[2]string]Position{}, fan: map[string]*fanOut{}}
	x.labels = make([]string, 0, len(l.orgList))
	for _, o := range l.orgList {
		x.labels = append(x.labels, o.org.Label)
	}
	for _, c := range l.conns {
		if l.errs.full() || !x.connection(w(c.file), c) {
			return nil
		}
	}
	x.warnFanOut()
	return x.out
}

// expansion is the state of expand from one connection to the next.
type expansion struct {
	l      *loader
	labels []string               // every org label, for suggestions
	pairs  map[[2]string]Position // (source label, sink id) -> first place
	fan    map[string]*fanOut     // by source label
	out    []Connection
}

// source is a resolved source org of a connection, and where it is named.
type source struct {
	org *orgDecl
	ref valueRef
}

// sink is a resolved sink of a connection: a declared org (label set), or a
// raw org UUID.
type sink struct {
	label, id, site string
	ref             valueRef
}

// connection expands one connection. It returns false when the manifest
// holds too many connections to go on.
func (x *expansion) connection(fw *fileWalker, c *connDecl) bool {
	sources, sinks := x.sources(fw, c), x.sinks(fw, c)
	if len(sources) == 0 || len(sinks) == 0 {
		return true
	}
	types, typesOK := x.types(fw, c)
	if len(x.out)+len(sources)*len(sinks) > maxConnections {
		fw.errAt(c.pos, c.at, fmt.Sprintf("the manifest declares more than %d connections", maxConnections))
		return false
	}
	for _, src := range sources {
		for _, snk := range sinks {
			x.pair(fw, c, src, snk, types, typesOK)
		}
	}
	return true
}

// sources resolves the from labels of c, reporting those it cannot.
func (x *expansion) sources(fw *fileWalker, c *connDecl) []source {
	var out []source
	for _, r := range c.from {
		if o := x.l.orgs[r.value]; o != nil {
			out = append(out, source{o, r})
			continue
		}
		msg := "unknown org label " + quoteValue(r.value)
		if uuidRE.MatchString(r.value) {
			msg += "; a source must be an org label, since its keys make the calls"
		} else if near := suggestLabel(r.value, x.labels); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		fw.errAt(r.pos, r.at, msg)
	}
	return out
}

// sinks resolves the to values of c, labels or UUIDs, reporting those it
// cannot. A declared org named by its id is that org, so that every plan
// names it by its label.
func (x *expansion) sinks(fw *fileWalker, c *connDecl) []sink {
	var out []sink
	for _, r := range c.to {
		o := x.l.orgs[r.value]
		isUUID := o == nil && uuidRE.MatchString(r.value)
		if isUUID {
			o = x.l.orgIDs[strings.ToLower(r.value)]
		}
		switch {
		case o != nil && isUUID:
			out = append(out, sink{label: o.org.Label, id: strings.ToLower(r.value), site: o.org.Site, ref: r})
		case o != nil:
			out = append(out, sink{label: o.org.Label, id: o.org.ID, site: o.org.Site, ref: r})
		case isUUID:
			out = append(out, sink{id: strings.ToLower(r.value), ref: r})
		default:
			msg := quoteValue(r.value) + " is neither an org label of this manifest nor an org UUID"
			if near := suggestLabel(r.value, x.labels); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			fw.errAt(r.pos, r.at, msg)
		}
	}
	return out
}

// types returns the types of c, its own or the defaults', and false (after
// reporting it) when it has none. Its pairs are still recorded, so that a
// repeat of them is reported too.
func (x *expansion) types(fw *fileWalker, c *connDecl) ([]string, bool) {
	if c.typesSet {
		return c.types, true
	}
	if d := x.l.defaults; d != nil && d.typesSet {
		return d.types, true
	}
	fw.errAt(c.pos, c.at, "no types given, and defaults.connection_types is not set")
	return c.types, false
}

// pair checks and records one (source, sink) pair of c.
func (x *expansion) pair(fw *fileWalker, c *connDecl, src source, snk sink, types []string, typesOK bool) {
	pos, p := pairPlace(c, src, snk)
	name := src.org.org.Label + " -> " + cmp.Or(snk.label, snk.id)
	if snk.label == src.org.org.Label || (snk.id != "" && snk.id == src.org.org.ID) {
		msg := "connection " + name + " connects an org to itself"
		if snk.ref.value != snk.label {
			msg += fmt.Sprintf(" (%s is the id of %s)", snk.id, src.org.org.Label)
		}
		fw.errAt(pos, p, msg)
		return
	}
	x.checkSameSite(fw, c, src, snk, name)
	key := [2]string{src.org.org.Label, snk.id}
	if snk.id == "" { // the sink's id is invalid, and reported
		key[1] = "label:" + snk.label
	}
	if firstPos, dup := x.pairs[key]; dup {
		fw.errAt(pos, p, fmt.Sprintf("connection %s is declared twice (first at %s)", name, posString(firstPos)))
		return
	}
	x.pairs[key] = pos
	x.fan[key[0]] = x.fan[key[0]].add(key[1], fw.file, pos, p)
	if typesOK {
		x.out = append(x.out, Connection{SourceLabel: key[0], SinkLabel: snk.label, SinkID: snk.id, Types: slices.Clone(types), Pos: pos})
	}
}

// pairPlace returns where the pair of src and snk is written: its item of
// a to list, else its item of a from list, else the connection.
func pairPlace(c *connDecl, src source, snk sink) (Position, fieldPath) {
	switch {
	case c.toList:
		return snk.ref.pos, snk.ref.at
	case c.fromList:
		return src.ref.pos, src.ref.at
	}
	return c.pos, c.at
}

// checkSameSite reports a pair of declared orgs of different sites, at its
// to (or list item), or at its from item when only from is a list. The pair
// is still recorded, so that a repeat of it is reported too.
func (x *expansion) checkSameSite(fw *fileWalker, c *connDecl, src source, snk sink, name string) {
	s := src.org.org
	if s.Site == "" || snk.site == "" || s.Site == snk.site {
		return
	}
	pos, at := snk.ref.pos, snk.ref.at
	if c.fromList && !c.toList {
		pos, at = src.ref.pos, src.ref.at
	}
	fw.errAt(pos, at, fmt.Sprintf("connection %s joins orgs of different sites: %s is on %s, %s on %s; Datadog connects orgs of the same account and site only",
		name, s.Label, s.Site, snk.label, snk.site))
}

// warnFanOut warns about each source org with more than maxSinks sinks, at
// the place of the first one past the limit.
func (x *expansion) warnFanOut() {
	for _, o := range x.l.orgList {
		f := x.fan[o.org.Label]
		if f == nil || len(f.sinks) <= maxSinks {
			continue
		}
		msg := fmt.Sprintf("org %s shares with %d other orgs (the %dth here): Datadog allows more than %d on Enterprise plans only",
			o.org.Label, len(f.sinks), maxSinks+1, maxSinks)
		if at := f.at.String(); at != "" {
			msg = at + ": " + msg
		}
		x.l.errs.warn(f.file, f.pos, f.at.String(), msg)
	}
}

// maxSinks is how many other orgs an org may share with below Datadog's
// Enterprise plans.
const maxSinks = 5

// fanOut is the distinct sinks of one source org, and where the first one
// past maxSinks was declared.
type fanOut struct {
	sinks map[string]bool
	file  int
	pos   Position
	at    fieldPath
}

// add records a sink of the source; f may be nil.
func (f *fanOut) add(sink string, file int, pos Position, at fieldPath) *fanOut {
	if f == nil {
		f = &fanOut{sinks: map[string]bool{}}
	}
	if !f.sinks[sink] {
		f.sinks[sink] = true
		if len(f.sinks) == maxSinks+1 {
			f.file, f.pos, f.at = file, pos, at
		}
	}
	return f
}
