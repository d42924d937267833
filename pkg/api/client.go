package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	keysource "github.com/orgsync/orgsync/pkg/keys"
)

// Defaults for the zero values of [Config].
const (
	defaultUserAgent    = "orgsync/dev"
	defaultTimeout      = 30 * time.Second
	defaultMaxRetryWait = 5 * time.Minute
)

// Body size limits: an answer larger than this is not one of ours.
const (
	maxBody      = 8 << 20 // 2xx
	maxErrorBody = 1 << 20 // other statuses, as go-github
)

// Config configures a [Client]. A Client talks to one org: its keys decide
// which org is the source of every connection it creates.
type Config struct {
	BaseURL      string             // from [BaseURL]; required
	APIKey       string             // sent as DD-API-KEY; never printed anywhere
	AppKey       string             // sent as DD-APPLICATION-KEY; never printed anywhere
	UserAgent    string             // default "orgsync/dev"; cmd sets "orgsync/<version>"
	HTTPClient   *http.Client       // default: a clone of http.DefaultTransport, no global timeout
	Timeout      time.Duration      // per attempt; default 30s
	MaxRetries   int                // retries after the first attempt, used as given (0 = none)
	MaxRetryWait time.Duration      // cap on one wait for a 429 reset/Retry-After; default 5m
	Rate         rate.Limit         // client-side seed rate (requests/s); 0 = none until headers tune it
	Burst        int                // seed burst; >= 1 when Rate > 0
	RateIsCap    bool               // headers may lower the pace below Rate but never raise it above
	OnResponse   func(ResponseInfo) // optional; called for every response, retries included, from any goroutine
	Slots        *Slots             // requests in flight at most, shared with other clients; nil = no bound
}

// String describes cfg without its keys, so that a %v in a log line cannot
// leak them.
func (cfg Config) String() string {
	return fmt.Sprintf("api.Config{BaseURL: %q, APIKey: %s, AppKey: %s, UserAgent: %q, Timeout: %s, MaxRetries: %d, MaxRetryWait: %s, Rate: %g, Burst: %d, RateIsCap: %t}",
		redactKeys(cfg.BaseURL, cfg.APIKey, cfg.AppKey), redactedIfSet(cfg.APIKey), redactedIfSet(cfg.AppKey), cfg.UserAgent, cfg.Timeout,
		cfg.MaxRetries, cfg.MaxRetryWait, float64(cfg.Rate), cfg.Burst, cfg.RateIsCap)
}

// GoString is String, for %#v.
func (cfg Config) GoString() string { return cfg.String() }

func redactedIfSet(key string) string {
	if key == "" {
		return `""`
	}
	return "[redacted]"
}

// ResponseInfo describes one HTTP response, for [Config.OnResponse].
type ResponseInfo struct {
	Method     string
	Path       string // API path, without base path or query
	StatusCode int
	RateLimit  RateLimit
	Attempt    int // 1 for the first attempt of a call
	Elapsed    time.Duration
}

// CallInfo reports how one API call went, for apply's report: the attempts
// it took, the final HTTP status (0 if none came) and the 429s it met.
type CallInfo struct {
	Attempts   int
	StatusCode int
	Throttled  int // 429 answers seen
	Unanswered int // attempts that got no whole answer: the server may have acted on them
}

type callInfoKey struct{}

// WithCallInfo returns a ctx in which the [Client] fills *ci at the end of
// each call; after a call, *ci describes the last call made with that ctx.
// Use one ci per goroutine.
func WithCallInfo(ctx context.Context, ci *CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, ci)
}

type stopKey struct{}

// ErrStopped is returned, wrapped, by a call abandoned because the stop
// channel of [WithStop] was closed: it started no new attempt. The call's
// [CallInfo] tells whether an earlier attempt was sent.
var ErrStopped = errors.New("stopped before sending")

