// Package orgapi gives every source org of a manifest its own API client
// and adapts them to what planning and applying need: it implements
// [plan.Reader] and [apply.Writer] on top of [api.Client].
//
// It is also where the three ways of reaching an API meet: the real Datadog
// site of each org, the operator's endpoints ([Endpoints]: --api-url,
// ORGSYNC_API_URL), or the embedded emulator (--sandbox). Keys come from a
// [keys.Source] and go nowhere but into request headers.
package orgapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
)

// DefaultParallelism is the CLI's --parallelism: requests in flight at most
// across all orgs. Rate limits are per org, so a rollout over many orgs
// needs many requests in flight, while the pacer keeps each org under its
// own limit however many are allowed.
const DefaultParallelism = 128

// Config says how to reach the API and how hard to push it.
type Config struct {
	// Endpoints says where each org's calls go; the zero value sends them
	// to each org's Datadog site.
	Endpoints Endpoints
	// Transport, when set, carries every request (the in-process sandbox).
	Transport http.RoundTripper
	// Keys finds an org's keys when its first call needs them, so that an
	// org a run never calls is never asked for (a keys command never runs
	// for it), and an org whose keys cannot be found fails alone.
	Keys keys.Source

	UserAgent   string
	Timeout     time.Duration
	MaxRetries  int
	Rate        float64 // requests per second per source org; 0 = none until the server says
	Burst       int
	RateIsCap   bool // the user set --rate: the server's headers never raise it
	Parallelism int  // requests in flight across all orgs
	OnResponse  func(api.ResponseInfo)
	// OnEndpoint, when set, is told where each org's calls will go.
	OnEndpoint func(plan.SourceOrg, Endpoint)
	// Stop, when closed, makes the clients start no new attempt while
	// letting requests on the wire finish.
	Stop <-chan struct{}
	// Counters collects throttling and retries of the reads made through
	// [plan.Reader]. The calls made through [apply.Writer] are not added
	// here: apply.Run adds them from the [apply.Call] they return, so that
	// giving apply.Run the same Counters counts every call once.
	Counters *apply.Counters
}

// Clients holds one API client per source org, made on the org's first
// call.
type Clients struct {
	byLabel  map[string]*orgClient
	endpoint map[string]Endpoint // by label, for errors
	stop     <-chan struct{}
	counters *apply.Counters
}

// orgClient is the client of one org, made once its keys are found.
type orgClient struct {
	once sync.Once
	make func(ctx context.Context) (*api.Client, error)
	cl   *api.Client
	err  error
}

var (
	_ plan.Reader  = (*Clients)(nil)
	_ apply.Writer = (*Clients)(nil)
)

// OrgFailure is a source org that New could give no client: its site or
// endpoint cannot be used.
type OrgFailure struct {
	Label string
	Err   error
}

// SetupError lists the orgs New left out. The other orgs have clients, so
// a caller can report these orgs and go on with the rest.
type SetupError struct{ Orgs []OrgFailure }

func (e *SetupError) Error() string {
	lines := make([]string, len(e.Orgs))
	for i, f := range e.Orgs {
		lines[i] = fmt.Sprintf("org %s: %v", f.Label, f.Err)
	}
	return strings.Join(lines, "\n")
}

