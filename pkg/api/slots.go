package api

import "context"

// Slots bounds the requests in flight across every [Client] that shares
// it: the global --parallelism. A Client takes a slot only once its
// request may go (its org's rate limit and its backoff are behind it) and
// holds it for the attempt alone, so that a throttled org never holds
// back the others, a stop ends the wait for a slot at once, and the
// per-attempt timeout starts when the request goes on the wire.
type Slots struct{ ch chan struct{} }

// NewSlots returns room for n requests in flight; n < 1 is taken as 1.
func NewSlots(n int) *Slots { return &Slots{ch: make(chan struct{}, max(n, 1))} }

// acquire waits for a free slot or for ctx to end. A nil Slots never waits.
func (s *Slots) acquire(ctx context.Context) error {
	if s == nil {
		return nil
	}
	select {
	case s.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// release frees a slot taken by acquire.
func (s *Slots) release() {
	if s != nil {
		<-s.ch
	}
}
