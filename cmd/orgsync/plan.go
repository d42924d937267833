package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/orgsync/orgsync/internal/atomicfile"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
)

type planArgs struct {
	target           targetFlags
	out              string
	json             bool
	detailedExitcode bool
	maxDeletes       int
}

func parsePlanArgs(args []string, s streams) (planArgs, error) {
	var a planArgs
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: orgsync plan -f PATH... [flags]\n\nReads live state and prints what apply would change. Never changes anything.\n\n")
		fs.PrintDefaults()
	}
	a.target.register(fs)
	a.target.registerOwnerChecks(fs)
	fs.StringVar(&a.out, "out", "", "save the plan to `FILE` for a later \"orgsync apply FILE\"")
	fs.BoolVar(&a.json, "json", false, "print the plan as JSON")
	fs.BoolVar(&a.detailedExitcode, "detailed-exitcode", false, "exit 2 when changes are pending, 0 when none")
	fs.IntVar(&a.maxDeletes, "max-deletes", defaultMaxDeletes, "refuse a plan that deletes more than `N` connections")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return a, err
	}
	if err := checkLabelArgs(rest, a.target.orgs); err != nil {
		return a, err
	}
	a.target.files = append(a.target.files, rest...)
	if a.maxDeletes < 0 {
		return a, errors.New("--max-deletes must not be negative")
	}
	return a, a.target.check()
}

func runPlan(ctx context.Context, args []string, s streams) error {
	a, err := parsePlanArgs(args, s)
	if err != nil {
		return err
	}
	if a.out != "" {
		if err := checkOutput("--out", a.out, targetInputs(&a.target, s)); err != nil {
			return err
		}
	}
	// Any org that cannot be read or verified fails the plan: a plan that
	// silently left an org out would be a lie.
	st, err := readManifestState(ctx, &a.target, s, false, nil)
	if err != nil {
		return err
	}
	defer st.conn.closeOrWarn(s)
	if len(st.orgErrs) > 0 {
		return orgErrorsErr(st.orgErrs)
	}
	p := plan.Diff(st.manifest, st.live)
	p.SetKeySource(st.conn.keySource)
	// An empty shard is not an error: n jobs over fewer orgs leave some
	// jobs nothing to do.
	switch {
	case a.json:
		if emptyShard(&a.target, st.orgs) {
			fmt.Fprintf(s.stderr, "No source orgs in shard %s: nothing to plan.\n", &a.target.shard)
		}
		if err := plan.WriteJSON(s.stdout, p); err != nil {
			return err
		}
	case emptyShard(&a.target, st.orgs):
		fmt.Fprintf(s.stdout, "No source orgs in shard %s: nothing to plan.\n", &a.target.shard)
	default:
		if err := plan.RenderText(s.stdout, p, plan.RenderOptions{Color: colorEnabled(&a.target, s, s.stdout)}); err != nil {
			return err
		}
	}
	if err := appendStepSummary(s, "changes", func(b *bytes.Buffer) { plan.RenderMarkdown(b, p) }); err != nil {
		fmt.Fprintf(s.stderr, "orgsync: warning: %v\n", err)
	}
	if err := checkMaxDeletes(p, a.maxDeletes); err != nil {
		return err
	}
	if a.out != "" {
		var b bytes.Buffer
		if err := plan.WriteJSON(&b, p); err != nil {
			return err
		}
		if err := atomicfile.Write(a.out, b.Bytes()); err != nil {
			return err
		}
		fmt.Fprintf(s.stderr, "orgsync: saved the plan to %s; apply it with \"%s\"\n", a.out, a.applyCommand(p))
	}
	if a.detailedExitcode && p.Summary.Pending() > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// defaultMaxDeletes is the default of --max-deletes.
const defaultMaxDeletes = 10

// applyCommand is the command that applies the plan p saved to --out: it
// repeats every flag the apply needs to take the same decisions (the
// manifests, so that the plan is verified against them; a raised
// --max-deletes; --require-service-account; the endpoint).
func (a *planArgs) applyCommand(p *plan.Plan) string {
	args := []string{"orgsync", "apply", a.out}
	for _, f := range a.target.files {
		args = append(args, "-f", f)
	}
	if p.Summary.Delete > defaultMaxDeletes {
		args = append(args, "--max-deletes", strconv.Itoa(a.maxDeletes))
	}
	if a.target.requireServiceAccount {
		args = append(args, "--require-service-account")
	}
	for i, arg := range args {
		args[i] = shellQuote(arg)
	}
	return strings.Join(args, " ") + a.target.endpointFlags()
}

// checkMaxDeletes refuses a plan that deletes more than max connections.
func checkMaxDeletes(p *plan.Plan, max int) error {
	if p.Summary.Delete > max {
		return withHint(refusal{fmt.Errorf("the plan deletes %d %s, more than --max-deletes %d allows", p.Summary.Delete, plural(p.Summary.Delete, "connection", "connections"), max)},
			"review the deletions; if they are intended, raise --max-deletes")
	}
	return nil
}

// emptyShard says whether --shard left no source org to work on.
func emptyShard(tf *targetFlags, orgs []manifest.Org) bool {
	return tf.shard.count > 0 && len(orgs) == 0
}
