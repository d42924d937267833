// Package keys finds the API and application keys of each source org.
//
// A run takes its keys from one [Source]: the env vars the manifest names
// ([Env], the default), a keys file ([File]) or a keys command ([Command]).
// The rest of orgsync asks a Source for an org's keys only when it is about
// to call the API for that org, through [Once], so a keys command runs once
// per org of the run and never for an org the run leaves out.
//
// # Keys stay out of text
//
// No error or message of this package contains a key: errors name where a
// key was looked for (an env var, a file entry, the command) and what is
// wrong with it, never its value, and [Pair] prints as "[redacted]". A key
// with whitespace is refused with an error that says where the whitespace
// is, since a trailing newline in a stored secret is a common mistake.
package keys

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode"
)

// Org is what a Source may use to find an org's keys.
type Org struct {
	Label string
	ID    string // org UUID
	Site  string
	// APIKeyEnv and AppKeyEnv name the env vars that hold the keys, for
	// [Env]; the other sources ignore them.
	APIKeyEnv string
	AppKeyEnv string
}

// Pair is an org's API and application key. It formats as "[redacted]"
// with every fmt verb, so that a stray %v cannot print a key.
type Pair struct {
	API string // sent as DD-API-KEY
	App string // sent as DD-APPLICATION-KEY
}

// Format implements fmt.Formatter.
func (Pair) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("keys.Pair{[redacted]}")) }

// Source finds the keys of an org. Keys is called from many goroutines at
// once. Its errors are [*Error] and never contain a key.
type Source interface {
	Keys(ctx context.Context, org Org) (Pair, error)
}

// Func adapts a function to [Source], for the emulator's made-up keys and
// for tests.
type Func func(ctx context.Context, org Org) (Pair, error)

// Keys implements [Source].
func (f Func) Keys(ctx context.Context, org Org) (Pair, error) { return f(ctx, org) }

// Error is a failure to find the keys of one org. Its message says where
// they were looked for and what went wrong, never what a key is.
type Error struct {
	Org   string // label
	Where string // "$DD_API_KEY_TEAM_A", `keys file keys.json, entry "team-a"`, "keys command"
	Msg   string
	// Missing is set when the source has no keys for the org at all, as
	// opposed to keys it could not use.
	Missing bool
	// LeaveOut adds the advice that --org can run the other orgs without
	// this one; a command without --org (discover) clears it.
	LeaveOut bool
}

func (e *Error) Error() string {
	if e.LeaveOut {
		return e.Where + ": " + e.Msg + ", " + leaveOut
	}
	return e.Where + ": " + e.Msg
}

// leaveOut is the advice for a missing key: the run may leave the org out.
const leaveOut = "or run with --org for the other orgs only"

// checkKey says what is wrong with a key, or "" if nothing is: it must be
// set and made of printable ASCII without spaces, as Datadog's keys are.
func checkKey(key string) string {
	switch {
	case key == "":
		return "is empty"
	case strings.TrimRightFunc(key, unicode.IsSpace) != key:
		return "ends with whitespace (a trailing newline in a stored secret?); remove it"
	case strings.TrimLeftFunc(key, unicode.IsSpace) != key:
		return "starts with whitespace; remove it"
	case strings.IndexFunc(key, unicode.IsSpace) >= 0:
		return "contains whitespace; it must be the key alone"
	case strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return "contains a control or non-ASCII character"
	}
	return ""
}

// Once returns a Source that asks src at most once per org (by label and
// id) and gives every later caller the same answer, failure included. The
// keys are kept in memory for the run, so a keys command runs once per org
// however many calls the org makes.
func Once(src Source) Source {
	return &once{src: src, byOrg: make(map[string]*onceEntry)}
}

type once struct {
	src   Source
	mu    sync.Mutex
	byOrg map[string]*onceEntry
}

type onceEntry struct {
	once sync.Once
	pair Pair
	err  error
}

func (o *once) Keys(ctx context.Context, org Org) (Pair, error) {
	k := org.Label + "\x00" + strings.ToLower(org.ID)
	o.mu.Lock()
	e, ok := o.byOrg[k]
	if !ok {
		e = &onceEntry{}
		o.byOrg[k] = e
	}
	o.mu.Unlock()
	e.once.Do(func() { e.pair, e.err = o.src.Keys(ctx, org) })
	return e.pair, e.err
}
