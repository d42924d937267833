package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// do runs one API call: it paces and sends each attempt, retries what is
// worth retrying, and turns the final answer into r.out or a typed error.
// The steps, in the manner of go-retryablehttp's CheckRetry and Backoff:
// [Client.startCall] prepares the call, [call.send] paces and sends one
// attempt, [call.afterFailure] and [call.afterAnswer] classify what came
// back into a [verdict], and the loop waits as the verdict says.
func (c *Client) do(ctx context.Context, r request) error {
	k, err := c.startCall(ctx, r)
	if err != nil {
		return err
	}
	defer k.end()
	for attempt := 1; ; attempt++ {
		p, release, a, err := k.send(attempt)
		if err != nil {
			return err
		}
		var v verdict
		if a.err != nil {
			release()
			v = k.afterFailure(attempt, a.err)
		} else {
			v = k.afterAnswer(attempt, a, p, release)
		}
		if v.final {
			return v.err
		}
		k.lastErr = v.err
		if v.wait > 0 {
			if err := c.clk.sleep(k.waitCtx, v.wait); err != nil {
				return k.waitFailed(attempt+1, err)
			}
		}
	}
}

// call is the state of one API call across its attempts.
type call struct {
	c       *Client
	r       request
	display string // path and query, for errors
	payload []byte
	ctx     context.Context // ends the call; attempts run under it
	waitCtx context.Context // ends the waits: ctx, or a stop
	stop    <-chan struct{}
	cancel  context.CancelCauseFunc
	info    CallInfo
	ci      *CallInfo // the caller's, from WithCallInfo; nil if none
	lastErr error     // of the previous attempt, for a stop before the next
}

// verdict is what an attempt's outcome means for the call: its result
// when final, else a retry after wait (0: the pacer does the waiting) with
// err as the reason.
type verdict struct {
	final bool
	err   error
	wait  time.Duration
}

func final(err error) verdict { return verdict{final: true, err: err} }

// startCall encodes the body and sets up the call's contexts: waits use
// waitCtx, which a stop also ends; attempts use ctx, which only the caller
// ends, so that a stop lets a request on the wire finish.
func (c *Client) startCall(ctx context.Context, r request) (*call, error) {
	k := &call{c: c, r: r, display: r.path, ctx: ctx, waitCtx: ctx}
	if len(r.query) > 0 {
		k.display += "?" + r.query.Encode()
	}
	if r.body != nil {
		var err error
		if k.payload, err = json.Marshal(r.body); err != nil {
			return nil, k.fail(fmt.Errorf("encode body: %w", err))
		}
	}
	k.ci, _ = ctx.Value(callInfoKey{}).(*CallInfo)
	k.stop, _ = ctx.Value(stopKey{}).(<-chan struct{})
	if k.stop != nil {
		k.waitCtx, k.cancel = context.WithCancelCause(ctx)
		go func() {
			select {
			case <-k.stop:
				k.cancel(ErrStopped)
			case <-k.waitCtx.Done():
			}
		}()
	}
	return k, nil
}

// end hands the call's info to the caller and ends the stop watcher.
func (k *call) end() {
	if k.ci != nil {
		*k.ci = k.info
	}
	if k.cancel != nil {
		k.cancel(nil)
	}
}

func (k *call) fail(err error) error { return fmt.Errorf("%s %s: %w", k.r.method, k.display, err) }

// stopped is the error of a call that a stop ended before attempt.
func (k *call) stopped(attempt int) error {
	if k.lastErr == nil {
		return k.fail(ErrStopped)
	}
	return k.fail(fmt.Errorf("%w (attempt %d); the last attempt got: %w", ErrStopped, attempt, k.lastErr))
}

// waitFailed explains why a wait before attempt ended early.
func (k *call) waitFailed(attempt int, err error) error {
	switch {
	case k.ctx.Err() != nil:
		return k.fail(k.ctx.Err())
	case context.Cause(k.waitCtx) == ErrStopped:
		return k.stopped(attempt)
	}
	return k.fail(err)
}

// send waits until the request's rate-limit bucket and a slot of
// [Config.Slots] let it go, unless a stop comes first, then sends it.
// release lets the next request of a probed endpoint through (see
// pacers.acquire): call it once the answer was observed.
func (k *call) send(attempt int) (p *pacer, release func(), a answer, err error) {
	c := k.c
	if err := k.ctx.Err(); err != nil {
		return nil, nil, a, k.fail(err)
	}
	p, release, err = c.pacers.acquire(k.waitCtx, k.r.key)
	if err != nil {
		return nil, nil, a, k.waitFailed(attempt, err)
	}
	if err := c.slots.acquire(k.waitCtx); err != nil {
		release()
		return nil, nil, a, k.waitFailed(attempt, err)
	}
	select {
	case <-k.stop:
		c.slots.release()
		release()
		return nil, nil, a, k.stopped(attempt)
	default:
	}
	k.info.Attempts = attempt
	a = c.attempt(k.ctx, k.r.method, c.base+k.display, k.payload)
	c.slots.release()
	if a.err != nil || a.readErr != nil {
		k.info.Unanswered++
	}
	return p, release, a, nil
}

