package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

// gateTransport answers once release is closed, and tracks how many round
// trips are in flight, bodies included.
type gateTransport struct {
	release  chan struct{}
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (g *gateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := g.inFlight.Add(1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-g.release:
	case <-req.Context().Done():
		g.inFlight.Add(-1)
		return nil, req.Context().Err()
	}
	body := &countingBody{Reader: strings.NewReader(`{}`), done: func() { g.inFlight.Add(-1) }}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: body, Request: req}, nil
}

type countingBody struct {
	io.Reader
	once sync.Once
	done func()
}

// Read ends the round trip at EOF.
func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *countingBody) Close() error { b.once.Do(b.done); return nil }

func TestSlotsBoundRequestsInFlight(t *testing.T) {
	tests := []struct {
		name, want int
	}{
		{name: 1, want: 1},
		{name: 3, want: 3},
		{name: 0, want: 1},
		{name: -2, want: 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d", tt.name), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate := &gateTransport{release: make(chan struct{})}
				slots := api.NewSlots(tt.name)
				// Two clients (two orgs) share the slots.
				var clients []*api.Client
				for range 2 {
					clients = append(clients, newMemClientRT(t, gate, slots))
				}
				var wg sync.WaitGroup
				for i := range 10 {
					wg.Go(func() {
						assert.NoError(t, clients[i%2].DeleteConnection(t.Context(), connID))
					})
				}
				synctest.Wait() // everyone is blocked: in the transport or waiting for a slot
				assert.Equal(t, int32(tt.want), gate.inFlight.Load())
				close(gate.release)
				wg.Wait()
				assert.Equal(t, int32(tt.want), gate.maxSeen.Load())
				assert.Zero(t, gate.inFlight.Load())
			})
		})
	}
}

func TestSlotsCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := &gateTransport{release: make(chan struct{})}
		c := newMemClientRT(t, gate, api.NewSlots(1))
		go func() { _ = c.DeleteConnection(t.Context(), connID) }() // takes the only slot
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err := c.DeleteConnection(ctx, connID)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		close(gate.release)
	})
}

func TestSlotsReleasedOnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		failing := roundTripFunc(func(*http.Request) (*http.Response, error) {
			calls.Add(1)
			return nil, errors.New("boom")
		})
		c := newMemClientRT(t, failing, api.NewSlots(1))
		for range 3 {
			assert.ErrorContains(t, c.DeleteConnection(t.Context(), connID), "boom")
		}
		assert.Equal(t, int32(3), calls.Load(), "the slot is freed after a failed round trip")
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newMemClientRT(t *testing.T, rt http.RoundTripper, slots *api.Slots) *api.Client {
	t.Helper()
	c, err := api.NewClient(api.Config{BaseURL: "http://127.0.0.1", APIKey: testAPIKey, AppKey: testAppKey,
		HTTPClient: &http.Client{Transport: rt}, Slots: slots})
	require.NoError(t, err)
	return c
}

// TestStopWhileWaitingForASlot: a call waiting for a slot is not started;
// a stop ends its wait at once, while the call holding the slot finishes.
func TestStopWhileWaitingForASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := &gateTransport{release: make(chan struct{})}
		c := newMemClientRT(t, gate, api.NewSlots(1))
		stop := make(chan struct{})
		ctx := api.WithStop(t.Context(), stop)
		var first error
		done := make(chan struct{})
		go func() { first = c.DeleteConnection(ctx, connID); close(done) }() // takes the only slot
		synctest.Wait()
		time.AfterFunc(time.Second, func() { close(stop) })
		start := time.Now()
		var ci api.CallInfo
		err := c.DeleteConnection(api.WithCallInfo(ctx, &ci), connID)
		require.ErrorIs(t, err, api.ErrStopped)
		assert.Equal(t, time.Second, time.Since(start), "the wait ends with the stop")
		assert.Equal(t, api.CallInfo{}, ci, "nothing was sent")
		close(gate.release)
		<-done
		assert.NoError(t, first, "the call on the wire finishes")
		assert.Equal(t, int32(1), gate.maxSeen.Load())
	})
}

// TestTimeoutStartsOnTheWire: the per-attempt timeout does not count the
// wait for a slot, and the elapsed time reported is the request's own.
func TestTimeoutStartsOnTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var elapsed []time.Duration
		slots := api.NewSlots(1)
		c := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }), 2*time.Second,
			func(cfg *api.Config) {
				cfg.Slots, cfg.Timeout, cfg.MaxRetries = slots, 3*time.Second, 0
				cfg.OnResponse = func(ri api.ResponseInfo) {
					mu.Lock()
					elapsed = append(elapsed, ri.Elapsed)
					mu.Unlock()
				}
			})
		start := time.Now()
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { assert.NoError(t, c.DeleteConnection(t.Context(), connID)) })
		}
		wg.Wait()
		assert.Equal(t, 10*time.Second, time.Since(start), "one at a time")
		assert.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}, elapsed)
	})
}

// TestWaitingForAWindowHoldsNoSlot: an org waiting for its rate-limit
// window holds no slot, so another org's request goes at once although
// the only slot is shared.
func TestWaitingForAWindowHoldsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slots := api.NewSlots(1)
		throttled := newWindowServer(1, time.Minute, time.Now())
		a := newMemClient(t, throttled, 0, func(cfg *api.Config) { cfg.Slots = slots })
		b := newMemClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }), 0,
			func(cfg *api.Config) { cfg.Slots = slots })
		require.Empty(t, runWorkers(a, 1, 1)) // a's window is used up
		start := time.Now()
		done := make(chan struct{})
		go func() { assert.Empty(t, runWorkers(a, 1, 1)); close(done) }()
		synctest.Wait() // a waits for its next window
		require.NoError(t, b.DeleteConnection(t.Context(), connID))
		assert.Zero(t, time.Since(start), "b did not wait for a's window")
		<-done
		assert.Equal(t, time.Minute, time.Since(start).Round(time.Second), "a waited for its window")
		assert.Zero(t, throttled.throttled)
	})
}
