package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// RenderOptions control how a plan is printed for people.
type RenderOptions struct {
	Color bool // ANSI colors; the caller decides (TTY, NO_COLOR, --no-color)
	// Unread are the labels of source orgs whose live state could not be
	// read: the plan says nothing about them, and must not seem to.
	Unread []string
}

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
)

// symbols are the Terraform-like markers of each action.
var symbols = map[Action]string{Create: "+", Update: "~", Delete: "-", Unmanaged: "?", Noop: " "}

var colors = map[Action]string{Create: ansiGreen, Update: ansiYellow, Delete: ansiRed, Unmanaged: ansiDim}

// RenderText writes the plan as text for a person to review: one line per
// pending change, the unmanaged connections as notes, and a summary line.
// Unchanged connections are counted, not listed, as Terraform does.
func RenderText(w io.Writer, p *Plan, opt RenderOptions) error {
	paint := func(code, s string) string {
		if !opt.Color || code == "" {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	pending := p.Pending()
	switch {
	case len(pending) == 0 && len(opt.Unread) > 0:
		b.WriteString(paint(ansiBold, "No changes") + " for the source orgs that could be read.\n")
	case len(pending) == 0:
		b.WriteString(paint(ansiBold, "No changes.") + " Live org connections match the manifest.\n")
	default:
		b.WriteString("orgsync will perform the following actions:\n\n")
		for _, c := range pending {
			line := fmt.Sprintf("  %s %-6s %s -> %s", symbols[c.Action], c.Action, c.SourceOrg.Label, c.SinkName())
			switch c.Action {
			case Create:
				line += " " + formatTypes(c.After)
			case Update:
				line += fmt.Sprintf(" %s -> %s (id %s)", formatTypes(c.Before), formatTypes(c.After), c.ConnectionID)
			case Delete:
				line += fmt.Sprintf(" %s (id %s)", formatTypes(c.Before), c.ConnectionID)
			}
			b.WriteString(paint(colors[c.Action], line) + "\n")
		}
	}
	if len(opt.Unread) > 0 {
		fmt.Fprintf(&b, "\nNot planned: %s (could not check the keys or read live connections; see the errors).\n", strings.Join(opt.Unread, ", "))
	}
	var unmanaged []Change
	for _, c := range p.Changes {
		if c.Action == Unmanaged {
			unmanaged = append(unmanaged, c)
		}
	}
	if len(unmanaged) > 0 {
		b.WriteString("\nNot in the manifest (left as they are; set prune: true on the source org to delete them):\n")
		for _, c := range unmanaged {
			b.WriteString(paint(colors[Unmanaged], fmt.Sprintf("  %s %s -> %s %s (id %s)", symbols[Unmanaged], c.SourceOrg.Label, c.SinkName(), formatTypes(c.Before), c.ConnectionID)) + "\n")
		}
	}
	if counts := personalCreators(p.Changes); len(counts) > 0 {
		b.WriteString("\nMade by personal users (Datadog deletes a user's connections when the user is deactivated; prefer a service account):\n")
		for _, n := range counts {
			fmt.Fprintf(&b, "  %s: %d of %d live %s\n", n.Label, n.Personal, n.Live, pluralConnections(n.Live))
		}
	}
	s := p.Summary
	fmt.Fprintf(&b, "\n%s %d to create, %d to update, %d to delete, %d unchanged, %d unmanaged.\n",
		paint(ansiBold, "Plan:"), s.Create, s.Update, s.Delete, s.Noop, s.Unmanaged)
	_, err := io.WriteString(w, b.String())
	return err
}

func pluralConnections(n int) string {
	if n == 1 {
		return "connection"
	}
	return "connections"
}

func formatTypes(types []string) string { return "[" + strings.Join(types, ", ") + "]" }

// WriteJSON writes the plan JSON of the contract, indented, with a final
// newline.
func WriteJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
