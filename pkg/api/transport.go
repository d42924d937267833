package api

import (
	"io"
	"net/http"
	"sync"
)

// LimitConcurrency wraps rt so that at most n round trips are in flight at
// once across every client sharing the returned RoundTripper: the global
// --parallelism bound. A slot is held from the request until the response
// body is closed; a client waiting on its org's rate limit holds none. n < 1
// is taken as 1.
func LimitConcurrency(rt http.RoundTripper, n int) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &limitedTransport{rt: rt, slots: make(chan struct{}, max(n, 1))}
}

type limitedTransport struct {
	rt    http.RoundTripper
	slots chan struct{}
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close it, even on error
		}
		return nil, req.Context().Err()
	}
	release := sync.OnceFunc(func() { <-t.slots })
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// CloseIdleConnections passes the call on, for http.Client.CloseIdleConnections.
func (t *limitedTransport) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// releasingBody frees the slot when the body is closed or read to its end.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.release()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
