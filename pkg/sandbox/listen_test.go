package sandbox

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- ListenAndServe(ctx, "127.0.0.1:0", s, func(a net.Addr) { addrc <- a }) }()

	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("ListenAndServe: %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr.String()+"/api/v2/current_user", nil)
	require.NoError(t, err)
	req.Header.Set("DD-API-KEY", srcKeys.api)
	req.Header.Set("DD-APPLICATION-KEY", srcKeys.app)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), srcID)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	cancel()
	require.NoError(t, <-errc, "a shutdown asked for by ctx is not an error")
	_, err = net.Dial("tcp", addr.String())
	assert.Error(t, err, "the listener is closed")
}

func TestListenAndServeBadAddress(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, Options{})
	err := ListenAndServe(t.Context(), "127.0.0.1:-1", s, func(net.Addr) { t.Error("ready must not be called") })
	assert.Error(t, err)
}
