package main

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	fs.StringVar(&a.state, "state", "", "keep connections in `FILE` across restarts")
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
	for name, p := range map[string]float64{"--fail-5xx": a.faults.Fail5xx, "--drop-before": a.faults.DropBefore, "--drop-after": a.faults.DropAfter} {
		if p < 0 || p > 1 {
			return a, fmt.Errorf("%s must be a probability between 0 and 1", name)
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
	srv, err := sandbox.New(f, sandbox.Options{StatePath: a.state, Faults: a.faults})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := newHTTPServer(srv)
	fmt.Fprintf(s.stderr, "orgsync: sandbox listening on http://%s (%d orgs); stop with Ctrl-C\n", ln.Addr(), len(f.Orgs))
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
