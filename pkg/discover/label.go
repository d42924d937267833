package discover

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxLabelLen keeps generated labels short enough to read and to turn into
// env var names.
const maxLabelLen = 63

// BaseLabel turns an org name into a manifest label: lower-case, every run
// of characters outside [a-z0-9_.] becomes one "-", and "-", "_" and "."
// are trimmed from both ends. Latin letters with accents fold to their base
// letters ("Zürich" gives "zurich", "Straße" "strasse"); other non-ASCII
// characters count as outside the set. The result is "" when nothing is
// left; otherwise it matches the label pattern [A-Za-z0-9][A-Za-z0-9_.-]*.
func BaseLabel(name string) string {
	var b strings.Builder
	dash := false
	emit := func(s string) {
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteString(s)
	}
	for _, r := range name {
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			emit(string(r))
		case r == '_' || r == '.':
			if b.Len() > 0 { // a label starts with a letter or digit
				emit(string(r))
			}
		default:
			if s, ok := latinFold[r]; ok {
				emit(s)
			} else {
				dash = true
			}
		}
	}
	l := b.String()
	if len(l) > maxLabelLen {
		l = l[:maxLabelLen]
	}
	return strings.TrimRight(l, "-_.")
}

// fallbackLabel is the label of an org whose name gives none: "org-" and the
// first eight hex digits of its id.
func fallbackLabel(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') {
			b.WriteRune(r)
			if b.Len() == 8 {
				break
			}
		}
	}
	return "org-" + b.String()
}

// assignLabels gives every org a label that is unique in the manifest and
// the same every time for the same account. The parent comes first, then
// the managed orgs from the oldest (created_at) to the newest, ties broken
// by id, so an org added later never takes the label of an older one. The
// first org of each base label keeps it; the others get "-2", "-3"... in
// that order, skipping every label already given.
func assignLabels(parent *Org, managed []Org) {
	orgs := make([]*Org, 0, len(managed)+1)
	orgs = append(orgs, parent)
	rest := make([]*Org, len(managed))
	for i := range managed {
		rest[i] = &managed[i]
	}
	slices.SortStableFunc(rest, func(a, b *Org) int {
		ta, oka := parseTime(a.CreatedAt)
		tb, okb := parseTime(b.CreatedAt)
		switch {
		case oka && okb && !ta.Equal(tb):
			return ta.Compare(tb)
		case oka != okb: // orgs with a creation time first
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID))
	})
	orgs = append(orgs, rest...)

	base := make([]string, len(orgs))
	taken := make(map[string]bool, len(orgs))
	dup := make([]bool, len(orgs))
	for i, o := range orgs {
		base[i] = BaseLabel(o.Name)
		if base[i] == "" {
			base[i] = fallbackLabel(o.ID)
		}
		if taken[base[i]] {
			dup[i] = true
			continue
		}
		taken[base[i]] = true
		o.Label = base[i]
	}
	for i, o := range orgs {
		if !dup[i] {
			continue
		}
		for n := 2; ; n++ {
			l := base[i] + "-" + strconv.Itoa(n)
			if !taken[l] {
				taken[l] = true
				o.Label = l
				break
			}
		}
	}
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// latinFold maps the lower-case Latin letters with diacritics (Latin-1
// Supplement and Latin Extended-A) to ASCII.
var latinFold = func() map[rune]string {
	m := make(map[rune]string)
	for ascii, letters := range map[string]string{
		"a": "àáâãäåāăą", "ae": "æ", "c": "çćĉċč", "d": "ďđð", "e": "èéêëēĕėęě",
		"g": "ĝğġģ", "h": "ĥħ", "i": "ìíîïĩīĭįı", "ij": "ĳ", "j": "ĵ", "k": "ķĸ",
		"l": "ĺļľŀł", "n": "ñńņňŉŋ", "o": "òóôõöøōŏő", "oe": "œ", "r": "ŕŗř",
		"s": "śŝşšſ", "ss": "ß", "t": "ţťŧ", "th": "þ", "u": "ùúûüũūŭůűų",
		"w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	} {
		for _, r := range letters {
			m[r] = ascii
		}
	}
	return m
}()
