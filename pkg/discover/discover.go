package discover

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
)

// Parent is what discovery needs of the parent org's API client
// ([*api.Client] implements it).
type Parent interface {
	CurrentOrg(ctx context.Context) (string, error)
	ListManagedOrgs(ctx context.Context, nameFilter string) (*api.ManagedOrgsResponse, error)
	ListConnections(ctx context.Context, opt api.ListOptions) ([]api.Connection, error)
}

// Org is one org of the account.
type Org struct {
	Label     string
	ID        string // org UUID, lower-case
	Name      string // "" when the API gave none
	CreatedAt string
	Disabled  bool
}

// Connection is one live connection between two orgs of the account.
type Connection struct {
	SourceID, SinkID string // lower-case
	Types            []string
}

// Account is what discovery found: the parent org, the orgs it manages and
// the connections among them that could be read.
type Account struct {
	Site        string
	Parent      Org
	Managed     []Org // in label order
	Connections []Connection
	// Unread says why the connections of an org (by id) were not read.
	Unread map[string]string
	// Outside counts, per org id, the connections with an org that is not
	// in the manifest (another account's, or one --filter-name left out):
	// they are not written.
	Outside map[string]int
	// Problems are orgs of the answer that could not be written at all.
	Problems []string
	// ManagedRead tells that the managed orgs' own connections were read
	// (--connections), not only what the parent's list shows.
	ManagedRead bool

	byID  map[string]*Org
	pairs map[[2]string]int // (source, sink) -> index in Connections
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ReadAccount reads, with the parent org's keys, whose keys they are
// (GET /api/v2/current_user), the orgs the parent manages (GET /api/v2/org,
// filtered by nameFilter when it is not empty) and the parent's own
// connections, as source or sink. It labels every org (see [BaseLabel]).
// It fails when the keys or the list of orgs cannot be read; the parent's
// connections failing to read is recorded in [Account.Unread].
func ReadAccount(ctx context.Context, p Parent, site, nameFilter string) (*Account, error) {
	keysOrg, err := p.CurrentOrg(ctx)
	if err != nil {
		return nil, fmt.Errorf("check the parent org's keys: %w", err)
	}
	resp, err := p.ListManagedOrgs(ctx, nameFilter)
	if err != nil {
		return nil, fmt.Errorf("list managed orgs: %w", err)
	}
	if !strings.EqualFold(resp.CurrentOrgID(), keysOrg) {
		return nil, fmt.Errorf("list managed orgs: the answer is for org %s, but the keys are of org %s", resp.CurrentOrgID(), keysOrg)
	}
	current, managed := resp.Orgs()
	a := &Account{Site: site, Unread: map[string]string{}, Outside: map[string]int{}, pairs: map[[2]string]int{}}
	a.Parent = newOrg(current)
	if !uuidRE.MatchString(a.Parent.ID) {
		return nil, fmt.Errorf("list managed orgs: the current org's id %q is not an org UUID", current.ID)
	}
	for _, m := range managed {
		o := newOrg(m)
		if !uuidRE.MatchString(o.ID) {
			a.Problems = append(a.Problems, fmt.Sprintf("managed org %q has the id %q, which is not an org UUID: it is left out", m.Attributes.Name, m.ID))
			continue
		}
		a.Managed = append(a.Managed, o)
	}
	assignLabels(&a.Parent, a.Managed)
	slices.SortFunc(a.Managed, func(x, y Org) int { return strings.Compare(x.Label, y.Label) })
	a.byID = map[string]*Org{a.Parent.ID: &a.Parent}
	for i := range a.Managed {
		a.byID[a.Managed[i].ID] = &a.Managed[i]
	}

	conns, err := p.ListConnections(ctx, api.ListOptions{})
	if err != nil {
		a.Unread[a.Parent.ID] = err.Error()
		return a, nil
	}
	for _, c := range conns {
		src, sink := strings.ToLower(c.SourceOrgID()), strings.ToLower(c.SinkOrgID())
		if src != a.Parent.ID && sink != a.Parent.ID {
			continue
		}
		a.add(a.Parent.ID, src, sink, c.Attributes.ConnectionTypes)
	}
	return a, nil
}

func newOrg(d api.OrgData) Org {
	return Org{ID: strings.ToLower(d.ID), Name: d.Attributes.Name, CreatedAt: d.Attributes.CreatedAt, Disabled: d.Attributes.Disabled}
}

// add records a connection read from org's list, or counts it against org
// when its other end is not in the manifest.
func (a *Account) add(org, src, sink string, types []string) {
	if a.byID[src] == nil || a.byID[sink] == nil || src == sink {
		a.Outside[org]++
		return
	}
	c := Connection{SourceID: src, SinkID: sink, Types: normalizeTypes(types)}
	k := [2]string{src, sink}
	if i, ok := a.pairs[k]; ok {
		a.Connections[i] = c // the source's own list is read last and wins
		return
	}
	a.pairs[k] = len(a.Connections)
	a.Connections = append(a.Connections, c)
}

// MarkUnread records that org's connections were not read, and why.
func (a *Account) MarkUnread(id, reason string) { a.Unread[strings.ToLower(id)] = reason }

// Org returns the org with the given id.
func (a *Account) Org(id string) (Org, bool) {
	o, ok := a.byID[strings.ToLower(id)]
	if !ok {
		return Org{}, false
	}
	return *o, true
}

// ByLabel returns the org with the given label.
func (a *Account) ByLabel(label string) (Org, bool) {
	if a.Parent.Label == label {
		return a.Parent, true
	}
	for _, o := range a.Managed {
		if o.Label == label {
			return o, true
		}
	}
	return Org{}, false
}

// ManifestOrg is o as a manifest org on the account's site, for reading
// its connections with [plan.ReadState].
func (a *Account) ManifestOrg(o Org) manifest.Org {
	return manifest.Org{Label: o.Label, ID: o.ID, Site: a.Site, APIKeyEnv: manifest.DefaultAPIKeyEnv, AppKeyEnv: manifest.DefaultAppKeyEnv}
}

// ReadOrgs reads the outgoing connections of orgs (managed orgs of a) with
// r, which checks each org's keys first, at most parallelism orgs at a
// time. done, when not nil, is called as each org's list comes back, from
// any goroutine. An org that fails is recorded in [Account.Unread].
func (a *Account) ReadOrgs(ctx context.Context, r plan.Reader, orgs []Org, parallelism int, done func(n int)) {
	a.ManagedRead = true
	morgs := make([]manifest.Org, len(orgs))
	for i, o := range orgs {
		morgs[i] = a.ManifestOrg(o)
	}
	if done != nil {
		r = &countingReader{Reader: r, done: done}
	}
	st, err := plan.ReadState(ctx, r, morgs, parallelism)
	for _, e := range unwrapAll(err) {
		var oe *plan.OrgError
		if errors.As(e, &oe) {
			a.MarkUnread(oe.Org.ID, oe.Err.Error())
		}
	}
	for _, o := range morgs {
		conns, ok := st.Orgs[o.Label]
		if !ok {
			continue
		}
		for _, c := range conns {
			a.add(o.ID, strings.ToLower(c.SourceID), strings.ToLower(c.SinkID), c.Types)
		}
	}
}

func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// countingReader calls done with the number of lists that came back.
type countingReader struct {
	plan.Reader
	n    atomic.Int64
	done func(n int)
}

func (c *countingReader) ListConnections(ctx context.Context, org manifest.Org) ([]plan.LiveConnection, error) {
	conns, err := c.Reader.ListConnections(ctx, org)
	c.done(int(c.n.Add(1)))
	return conns, err
}

// normalizeTypes sorts a set of connection types and drops repeats.
func normalizeTypes(types []string) []string {
	out := slices.Clone(types)
	slices.Sort(out)
	return slices.Compact(out)
}