// WithStop returns a ctx whose calls stop early once stop is closed: they
// start no new attempt and abandon their waits (rate limit, backoff, 429)
// at once, with an error that wraps [ErrStopped]. Unlike cancelling ctx, it
// lets an attempt already on the wire finish and returns its answer, so that
// an interrupted apply knows the fate of every request it sent.
func WithStop(ctx context.Context, stop <-chan struct{}) context.Context {
	if stop == nil {
		return ctx
	}
	return context.WithValue(ctx, stopKey{}, stop)
}

// Client calls the Datadog API on behalf of one org. It retries transient
// failures and paces its requests by the server's rate-limit headers. It is
// safe for concurrent use; its pacing is shared by all its callers.
type Client struct {
	base         string // no trailing slash
	keys         *keys
	userAgent    string
	hc           *http.Client
	timeout      time.Duration
	maxRetries   int
	maxRetryWait time.Duration
	onResponse   func(ResponseInfo)
	clk          *clock
	pacers       *pacers
	slots        *Slots
}

// keys are the org's credentials.
type keys struct{ api, app string }

// clock holds the time and randomness a Client uses, so that tests can
// record waits instead of sleeping.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	rnd   func() float64 // in [0, 1), safe for concurrent use
}

// NewClient checks cfg and returns a Client. Errors never contain the keys.
func NewClient(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("no base URL")
	}
	if err := checkBaseURL(cfg.BaseURL); err != nil {
		return nil, errors.New(redactKeys(err.Error(), cfg.APIKey, cfg.AppKey))
	}
	if err := checkKey("API key", cfg.APIKey); err != nil {
		return nil, err
	}
	if err := checkKey("application key", cfg.AppKey); err != nil {
		return nil, err
	}
	switch {
	case cfg.Rate < 0 || math.IsNaN(float64(cfg.Rate)):
		return nil, fmt.Errorf("invalid rate %g: must be positive, or 0 for none", float64(cfg.Rate))
	case cfg.Rate > 0 && cfg.Rate != rate.Inf && cfg.Burst < 1:
		return nil, fmt.Errorf("invalid burst %d: must be at least 1 when a rate is set", cfg.Burst)
	case cfg.MaxRetries < 0:
		return nil, fmt.Errorf("invalid max retries %d: must be 0 or more", cfg.MaxRetries)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("invalid timeout %s: must be positive", cfg.Timeout)
	case cfg.MaxRetryWait < 0:
		return nil, fmt.Errorf("invalid max retry wait %s: must be positive", cfg.MaxRetryWait)
	}
	c := &Client{
		base:         strings.TrimRight(cfg.BaseURL, "/"),
		keys:         &keys{api: cfg.APIKey, app: cfg.AppKey},
		userAgent:    cmp(cfg.UserAgent, defaultUserAgent),
		timeout:      cmp(cfg.Timeout, defaultTimeout),
		maxRetries:   cfg.MaxRetries,
		maxRetryWait: cmp(cfg.MaxRetryWait, defaultMaxRetryWait),
		onResponse:   cfg.OnResponse,
		slots:        cfg.Slots,
		clk:          &clock{now: time.Now, sleep: sleepCtx, rnd: rand.Float64},
	}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.hc = &hc
	} else {
		var rt http.RoundTripper = http.DefaultTransport
		if t, ok := rt.(*http.Transport); ok {
			rt = t.Clone() // our connection pool, not the process's
		}
		c.hc = &http.Client{Transport: rt}
	}
	// Never follow a redirect, whatever the caller's client says: it would
	// carry the DD-* key headers to wherever it points (net/http strips
	// only Authorization and cookies, and only for another domain).
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// With --rate as a cap, one limiter holds every bucket of the org
	// under it; otherwise the rate only seeds each bucket until the
	// server's headers tune it.
	limited := cfg.Rate > 0 && cfg.Rate != rate.Inf
	var userCap *rate.Limiter
	if limited && cfg.RateIsCap {
		userCap = rate.NewLimiter(cfg.Rate, cfg.Burst)
	}
	seed := func() *rate.Limiter {
		if limited && !cfg.RateIsCap {
			return rate.NewLimiter(cfg.Rate, cfg.Burst)
		}
		return rate.NewLimiter(rate.Inf, 1)
	}
	c.pacers = newPacers(func() *pacer { return newPacer(c.clk, c.maxRetryWait, seed(), userCap) })
	return c, nil
}

