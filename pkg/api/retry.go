package api

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Backoff parameters for 5xx answers and transport failures. The cap keeps
// a server that fails for good from holding a run for minutes: with the
// CLI's 10 retries a call gives up after about 30 s, while a flaky one
// (20% 5xx and drops) still converges.
const (
	backoffBase = 250 * time.Millisecond
	backoffCap  = 5 * time.Second
)

// shouldRetry reports whether an attempt that ended with status (0 when no
// answer came) or err may be tried again: 429, 5xx other than 501, timeouts,
// and connections refused, reset or closed mid-answer. Other 4xx are final,
// and so is a cancelled context. The caller also stops once its own ctx is
// done: a per-attempt timeout is retried, the caller's deadline is not.
func shouldRetry(status int, err error) bool {
	if err != nil {
		return retryableError(err)
	}
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case status == http.StatusNotImplemented:
		return false
	case status >= 500 && status <= 599:
		return true
	}
	return false
}

func retryableError(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the per-attempt timeout
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalidCert) {
		return false // a misconfiguration: retrying cannot help
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) // other socket-level failures (unreachable network, ...)
}

// backoff returns the wait after failed attempt number attempt (1-based):
// exponential from backoffBase, capped at backoffCap, with "equal jitter"
// (half fixed, half random) so that workers that failed together do not
// retry together. rnd returns a value in [0, 1).
func backoff(attempt int, rnd func() float64) time.Duration {
	d := backoffBase
	for i := 1; i < attempt && d < backoffCap; i++ {
		d *= 2
	}
	d = min(d, backoffCap)
	half := d / 2
	return half + time.Duration(rnd()*float64(half))
}

// throttleWait returns how long to wait after a 429: until the window reset
// the server gives (X-RateLimit-Reset, else Retry-After, else backoff), plus
// jitter of up to 10% (at most 1s). exact is the server's figure without
// jitter, 0 when the server gave none; it is what MaxRetryWait is checked against.
func throttleWait(rl RateLimit, retryAfter time.Duration, hasRetryAfter bool, attempt int, rnd func() float64) (wait, exact time.Duration) {
	switch {
	case rl.Reset > 0:
		exact = seconds(rl.Reset)
	case hasRetryAfter && retryAfter > 0:
		exact = retryAfter
	default:
		// No usable figure (or "0": retrying at once would only burn
		// attempts inside the same window).
		return backoff(attempt, rnd), 0
	}
	return saturatingAdd(exact, jitter(exact/10, time.Second, rnd)), exact
}

// seconds converts a header's whole seconds to a Duration, saturating
// instead of overflowing on absurd values.
func seconds(n int) time.Duration {
	if int64(n) > int64(maxRetryAfter/time.Second) {
		return maxRetryAfter
	}
	return time.Duration(n) * time.Second
}

func saturatingAdd(a, b time.Duration) time.Duration {
	if a > maxRetryAfter-b {
		return maxRetryAfter
	}
	return a + b
}

// jitter returns a random duration in [0, min(frac, limit)).
func jitter(frac, limit time.Duration, rnd func() float64) time.Duration {
	return time.Duration(rnd() * float64(min(frac, limit)))
}

// sleepCtx waits for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
