package sandbox

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long ListenAndServe lets requests in flight finish.
const shutdownGrace = 5 * time.Second

// ListenAndServe serves s on addr (such as "127.0.0.1:8126", or ":0" for any
// free port) until ctx ends, then shuts down gracefully. ready, when not
// nil, is called with the bound address once the socket accepts
// connections, so a caller can print it or start clients without racing
// the listener. It returns nil after a shutdown caused by ctx. It does not
// close s: call [Server.Close] afterwards to flush the state file.
func ListenAndServe(ctx context.Context, addr string, s *Server, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // grace period over: cut the stragglers
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
