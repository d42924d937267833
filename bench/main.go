// Command bench measures `orgsync apply` against the sandbox emulator served
// over loopback HTTP, and prints a Markdown table for the README.
//
// Each scenario creates connections on a fresh emulator twice: with
// orgsync's library packages, exactly as the CLI calls them, and with the
// plain sequential loop a user would write instead. orgsync's wall time is
// compared with a physical bound, the least time any client could take:
//
//   - ratelimited: one org under the fixture's rate limit. The emulator
//     counts requests in windows aligned to multiples of the period, so the
//     bound is the time until the window in which the last request may be
//     sent opens ([windowBound]).
//   - multiorg: four orgs, each with its own limit. They run at once, so
//     the bound is one org's, not the sum of all four (printed too).
//   - latency: no rate limit, a fixed latency per request, a bounded number
//     of requests in flight ([latencyBound]).
//   - offsets: as multiorg, but each org's and limit name's windows start at
//     an offset of their own ([windows]): pacing must not rely on Datadog's
//     calendar alignment.
//   - shared: as multiorg, but another client uses half of every window.
//   - fleet: 500 source orgs x 4 sinks, no rate limit, a fixed latency:
//     the defaults against --parallelism 10, 32, 64 and 128.
//
// It exits 1 when a ratio is above its target, when a source org meets more
// than one 429 in a rate-limited scenario, or when the defaults are more
// than 1.25x slower than the best parallelism of the fleet, so that it can
// serve as a check:
//
//	go run ./bench            # full sizes, about seven minutes
//	go run ./bench -quick     # smoke run, about two minutes
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/orgsync/orgsync/internal/orgapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Targets: how far above its bound orgsync may be.
const (
	rateTarget    = 1.10
	latencyTarget = 1.20
	fleetTarget   = 1.25 // the defaults against the best --parallelism
	max429sPerOrg = 1    // in a rate-limited scenario
)

var scenarioNames = []string{"all", "ratelimited", "multiorg", "offsets", "shared", "latency", "fleet"}

type options struct {
	scenario    string
	n           int // connections per source org; 0 = the scenario's default
	limit       int
	period      time.Duration
	latency     time.Duration
	parallelism int
	quick       bool
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", "all", strings.Join(scenarioNames, ", "))
	fs.IntVar(&o.n, "n", 0, "connections per source org (default 390 rate-limited, 1000 latency; -quick: 140 and 200)")
	fs.IntVar(&o.limit, "limit", 50, "rate limit: requests per window, per org")
	fs.DurationVar(&o.period, "period", 2*time.Second, "rate limit window, whole seconds")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "latency the emulator adds to each request in the latency scenario")
	fs.IntVar(&o.parallelism, "parallelism", 0, "orgsync's --parallelism (default: the CLI's, and 32 in the latency scenario)")
	fs.BoolVar(&o.quick, "quick", false, "smaller sizes, for a smoke run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch {
	case !slices.Contains(scenarioNames, o.scenario):
		return o, fmt.Errorf("-scenario %q: want one of %s", o.scenario, strings.Join(scenarioNames, ", "))
	case o.n < 0:
		return o, errors.New("-n must not be negative")
	case o.limit < 1:
		return o, errors.New("-limit must be at least 1")
	case o.period < time.Second || o.period%time.Second != 0:
		return o, errors.New("-period must be a whole number of seconds, at least 1s")
	case o.latency <= 0:
		return o, errors.New("-latency must be above 0")
	case o.parallelism < 0:
		return o, errors.New("-parallelism must be at least 1")
	}
	return o, nil
}

// size returns -n, or the default for the scenario.
func (o options) size(full, quick int) int {
	switch {
	case o.n > 0:
		return o.n
	case o.quick:
		return quick
	}
	return full
}

