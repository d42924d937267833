package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orgsync/orgsync/internal/orgapi"
)

// listFlag is a repeatable string flag (-f a.yaml -f b.yaml).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	*l = append(*l, v)
	return nil
}

// maxShards bounds n in --shard i/n: more CI jobs than that is no real
// split, and a bound keeps the modulo of the org hash meaningful.
const maxShards = 1000

// shard is a --shard i/n value: this job takes slice i (1..n) of n.
type shard struct{ index, count int }

func (s *shard) String() string {
	if s.count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.index, s.count)
}

func (s *shard) Set(v string) error {
	i, n, ok := strings.Cut(v, "/")
	if !ok {
		return errors.New("want i/n, such as 1/4")
	}
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || count < 1 || count > maxShards || index < 1 || index > count {
		return fmt.Errorf("want i/n with 1 <= i <= n <= %d, such as 1/4", maxShards)
	}
	s.index, s.count = index, count
	return nil
}

// rateFlag records whether --rate was given, since a rate the user chose
// is a cap that the server's headers never raise.
type rateFlag struct {
	value float64
	set   bool
}

func (r *rateFlag) String() string {
	if !r.set {
		return ""
	}
	return strconv.FormatFloat(r.value, 'g', -1, 64)
}

func (r *rateFlag) Set(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 1e6) { // NaN fails too
		return errors.New("want requests per second, a number above 0")
	}
	r.value, r.set = f, true
	return nil
}

// targetFlags are the flags that plan, apply and export share: what to
// read and how to reach and pace the API.
type targetFlags struct {
	files       listFlag
	orgs        listFlag
	apiURL      apiURLFlag
	sandbox     string
	parallelism int
	rate        rateFlag
	burst       int
	timeout     time.Duration
	maxRetries  int
	shard       shard
	noColor     bool
	verbose     bool
	// ownerChecks: the command warns about orgs whose keys belong to a
	// personal user, or fails them with requireServiceAccount.
	ownerChecks           bool
	requireServiceAccount bool
	keys                  keysFlags
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.Var(&t.files, "f", "manifest `PATH` (file or directory; repeatable)")
	fs.Var(&t.orgs, "org", "only this source org `LABEL` (repeatable)")
	fs.Var(&t.apiURL, "api-url", "send every org's calls to this base `URL` (env ORGSYNC_API_URL), or with SITE=URL those of the orgs on SITE (repeatable); https://, or http:// on loopback only")
	fs.Func("sandbox", "use the embedded emulator with its state kept in `FILE` (no keys needed)", nonEmpty(&t.sandbox))
	fs.IntVar(&t.parallelism, "parallelism", orgapi.DefaultParallelism, "requests in flight at most, across all orgs (each org is paced to its own rate limit)")
	fs.Var(&t.rate, "rate", "client-side limit of `R` requests per second per source org (default: follow the server's rate-limit headers)")
	fs.IntVar(&t.burst, "burst", 10, "client-side burst per source org, used with --rate")
	fs.DurationVar(&t.timeout, "timeout", 30*time.Second, "timeout of one HTTP request on the wire (waits for a slot, a rate-limit window or a retry do not count)")
	fs.IntVar(&t.maxRetries, "max-retries", 10, "retries of one request after 429, 5xx, timeouts and dropped connections")
	fs.Var(&t.shard, "shard", "take slice `i/n` of the source orgs (stable split, for n parallel CI jobs)")
	fs.BoolVar(&t.noColor, "no-color", false, "no colors in output")
	fs.BoolVar(&t.verbose, "v", false, "log every API request and response (never keys) on stderr")
	t.keys.register(fs)
}

// registerOwnerChecks adds --require-service-account, for the commands
// that plan (plan and apply); they also warn about personal keys.
func (t *targetFlags) registerOwnerChecks(fs *flag.FlagSet) {
	t.ownerChecks = true
	fs.BoolVar(&t.requireServiceAccount, "require-service-account", false,
		"fail a source org whose keys do not belong to a service account (Datadog deletes a user's connections when the user is deactivated)")
}

// check validates the flags once parsed.
func (t *targetFlags) check() error {
	switch {
	case t.parallelism < 1:
		return errors.New("--parallelism must be at least 1")
	case t.burst < 1:
		return errors.New("--burst must be at least 1")
	case t.timeout <= 0:
		return errors.New("--timeout must be above 0")
	case t.maxRetries < 0:
		return errors.New("--max-retries must not be negative")
	case t.sandbox != "" && !t.apiURL.empty():
		return errors.New("--sandbox and --api-url exclude each other")
	case t.sandbox != "" && (t.keys.file != "" || t.keys.command != ""):
		return errors.New("--sandbox makes its own keys: it takes no --keys-file or --keys-command")
	}
	if err := t.keys.check(); err != nil {
		return err
	}
	return t.apiURL.check()
}

// endpointFlags repeats the flags that chose where the API is, for a hint
// that names a follow-up command: without them it would go to real Datadog.
func (t *targetFlags) endpointFlags() string {
	switch {
	case t.sandbox != "":
		return " --sandbox " + t.sandbox
	case !t.apiURL.empty():
		return t.apiURL.hintFlags() + t.keys.flags()
	}
	return t.keys.flags()
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("apply plan.json --report r.json"), which flag.Parse alone
// does not: it stops at the first positional argument.
//
// A parse error comes back with a hint to the command's -h, for runWith to
// print as "orgsync: error:" (the flag package's own line has no prefix);
// -h prints the usage and returns flag.ErrHelp.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(out)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, err
			}
			return nil, withHint(err, fmt.Sprintf("run \"orgsync %s -h\" for its flags", fs.Name()))
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// newSubcommandFlags checks that args start with the one subcommand of a
// command group ("sandbox serve", "report merge") and returns its flag set,
// printing usage and about for -h.
func newSubcommandFlags(args []string, group, sub, usage, about string, s streams) (*flag.FlagSet, error) {
	if len(args) == 0 || args[0] != sub {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintf(s.stderr, "Usage: %s\n", usage)
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("usage: %s", usage)
	}
	fs := flag.NewFlagSet(group+" "+sub, flag.ContinueOnError)
	// Parse errors are printed by runWith, with the "orgsync: error:"
	// prefix; only -h prints here (the flag package calls Usage on errors
	// too).
	fs.SetOutput(io.Discard)
	// Usage runs twice for -h under parseInterleaved (once inside fs.Parse,
	// once after it): help is cleared so the text is printed once.
	help := slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" })
	fs.Usage = func() {
		if !help {
			return
		}
		help = false
		fmt.Fprintf(s.stderr, "Usage: %s\n\n%s\n\n", usage, about)
		fs.SetOutput(s.stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs, nil
}

// nonEmpty sets a string flag that must not be empty: an unset variable in
// `--sandbox "$STATE"` must not quietly mean real Datadog, nor an empty
// --keys-file or --keys-command the keys of the environment.
func nonEmpty(p *string) func(string) error {
	return func(v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		*p = v
		return nil
	}
}