// New prepares a client for every org, before any network call. An org
// whose site cannot be reached gets none: New then returns the clients of
// the others together with a *SetupError. An org's keys are found on its
// first call, and a failure to find them fails that org's calls only.
func New(cfg Config, orgs []plan.SourceOrg) (*Clients, error) {
	if cfg.Parallelism < 1 {
		cfg.Parallelism = 1
	}
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Keep a warm connection per worker: the default of 2 idle
		// connections per host would reconnect for most requests.
		t.MaxIdleConnsPerHost = cfg.Parallelism
		transport = t
	}
	httpClient := &http.Client{Transport: transport}
	slots := api.NewSlots(cfg.Parallelism)
	c := &Clients{byLabel: make(map[string]*orgClient, len(orgs)), endpoint: make(map[string]Endpoint, len(orgs)),
		stop: cfg.Stop, counters: cfg.Counters}
	var failed []OrgFailure
	for _, o := range orgs {
		ep, err := cfg.Endpoints.For(o.Site)
		if err == nil {
			// The client is made on the org's first call; its URL is
			// checked now, before any request.
			err = api.CheckBaseURL(ep.URL)
		}
		if err != nil {
			failed = append(failed, OrgFailure{o.Label, err})
			continue
		}
		r := rate.Limit(cfg.Rate)
		if cfg.Rate <= 0 {
			r = 0
		}
		c.byLabel[o.Label] = &orgClient{make: func(ctx context.Context) (*api.Client, error) {
			pair, err := cfg.Keys.Keys(ctx, KeysOrg(o))
			if err != nil {
				return nil, err
			}
			return api.NewClient(api.Config{
				BaseURL: ep.URL, APIKey: pair.API, AppKey: pair.App, UserAgent: cfg.UserAgent,
				HTTPClient: httpClient, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
				Rate: r, Burst: cfg.Burst, RateIsCap: cfg.RateIsCap, OnResponse: cfg.OnResponse, Slots: slots,
			})
		}}
		c.endpoint[o.Label] = ep
		if cfg.OnEndpoint != nil {
			cfg.OnEndpoint(o, ep)
		}
	}
	if len(failed) > 0 {
		return c, &SetupError{failed}
	}
	return c, nil
}

// KeysOrg is what a keys source needs of a source org.
func KeysOrg(o plan.SourceOrg) keys.Org {
	return keys.Org{Label: o.Label, ID: o.ID, Site: o.Site, APIKeyEnv: o.APIKeyEnv, AppKeyEnv: o.AppKeyEnv}
}

// FromManifest lists the manifest's source orgs in the form a saved plan
// keeps them.
func FromManifest(orgs []manifest.Org) []plan.SourceOrg {
	out := make([]plan.SourceOrg, len(orgs))
	for i, o := range orgs {
		out[i] = plan.SourceOrg{Label: o.Label, ID: o.ID, Site: o.Site, APIKeyEnv: o.APIKeyEnv, AppKeyEnv: o.AppKeyEnv, Prune: o.Prune}
	}
	return out
}

// API returns the client of the org with the given label, for calls that
// neither planning nor applying makes (discover's list of managed orgs).
func (c *Clients) API(ctx context.Context, label string) (*api.Client, error) {
	return c.client(ctx, label)
}

// client returns the org's client, finding its keys on the first call.
func (c *Clients) client(ctx context.Context, label string) (*api.Client, error) {
	oc, ok := c.byLabel[label]
	if !ok {
		return nil, fmt.Errorf("no API client for org %s", label)
	}
	oc.once.Do(func() { oc.cl, oc.err = oc.make(ctx) })
	return oc.cl, oc.err
}

// call runs fn with call accounting and the stop signal attached, and says
// what it cost. It does not count the cost: the Writer methods return it to
// apply.Run, which counts it, and the Reader methods count it with read.
// Its errors name the endpoint of the org labelled label, unless the call
// was stopped or cancelled before it could say anything about it.
func (c *Clients) call(ctx context.Context, label string, fn func(ctx context.Context) error) (apply.Call, error) {
	var ci api.CallInfo
	ctx = api.WithCallInfo(ctx, &ci)
	if c.stop != nil {
		ctx = api.WithStop(ctx, c.stop)
	}
	err := fn(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, api.ErrStopped) {
		err = fmt.Errorf("%w (endpoint %s)", err, c.endpoint[label])
	}
	return apply.Call{Attempts: ci.Attempts, HTTPStatus: ci.StatusCode, Throttled: ci.Throttled, Unanswered: ci.Unanswered}, err
}

// read is call for the [plan.Reader] methods, whose cost nobody else counts.
func (c *Clients) read(ctx context.Context, label string, fn func(ctx context.Context) error) error {
	call, err := c.call(ctx, label, fn)
	c.counters.Add(call)
	return err
}

// CurrentUser implements [plan.Reader].
func (c *Clients) CurrentUser(ctx context.Context, org manifest.Org) (plan.KeyOwner, error) {
	cl, err := c.client(ctx, org.Label)
	if err != nil {
		return plan.KeyOwner{}, err
	}
	var me api.Me
	err = c.read(ctx, org.Label, func(ctx context.Context) error {
		me, err = cl.CurrentUser(ctx)
		return err
	})
	return plan.KeyOwner{OrgID: me.OrgID, User: planUser(me.User)}, err
}