// row is one line of the table.
type row struct {
	scenario  string
	requests  string
	bound     string
	orgsync   time.Duration
	ratio     float64
	target    float64
	throttled int64
	most429s  int  // per source org
	limited   bool // a rate-limited scenario: at most max429sPerOrg
	plain     run
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: error: %v\n", err)
		return 2
	}
	type scenario struct {
		name        string
		world       world
		parallelism int
		row         func(r run) row
	}
	// par is -parallelism, or def when it was not given.
	par := func(def int) int { return cmp.Or(o.parallelism, def) }
	rateRow := func(name string, others int) func(run) row {
		return func(r run) row {
			// Each org's bound, from where its windows start; the run's
			// is the largest.
			var bound time.Duration
			sum := 0
			for i, n := range r.requests {
				bound = max(bound, windowBound(shift(r.start, r.origins[i]), n, o.limit-others, o.period))
				sum += n
			}
			rw := row{scenario: name, requests: requestsText(r.requests), bound: secs(bound), target: rateTarget, limited: true}
			if len(r.requests) > 1 {
				rw.bound += " (sum " + secs(windowBound(shift(r.start, r.origins[0]), sum, o.limit-others, o.period)) + ")"
			}
			rw.ratio = ratio(r.wall, bound)
			return rw
		}
	}
	var scenarios []scenario
	for _, rs := range []struct {
		name, label string
		sources     int
		offsets     bool
		others      int
	}{
		{"ratelimited", "rate-limited, 1 org (%d/%s)", 1, false, 0},
		{"multiorg", "rate-limited, 4 orgs (%d/%s each)", 4, false, 0},
		{"offsets", "rate-limited, 4 orgs (%d/%s each), windows at an offset per org and limit name", 4, true, 0},
		{"shared", "rate-limited, 4 orgs (%d/%s each), another client uses half of every window", 4, false, o.limit / 2},
	} {
		if o.scenario == "all" || o.scenario == rs.name {
			scenarios = append(scenarios, scenario{
				name: rs.name,
				world: world{sources: rs.sources, sinks: o.size(390, 140), limit: o.limit, period: o.period,
					offsets: rs.offsets, others: rs.others},
				parallelism: par(orgapi.DefaultParallelism),
				row:         rateRow(fmt.Sprintf(rs.label, o.limit, o.period), rs.others),
			})
		}
	}
	if o.scenario == "all" || o.scenario == "latency" {
		n, p := o.size(1000, 200), par(32)
		scenarios = append(scenarios, scenario{
			name:        "latency",
			world:       world{sources: 1, sinks: n, latency: o.latency},
			parallelism: p,
			row: func(r run) row {
				// The key check and the list go out together: one round of
				// reads, then the creates.
				bound := latencyBound(1, n, p, o.latency)
				return row{scenario: fmt.Sprintf("latency %s, parallelism %d", o.latency, p),
					requests: requestsText(r.requests), bound: secs(bound), ratio: ratio(r.wall, bound), target: latencyTarget}
			},
		})
	}

	var rows []row
	for _, sc := range scenarios {
		fmt.Fprintf(stderr, "bench: %s: orgsync...\n", sc.name)
		r, err := runOrgsync(ctx, sc.world, sc.parallelism)
		if err != nil {
			fmt.Fprintf(stderr, "bench: error: %s: orgsync: %v\n", sc.name, err)
			return 1
		}
		fmt.Fprintf(stderr, "bench: %s: orgsync took %s; plain loop...\n", sc.name, secs(r.wall))
		plain, err := runPlain(ctx, sc.world)
		if err != nil {
			fmt.Fprintf(stderr, "bench: error: %s: plain loop: %v\n", sc.name, err)
			return 1
		}
		rw := sc.row(r)
		rw.orgsync, rw.throttled, rw.most429s, rw.plain = r.wall, r.throttled, r.most429s, plain
		rows = append(rows, rw)
	}

	code := 0
	if len(rows) > 0 {
		printTable(stdout, rows)
	}
	for _, rw := range rows {
		if rw.ratio > rw.target {
			fmt.Fprintf(stderr, "bench: error: %s: orgsync took %.2fx its bound, above the target of %.2fx\n", rw.scenario, rw.ratio, rw.target)
			code = 1
		}
		if rw.limited && rw.most429s > max429sPerOrg {
			fmt.Fprintf(stderr, "bench: error: %s: a source org met %d 429s, more than %d\n", rw.scenario, rw.most429s, max429sPerOrg)
			code = 1
		}
	}
	if o.scenario == "all" || o.scenario == "fleet" {
		if c := runFleet(ctx, o, stdout, stderr); c != 0 {
			code = c
		}
	}
	return code
}

// shift returns the moment whose place in windows aligned on multiples of
// the period is that of t in windows that start at origin.
func shift(t, origin time.Time) time.Time { return time.Unix(0, 0).Add(t.Sub(origin)) }

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| scenario | requests | bound | orgsync | ratio | 429s (most per org) | plain loop | plain 429s |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		mark := "≤"
		if r.ratio > r.target {
			mark = "**>**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f (%s %.2f) | %d (%d) | %s | %d |\n",
			r.scenario, r.requests, r.bound, secs(r.orgsync), r.ratio, mark, r.target, r.throttled, r.most429s, secs(r.plain.wall), r.plain.throttled)
	}
	fmt.Fprintf(w, "\n%s %s/%s, nproc %d.\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintln(w, "Requests: per source org, orgsync's list pages and creates, which the org_connections limit counts (current_user has its own limit; 429s left out).")
	fmt.Fprintln(w, "The plain loop sends only the creates, one request per org fewer than orgsync, and goes through the orgs one after another.")
}

// requestsText shows per-org counts as "4 × 401" when they are all equal.
func requestsText(n []int) string {
	if len(n) == 1 {
		return fmt.Sprint(n[0])
	}
	if slices.Min(n) == slices.Max(n) {
		return fmt.Sprintf("%d × %d", len(n), n[0])
	}
	return strings.Trim(fmt.Sprint(n), "[]")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// ratio is wall/bound; a zero bound (everything fits the current window)
// gives +Inf, which misses any target: pick sizes that need several windows.
func ratio(wall, bound time.Duration) float64 {
	return float64(wall) / float64(bound)
}
