package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/orgsync/orgsync/internal/orgapi"
)

// fleetParallelisms are the --parallelism values the defaults are measured
// against.
var fleetParallelisms = []int{10, 32, 64, 128}

// fleetRuns is how many times each setting runs; the best run counts, as
// the least disturbed by the rest of the machine.
const fleetRuns = 2

// runFleet applies 500 source orgs x 4 sinks at a fixed latency, without a
// rate limit, with each of fleetParallelisms and with the defaults, and
// prints a table. It returns 1 when the defaults take more than fleetTarget
// times the best of the others.
func runFleet(ctx context.Context, o options, stdout, stderr io.Writer) int {
	sources := 500
	if o.quick {
		sources = 100
	}
	w := world{sources: sources, sinks: 4, latency: o.latency}
	settings := fleetParallelisms
	if !slices.Contains(settings, orgapi.DefaultParallelism) {
		settings = append(slices.Clone(settings), orgapi.DefaultParallelism)
	}
	best := map[int]run{}
	for _, par := range settings {
		for range fleetRuns {
			fmt.Fprintf(stderr, "bench: fleet: --parallelism %d...\n", par)
			r, err := runOrgsync(ctx, w, par)
			if err != nil {
				fmt.Fprintf(stderr, "bench: error: fleet: --parallelism %d: %v\n", par, err)
				return 1
			}
			if b, ok := best[par]; !ok || r.wall < b.wall {
				best[par] = r
			}
		}
	}
	fastest := fleetParallelisms[0]
	for _, par := range fleetParallelisms {
		if best[par].wall < best[fastest].wall {
			fastest = par
		}
	}
	def := best[orgapi.DefaultParallelism]
	fmt.Fprintf(stdout, "\n%d source orgs x %d sinks, %s latency, no rate limit (best of %d runs):\n\n", w.sources, w.sinks, o.latency, fleetRuns)
	fmt.Fprintln(stdout, "| `--parallelism` | wall | vs best | 429s | retries |")
	fmt.Fprintln(stdout, "|--:|--:|--:|--:|--:|")
	for _, par := range settings {
		label := fmt.Sprint(par)
		if par == orgapi.DefaultParallelism {
			label += " (default)"
		}
		r := best[par]
		fmt.Fprintf(stdout, "| %s | %s | %.2f | %d | %d |\n", label, secs(r.wall), ratio(r.wall, best[fastest].wall), r.throttled, r.retries)
	}
	if rt := ratio(def.wall, best[fastest].wall); rt > fleetTarget {
		fmt.Fprintf(stderr, "bench: error: fleet: the defaults took %.2fx the best (--parallelism %d), above the target of %.2fx\n", rt, fastest, fleetTarget)
		return 1
	}
	return 0
}
