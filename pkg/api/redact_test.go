package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

func assertNoKeys(t *testing.T, s string) {
	t.Helper()
	for _, k := range []string{testAPIKey, testAppKey} {
		assert.NotContains(t, s, k, "a key leaked")
		assert.NotContains(t, s, k[:20], "part of a key leaked")
	}
}

// echoKeys answers with the request's key headers in its body, as a
// careless proxy or server might.
func echoKeys(code int, ct string, json bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		keys := "DD-API-KEY=" + r.Header.Get("DD-API-KEY") + " DD-APPLICATION-KEY=" + r.Header.Get("DD-APPLICATION-KEY")
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(code)
		if json {
			fmt.Fprintf(w, `{"errors":["invalid keys: %s"]}`, keys)
			return
		}
		fmt.Fprintf(w, "<html><body>\n%s\n</body></html>", keys)
	}
}

// TestNoKeyInAnyError makes every kind of error the package returns and
// checks that neither key appears in its message.
func TestNoKeyInAnyError(t *testing.T) {
	t.Parallel()
	var errs []error
	add := func(name string, err error) {
		t.Helper()
		require.Error(t, err, name)
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	create := func(c *api.Client) error {
		_, err := c.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
		return err
	}
	serve := func(h http.HandlerFunc, opts ...func(*api.Config)) *api.Client {
		c, mux := newTestClient(t, opts...)
		mux.HandleFunc("/", h)
		return c
	}

	// Server answers.
	add("api error echoing keys", create(serve(echoKeys(401, "application/json", true))))
	add("html page echoing keys", create(serve(echoKeys(502, "text/html", false))))
	add("retried 5xx echoing keys", create(serve(echoKeys(503, "text/html", false), func(c *api.Config) { c.MaxRetries = 2 })))
	add("decode error", create(serve(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"data":`) })))
	add("empty body", create(serve(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })))
	add("too large", create(serve(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"data":"`+strings.Repeat(testAPIKey, (9<<20)/len(testAPIKey))+`"}`)
	})))
	add("cut mid-answer", create(serve(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if assert.NoError(t, err) {
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"" + testAPIKey)
			buf.Flush()
			conn.Close()
		}
	})))
	add("dropped connection", create(serve(dropConnection(t))))
	throttled := serve(status(429, `{"errors":["slow down"]}`, "Retry-After", "3600"), func(c *api.Config) { c.MaxRetries = 3 })
	add("429 over the max wait", create(throttled))
	add("bucket blocked by a 429", create(throttled))
	add("pagination", func() error {
		_, err := serve(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"data":[`+strings.TrimSuffix(strings.TrimPrefix(connJSON(connID), `{"data":`), "}")+`]}`)
		}).ListConnections(t.Context(), api.ListOptions{PageSize: 1})
		return err
	}())
	add("current org", func() error {
		_, err := serve(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) }).CurrentOrg(t.Context())
		return err
	}())

	// Transport failures, whose messages name the URL.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	refused, err := api.NewClient(api.Config{BaseURL: closed.URL + "/x", APIKey: testAPIKey, AppKey: testAppKey})
	require.NoError(t, err)
	add("connection refused", create(refused))
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	tlsMismatch, err := api.NewClient(api.Config{BaseURL: "https://" + plain.Listener.Addr().String(), APIKey: testAPIKey, AppKey: testAppKey})
	require.NoError(t, err)
	add("https to http", create(tlsMismatch))
	leaky, err := api.NewClient(api.Config{BaseURL: "https://api.datadoghq.com", APIKey: testAPIKey, AppKey: testAppKey,
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("proxy refused header DD-API-KEY: " + r.Header.Get("DD-API-KEY") + " / " + r.Header.Get("DD-APPLICATION-KEY"))
		})}})
	require.NoError(t, err)
	add("transport error quoting headers", create(leaky))
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = leaky.CreateConnection(cancelled, sinkOrg, nil)
	add("cancelled", err)

	// Timeouts, on a fake clock.
	synctest.Test(t, func(t *testing.T) {
		c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), 0,
			func(cfg *api.Config) { cfg.Timeout = time.Second })
		_, err := c.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
		add("per-attempt timeout", err)
	})

	// Configuration errors.
	for _, base := range []string{
		"https://host/?api_key=" + testAPIKey,
		"https://" + testAPIKey + ":" + testAppKey + "@host",
		"https://host/%zz" + testAPIKey,
		"http://example.com/" + testAPIKey + "#" + testAppKey,
		"ftp://host/" + testAPIKey + "?" + testAppKey,
	} {
		_, err := api.NewClient(api.Config{BaseURL: base, APIKey: testAPIKey, AppKey: testAppKey})
		add("base URL "+base[:10], err)
	}
	_, err = api.NewClient(api.Config{BaseURL: "https://x", APIKey: testAPIKey + " ", AppKey: testAppKey})
	add("key with a space", err)

	require.Len(t, errs, 23)
	for _, err := range errs {
		t.Run(strings.SplitN(err.Error(), ":", 2)[0], func(t *testing.T) {
			for _, format := range []string{"%v", "%+v", "%s", "%q"} {
				assertNoKeys(t, fmt.Sprintf(format, err))
			}
			var apiErr *api.Error
			if errors.As(err, &apiErr) {
				assertNoKeys(t, strings.Join(apiErr.Errors, " ")+apiErr.Body)
			}
		})
	}
}

// TestShortKeysDoNotMangleText checks that a key too short to be a real
// one is not hidden inside ordinary words: with a one-letter key, a 401
// used to read "Un[redacted]uthorized".
func TestShortKeysDoNotMangleText(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"a", "o", "Forbid"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t, func(cfg *api.Config) { cfg.APIKey, cfg.AppKey = key, key+"2" })
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 401, `{"errors":["Unauthorized: a key was refused"]}`)
			})
			_, err := c.ListConnections(t.Context(), api.ListOptions{})
			assert.EqualError(t, err, "GET /api/v2/org_connections?limit=1000&offset=0: 401 Unauthorized: Unauthorized: a key was refused")
		})
	}
}
