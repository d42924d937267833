package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ValidationError is one problem found by [Load] in a manifest, positioned in
// the file that holds it. Line and Column are 1-based and always at least 1:
// a problem that belongs to no particular place (an unreadable file, a
// directory without manifests) is reported at 1:1.
type ValidationError struct {
	File   string // the path as given to Load, or filepath.Join(dir, name)
	Line   int
	Column int
	Path   string // where in the manifest, such as "orgs.team-a.site"; "" for the whole file
	Msg    string // the message printed after "FILE:LINE:COL: "; it names Path when Path helps
}

// Error returns "FILE:LINE:COL: message".
func (e *ValidationError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// ValidationErrors is the error returned by [Load] for an invalid manifest: every
// problem found, in file order and then in line and column order.
type ValidationErrors struct {
	Errors []*ValidationError
}

// Error returns one "FILE:LINE:COL: message" line per problem.
func (e *ValidationErrors) Error() string {
	var b strings.Builder
	for i, ve := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(ve.Error())
	}
	return b.String()
}

// Unwrap returns the problems as a list of *ValidationError.
func (e *ValidationErrors) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, ve := range e.Errors {
		errs[i] = ve
	}
	return errs
}

// maxErrors caps the number of problems reported; a final "too many errors"
// line says that the list was cut.
const maxErrors = 1000

// collector gathers the problems of one Load. It keeps at most maxErrors+1 of
// them, so that hostile input cannot grow the list without bound; full tells
// the loader to stop early.
type collector struct {
	files    []string // display name of each file, in load order
	list     []collected
	warnings []collected
}

type collected struct {
	file, seq int // index into files; insertion order
	err       *ValidationError
}

func (c *collector) full() bool { return len(c.list) > maxErrors }

// add records a problem of file number file at pos.
func (c *collector) add(file int, pos Position, fieldPath, msg string) {
	if c.full() {
		return
	}
	if pos.Line < 1 {
		pos.Line = 1
	}
	if pos.Column < 1 {
		pos.Column = 1
	}
	c.list = append(c.list, collected{file: file, seq: len(c.list), err: &ValidationError{
		File: c.files[file], Line: pos.Line, Column: pos.Column, Path: fieldPath, Msg: msg,
	}})
}

// warn records a warning of file number file at pos: something worth
// saying that does not make the manifest invalid.
func (c *collector) warn(file int, pos Position, fieldPath, msg string) {
	c.warnings = append(c.warnings, collected{file: file, seq: len(c.warnings), err: &ValidationError{
		File: c.files[file], Line: max(pos.Line, 1), Column: max(pos.Column, 1), Path: fieldPath, Msg: msg,
	}})
}

// sorted returns the errors of list in file, line and column order.
func sorted(list []collected) []*ValidationError {
	slices.SortFunc(list, func(a, b collected) int {
		return cmp.Or(
			cmp.Compare(a.file, b.file),
			cmp.Compare(a.err.Line, b.err.Line),
			cmp.Compare(a.err.Column, b.err.Column),
			cmp.Compare(a.seq, b.seq),
		)
	})
	errs := make([]*ValidationError, 0, len(list))
	for _, e := range list {
		errs = append(errs, e.err)
	}
	return errs
}

// result sorts the problems and returns them as *ValidationErrors, or nil.
func (c *collector) result() error {
	if len(c.list) == 0 {
		return nil
	}
	errs := sorted(c.list)
	if len(errs) > maxErrors {
		cut := *errs[maxErrors]
		cut.Path = ""
		cut.Msg = fmt.Sprintf("too many errors; stopped after %d", maxErrors)
		errs = append(errs[:maxErrors], &cut)
	}
	return &ValidationErrors{Errors: errs}
}

// posString renders a position as "FILE:LINE:COL" for messages that name a
// second place.
func posString(p Position) string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}
