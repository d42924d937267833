package api_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

func TestStopBeforeTheCall(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { t.Errorf("request sent after stop: %s", r.URL) })
	stop := make(chan struct{})
	close(stop)
	var ci api.CallInfo
	_, err := c.CreateConnection(api.WithCallInfo(api.WithStop(t.Context(), stop), &ci), sinkOrg, []string{"logs"})
	require.ErrorIs(t, err, api.ErrStopped)
	assert.EqualError(t, err, "POST /api/v2/org_connections: stopped before sending")
	assert.Equal(t, api.CallInfo{}, ci, "nothing was sent")
}

func TestNilStopChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	assert.Equal(t, ctx, api.WithStop(ctx, nil))
}

// TestStopDuringWaits: closing stop ends every kind of wait at once, and the
// error tells what the last attempt got.
func TestStopDuringWaits(t *testing.T) {
	tests := []struct {
		name      string
		answer    http.HandlerFunc
		wantStill func(error) bool
	}{
		{name: "backoff after a 5xx", answer: status(503, `{"errors":["x"]}`), wantStill: func(err error) bool { return hasStatus(err, 503) }},
		{name: "429 reset", answer: status(429, `{"errors":["x"]}`, "Retry-After", "60"), wantStill: api.IsRateLimited},
		{name: "rate-limit window", answer: status(429, `{"errors":["x"]}`, "X-RateLimit-Limit", "1", "X-RateLimit-Period", "60",
			"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "60"), wantStill: api.IsRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					tt.answer(w, r)
				}), 0, func(cfg *api.Config) { cfg.MaxRetries = 9 })
				stop := make(chan struct{})
				time.AfterFunc(100*time.Millisecond, func() { close(stop) })
				start := time.Now()
				var ci api.CallInfo
				_, err := c.CreateConnection(api.WithCallInfo(api.WithStop(t.Context(), stop), &ci), sinkOrg, []string{"logs"})
				require.ErrorIs(t, err, api.ErrStopped)
				assert.True(t, tt.wantStill(err), "the last answer is kept: %v", err)
				assert.Contains(t, err.Error(), "POST /api/v2/org_connections: stopped before sending (attempt ")
				assert.LessOrEqual(t, time.Since(start), 100*time.Millisecond, "returns as soon as stop closes")
				assert.Equal(t, calls.Load(), int32(ci.Attempts))
				assert.GreaterOrEqual(t, ci.Attempts, 1)
				assert.NoError(t, t.Context().Err())
			})
		})
	}
}

func hasStatus(err error, code int) bool {
	var e *api.Error
	return errors.As(err, &e) && e.StatusCode == code
}

// TestStopLetsTheRequestOnTheWireFinish: stop does not cancel an attempt
// already sent; its answer comes back as usual.
func TestStopLetsTheRequestOnTheWireFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			created(w, r)
		}), 0)
		stop := make(chan struct{})
		ctx := api.WithStop(context.Background(), stop)
		time.AfterFunc(time.Second, func() { close(stop) })
		time.AfterFunc(2*time.Second, func() { close(release) })
		var ci api.CallInfo
		conn, err := c.CreateConnection(api.WithCallInfo(ctx, &ci), sinkOrg, []string{"logs"})
		require.NoError(t, err)
		assert.Equal(t, connID, conn.ID)
		assert.Equal(t, api.CallInfo{Attempts: 1, StatusCode: 200}, ci)
		// The next call starts nothing.
		_, err = c.CreateConnection(ctx, sinkOrg, []string{"logs"})
		assert.ErrorIs(t, err, api.ErrStopped)
	})
}