// afterFailure judges an attempt that got no answer at all.
func (k *call) afterFailure(attempt int, aerr error) verdict {
	if k.ctx.Err() != nil {
		return final(k.fail(k.ctx.Err()))
	}
	err := k.c.redactErr(unwrapURLError(aerr))
	// Retrying a POST whose fate is unknown could create a connection
	// twice with most APIs. Here the API answers 409 to a second create
	// for the same (source, sink) pair, and apply takes a 409 as "already
	// present" and re-reads it, so the retry is safe.
	if !shouldRetry(0, err) || attempt > k.c.maxRetries {
		return final(k.fail(err))
	}
	return verdict{err: err, wait: backoff(attempt, k.c.clk.rnd)}
}

// afterAnswer feeds an answer to the pacer and the response hook, then
// judges it: decoded on success, retried or returned as an *Error
// otherwise.
func (k *call) afterAnswer(attempt int, a answer, p *pacer, release func()) verdict {
	c := k.c
	k.info.StatusCode = a.status
	rl := parseRateLimit(a.header, a.recv)
	o := observation{sent: a.sent, recv: a.recv, status: a.status, rl: rl}
	var apiErr *Error
	var exactWait time.Duration
	if a.status < 200 || a.status > 299 {
		apiErr = c.newError(k.r.method, k.display, a.status, a.header, a.body, rl, attempt)
	}
	if a.status == http.StatusTooManyRequests {
		k.info.Throttled++
		ra, hasRA := ParseRetryAfter(a.header.Get("Retry-After"), a.recv)
		o.block, exactWait = throttleWait(rl, ra, hasRA, attempt, c.clk.rnd)
		o.err = apiErr
	}
	c.pacers.observe(k.r.key, p, o)
	release()
	if c.onResponse != nil {
		c.onResponse(ResponseInfo{Method: k.r.method, Path: k.r.path, StatusCode: a.status, RateLimit: rl,
			Attempt: attempt, Elapsed: a.recv.Sub(a.sent)})
	}
	if apiErr == nil {
		return k.afterSuccess(attempt, a)
	}
	return k.afterError(attempt, a, apiErr, exactWait)
}

// afterSuccess decodes a 2xx answer; one cut off mid-body is retried, as a
// dropped connection is.
func (k *call) afterSuccess(attempt int, a answer) verdict {
	err := k.c.decode(k.r, k.display, a)
	var derr *DecodeError
	if errors.As(err, &derr) && a.readErr != nil && shouldRetry(0, a.readErr) && attempt <= k.c.maxRetries && k.ctx.Err() == nil {
		return verdict{err: err, wait: backoff(attempt, k.c.clk.rnd)}
	}
	if err != nil && k.ctx.Err() != nil {
		return final(k.fail(k.ctx.Err()))
	}
	return final(err)
}

// afterError judges a non-2xx answer. A 429 is retried without a wait of
// its own, as the pacer makes every worker of the bucket wait; a 5xx backs
// off, or waits as long as its Retry-After asks. exactWait is the 429's
// wait as the server gave it.
func (k *call) afterError(attempt int, a answer, apiErr *Error, exactWait time.Duration) verdict {
	c := k.c
	if !shouldRetry(a.status, nil) || attempt > c.maxRetries {
		return final(apiErr)
	}
	if k.ctx.Err() != nil {
		return final(k.fail(k.ctx.Err()))
	}
	tooLong := func(d time.Duration) verdict {
		return final(fmt.Errorf("%w: the server asks to wait %s, longer than the max retry wait of %s", apiErr, d, c.maxRetryWait))
	}
	if a.status == http.StatusTooManyRequests {
		if exactWait > c.maxRetryWait {
			return tooLong(exactWait)
		}
		return verdict{err: apiErr}
	}
	wait := backoff(attempt, c.clk.rnd)
	if ra, ok := ParseRetryAfter(a.header.Get("Retry-After"), a.recv); ok && ra > wait {
		if ra > c.maxRetryWait {
			return tooLong(ra)
		}
		wait = saturatingAdd(ra, jitter(ra/10, time.Second, c.clk.rnd))
	}
	return verdict{err: apiErr, wait: wait}
}