// planUser is an API user as plans name it.
func planUser(u api.User) plan.User {
	return plan.User{ID: u.ID, Handle: u.Handle, ServiceAccount: u.ServiceAccount}
}

// ListConnections implements [plan.Reader]: every page of the connections
// the org takes part in, as source (filtered server-side) or sink.
func (c *Clients) ListConnections(ctx context.Context, org manifest.Org) ([]plan.LiveConnection, error) {
	cl, err := c.client(ctx, org.Label)
	if err != nil {
		return nil, err
	}
	var conns []api.Connection
	err = c.read(ctx, org.Label, func(ctx context.Context) error {
		conns, err = cl.ListConnections(ctx, api.ListOptions{SourceOrgID: org.ID})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]plan.LiveConnection, len(conns))
	for i, lc := range conns {
		out[i] = liveConnection(lc)
	}
	return out, nil
}

// CreateConnection implements [apply.Writer].
func (c *Clients) CreateConnection(ctx context.Context, org plan.SourceOrg, sinkID string, types []string) (string, apply.Call, error) {
	cl, err := c.client(ctx, org.Label)
	if err != nil {
		return "", apply.Call{}, err
	}
	var conn *api.Connection
	call, err := c.call(ctx, org.Label, func(ctx context.Context) error {
		conn, err = cl.CreateConnection(ctx, sinkID, types)
		return err
	})
	if err != nil {
		return "", call, err
	}
	return conn.ID, call, nil
}

// UpdateConnection implements [apply.Writer].
func (c *Clients) UpdateConnection(ctx context.Context, org plan.SourceOrg, id string, types []string) (apply.Call, error) {
	cl, err := c.client(ctx, org.Label)
	if err != nil {
		return apply.Call{}, err
	}
	return c.call(ctx, org.Label, func(ctx context.Context) error {
		_, err := cl.UpdateConnection(ctx, id, types)
		return err
	})
}

// DeleteConnection implements [apply.Writer].
func (c *Clients) DeleteConnection(ctx context.Context, org plan.SourceOrg, id string) (apply.Call, error) {
	cl, err := c.client(ctx, org.Label)
	if err != nil {
		return apply.Call{}, err
	}
	return c.call(ctx, org.Label, func(ctx context.Context) error { return cl.DeleteConnection(ctx, id) })
}

// FindConnection implements [apply.Writer]: it lists the connections to
// sinkID and keeps the one whose source is org, since the list also holds
// connections where org is the sink.
func (c *Clients) FindConnection(ctx context.Context, org plan.SourceOrg, sinkID string) (plan.LiveConnection, bool, apply.Call, error) {
	cl, err := c.client(ctx, org.Label)
	if err != nil {
		return plan.LiveConnection{}, false, apply.Call{}, err
	}
	var conns []api.Connection
	call, err := c.call(ctx, org.Label, func(ctx context.Context) error {
		conns, err = cl.ListConnections(ctx, api.ListOptions{SinkOrgID: sinkID})
		return err
	})
	if err != nil {
		return plan.LiveConnection{}, false, call, err
	}
	for _, lc := range conns {
		if strings.EqualFold(lc.SourceOrgID(), org.ID) && strings.EqualFold(lc.SinkOrgID(), sinkID) {
			return liveConnection(lc), true, call, nil
		}
	}
	return plan.LiveConnection{}, false, call, nil
}

// liveConnection is what planning and applying need of a connection the API
// returned, with org ids lower-cased so they compare with the manifest's.
func liveConnection(c api.Connection) plan.LiveConnection {
	lc := plan.LiveConnection{ID: c.ID, SourceID: strings.ToLower(c.SourceOrgID()), SinkID: strings.ToLower(c.SinkOrgID()), Types: c.Attributes.ConnectionTypes}
	if c.Creator != nil {
		u := planUser(*c.Creator)
		lc.CreatedBy = &u
	}
	return lc
}
