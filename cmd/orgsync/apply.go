package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/plan"
)

type applyArgs struct {
	target      targetFlags
	planFile    string
	autoApprove bool
	report      string
	output      string
	maxDeletes  int
}

func parseApplyArgs(args []string, s streams) (applyArgs, error) {
	var a applyArgs
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: orgsync apply -f PATH... [flags]\n       orgsync apply PLAN.json -f PATH... [flags]\n       orgsync apply PLAN.json [flags]\n\n"+
			"Makes live org connections match the manifest, or applies exactly a saved plan:\nwith -f, only if the manifests give that very plan against live state now.\n\n")
		fs.PrintDefaults()
	}
	a.target.register(fs)
	a.target.registerOwnerChecks(fs)
	fs.BoolVar(&a.autoApprove, "auto-approve", false, "apply without asking")
	fs.StringVar(&a.report, "report", "orgsync-report.json", "write the JSON report to `FILE`")
	fs.StringVar(&a.output, "output", "text", "stdout format: text, or json (one JSON object per finished change)")
	fs.StringVar(&a.planFile, "plan", "", "apply the saved plan `FILE` (also given as an argument ending in .json)")
	fs.IntVar(&a.maxDeletes, "max-deletes", defaultMaxDeletes, "refuse to apply a plan that deletes more than `N` connections")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return a, err
	}
	if err := checkLabelArgs(rest, a.target.orgs); err != nil {
		return a, err
	}
	switch {
	case len(a.target.files) > 0:
		for _, r := range rest {
			switch {
			case !isPlanPath(r):
				a.target.files = append(a.target.files, r)
			case a.planFile != "":
				return a, fmt.Errorf("apply takes one saved plan, got %s and %s", a.planFile, r)
			default:
				a.planFile = r
			}
		}
	case len(rest) == 1 && a.planFile == "" && isManifestPath(rest[0]):
		return a, manifestNotPlan(rest[0], fmt.Errorf("%s is a manifest, not a saved plan", rest[0]))
	case len(rest) == 1 && a.planFile == "":
		a.planFile = rest[0]
	case len(rest) > 0 && a.planFile != "":
		return a, fmt.Errorf("apply takes one saved plan, got --plan %s and %s (use -f for manifests)", a.planFile, rest[0])
	case len(rest) > 1:
		return a, fmt.Errorf("apply takes one saved plan, got %d arguments (use -f for manifests)", len(rest))
	case a.planFile == "":
		return a, withHint(errors.New("nothing to apply"), "give manifests with -f, or a saved plan file")
	}
	if a.planFile != "" && (len(a.target.orgs) > 0 || a.target.shard.count > 0) {
		return a, errors.New("--org and --shard select orgs of a manifest; a saved plan is applied whole")
	}
	if a.output != "text" && a.output != "json" {
		return a, fmt.Errorf("--output %q: want text or json", a.output)
	}
	if a.report == "" {
		return a, errors.New("--report must name a file")
	}
	if a.maxDeletes < 0 {
		return a, errors.New("--max-deletes must not be negative")
	}
	return a, a.target.check()
}

func runApply(ctx context.Context, args []string, s streams) error {
	a, err := parseApplyArgs(args, s)
	if err != nil {
		return err
	}
	// The report must be writable, and no input, before anything happens:
	// finding out after the changes were made is too late.
	inputs := targetInputs(&a.target, s)
	if a.planFile != "" {
		inputs = append(inputs, input{path: a.planFile, what: "the saved plan"})
	}
	if err := checkOutput("--report", a.report, inputs); err != nil {
		return err
	}
	s.stdout = &keepGoingWriter{w: s.stdout, warn: s.stderr}
	ap := &applier{args: a, s: s, started: time.Now()}
	// Human output goes to stderr when stdout carries NDJSON.
	ap.human = s.stdout
	if a.output == "json" {
		ap.human = s.stderr
	}
	if a.planFile != "" {
		err = ap.fromSavedPlan(ctx)
	} else {
		err = ap.fromManifest(ctx)
	}
	if err != nil && !ap.reported {
		// Failed before there was a plan (invalid manifest, missing keys,
		// unreadable plan file): an empty report still says so to CI.
		err = ap.refuse(&plan.Plan{}, err)
	}
	return err
}

// keepGoingWriter is apply's stdout: a reader that went away (apply |
// head -1) must not stop the changes or the report, so a failed write is
// reported once on warn and every write after it is dropped.
type keepGoingWriter struct {
	w    io.Writer
	warn io.Writer
	mu   sync.Mutex
	err  error
}

func (k *keepGoingWriter) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return len(p), nil
	}
	if _, err := k.w.Write(p); err != nil {
		k.err = err
		fmt.Fprintf(k.warn, "orgsync: warning: cannot write to stdout (%v); the apply goes on and every result is in the report\n", err)
	}
	return len(p), nil
}

