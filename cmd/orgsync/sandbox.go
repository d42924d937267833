package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/orgsync/orgsync/pkg/sandbox"
)

type sandboxArgs struct {
	listen  string
	fixture string
	state   string
	faults  sandbox.Faults
}

func parseSandboxArgs(args []string, s streams) (sandboxArgs, error) {
	var a sandboxArgs
	fs, err := newSubcommandFlags(args, "sandbox", "serve", "orgsync sandbox serve --listen ADDR --fixture FILE [--state FILE] [fault flags]",
		"Runs a local emulator of Datadog's Org Connections API.", s)
	if err != nil {
		return a, err
	}
	fs.StringVar(&a.listen, "listen", "127.0.0.1:8080", "listen on `ADDR` (host:port; port 0 picks a free one)")
	fs.StringVar(&a.fixture, "fixture", "", "orgs, keys, connections and rate limit, as YAML `FILE`")
	fs.StringVar(&a.state, "state", "", "keep connections in `FILE` across restarts (locked while serving)")
	fs.Float64Var(&a.faults.Fail5xx, "fail-5xx", 0, "probability `P` of answering 5xx without doing the work")
	fs.Float64Var(&a.faults.DropBefore, "drop-before", 0, "probability `P` of closing the connection without doing the work")
	fs.Float64Var(&a.faults.DropAfter, "drop-after", 0, "probability `P` of doing a write, then closing the connection without answering")
	fs.DurationVar(&a.faults.Latency, "latency", 0, "added to every request")
	fs.Int64Var(&a.faults.Seed, "seed", 0, "random seed for faults and ids (0: random)")
	if err := fs.Parse(args[1:]); err != nil {
		return a, err
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("sandbox serve: unexpected argument %q", fs.Arg(0))
	}
	if a.fixture == "" {
		return a, errors.New("sandbox serve needs --fixture FILE")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"--fail-5xx", a.faults.Fail5xx}, {"--drop-before", a.faults.DropBefore}, {"--drop-after", a.faults.DropAfter}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return a, fmt.Errorf("%s must be a probability between 0 and 1, not %v", p.name, p.v)
		}
	}
	if a.faults.Latency < 0 {
		return a, errors.New("--latency must not be negative")
	}
	return a, nil
}

func runSandbox(ctx context.Context, args []string, s streams) error {
	a, err := parseSandboxArgs(args, s)
	if err != nil {
		return err
	}
	f, err := sandbox.LoadFixture(a.fixture)
	if err != nil {
		return err
	}
	srv, err := sandbox.New(f, sandbox.Options{StatePath: a.state, Faults: a.faults,
		Notice: func(msg string) { fmt.Fprintf(s.stderr, "orgsync: %s\n", msg) }})
	if err != nil {
		return stateHint(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := newHTTPServer(srv)
	fmt.Fprintf(s.stderr, "orgsync: sandbox listening on %s (%d %s); stop with Ctrl-C\n", listenURL(ln.Addr()), len(f.Orgs), plural(len(f.Orgs), "org", "orgs"))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := srv.Close(); err != nil {
		return err
	}
	fmt.Fprintln(s.stderr, "orgsync: sandbox stopped")
	return nil
}

// listenURL is a URL a client on this machine can use for addr: an
// unspecified address (0.0.0.0, ::) is reached through loopback.
func listenURL(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return "http://" + netip.AddrPortFrom(ip, ap.Port()).String()
}

// stateHint adds what to do when another process holds the sandbox state.
func stateHint(err error) error {
	if errors.Is(err, sandbox.ErrStateInUse) {
		return withHint(err, "a state file belongs to one orgsync process at a time: wait for the other run, or run one `orgsync sandbox serve --state FILE` and point every run at it with --api-url")
	}
	return err
}
