package plan

import (
	"fmt"
	"io"
	"strings"
)

// RenderMarkdown writes the plan as Markdown for a CI summary page (such as
// GitHub's step summary): the counts, then the pending changes by source org.
func RenderMarkdown(w io.Writer, p *Plan) {
	s := p.Summary
	fmt.Fprintf(w, "### orgsync plan\n\n")
	fmt.Fprintf(w, "| create | update | delete | unchanged | unmanaged |\n|---:|---:|---:|---:|---:|\n| %d | %d | %d | %d | %d |\n\n",
		s.Create, s.Update, s.Delete, s.Noop, s.Unmanaged)
	pending := p.Pending()
	if len(pending) == 0 {
		fmt.Fprintf(w, "No changes: live org connections match the manifest.\n\n")
		return
	}
	byOrg := make(map[string][]Change)
	var labels []string
	for _, c := range pending {
		if _, ok := byOrg[c.SourceOrg.Label]; !ok {
			labels = append(labels, c.SourceOrg.Label)
		}
		byOrg[c.SourceOrg.Label] = append(byOrg[c.SourceOrg.Label], c)
	}
	fmt.Fprintf(w, "| source org | change | sink org | types |\n|---|---|---|---|\n")
	for _, l := range labels {
		for _, c := range byOrg[l] {
			types := mdTypes(c.After)
			switch c.Action {
			case Update:
				types = mdTypes(c.Before) + " → " + mdTypes(c.After)
			case Delete:
				types = mdTypes(c.Before)
			}
			fmt.Fprintf(w, "| %s | %s %s | %s | %s |\n", mdEscape(l), symbols[c.Action], c.Action, mdEscape(c.SinkName()), types)
		}
	}
	fmt.Fprintln(w)
}

func mdTypes(t []string) string { return "`" + strings.Join(t, ", ") + "`" }

// mdEscape keeps a value from breaking a Markdown table.
func mdEscape(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
