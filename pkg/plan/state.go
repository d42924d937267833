package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
)

// LiveConnection is one outgoing connection of a source org as the API
// reports it.
type LiveConnection struct {
	ID       string
	SourceID string
	SinkID   string
	Types    []string
	// CreatedBy is the user who made the connection, nil when unknown.
	CreatedBy *User
}

// State is the live outgoing connections of the source orgs in scope, keyed
// by org label. An org missing from Orgs was not read, and Diff leaves it out.
type State struct {
	Orgs map[string][]LiveConnection
	// Owners are the users the keys of the orgs read belong to.
	Owners map[string]User
}

// Reader reads live state for one org. It is implemented on top of the API
// client by the caller, and by hand-written fakes in tests.
type Reader interface {
	// CurrentUser says whom org's keys belong to: the user and its org.
	CurrentUser(ctx context.Context, org manifest.Org) (KeyOwner, error)
	// ListConnections returns every connection the org takes part in;
	// ReadState keeps only those whose source is the org.
	ListConnections(ctx context.Context, org manifest.Org) ([]LiveConnection, error)
}

// OrgError is a failure to read or verify one source org.
type OrgError struct {
	Org manifest.Org
	Err error
}

func (e *OrgError) Error() string { return fmt.Sprintf("org %s: %v", e.Org.Label, e.Err) }
func (e *OrgError) Unwrap() error { return e.Err }

// ErrWrongOrg is wrapped by the error for an org whose keys belong to
// another org than the manifest declares.
var ErrWrongOrg = errors.New("keys belong to another org")

// ReadState verifies each org's keys against its declared id and reads its
// outgoing connections, at most parallelism orgs at a time. An org that
// fails is left out of the state and reported in the returned errors (one
// *OrgError each, joined), so the caller decides whether that is fatal.
func ReadState(ctx context.Context, r Reader, orgs []manifest.Org, parallelism int) (State, error) {
	if parallelism < 1 {
		parallelism = 1
	}
	conns := make([][]LiveConnection, len(orgs))
	owners := make([]User, len(orgs))
	errs := make([]error, len(orgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i, org := range orgs {
		if gctx.Err() != nil {
			errs[i] = &OrgError{org, gctx.Err()}
			continue
		}
		g.Go(func() error {
			conns[i], owners[i], errs[i] = readOrg(gctx, r, org)
			if errs[i] != nil {
				errs[i] = &OrgError{org, errs[i]}
			}
			return nil
		})
	}
	_ = g.Wait()
	st := State{Orgs: make(map[string][]LiveConnection, len(orgs)), Owners: make(map[string]User, len(orgs))}
	for i, org := range orgs {
		if errs[i] == nil {
			st.Orgs[org.Label] = conns[i]
			st.Owners[org.Label] = owners[i]
		}
	}
	return st, errors.Join(errs...)
}

func readOrg(ctx context.Context, r Reader, org manifest.Org) ([]LiveConnection, User, error) {
	// The key check and the list go out together, to save a round trip per
	// org; the list is used only once the keys are known to be the org's
	// (reading with another org's keys writes nothing).
	type listed struct {
		conns []LiveConnection
		err   error
	}
	lctx, cancel := context.WithCancel(ctx)
	lc := make(chan listed, 1)
	go func() {
		conns, err := r.ListConnections(lctx, org)
		lc <- listed{conns, err}
	}()
	// abandon stops the list and waits for it, so that no call outlives
	// ReadState.
	abandon := func() { cancel(); <-lc }
	owner, err := r.CurrentUser(ctx, org)
	if err != nil {
		abandon()
		return nil, User{}, fmt.Errorf("check keys: %w", err)
	}
	if !strings.EqualFold(owner.OrgID, org.ID) {
		abandon()
		return nil, User{}, fmt.Errorf("%w: the org's keys are for org %s, not the declared id %s", ErrWrongOrg, owner.OrgID, org.ID)
	}
	l := <-lc
	cancel()
	if l.err != nil {
		return nil, User{}, fmt.Errorf("list connections: %w", l.err)
	}
	var out []LiveConnection
	for _, c := range l.conns {
		if strings.EqualFold(c.SourceID, org.ID) {
			out = append(out, c)
		}
	}
	return out, owner.User, nil
}

// Fingerprint is a digest of one org's live outgoing connections, stable
// under reordering, so a saved plan can tell that live state moved.
func Fingerprint(conns []LiveConnection) string {
	lines := make([]string, len(conns))
	for i, c := range conns {
		types := slices.Clone(c.Types)
		sort.Strings(types)
		lines[i] = strings.ToLower(c.ID) + " " + strings.ToLower(c.SinkID) + " " + strings.Join(types, ",")
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
