package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *api.Error
		want string
	}{
		{
			name: "api errors",
			err: &api.Error{Method: "POST", URL: "/api/v2/org_connections", StatusCode: 409,
				Errors: []string{"connection between orgs A and B already exists"}, Attempts: 1},
			want: "POST /api/v2/org_connections: 409 Conflict: connection between orgs A and B already exists",
		},
		{
			name: "several errors and attempts",
			err:  &api.Error{Method: "GET", URL: "/x", StatusCode: 503, Errors: []string{"a", "b"}, Attempts: 6},
			want: "GET /x: 503 Service Unavailable: a; b (after 6 attempts)",
		},
		{
			name: "body",
			err:  &api.Error{Method: "GET", URL: "/x", StatusCode: 502, Body: `<html>\n<b>Bad</b>`},
			want: `GET /x: 502 Bad Gateway: <html>\n<b>Bad</b>`,
		},
		{
			name: "nothing",
			err:  &api.Error{Method: "DELETE", URL: "/x", StatusCode: 429},
			want: "DELETE /x: 429 Too Many Requests",
		},
		{
			name: "unknown status",
			err:  &api.Error{Method: "GET", URL: "/x", StatusCode: 599},
			want: "GET /x: 599",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestIsHelpers(t *testing.T) {
	t.Parallel()
	wrapped := func(code int) error {
		return errors.Join(errors.New("other"), &api.Error{StatusCode: code})
	}
	tests := []struct {
		name string
		is   func(error) bool
		code int
	}{
		{"IsNotFound", api.IsNotFound, 404},
		{"IsConflict", api.IsConflict, 409},
		{"IsUnauthorized", api.IsUnauthorized, 401},
		{"IsForbidden", api.IsForbidden, 403},
		{"IsRateLimited", api.IsRateLimited, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.True(t, tt.is(wrapped(tt.code)))
			assert.False(t, tt.is(wrapped(400)))
			assert.False(t, tt.is(errors.New("404")))
			assert.False(t, tt.is(nil))
		})
	}
}

// TestBadAnswers: whatever a server or proxy sends back gives a typed error,
// never a panic or a hang.
func TestBadAnswers(t *testing.T) {
	t.Parallel()
	bigJSON := `{"data":{"id":"` + strings.Repeat("x", 10<<20) + `"}}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    func(context.Context, *api.Client) error
		check   func(t *testing.T, err error)
	}{
		{
			name: "html error page from a proxy",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\x1b[31m"+strings.Repeat("<p>nginx</p>", 100)+"</body></html>")
			},
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 502, e.StatusCode)
				assert.Empty(t, e.Errors)
				assert.True(t, strings.HasPrefix(e.Body, `<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\u001b[31m<p>`), e.Body)
				assert.True(t, strings.HasSuffix(e.Body, "..."))
				assert.LessOrEqual(t, len(e.Body), 200+len(`\r\n\r\n\r\n\u001b`)+3)
				assert.NotContains(t, err.Error(), "\n")
				assert.NotContains(t, err.Error(), "\x1b")
			},
		},
		{
			name: "truncated json on a 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, `{"data":{"type":"org_connection","id":"40bb`)
			},
			check: func(t *testing.T, err error) {
				var e *api.DecodeError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 200, e.StatusCode)
				assert.Equal(t, "application/json", e.ContentType)
				assert.Equal(t, "POST", e.Method)
				assert.Equal(t, "/api/v2/org_connections", e.URL)
				assert.ErrorContains(t, err, "POST /api/v2/org_connections: cannot decode 200 answer (application/json): unexpected end of JSON input")
			},
		},
		{
			name: "html on a 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html>login</html>")
			},
			check: func(t *testing.T, err error) {
				var e *api.DecodeError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "text/html", e.ContentType)
			},
		},
		{
			name:    "10 MB body",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, bigJSON) },
			check: func(t *testing.T, err error) {
				var e *api.DecodeError
				require.ErrorAs(t, err, &e)
				assert.ErrorContains(t, err, "body too large")
			},
		},
		{
			name: "10 MB error body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 400, `{"errors":["`+strings.Repeat("y", 10<<20)+`"]}`)
			},
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 400, e.StatusCode)
				assert.Empty(t, e.Errors, "cut at 1 MiB, so not the API's JSON")
				assert.Len(t, e.Body, 203)
			},
		},
		{
			name:    "429 with no headers",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) },
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.True(t, api.IsRateLimited(err))
				assert.Equal(t, time.Duration(0), e.RetryAfter)
				assert.Equal(t, api.RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: -1}, e.RateLimit)
				assert.Equal(t, "POST /api/v2/org_connections: 429 Too Many Requests", err.Error())
			},
		},
		{
			name: "429 with garbage headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Retry-After", "later")
				h.Set("X-RateLimit-Limit", "many")
				h.Set("X-RateLimit-Period", "-10")
				h.Set("X-RateLimit-Remaining", "NaN")
				h.Set("X-RateLimit-Reset", "1e3")
				writeJSON(w, 429, `{"errors":["Too many requests"]}`)
			},
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.True(t, api.IsRateLimited(err))
				assert.Equal(t, []string{"Too many requests"}, e.Errors)
				assert.Equal(t, time.Duration(0), e.RetryAfter)
				assert.Equal(t, -1, e.RateLimit.Reset)
			},
		},
		{
			name: "429 with headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("X-RateLimit-Limit", "50")
				h.Set("X-RateLimit-Period", "10")
				h.Set("X-RateLimit-Remaining", "0")
				h.Set("X-RateLimit-Reset", "7")
				h.Set("X-RateLimit-Name", "org_connections")
				writeJSON(w, 429, `{"errors":["Too many requests"]}`)
			},
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 7*time.Second, e.RetryAfter)
				assert.Equal(t, api.RateLimit{Name: "org_connections", Limit: 50, Period: 10, Remaining: 0, Reset: 7}, e.RateLimit)
			},
		},
		{
			name:    "2xx with an empty body",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) },
			check: func(t *testing.T, err error) {
				var e *api.DecodeError
				require.ErrorAs(t, err, &e)
				assert.ErrorContains(t, err, "empty body")
			},
		},
		{
			name:    "204 on create",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			check: func(t *testing.T, err error) {
				var e *api.DecodeError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 204, e.StatusCode)
			},
		},
		{
			name:    "2xx with an empty body on delete is fine",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) },
			call:    func(ctx context.Context, c *api.Client) error { return c.DeleteConnection(ctx, connID) },
			check:   func(t *testing.T, err error) { assert.NoError(t, err) },
		},
		{
			name: "errors as JSON:API objects",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 400, `{"errors":[{"title":"Bad Request","detail":"types must be unique"},42]}`)
			},
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, []string{"Bad Request: types must be unique", "42"}, e.Errors)
			},
		},
		{
			name: "redirect is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.invalid/steal", http.StatusFound)
			},
			check: func(t *testing.T, err error) {
				var e *api.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 302, e.StatusCode)
			},
		},
		{
			name: "connection closed mid-response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if !assert.NoError(t, err) {
					return
				}
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"data\":{\"id\":")
				buf.Flush()
				conn.Close()
			},
			check: func(t *testing.T, err error) {
				var e *api.DecodeError
				require.ErrorAs(t, err, &e)
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			},
		},
		{
			name: "connection closed before any answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if assert.NoError(t, err) {
					conn.Close()
				}
			},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, io.EOF)
				assert.True(t, strings.HasPrefix(err.Error(), "POST /api/v2/org_connections: "), err.Error())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t)
			mux.HandleFunc("/", tt.handler)
			call := tt.call
			if call == nil {
				call = func(ctx context.Context, c *api.Client) error {
					_, err := c.CreateConnection(ctx, sinkOrg, []string{"logs"})
					return err
				}
			}
			err := call(t.Context(), c)
			tt.check(t, err)
		})
	}
}
