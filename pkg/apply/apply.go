// Package apply executes a [plan.Plan] against the Org Connections API and
// reports what happened to every change.
//
// # Concurrency
//
// Each source org gets its own worker pool (an errgroup per org), and all
// orgs run at once. The pools share a budget of a few workers per request
// slot (see workerShares): an org gets at most Options.Parallelism workers
// and at least one. Pacing against the server's rate limits happens inside
// the per-org API client, so an org that waits for its rate-limit window
// never holds back another org; the caller bounds the total number of
// requests in flight across orgs (api.Slots). A failed change never cancels
// the others.
//
// # Order
//
// Creates and updates run first and deletes last, so that a run interrupted
// half-way has only added.
//
// # Interrupts
//
// When Options.Stop is closed, no new change starts in any org (those not
// started are reported as skipped) while requests already on the wire
// finish. A change whose request still waits for a slot, a rate-limit
// window or a backoff has not started: the client gives up its wait at
// once (api.WithStop) and the change is skipped.
package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/plan"
)

// Writer makes the calls of one change on behalf of a source org. The
// implementation wraps one api.Client per org; tests use hand-written fakes.
// Errors from the server are *api.Error values, so that apply can tell a 409
// or a 404 apart.
type Writer interface {
	CreateConnection(ctx context.Context, org plan.SourceOrg, sinkID string, types []string) (string, Call, error)
	UpdateConnection(ctx context.Context, org plan.SourceOrg, id string, types []string) (Call, error)
	DeleteConnection(ctx context.Context, org plan.SourceOrg, id string) (Call, error)
	// FindConnection re-reads the org's outgoing connection to sinkID, to
	// adopt a connection that a create found already there.
	FindConnection(ctx context.Context, org plan.SourceOrg, sinkID string) (plan.LiveConnection, bool, Call, error)
}

// Call is what one Writer call cost on the wire.
type Call struct {
	Attempts   int // HTTP attempts, retries included; 0 if nothing was sent
	HTTPStatus int // status of the last answer, 0 if none
	Throttled  int // 429 answers among them
	Unanswered int // attempts that got no whole answer: the server may have acted on them
}

// Options tune a run.
type Options struct {
	Parallelism int // requests in flight at most, and workers per org at most; at least 1
	// Stop, when closed, keeps new changes from starting.
	Stop <-chan struct{}
	// OnResult is called once for every finished result, one at a time.
	OnResult func(Result)
	// OrgErrors are source orgs that could not be read or verified before
	// planning; each becomes a failed "verify" result.
	OrgErrors []*plan.OrgError
	// Counters, when set, accumulates throttling and retries across the run.
	Counters *Counters
	Now      func() time.Time
}

// Counters accumulates rate-limit pressure from every call of a run, reads
// included, so that the report can say how often the server pushed back.
type Counters struct {
	Throttled atomic.Int64
	Retries   atomic.Int64
}

// Add records one call.
func (c *Counters) Add(call Call) {
	if c == nil {
		return
	}
	c.Throttled.Add(int64(call.Throttled))
	if call.Attempts > 1 {
		c.Retries.Add(int64(call.Attempts - 1))
	}
}

