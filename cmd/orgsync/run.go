package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `orgsync makes Datadog org connections match a YAML manifest.

Usage:
  orgsync validate -f PATH...                       check manifests, no network
  orgsync plan     -f PATH... [--out PLAN.json] [--json] [--detailed-exitcode] [--max-deletes N]
  orgsync apply    -f PATH... [--auto-approve] [--report FILE] [--output text|json] [--max-deletes N]
  orgsync apply    PLAN.json  -f PATH... [--report FILE]   apply a saved plan if the manifests give exactly it
  orgsync apply    PLAN.json  [--report FILE]   apply a saved plan, checked for consistency only
  orgsync export   -f PATH... [--org LABEL...]      live state -> manifest YAML
  orgsync discover [-o FILE] [--site SITE] [--filter-name TEXT] [--connections]
                                                    the account's orgs -> manifest YAML
  orgsync sandbox  serve --listen ADDR --fixture FILE [--state FILE] [fault flags]
  orgsync report   merge [--partial] [-o FILE] REPORT.json...   join the reports of sharded runs
  orgsync version

Flags of plan, apply and export: --org LABEL, --shard i/n, --sandbox FILE,
--api-url [SITE=]URL, --keys-file FILE, --keys-command CMD, --parallelism N,
--rate R, --burst B, --timeout D, --max-retries N, --no-color, -v.

Run "orgsync COMMAND -h" for the flags of a command.

Exit codes:
  0  success (plan --detailed-exitcode: no changes)
  1  error: invalid input or flags, an org that cannot be used, a refused plan,
     an interrupt, an API failure, or any change failed or skipped
  2  plan --detailed-exitcode only: changes are pending
`

// exitError carries the exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// errSilent is an exit 1 whose reason was already printed.
var errSilent = &exitError{code: 1}

// streams are the process's standard streams and environment, passed down so
// that tests can run commands in-process.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// interactive: stdin is a terminal, so apply may ask for approval.
	interactive bool
	gh          *ghState // set by runWith
}

// run executes one orgsync command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, args, streams{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, interactive: isTerminal(stdin)})
}

func runWith(ctx context.Context, args []string, s streams) int {
	s.gh = &ghState{}
	err := dispatch(ctx, args, s)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if len(args) > 0 {
		reportToActions(s, args[0], err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printError(s.stderr, ee.err)
		}
		return ee.code
	}
	printError(s.stderr, err)
	return 1
}

// printError writes every line of err as an "orgsync: error:" line, and
// hints as "orgsync: hint:".
func printError(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		if line == "" {
			continue
		}
		fmt.Fprintf(w, "orgsync: error: %s\n", line)
	}
	var h hinted
	if errors.As(err, &h) {
		fmt.Fprintf(w, "orgsync: hint: %s\n", h.hint)
	}
}

// hinted is an error with advice on what to do about it.
type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

func withHint(err error, hint string) error { return hinted{err, hint} }

func dispatch(ctx context.Context, args []string, s streams) error {
	if len(args) == 0 {
		fmt.Fprint(s.stderr, usage)
		return &exitError{code: 1, err: errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(s.stdout, usage)
		return nil
	case "version", "-version", "--version":
		return runVersion(rest, s)
	case "validate":
		return runValidate(ctx, rest, s)
	case "plan":
		return runPlan(ctx, rest, s)
	case "apply":
		return runApply(ctx, rest, s)
	case "export":
		return runExport(ctx, rest, s)
	case "discover":
		return runDiscover(ctx, rest, s)
	case "sandbox":
		return runSandbox(ctx, rest, s)
	case "report":
		return runReport(ctx, rest, s)
	default:
		fmt.Fprint(s.stderr, usage)
		return &exitError{code: 1, err: fmt.Errorf("unknown command %q", cmd)}
	}
}
