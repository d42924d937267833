package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/orgsync/orgsync/internal/atomicfile"
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
	fs.IntVar(&a.maxDeletes, "max-deletes", 10, "refuse a plan that deletes more than `N` connections")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return a, usageError(err)
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
	if a.json {
		if err := plan.WriteJSON(s.stdout, p); err != nil {
			return err
		}
	} else if err := plan.RenderText(s.stdout, p, plan.RenderOptions{Color: colorEnabled(&a.target, s, s.stdout)}); err != nil {
		return err
	}
	if err := appendStepSummary(s, func(b *bytes.Buffer) { plan.RenderMarkdown(b, p) }); err != nil {
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
		fmt.Fprintf(s.stderr, "orgsync: saved the plan to %s; apply it with \"orgsync apply %s%s\"\n", a.out, a.out, a.target.endpointFlags())
	}
	if a.detailedExitcode && p.Summary.Pending() > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// checkMaxDeletes refuses a plan that deletes more than max connections.
func checkMaxDeletes(p *plan.Plan, max int) error {
	if p.Summary.Delete > max {
		return withHint(fmt.Errorf("the plan deletes %d %s, more than --max-deletes %d allows", p.Summary.Delete, plural(p.Summary.Delete, "connection", "connections"), max),
			"review the deletions; if they are intended, raise --max-deletes")
	}
	return nil
}