// cmp returns v, or def when v is the zero value.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// checkKey rejects what would make an invalid header, without printing it.
func checkKey(what, key string) error {
	if key == "" {
		return fmt.Errorf("no %s", what)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return fmt.Errorf("the %s contains whitespace or a control or non-ASCII character", what)
		}
	}
	return nil
}

// String describes c without its keys. It has a value receiver so that
// even a %v of a dereferenced Client goes through it.
func (c Client) String() string { return fmt.Sprintf("api.Client(%s)", c.base) }

// GoString is String, for %#v.
func (c Client) GoString() string { return c.String() }

// request is one API call for do.
type request struct {
	method string
	key    string // endpoint key for pacing: method and path template
	path   string // escaped API path, e.g. /api/v2/org_connections/ID
	query  url.Values
	body   any // sent as JSON when non-nil
	out    any // a 2xx body is decoded into it when non-nil
}

// answer is what one attempt got.
type answer struct {
	status     int
	header     http.Header
	body       []byte
	tooLarge   bool
	readErr    error // the body could not be read to its end
	err        error // no answer at all
	sent, recv time.Time
}

// attempt sends one request under the per-attempt timeout and reads the
// whole answer (so that the connection can be reused).
func (c *Client) attempt(ctx context.Context, method, target string, payload []byte) (a answer) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, target, body)
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("DD-API-KEY", c.keys.api)
	req.Header.Set("DD-APPLICATION-KEY", c.keys.app)
	req.Header.Set("User-Agent", c.userAgent)
	if method == http.MethodDelete {
		req.Header.Set("Accept", "*/*") // as the official clients send it
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a.sent = c.clk.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		a.err = err
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// Say which deadline: "context deadline exceeded" alone reads
			// as if the whole run had timed out.
			a.err = fmt.Errorf("no answer within the request timeout of %s: %w", c.timeout, unwrapURLError(err))
		}
		a.recv = c.clk.now()
		return a
	}
	defer resp.Body.Close()
	a.status, a.header = resp.StatusCode, resp.Header
	limit := int64(maxErrorBody)
	if a.status >= 200 && a.status <= 299 {
		limit = maxBody
	}
	a.body, a.readErr = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if int64(len(a.body)) > limit {
		a.body, a.tooLarge = a.body[:limit], true
	}
	a.recv = c.clk.now()
	return a
}

// decode turns a 2xx answer into r.out.
func (c *Client) decode(r request, display string, a answer) error {
	derr := func(err error) error {
		return &DecodeError{Method: r.method, URL: display, StatusCode: a.status,
			ContentType: a.header.Get("Content-Type"), Err: c.redactErr(err)}
	}
	switch {
	case a.readErr != nil:
		return derr(fmt.Errorf("read body: %w", unwrapURLError(a.readErr)))
	case a.tooLarge:
		return derr(fmt.Errorf("%w: over %d MiB", errBodyTooLarge, maxBody>>20))
	case r.out == nil:
		return nil
	case len(bytes.TrimSpace(a.body)) == 0:
		return derr(errEmptyBody)
	}
	if err := json.Unmarshal(a.body, r.out); err != nil {
		return derr(err)
	}
	return nil
}

// unwrapURLError drops the *url.Error layer: it repeats the method and the
// full URL, which the caller's own prefix already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact removes the keys from s: servers and proxies may echo headers.
func (c *Client) redact(s string) string { return redactKeys(s, c.keys.api, c.keys.app) }

func redactKeys(s string, ks ...string) string { return keysource.Redact(s, ks...) }

// redactErr returns err, with its message redacted if it holds a key.
func (c *Client) redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if r := c.redact(msg); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}
