package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacing keeps a client just under the server's rate limit instead of
// bouncing off it. Datadog limits each org per X-RateLimit-Name bucket to
// Limit requests per fixed window of Period seconds, so each [Client] keeps
// one pacer per bucket name. A request's endpoint key (method and path
// template) starts in a default bucket and moves to a named one as soon as a
// response names its bucket.

// maxWakeJitter spreads the workers that wake up at the same window end.
const maxWakeJitter = 50 * time.Millisecond

// maxPendingSends bounds the send times kept per endpoint key in the default
// bucket until a response names the key's bucket.
const maxPendingSends = 1024

// pacers maps endpoint keys to buckets. Lock order: pacers.mu, then pacer.mu.
type pacers struct {
	mu     sync.Mutex
	seed   func() *pacer
	def    *pacer
	byName map[string]*pacer
	byKey  map[string]*pacer
	// probes let one request at a time through for an endpoint key that
	// no answer has named yet, once the server is known to rate-limit:
	// otherwise the first burst of writes after the reads would go out
	// unpaced and meet a 429 for every request over the limit.
	probes map[string]chan struct{}
	// unnamed are keys whose answers carry no bucket name: never probed.
	unnamed map[string]bool
}

func newPacers(seed func() *pacer) *pacers {
	def := seed()
	def.sends = map[string][]time.Time{}
	return &pacers{seed: seed, def: def, byName: map[string]*pacer{}, byKey: map[string]*pacer{},
		probes: map[string]chan struct{}{}, unnamed: map[string]bool{}}
}

// probe returns the probe of key, or nil when key needs none: its bucket
// is known, its answers name none, or the server was never seen to
// rate-limit.
func (ps *pacers) probe(key string) chan struct{} {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.byKey[key]; ok || ps.unnamed[key] || len(ps.byName) == 0 {
		return nil
	}
	ch, ok := ps.probes[key]
	if !ok {
		ch = make(chan struct{}, 1)
		ps.probes[key] = ch
	}
	return ch
}

// enter waits for the probe of key, if it needs one, and returns the
// function that lets the next request through: call it once the answer
// was observed (or none came).
func (ps *pacers) enter(ctx context.Context, key string) (release func(), err error) {
	for {
		ch := ps.probe(key)
		if ch == nil {
			return func() {}, nil
		}
		select {
		case ch <- struct{}{}:
		case <-ctx.Done():
			return func() {}, context.Cause(ctx)
		}
		if ps.probe(key) == nil {
			<-ch // named while we waited: no need to go one by one
			continue
		}
		return sync.OnceFunc(func() { <-ch }), nil
	}
}

// acquire waits until the bucket of endpoint key lets one more request go,
// counts it there and returns that bucket. A key that moves to a named
// bucket while its request waits goes on waiting in the new one.
//
// Until an answer names the bucket of key, requests of key go one at a
// time (see pacers.probes); release lets the next one through and must be
// called once the attempt's answer was observed, or failed.
func (ps *pacers) acquire(ctx context.Context, key string) (p *pacer, release func(), err error) {
	release, err = ps.enter(ctx, key)
	if err != nil {
		return nil, release, err
	}
	haveCap := false
	for {
		p := ps.forKey(key)
		err := p.acquire(ctx, key, func() bool { return ps.forKey(key) != p }, &haveCap)
		if err == errMoved {
			continue
		}
		if err != nil {
			release()
		}
		return p, release, err
	}
}

// errMoved tells pacers.acquire that the key changed buckets during a wait.
var errMoved = errors.New("endpoint moved to another rate-limit bucket")

// forKey returns the bucket that requests of endpoint key go through.
func (ps *pacers) forKey(key string) *pacer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.byKey[key]; ok {
		return p
	}
	return ps.def
}

// observe feeds one response to the bucket it belongs to. A named response
// moves its endpoint key to that name's bucket, which inherits the requests
// the key made through the default bucket in the current window (the
// server counts them, and some may not be answered yet).
func (ps *pacers) observe(key string, from *pacer, o observation) {
	target, moved := from, false
	if o.rl.Name == "" && o.status > 0 && o.status < 500 {
		// The server answered and named no bucket: nothing to wait for.
		// (A 5xx may come from a proxy, which says nothing of the API.)
		ps.mu.Lock()
		ps.unnamed[key] = true
		ps.mu.Unlock()
	}
	if o.rl.Name != "" {
		ps.mu.Lock()
		p, ok := ps.byName[o.rl.Name]
		if !ok {
			p = ps.seed()
			ps.byName[o.rl.Name] = p
		}
		_, mapped := ps.byKey[key]
		ps.byKey[key] = p
		ps.mu.Unlock()
		target, moved = p, !mapped && from == ps.def
	}
	target.update(o)
	if moved {
		target.inherit(ps.def.takeSends(key), o)
	}
}

