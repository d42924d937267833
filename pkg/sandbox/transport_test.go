package sandbox

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeTracker records that RoundTrip closed the request body, as the
// http.RoundTripper contract requires.
type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestTransport(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{})
	body := &closeTracker{Reader: strings.NewReader(createBody(sinkID, "logs"))}
	req, err := http.NewRequestWithContext(t.Context(), "POST", "https://api.datadoghq.com/api/v2/org_connections", body)
	require.NoError(t, err)
	req.Header.Set("DD-API-KEY", srcKeys.api)
	req.Header.Set("DD-APPLICATION-KEY", srcKeys.app)

	resp, err := (&http.Client{Transport: s.Transport()}).Do(req)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.True(t, body.closed)
	assert.Equal(t, "200 OK", resp.Status)
	assert.Equal(t, int64(len(got)), resp.ContentLength)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Same(t, req, resp.Request)
	assert.Equal(t, srcKeys.api, req.Header.Get("DD-API-KEY"), "the request is not modified")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, err = http.NewRequestWithContext(ctx, "GET", "http://sandbox/api/v2/org_connections", nil)
	require.NoError(t, err)
	_, err = s.Transport().RoundTrip(req)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), s.Stats().Requests, "a cancelled request never reaches the server")
}
