package apply

import (
	"fmt"
	"io"
	"strings"
)

// RenderMarkdown writes the report as Markdown for a CI summary page: the
// outcome counts, the changes per source org, and every failure with its
// error.
func RenderMarkdown(w io.Writer, r *Report) {
	s := r.Summary
	fmt.Fprintf(w, "### orgsync apply\n\n")
	switch r.Status {
	case StatusRefused:
		fmt.Fprintf(w, "**Refused**: %s\n\n", mdEscape(r.Reason))
	case StatusFailed:
		fmt.Fprintf(w, "**Failed**: some changes failed or some source orgs could not be used (see below).\n\n")
	case StatusInterrupted:
		fmt.Fprintf(w, "**Interrupted**: changes not started were skipped; run apply again to finish.\n\n")
	}
	if r.Shard != nil {
		fmt.Fprintf(w, "Shard %d of %d.\n\n", r.Shard.Index, r.Shard.Count)
	}
	fmt.Fprintf(w, "| created | updated | deleted | already present | unchanged | failed | skipped |\n|---:|---:|---:|---:|---:|---:|---:|\n| %d | %d | %d | %d | %d | %d | %d |\n\n",
		s.Created, s.Updated, s.Deleted, s.AlreadyPresent, s.Unchanged, s.Failed, s.Skipped)
	type counts struct{ changed, failed, skipped int }
	byOrg := make(map[string]*counts)
	var labels []string
	for _, res := range r.Results {
		c, ok := byOrg[res.SourceOrg.Label]
		if !ok {
			c = &counts{}
			byOrg[res.SourceOrg.Label] = c
			labels = append(labels, res.SourceOrg.Label)
		}
		switch res.Outcome {
		case Created, Updated, Deleted:
			c.changed++
		case Failed:
			c.failed++
		case Skipped:
			c.skipped++
		}
	}
	if len(labels) > 0 {
		fmt.Fprintf(w, "| source org | changed | failed | skipped |\n|---|---:|---:|---:|\n")
		for _, l := range labels {
			c := byOrg[l]
			fmt.Fprintf(w, "| %s | %d | %d | %d |\n", mdEscape(l), c.changed, c.failed, c.skipped)
		}
		fmt.Fprintln(w)
	}
	var failures []Result
	for _, res := range r.Results {
		if res.Outcome == Failed {
			failures = append(failures, res)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(w, "**Failures**\n\n")
		for _, f := range failures {
			sink := f.SinkOrg.Label
			if sink == "" {
				sink = f.SinkOrg.ID
			}
			if f.Action == ActionVerify { // a whole org, no sink
				fmt.Fprintf(w, "- `%s` %s: %s\n", f.Action, mdEscape(f.SourceOrg.Label), mdEscape(f.Error))
				continue
			}
			fmt.Fprintf(w, "- `%s` %s → %s: %s\n", f.Action, mdEscape(f.SourceOrg.Label), mdEscape(sink), mdEscape(f.Error))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Throttled responses: %d, retries: %d.\n\n", r.RateLimit.ThrottledResponses, r.RateLimit.Retries)
}

func mdEscape(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