// observation is what one response tells a bucket.
type observation struct {
	sent, recv time.Time
	status     int
	rl         RateLimit
	block      time.Duration // after a 429: how long every worker waits
	err        error         // the 429's *Error
}

// pacer paces the requests of one rate-limit bucket: a token bucket (the
// seed rate, then the server's Limit/Period) and a fixed-window gate
// modelled on the server's windows, under the client-wide user cap.
type pacer struct {
	mu      sync.Mutex
	clk     *clock
	maxWait time.Duration // Config.MaxRetryWait
	lim     *rate.Limiter // this bucket's pace: the seed, then Limit/Period
	userCap *rate.Limiter // Config.Rate as a cap, shared by every bucket of the client; nil if none

	limit     int           // server's Limit, 0 until known
	period    time.Duration // server's Period
	used      int           // requests counted in the current window, ours and others'
	ours      int           // requests this client sent in the current window through this bucket, inherited ones included
	seen      int           // the most the server said it counted in the current window (Limit-Remaining)
	others    int           // other clients' requests expected per window, from the last one
	windowEnd time.Time     // upper bound of the current window's end, zero until known
	endAfter  time.Time     // lower bound (exclusive) of the current window's end
	notBefore time.Time     // set by a 429: nobody sends before
	blockErr  error         // the 429 that set notBefore
	slack     time.Duration // 1s once the server's Reset looks rounded down
	noSnap    bool          // a 429 came: do not guess calendar alignment (see probeTime)
	waiting   int           // requests in acquire
	probe     probe
	sentAt    []time.Time // when this bucket's requests of the current window went
	nextSeen  int         // the most the server counted in the next window, from answers that were about it

	sends map[string][]time.Time // default bucket only: send times per endpoint key
}

// newPacer returns a bucket paced by seed until the server's headers tune
// it, and never faster than userCap.
func newPacer(clk *clock, maxWait time.Duration, seed, userCap *rate.Limiter) *pacer {
	return &pacer{clk: clk, maxWait: maxWait, lim: seed, userCap: userCap}
}

// acquire waits until the bucket lets one more request go, and counts it.
// After each wait it returns errMoved if moved reports that the key now
// belongs to another bucket. *haveCap carries a user-cap token across such
// a move, as long as no other wait makes it stale: spent early, it would
// let a later burst exceed the cap.
func (p *pacer) acquire(ctx context.Context, key string, moved func() bool, haveCap *bool) error {
	p.mu.Lock()
	p.waiting++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
	}()
	for {
		p.mu.Lock()
		now := p.clk.now()
		d := p.gateDelay(now)
		lim := p.lim
		var tooLong error
		if d > p.maxWait {
			tooLong = p.waitTooLong(now, d)
		}
		p.mu.Unlock()
		if tooLong != nil {
			return tooLong
		}
		if d > 0 {
			*haveCap = false
			if err := p.clk.sleep(ctx, d+p.wakeJitter()); err != nil {
				return err
			}
			if moved() {
				return errMoved
			}
			continue
		}
		slept, err := p.takeToken(ctx, lim)
		if err != nil {
			return err
		}
		if slept {
			*haveCap = false
		}
		if moved() {
			return errMoved
		}
		if p.userCap != nil && !*haveCap {
			if _, err := p.takeToken(ctx, p.userCap); err != nil {
				return err
			}
			*haveCap = true
			if moved() {
				return errMoved
			}
		}
		p.mu.Lock()
		now = p.clk.now()
		if p.gateDelay(now) > 0 {
			// A 429 or another worker closed the gate while we waited.
			p.mu.Unlock()
			continue
		}
		if p.holding() {
			p.probe = probe{inFlight: true, sent: now}
		}
		p.used++
		p.ours++
		if p.limit > 0 && len(p.sentAt) < 4*p.limit {
			p.sentAt = append(p.sentAt, now)
		}
		if s := p.sends[key]; p.sends != nil && len(s) < maxPendingSends {
			p.sends[key] = append(s, now)
		}
		p.mu.Unlock()
		return nil
	}
}

