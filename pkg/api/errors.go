package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is returned for every non-2xx final answer of the API. Callers branch
// on StatusCode (see [IsNotFound], [IsConflict]); the server's wording is not
// stable (it says both "Org connection" and "org connection").
type Error struct {
	Method     string
	URL        string // path and query only
	StatusCode int
	Errors     []string // the server's "errors" list; empty if the body was not the API's error JSON
	Body       string   // when Errors is empty: the start of the body, control characters escaped
	RateLimit  RateLimit
	RetryAfter time.Duration // from Retry-After or X-RateLimit-Reset, 0 if none
	Attempts   int
	// Permission is, on a 403, the permission the endpoint needs (such as
	// org_connections_write), which the keys' user or role lacks.
	Permission string
}

// Error formats e as "METHOD URL: STATUS TEXT: server errors".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.URL, e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" " + text)
	}
	switch {
	case len(e.Errors) > 0:
		b.WriteString(": " + strings.Join(e.Errors, "; "))
	case e.Body != "":
		b.WriteString(": " + e.Body)
	}
	if e.Permission != "" {
		fmt.Fprintf(&b, "; the keys lack the %s permission", e.Permission)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// IsNotFound reports whether err is an [*Error] with status 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is an [*Error] with status 409: on create,
// the connection already exists.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsUnauthorized reports whether err is an [*Error] with status 401: bad keys.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is an [*Error] with status 403: the keys
// lack a permission.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsRateLimited reports whether err is an [*Error] with status 429, returned
// once retries are exhausted or the server asks for too long a wait.
func IsRateLimited(err error) bool { return hasStatus(err, http.StatusTooManyRequests) }

func hasStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}

// DecodeError is returned when a 2xx answer is not the JSON expected: a
// truncated or oversized body, or a proxy's HTML page.
type DecodeError struct {
	Method      string
	URL         string // path and query only
	StatusCode  int
	ContentType string
	Err         error
}

// Error formats e as "METHOD URL: cannot decode STATUS answer (TYPE): cause".
func (e *DecodeError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s %s: cannot decode %d answer (%s): %v", e.Method, e.URL, e.StatusCode, ct, e.Err)
}

// Unwrap returns the cause, so that errors.Is(err, io.ErrUnexpectedEOF) works.
func (e *DecodeError) Unwrap() error { return e.Err }

// errBodyTooLarge is the DecodeError cause for a body over the size limit.
var errBodyTooLarge = errors.New("body too large")

// errEmptyBody is the DecodeError cause for a 2xx without a body.
var errEmptyBody = errors.New("empty body")

// redactedError replaces the message of an error that mentions a key, while
// errors.Is and errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// bodyPreviewLen is how much of a non-API error body goes into [Error.Body].
const bodyPreviewLen = 200

// newError builds the [*Error] for a non-2xx answer. It is the one place
// where server text enters an error, so it redacts keys and escapes control
// characters there (a server or proxy may echo a request header back).
func (c *Client) newError(method, display string, status int, h http.Header, body []byte, rl RateLimit, attempts int) *Error {
	e := &Error{Method: method, URL: display, StatusCode: status, RateLimit: rl, Attempts: attempts}
	if status == http.StatusForbidden {
		e.Permission = permission(method, display)
	}
	for _, msg := range parseAPIErrors(body) {
		e.Errors = append(e.Errors, escapeControl(c.redact(msg)))
	}
	if len(e.Errors) == 0 {
		e.Body = preview(c.redact(string(body)), bodyPreviewLen)
	}
	ra, hasRA := ParseRetryAfter(h.Get("Retry-After"), c.clk.now())
	switch {
	case status == http.StatusTooManyRequests && rl.Reset >= 0:
		e.RetryAfter = seconds(rl.Reset)
	case hasRA:
		e.RetryAfter = ra
	}
	return e
}

// parseAPIErrors returns the "errors" list of the API's error JSON. Items are
// strings on this API; JSON:API style objects are read for their detail or
// title, so that another Datadog endpoint's errors stay readable.
func parseAPIErrors(body []byte) []string {
	var doc struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	var out []string
	for _, raw := range doc.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		var obj struct{ Detail, Title string }
		if json.Unmarshal(raw, &obj) == nil && (obj.Detail != "" || obj.Title != "") {
			out = append(out, strings.TrimSpace(obj.Title+": "+obj.Detail))
			continue
		}
		out = append(out, string(raw))
	}
	return out
}

// preview returns the first n bytes of s, control characters escaped, so
// that an HTML page fits on one terminal line and cannot drive the terminal.
func preview(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		cut := n
		for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
			cut-- // do not split a rune
		}
		return escapeControl(s[:cut]) + "..."
	}
	return escapeControl(s)
}

// escapeControl escapes control characters and invalid UTF-8 Go-style.
func escapeControl(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
