package discover

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
)

// SchemaURL is where the manifest schema of the main branch is published,
// for the $schema line that points editors at it.
const SchemaURL = "https://raw.githubusercontent.com/orgsync/orgsync/main/schemas/manifest.schema.json"

// WriteOptions are the choices of the written manifest that the account
// does not give.
type WriteOptions struct {
	SchemaRef string // for the $schema line; none when empty
	// ParentAPIKeyEnv and ParentAppKeyEnv name the env vars that held the
	// parent's keys, written when they are not the defaults.
	ParentAPIKeyEnv, ParentAppKeyEnv string
}

// Write renders a as a version-1 manifest: the parent and every managed
// org, each with a comment giving its name, all on the account's site, and
// the connections that were read. An org whose connections were not read,
// or some of whose connections were left out, says so in a comment.
func Write(a *Account, opt WriteOptions) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	root.Content = append(root.Content, plan.YAMLString("version"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
	defaults := &yaml.Node{Kind: yaml.MappingNode}
	defaults.Content = append(defaults.Content, plan.YAMLString("site"), plan.YAMLString(a.Site))
	root.Content = append(root.Content, plan.YAMLString("defaults"), defaults)

	orgs := &yaml.Node{Kind: yaml.MappingNode}
	parent := orgNode(a, a.Parent)
	if opt.ParentAPIKeyEnv != "" && opt.ParentAPIKeyEnv != manifest.DefaultAPIKeyEnv {
		parent.Content = append(parent.Content, plan.YAMLString("api_key_env"), plan.YAMLString(opt.ParentAPIKeyEnv))
	}
	if opt.ParentAppKeyEnv != "" && opt.ParentAppKeyEnv != manifest.DefaultAppKeyEnv {
		parent.Content = append(parent.Content, plan.YAMLString("app_key_env"), plan.YAMLString(opt.ParentAppKeyEnv))
	}
	orgs.Content = append(orgs.Content, labelNode(a.Parent, "parent"), parent)
	for _, o := range a.Managed {
		orgs.Content = append(orgs.Content, labelNode(o, ""), orgNode(a, o))
	}
	root.Content = append(root.Content, plan.YAMLString("orgs"), orgs)

	conns := make([]plan.ManifestConnection, 0, len(a.Connections))
	for _, c := range a.Connections {
		conns = append(conns, plan.ManifestConnection{From: a.byID[c.SourceID].Label, To: a.byID[c.SinkID].Label, Types: c.Types})
	}
	plan.SortConnections(conns)
	root.Content = append(root.Content, plan.YAMLString("connections"), plan.ConnectionList(conns))
	return plan.EncodeManifest(root, opt.SchemaRef, header(a)...)
}

// header is the comment at the top: where the manifest came from and what
// to do before planning it.
func header(a *Account) []string {
	name := a.Parent.Name
	if name == "" {
		name = a.Parent.Label
	}
	lines := []string{
		fmt.Sprintf("Discovered by orgsync from the account of %s (%s): the parent and %d managed %s.",
			comment(name), a.Parent.ID, len(a.Managed), plural(len(a.Managed), "org", "orgs")),
	}
	if a.ManagedRead {
		lines = append(lines, "Connections: the parent's (as source or sink) and every managed org's outgoing ones.")
	} else {
		lines = append(lines, "Connections: only those of the parent (as source or sink); discover --connections",
			"with a keys source also reads every managed org's own.")
	}
	for _, p := range a.Problems {
		lines = append(lines, "Left out: "+comment(p))
	}
	lines = append(lines, "Before planning, give every source org its keys (--keys-file or --keys-command).")
	return lines
}

// labelNode is an org's label, with a comment that gives its name.
func labelNode(o Org, role string) *yaml.Node {
	n := plan.YAMLString(o.Label)
	var parts []string
	if o.Name != "" {
		parts = append(parts, comment(o.Name))
	} else {
		parts = append(parts, "(no name)")
	}
	if role != "" {
		parts = append(parts, "("+role+")")
	}
	if o.Disabled {
		parts = append(parts, "(disabled)")
	}
	n.HeadComment = strings.Join(parts, " ")
	return n
}

// orgNode is an org's mapping, with comments on what of it was not read.
func orgNode(a *Account, o Org) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	idKey := plan.YAMLString("id")
	var notes []string
	if reason, ok := a.Unread[o.ID]; ok {
		notes = append(notes, "connections not read: "+comment(reason))
	}
	if k := a.Outside[o.ID]; k > 0 {
		notes = append(notes, fmt.Sprintf("%d %s with orgs outside this manifest left out", k, plural(k, "connection", "connections")))
	}
	idKey.HeadComment = strings.Join(notes, "\n")
	n.Content = append(n.Content, idKey, plan.YAMLString(o.ID))
	return n
}

// comment makes text fit on one comment line.
func comment(text string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return ' '
		}
		return r
	}, text)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