// waitTooLong explains why a request gives up rather than wait d. Called
// with p.mu held.
func (p *pacer) waitTooLong(now time.Time, d time.Duration) error {
	if now.Before(p.notBefore) && p.blockErr != nil {
		return fmt.Errorf("not sent: the server asks to wait %s, longer than the max retry wait of %s, after %w", d.Round(time.Second), p.maxWait, p.blockErr)
	}
	return fmt.Errorf("rate limit of %d requests per %s used up: the window ends in %s, later than the max retry wait of %s",
		p.limit, p.period, d.Round(time.Second), p.maxWait)
}

// takeToken waits for a token of lim on the client's clock (rate.Limiter's
// own Wait reads the wall clock).
func (p *pacer) takeToken(ctx context.Context, lim *rate.Limiter) (slept bool, err error) {
	now := p.clk.now()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, fmt.Errorf("rate limiter refuses a request (burst %d)", lim.Burst())
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return false, nil
	}
	if err := p.clk.sleep(ctx, d); err != nil {
		r.CancelAt(p.clk.now())
		return true, err
	}
	return true, nil
}

// gateDelay returns how long a request must wait before it may go, rolling
// the window when its end has passed. Called with p.mu held.
func (p *pacer) gateDelay(now time.Time) time.Duration {
	if now.Before(p.notBefore) {
		return p.notBefore.Sub(now)
	}
	if p.limit <= 0 || p.windowEnd.IsZero() {
		return 0
	}
	if !now.Before(p.windowEnd) {
		p.roll(now)
	}
	if p.used >= p.limit {
		return p.windowEnd.Sub(now)
	}
	return p.probeDelay(now)
}

// roll starts the window that contains now. Windows are Period long, so
// the old end plus whole periods is still an upper bound of the new end.
func (p *pacer) roll(now time.Time) {
	n := now.Sub(p.windowEnd)/p.period + 1
	// Requests sent after the old window's earliest possible end may
	// count in the new one: they count in both, which costs a little of
	// the budget while the end is uncertain, never a 429.
	var carried []time.Time
	if n == 1 {
		for _, t := range p.sentAt {
			if t.After(p.endAfter) {
				carried = append(carried, t)
			}
		}
		// Other clients that used the last window likely use this one.
		p.others = max(0, p.seen-p.ours)
	} else {
		p.others, p.nextSeen = 0, 0
	}
	p.windowEnd = p.windowEnd.Add(n * p.period)
	p.endAfter = p.endAfter.Add(n * p.period)
	p.ours, p.sentAt = len(carried), carried
	p.used = max(p.others+p.ours, p.nextSeen)
	p.seen, p.nextSeen = p.nextSeen, 0
	p.probe = probe{}
	p.lim = rate.NewLimiter(p.serverRate(), p.limit)
}

func (p *pacer) serverRate() rate.Limit {
	return rate.Limit(float64(p.limit) / p.period.Seconds())
}

// wakeJitter keeps the workers that wait for the same instant from all
// arriving in the same millisecond.
func (p *pacer) wakeJitter() time.Duration {
	p.mu.Lock()
	limit := maxWakeJitter
	if p.period > 0 {
		limit = min(limit, p.period/50)
	}
	p.mu.Unlock()
	return jitter(limit, limit, p.clk.rnd)
}

// windowStart returns the earliest time at which a request surely belongs
// to the current window (the end estimate is an upper bound, so its start
// is too), or the zero time when no window is known. Called with p.mu held.
func (p *pacer) windowStart() time.Time {
	if p.windowEnd.IsZero() {
		return time.Time{}
	}
	return p.windowEnd.Add(-p.period)
}