// applier runs one apply command.
type applier struct {
	args     applyArgs
	s        streams
	human    io.Writer
	started  time.Time
	reported bool // the report file was written (or its writing failed)
}

func (ap *applier) fromManifest(ctx context.Context) error {
	st, err := readManifestState(ctx, &ap.args.target, ap.s, false, ctx.Done())
	if err != nil {
		return err
	}
	defer st.conn.closeOrWarn(ap.s)
	for _, e := range st.orgErrs {
		fmt.Fprintf(ap.s.stderr, "orgsync: error: %v\n", e)
	}
	p := plan.Diff(st.manifest, st.live)
	var unread []string
	for _, e := range st.orgErrs {
		unread = append(unread, e.Org.Label)
	}
	if emptyShard(&ap.args.target, st.orgs) {
		fmt.Fprintf(ap.human, "No source orgs in shard %s: nothing to apply.\n", &ap.args.target.shard)
	} else if err := ap.showPlan(p, unread); err != nil {
		return err
	}
	if err := checkMaxDeletes(p, ap.args.maxDeletes); err != nil {
		return ap.refuse(p, err)
	}
	if ctx.Err() != nil {
		return ap.refuse(p, errors.New("interrupted before any change"))
	}
	if p.Summary.Pending() > 0 && !ap.args.autoApprove {
		if err := ap.approve(ctx); err != nil {
			return ap.refuse(p, err)
		}
	}
	return ap.run(ctx, st.conn, p, st.orgErrs)
}

func (ap *applier) fromSavedPlan(ctx context.Context) error {
	tf := &ap.args.target
	p, err := readSavedPlan(ap.args.planFile)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) && looksLikeManifest(ap.args.planFile) {
		return manifestNotPlan(ap.args.planFile, err)
	}
	if err != nil {
		return err
	}
	if err := checkMaxDeletes(p, ap.args.maxDeletes); err != nil {
		return ap.refuse(p, err)
	}
	src, err := savedPlanSource(tf, ap.s, p)
	if err != nil {
		return ap.refuse(p, err)
	}
	conn, st, orgErrs, err := openOrgs(ctx, tf, ap.s, src.orgs, src.world, ctx.Done())
	if err != nil {
		return ap.refuse(p, err)
	}
	defer conn.closeOrWarn(ap.s)
	noteKeySource(ap.s, p, conn.keySource)
	// An org that cannot be used is one failed verify result, as with -f
	// alone: its changes are left out, and the others are checked and go on.
	var unread []string
	for _, e := range orgErrs {
		fmt.Fprintf(ap.s.stderr, "orgsync: error: %v\n", e)
		unread = append(unread, e.Org.Label)
	}
	p = p.WithoutOrgs(unread...)
	verified, err := src.verify(p, st)
	if err != nil {
		return ap.refuse(p, err)
	}
	if err := ap.showPlan(verified, unread); err != nil {
		return err
	}
	return ap.run(ctx, conn, verified, orgErrs)
}

// showPlan prints the plan for the person running apply; unread are the
// source orgs left out of it because they could not be read.
func (ap *applier) showPlan(p *plan.Plan, unread []string) error {
	return plan.RenderText(ap.human, p, plan.RenderOptions{Color: colorEnabled(&ap.args.target, ap.s, ap.human), Unread: unread})
}

// approve asks on a terminal; without one it refuses, since a pipeline that
// forgot --auto-approve must not hang or guess.
func (ap *applier) approve(ctx context.Context) error {
	if !ap.s.interactive {
		return withHint(errors.New("apply needs approval and there is no terminal to ask"),
			"review the plan, then run again with --auto-approve, or apply a saved plan file")
	}
	fmt.Fprint(ap.s.stderr, "\nDo you want to perform these actions? Only 'yes' will be accepted to approve.\n  Enter a value: ")
	// The read runs on its own so that Ctrl-C cancels at once; the
	// process exits soon after, so the read left blocked does not linger.
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(ap.s.stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(ap.s.stderr)
		return errors.New("apply cancelled: interrupted at the approval prompt")
	case line := <-answer:
		if strings.TrimSpace(line) != "yes" {
			return errors.New("apply cancelled: the answer was not 'yes'")
		}
	}
	return nil
}