// Run applies every pending change of p and returns the report. Noop changes
// are reported as unchanged; unmanaged ones are not reported.
func Run(ctx context.Context, p *plan.Plan, w Writer, opt Options) *Report {
	if opt.Parallelism < 1 {
		opt.Parallelism = 1
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Counters == nil {
		opt.Counters = &Counters{}
	}
	r := &runner{w: w, opt: opt, orgs: make(map[string]*orgState)}
	for _, o := range p.Orgs {
		r.orgs[o.Label] = &orgState{org: o}
	}
	rep := &Report{FormatVersion: FormatVersion, StartedAt: opt.Now().UTC()}

	// Results keep the plan's order, whatever order the changes finish in,
	// so that reports of the same plan compare equal.
	var results []Result
	var changeAt []plan.Change // the change of each result
	for _, oe := range opt.OrgErrors {
		res := Result{Action: ActionVerify, Outcome: Failed, SourceOrg: plan.OrgRef{Label: oe.Org.Label, ID: oe.Org.ID}, Error: oe.Error()}
		var apiErr *api.Error
		if errors.As(oe, &apiErr) {
			res.Attempts, res.HTTPStatus = apiErr.Attempts, apiErr.StatusCode
		}
		results, changeAt = append(results, res), append(changeAt, plan.Change{})
		r.emit(res)
	}
	var adds, deletes []int
	for _, c := range p.Changes {
		var res Result
		switch c.Action {
		case plan.Create, plan.Update:
			adds = append(adds, len(results))
		case plan.Delete:
			deletes = append(deletes, len(results))
		case plan.Noop:
			res = Result{Action: c.Action, Outcome: Unchanged, SourceOrg: c.SourceOrg, SinkOrg: c.SinkOrg,
				ConnectionID: c.ConnectionID, ConnectionTypes: c.After}
			r.emit(res)
		default:
			continue
		}
		results, changeAt = append(results, res), append(changeAt, c)
	}
	if results == nil {
		results = []Result{}
	}
	for _, phase := range [][]int{adds, deletes} {
		r.runPhase(ctx, changeAt, phase, results)
	}
	rep.Results = results
	rep.FinishedAt = opt.Now().UTC()
	rep.RateLimit = RateLimitStats{ThrottledResponses: opt.Counters.Throttled.Load(), Retries: opt.Counters.Retries.Load()}
	rep.Summarize()
	switch {
	case rep.Summary.Skipped > 0: // only a stop leaves changes not started
		rep.Status = StatusInterrupted
	case rep.Summary.Failed > 0:
		rep.Status = StatusFailed
	default:
		rep.Status = StatusComplete
	}
	return rep
}

type runner struct {
	w    Writer
	opt  Options
	orgs map[string]*orgState
	mu   sync.Mutex // serializes OnResult
}

// orgState remembers that an org's keys were refused, so the rest of its
// changes fail at once instead of each asking the server again.
type orgState struct {
	org     plan.SourceOrg
	refused atomic.Pointer[error]
}

func (r *runner) emit(res Result) {
	if r.opt.OnResult == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opt.OnResult(res)
}

func (r *runner) stopped() bool {
	if r.opt.Stop == nil {
		return false
	}
	select {
	case <-r.opt.Stop:
		return true
	default:
		return false
	}
}

// runPhase runs the changes at the given indexes concurrently, each org in
// its own pool, and stores each result at its index.
func (r *runner) runPhase(ctx context.Context, changes []plan.Change, idx []int, results []Result) {
	byOrg := make(map[string][]int)
	var labels []string
	for _, i := range idx {
		l := changes[i].SourceOrg.Label
		if _, ok := byOrg[l]; !ok {
			labels = append(labels, l)
		}
		byOrg[l] = append(byOrg[l], i)
	}
	counts := make([]int, len(labels))
	for k, l := range labels {
		counts[k] = len(byOrg[l])
	}
	shares := workerShares(counts, r.opt.Parallelism)
	var all errgroup.Group
	for k, label := range labels {
		all.Go(func() error {
			var g errgroup.Group
			g.SetLimit(shares[k])
			for _, i := range byOrg[label] {
				if r.stopped() || ctx.Err() != nil {
					r.runOne(ctx, changes, i, results) // skipped, without waiting for a worker
					continue
				}
				g.Go(func() error {
					// Go may have waited for a free worker: runOne checks
					// for a stop again.
					r.runOne(ctx, changes, i, results)
					return nil // one change's failure never cancels the others
				})
			}
			return g.Wait()
		})
	}
	_ = all.Wait()
}

// workersPerSlot bounds the goroutines of a phase to this many per request
// slot (--parallelism). Requests in flight never exceed the slots, so more
// workers than that only wait, for a slot or for their org's rate-limit
// window; a few per slot keep every slot busy while orgs wait for their
// windows, without a goroutine (and its stack) for each of 10,000 changes.
const workersPerSlot = 4

// workerShares divides the phase's worker budget among orgs with the given
// numbers of changes. Each org gets at least one worker and at most
// min(its changes, parallelism); what small orgs do not need goes to the
// larger ones (water-filling), so one big org among many small ones is not
// starved and one org alone gets the whole parallelism.
func workerShares(counts []int, parallelism int) []int {
	order := make([]int, len(counts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(counts[a], counts[b]) })
	shares := make([]int, len(counts))
	budget := workersPerSlot * parallelism
	for n, i := range order {
		fair := max(1, budget/(len(order)-n))
		shares[i] = max(1, min(counts[i], parallelism, fair))
		budget -= shares[i]
	}
	return shares
}

// runOne runs the change at index i in the calling goroutine.
func (r *runner) runOne(ctx context.Context, changes []plan.Change, i int, results []Result) {
	if r.stopped() || ctx.Err() != nil {
		results[i] = skipped(changes[i])
	} else {
		results[i] = r.runChange(ctx, changes[i])
	}
	r.emit(results[i])
}

func skipped(c plan.Change) Result {
	return Result{Action: c.Action, Outcome: Skipped, SourceOrg: c.SourceOrg, SinkOrg: c.SinkOrg,
		ConnectionID: c.ConnectionID, ConnectionTypes: c.After, Error: "not started: the run was interrupted"}
}

// runChange executes one change and its follow-ups (409 adoption, a 404 on
// update) and says how it ended.
func (r *runner) runChange(ctx context.Context, c plan.Change) Result {
	start := r.opt.Now()
	res := Result{Action: c.Action, SourceOrg: c.SourceOrg, SinkOrg: c.SinkOrg, ConnectionID: c.ConnectionID, ConnectionTypes: c.After}
	if c.Action == plan.Delete {
		res.ConnectionTypes = c.Before
	}
	st, ok := r.orgs[c.SourceOrg.Label]
	if !ok {
		res.Outcome, res.Error = Failed, fmt.Sprintf("source org %s is not among the plan's orgs", c.SourceOrg.Label)
		return res
	}
	if errp := st.refused.Load(); errp != nil {
		res.Outcome, res.Error = Failed, fmt.Sprintf("not attempted: %v", *errp)
		return res
	}
	// rec accounts for one call. The report's http_status is the status of
	// the last write, so a re-read after a 409 leaves it at 409.
	calls, unanswered := 0, 0
	rec := func(call Call, isWrite bool) {
		calls++
		unanswered += call.Unanswered
		res.Attempts += call.Attempts
		if call.HTTPStatus != 0 && isWrite {
			res.HTTPStatus = call.HTTPStatus
		}
		r.opt.Counters.Add(call)
	}
	var err error
	switch c.Action {
	case plan.Create:
		err = r.create(ctx, st.org, c, &res, rec)
	case plan.Update:
		err = r.update(ctx, st.org, c, &res, rec)
	case plan.Delete:
		var call Call
		call, err = r.w.DeleteConnection(ctx, st.org, c.ConnectionID)
		rec(call, true)
		switch {
		case err == nil:
			res.Outcome = Deleted
		case api.IsNotFound(err): // already gone: the goal is reached
			res.Outcome, err = Deleted, nil
		}
	default:
		err = fmt.Errorf("action %q cannot be applied", c.Action)
	}
	res.Duration = r.opt.Now().Sub(start)
	if err != nil {
		res.Outcome, res.Error = Failed, err.Error()
		if notStarted(err, calls, unanswered) {
			res.Outcome, res.Error = Skipped, "not started: the run was interrupted"
		}
		if api.IsUnauthorized(err) || api.IsForbidden(err) {
			st.refused.CompareAndSwap(nil, &err)
		}
	}
	return res
}

// notStarted tells whether a change that ended with err was stopped before
// it could have changed anything: its one call was stopped while waiting
// for a slot, a rate-limit window or a retry, and each attempt it sent got
// a whole answer (a 429 or a 5xx, or it would not have been retried). A
// second call follows only an answer that found the connection (a 409 or
// a 404 on update), and an attempt without an answer may have landed.
func notStarted(err error, calls, unanswered int) bool {
	return errors.Is(err, api.ErrStopped) && calls <= 1 && unanswered == 0
}

// create creates the connection; a 409 means it is already there (possibly
// from an earlier attempt of this very create whose answer was lost), so it
// is re-read and its types are fixed if they differ.
func (r *runner) create(ctx context.Context, org plan.SourceOrg, c plan.Change, res *Result, rec func(Call, bool)) error {
	id, call, err := r.w.CreateConnection(ctx, org, c.SinkOrg.ID, c.After)
	rec(call, true)
	if err == nil {
		res.Outcome, res.ConnectionID = Created, id
		return nil
	}
	if api.IsNotFound(err) {
		// The API answers 404 for a sink it does not know, which is what
		// an org of another site or account is from where the source is.
		site := org.Site
		if site == "" {
			site = "the source org's site"
		}
		sink := c.SinkOrg.ID
		if c.SinkOrg.Label != "" {
			sink = c.SinkOrg.Label + " (" + c.SinkOrg.ID + ")"
		}
		return fmt.Errorf("sink org %s not found on site %s: Datadog connects orgs of the same account and site only: %w", sink, site, err)
	}
	if !api.IsConflict(err) {
		return err
	}
	found, err := r.adopt(ctx, org, c, res, rec, "409")
	if err == nil && !found {
		err = fmt.Errorf("the server answered 409 (already exists) but lists no connection from %s to %s", org.Label, c.SinkName())
	}
	return err
}

// update sets the connection's types. A 404 means the connection went away
// since the plan was made: it is looked up by sink again and created if it
// is really gone, so that the run still converges.
func (r *runner) update(ctx context.Context, org plan.SourceOrg, c plan.Change, res *Result, rec func(Call, bool)) error {
	call, err := r.w.UpdateConnection(ctx, org, c.ConnectionID, c.After)
	rec(call, true)
	if err == nil {
		res.Outcome = Updated
		return nil
	}
	if !api.IsNotFound(err) {
		return err
	}
	found, err := r.adopt(ctx, org, c, res, rec, "404")
	if err != nil || found {
		return err
	}
	return r.create(ctx, org, plan.Change{Action: plan.Create, SourceOrg: c.SourceOrg, SinkOrg: c.SinkOrg, After: c.After}, res, rec)
}

// adopt re-reads the org's connection to the change's sink and, when there
// is one, gives it the change's types. after names the answer that made the
// re-read necessary, for error messages.
func (r *runner) adopt(ctx context.Context, org plan.SourceOrg, c plan.Change, res *Result, rec func(Call, bool), after string) (found bool, err error) {
	live, found, call, err := r.w.FindConnection(ctx, org, c.SinkOrg.ID)
	rec(call, false)
	if err != nil {
		return false, fmt.Errorf("re-read after %s: %w", after, err)
	}
	if !found {
		return false, nil
	}
	res.ConnectionID = live.ID
	if plan.SameTypes(live.Types, c.After) {
		res.Outcome = AlreadyPresent
		return true, nil
	}
	call, err = r.w.UpdateConnection(ctx, org, live.ID, c.After)
	rec(call, true)
	if err != nil {
		return true, fmt.Errorf("update the connection found after %s: %w", after, err)
	}
	res.Outcome = Updated
	return true, nil
}
