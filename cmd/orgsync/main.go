// Command orgsync makes Datadog org connections match a YAML manifest.
// Run "orgsync -h" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(mainCode()) }

// mainCode is main without the exit, so that the end-to-end tests can run
// their own binary as orgsync.
func mainCode() int {
	// A closed stdout (apply --output json | head -1) must not kill a run
	// half-way: writes then fail with EPIPE, which orgsync shrugs off, and
	// the changes and the report go on.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, give the default behaviour back, so a
		// second Ctrl-C ends a run that is still finishing its requests.
		<-ctx.Done()
		stop()
	}()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