// update tunes the bucket from one response:
//   - Limit and Period set the token bucket to Limit/Period (never above the
//     user's cap) and enable the window gate;
//   - Reset bounds the window end: the server counted the request at some
//     moment between sent and recv, so the end is at most recv+Reset;
//   - Remaining raises the count of the current window when other clients
//     share the budget;
//   - a 429 closes the window and blocks the bucket for o.block.
func (p *pacer) update(o observation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rl := o.rl
	if rl.Limit > 0 && rl.Period > 0 && (rl.Limit != p.limit || seconds(rl.Period) != p.period) {
		p.limit, p.period = rl.Limit, seconds(rl.Period)
		p.tune()
	}
	if rl.Reset == 0 {
		// With a Reset rounded up (Datadog's ceil), 0 never shows while a
		// window is open; seeing it means the end can be up to 1s later.
		p.slack = time.Second
	}
	first, next := p.windowEnd.IsZero(), false
	if p.limit > 0 && rl.Reset >= 0 {
		// The server counted the request at some moment between sent and
		// recv, and Reset is the time left then, rounded up (or down, with
		// slack): the end lies in (sent+Reset-1s, recv+Reset].
		end := o.recv.Add(saturatingAdd(seconds(rl.Reset), p.slack))
		after := o.sent.Add(saturatingAdd(seconds(rl.Reset), p.slack) - time.Second)
		switch {
		case first:
			p.windowEnd, p.endAfter = end, after
		case !after.Before(p.windowEnd) && end.Sub(after) < p.period:
			// The server counted the request in the next window: the
			// current one ends a period before that one.
			p.windowEnd = minTime(p.windowEnd, end.Add(-p.period))
			p.endAfter = maxTime(p.endAfter, after.Add(-p.period))
			if rl.Remaining >= 0 {
				p.nextSeen = max(p.nextSeen, p.limit-rl.Remaining)
			}
			next = true
		default:
			if !o.recv.Before(p.windowEnd) {
				p.roll(o.recv)
			}
			// An answer to a request sent before the window surely began
			// may describe the previous window: it must not move this end.
			if !o.sent.Before(p.windowStart()) {
				p.windowEnd = minTime(p.windowEnd, end)
				p.endAfter = maxTime(p.endAfter, after)
			}
		}
		if !p.endAfter.Before(p.windowEnd) {
			// Answers that disagree (a server whose Reset rounds
			// otherwise): keep the safe end, forget the rest.
			p.endAfter = p.windowEnd.Add(-time.Second)
		}
	}
	current := !next && (first || !o.sent.Before(p.windowStart()))
	if p.limit > 0 && rl.Remaining >= 0 && current {
		limit := p.limit
		if rl.Limit > 0 {
			limit = rl.Limit
		}
		p.seen = max(p.seen, limit-rl.Remaining)
		p.used = max(p.used, p.seen)
	}
	if current && !o.sent.Before(p.probe.sent) {
		p.probe.inFlight = false
	}
	if o.status == http.StatusTooManyRequests {
		// A 429 says the estimate of the window was wrong: no more
		// guessing the calendar (see probeTime).
		p.noSnap = true
		if until := o.recv.Add(o.block); until.After(p.notBefore) {
			p.notBefore, p.blockErr = until, o.err
		}
		if p.limit > 0 && current {
			p.used = p.limit
			if rl.Reset >= 0 {
				p.windowEnd = maxTime(p.windowEnd, o.recv.Add(saturatingAdd(seconds(rl.Reset), p.slack)))
			}
		}
	}
}

// tune sets the token bucket from the server's Limit/Period, full: the
// window gate does the counting, the bucket spreads the requests when the
// window's end is unknown. The user's cap is a separate limiter.
func (p *pacer) tune() {
	p.lim = rate.NewLimiter(p.serverRate(), p.limit)
}

// takeSends removes and returns the send times recorded for key.
func (p *pacer) takeSends(key string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sends[key]
	delete(p.sends, key)
	return s
}

// inherit counts, in a bucket that just took over an endpoint key, the
// requests the key sent through the default bucket that may belong to the
// current window; o is the answer that moved the key. They add to the
// bucket's own sends (the GET whose answer named the bucket, say), being
// other requests: taking the larger of the two counts let a burst of
// creates overshoot the window. A send counts from the earliest moment the
// window may have begun, not from its estimated start, which is up to a
// second late (Reset is rounded up) and would drop the requests that were
// in flight when the first answer came. A send of the previous window may
// count too: the bucket then gives up a little capacity once, rather than
// meet a 429. The server's Remaining covers other clients.
func (p *pacer) inherit(sends []time.Time, o observation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.windowStart()
	if !start.IsZero() && o.rl.Reset >= 0 {
		// The server counted o after o.sent, and Reset, rounded up or
		// down, says the window ends more than Reset-1 seconds after
		// that: it began after o.sent+Reset-1s-Period.
		start = minTime(start, o.sent.Add(seconds(o.rl.Reset)-time.Second-p.period))
	}
	n := 0
	for _, t := range sends {
		if !t.Before(start) {
			n++
		}
	}
	p.ours += n
	p.used = max(p.used, p.ours)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
