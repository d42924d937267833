package api_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

// TestRedirectsAreNeverFollowed: a 302 to another loopback listener must
// not be followed, even by a caller's client that would follow it, since
// the request would carry the key headers there.
func TestRedirectsAreNeverFollowed(t *testing.T) {
	t.Parallel()
	var thief atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		thief.Add(1)
		assert.Empty(t, r.Header.Get("DD-API-KEY"), "the API key reached the redirect target")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(elsewhere.Close)
	for _, tt := range []struct {
		name string
		hc   *http.Client
	}{
		{name: "default client"},
		{name: "caller's client that follows redirects", hc: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return nil },
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
			}))
			t.Cleanup(redirector.Close)
			c, err := api.NewClient(api.Config{BaseURL: redirector.URL, APIKey: testAPIKey, AppKey: testAppKey, HTTPClient: tt.hc})
			require.NoError(t, err)
			_, err = c.CurrentOrg(t.Context())
			var e *api.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, http.StatusFound, e.StatusCode)
			assertNoKeys(t, err.Error())
			if tt.hc != nil {
				assert.NotNil(t, tt.hc.CheckRedirect, "the caller's client is not modified")
			}
		})
	}
	// Parallel subtests finish before the parent's cleanups run.
	t.Cleanup(func() { assert.Zero(t, thief.Load(), "requests that reached the redirect target") })
}