// refuse writes a report in which every pending change was skipped, then
// fails with err: a report is written whatever happens.
func (ap *applier) refuse(p *plan.Plan, err error) error {
	rep := &apply.Report{FormatVersion: apply.FormatVersion, Status: apply.StatusRefused, Reason: reasonOf(err), Shard: ap.shard(),
		StartedAt: ap.started.UTC(), FinishedAt: time.Now().UTC(), Results: []apply.Result{}}
	for _, c := range p.Changes {
		res := apply.Result{Action: c.Action, Outcome: apply.Skipped, SourceOrg: c.SourceOrg, SinkOrg: c.SinkOrg,
			ConnectionID: c.ConnectionID, ConnectionTypes: c.After, Error: "not started: " + err.Error()}
		switch c.Action {
		case plan.Delete:
			res.ConnectionTypes = c.Before
		case plan.Noop:
			res.Outcome, res.Error = apply.Unchanged, ""
		case plan.Unmanaged:
			continue
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Summarize()
	ap.reported = true
	ap.stepSummary(rep)
	if werr := rep.WriteFile(ap.args.report); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// stepSummary appends the report to the GitHub step summary; the summary
// then says how the run ended.
func (ap *applier) stepSummary(rep *apply.Report) {
	if err := appendStepSummary(ap.s, "rows (source orgs and failures)", func(b *bytes.Buffer) { apply.RenderMarkdown(b, rep) }); err != nil {
		fmt.Fprintf(ap.s.stderr, "orgsync: warning: %v\n", err)
	}
	if ap.s.gh != nil {
		ap.s.gh.outcome = true
	}
	if !inActions(ap.s) {
		return
	}
	failed := 0
	for _, r := range rep.Results {
		switch {
		case r.Outcome != apply.Failed:
		case r.Action == apply.ActionVerify:
			annotate(ap.s, "apply", fmt.Sprintf("org %s: %s", r.SourceOrg.Label, strings.TrimPrefix(r.Error, "org "+r.SourceOrg.Label+": ")))
		default:
			failed++
		}
	}
	if failed > 0 {
		annotate(ap.s, "apply", fmt.Sprintf("%d %s failed; see the step summary and the report", failed, plural(failed, "change", "changes")))
	}
}

// reasonOf is the report's reason for a refusal: the error on one line.
func reasonOf(err error) string { return oneLine(err.Error()) }

// oneLine joins the lines of a message with "; ", or with a space after a
// line that ends in ":" (a list follows), and collapses runs of spaces.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var b strings.Builder
	for i, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(strings.TrimSpace(lines[i-1]), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

// shard is the --shard of the run, for the report.
func (ap *applier) shard() *apply.Shard {
	if sh := ap.args.target.shard; sh.count > 0 {
		return &apply.Shard{Index: sh.index, Count: sh.count}
	}
	return nil
}

// run applies p, streaming results, and writes the report.
func (ap *applier) run(ctx context.Context, conn *connection, p *plan.Plan, orgErrs []*plan.OrgError) error {
	var mu sync.Mutex
	enc := json.NewEncoder(ap.s.stdout)
	prog := newProgress(ap.s.stderr, len(p.Pending()), conn.counters)
	defer prog.stop()
	rep := apply.Run(context.WithoutCancel(ctx), p, conn.clients, apply.Options{
		Parallelism: ap.args.target.parallelism,
		Stop:        ctx.Done(),
		OrgErrors:   orgErrs,
		Counters:    conn.counters,
		OnResult: func(r apply.Result) {
			prog.done(r)
			if ap.args.output == "json" {
				mu.Lock()
				_ = enc.Encode(r) // stdout never fails: see keepGoingWriter
				mu.Unlock()
			}
		},
	})
	prog.stop()
	rep.Shard = ap.shard()
	if ctx.Err() != nil {
		rep.Status = apply.StatusInterrupted // even if nothing was left to skip
	}
	ap.reported = true
	werr := rep.WriteFile(ap.args.report)
	printSummary(ap.human, ap.s.stderr, rep)
	ap.stepSummary(rep)
	if werr != nil {
		return werr
	}
	fmt.Fprintf(ap.s.stderr, "orgsync: wrote the report to %s\n", ap.args.report)
	switch rep.Status {
	case apply.StatusInterrupted:
		return &exitError{code: 1, err: errors.New("interrupted: changes in flight finished, the rest were skipped; run apply again to finish")}
	case apply.StatusComplete:
		return nil
	}
	return errSilent
}

// printSummary prints the outcome counts, and every failure with its error.
func printSummary(out, errw io.Writer, rep *apply.Report) {
	s := rep.Summary
	head := "Apply complete:"
	switch rep.Status {
	case apply.StatusInterrupted:
		head = "Apply interrupted:"
	case apply.StatusFailed:
		head = "Apply finished with failures:"
	}
	fmt.Fprintf(out, "\n%s %d created, %d updated, %d deleted, %d already present, %d unchanged, %d failed, %d skipped.\n",
		head, s.Created, s.Updated, s.Deleted, s.AlreadyPresent, s.Unchanged, s.Failed, s.Skipped)
	for _, r := range rep.Results {
		switch {
		case r.Outcome != apply.Failed:
		case r.Action == apply.ActionVerify: // printed before the plan
		default:
			sink := r.SinkOrg.Label
			if sink == "" {
				sink = r.SinkOrg.ID
			}
			fmt.Fprintf(errw, "orgsync: error: %s %s -> %s: %s\n", r.Action, r.SourceOrg.Label, sink, r.Error)
		}
	}
}
