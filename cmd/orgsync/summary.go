package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// stepSummaryLimit is what orgsync lets the step summary file grow to:
// GitHub drops a step summary over 1 MiB whole, so a longer one is cut
// below that, with a line that says how much was left out.
const stepSummaryLimit = 1000 << 10

// ghState is what a run has told GitHub Actions so far, so that a run that
// ends early still leaves a step summary that says why, and only once.
type ghState struct {
	summary bool // the command's own step summary was written
	outcome bool // ... and it already says how the run ended
}

// inActions reports whether orgsync runs inside GitHub Actions.
func inActions(s streams) bool { return s.getenv("GITHUB_ACTIONS") == "true" }

// appendStepSummary appends Markdown to the file GitHub Actions names in
// $GITHUB_STEP_SUMMARY, when running inside Actions. What would take the
// file over stepSummaryLimit is cut at a line, and a last line says how
// many rows (rows are items: noun) were left out.
func appendStepSummary(s streams, noun string, render func(*bytes.Buffer)) error {
	path := s.getenv("GITHUB_STEP_SUMMARY")
	if !inActions(s) || path == "" {
		return nil
	}
	var b bytes.Buffer
	render(&b)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	budget := stepSummaryLimit
	if fi, err := f.Stat(); err == nil {
		budget -= int(fi.Size())
	}
	if _, err := f.Write(truncateSummary(b.Bytes(), budget, noun)); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	if s.gh != nil {
		s.gh.summary = true
	}
	return f.Close()
}

// refusal marks an error that refused a plan or an apply as it was asked
// (--max-deletes, a stale plan), as opposed to one that made it fail.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// reportToActions tells GitHub Actions why command cmd ended with err: an
// ::error annotation per line of the error, and the step summary when the
// command did not get to say it there itself.
func reportToActions(s streams, cmd string, err error) {
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return // already said (errSilent), or not an error (plan's exit 2)
	}
	if !inActions(s) || err == nil || err.Error() == "" {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			annotate(s, cmd, line)
		}
	}
	if s.gh == nil || s.gh.outcome || (cmd != "plan" && cmd != "apply") {
		return
	}
	word := "Failed"
	var r refusal
	if errors.As(err, &r) {
		word = "Refused"
	}
	werr := appendStepSummary(s, "lines", func(b *bytes.Buffer) {
		if !s.gh.summary {
			fmt.Fprintf(b, "### orgsync %s\n\n", cmd)
		}
		fmt.Fprintf(b, "**%s**: %s\n\n", word, mdLine(err.Error()))
	})
	if werr != nil {
		fmt.Fprintf(s.stderr, "orgsync: warning: %v\n", werr)
	}
}

// annotate prints one ::error workflow command for the run page.
func annotate(s streams, cmd, msg string) {
	fmt.Fprintf(s.stderr, "::error title=%s::%s\n", escapeProperty("orgsync "+cmd), escapeData(msg))
}

// mdLine puts a possibly multi-line message on one Markdown line.
func mdLine(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// truncateSummary returns md if it fits in budget bytes; otherwise the
// whole lines of md that fit with a last line saying how many table rows
// and list items (each one of noun) were left out. With no room even for
// that line it returns nothing.
func truncateSummary(md []byte, budget int, noun string) []byte {
	if len(md) <= budget {
		return md
	}
	note := func(n int) string {
		return fmt.Sprintf("\n_%d more %s left out: GitHub drops a step summary over 1 MiB; the full list is in the plan JSON or the report._\n\n", n, noun)
	}
	room := budget - len(note(len(md))) // the count has at most as many digits as len(md)
	if room <= 0 {
		return nil
	}
	cut := bytes.LastIndexByte(md[:room], '\n') + 1
	left := 0
	for _, line := range strings.Split(string(md[cut:]), "\n") {
		if (strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "|---")) || strings.HasPrefix(line, "- ") {
			left++
		}
	}
	return append(md[:cut:cut], note(left)...)
}
