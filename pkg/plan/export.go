package plan

import (
	"bytes"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Export writes a manifest that declares exactly the live outgoing
// connections in live, so that planning it against the same live state finds
// no changes. Orgs keep their labels, sites, key env var names and prune
// flags from m; sinks the manifest does not know are written as raw UUIDs.
// Only the orgs of m that a source in live or a sink needs are written.
func Export(m *manifest.Manifest, live State, schemaRef string) ([]byte, error) {
	conns, needed := exportedConnections(m, live)
	root := &yaml.Node{Kind: yaml.MappingNode}
	root.Content = append(root.Content, YAMLString("version"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
	orgs := &yaml.Node{Kind: yaml.MappingNode}
	for _, o := range m.Orgs {
		if needed[o.Label] {
			orgs.Content = append(orgs.Content, YAMLString(o.Label), exportedOrg(o))
		}
	}
	root.Content = append(root.Content, YAMLString("orgs"), orgs, YAMLString("connections"), ConnectionList(conns))
	return EncodeManifest(root, schemaRef, "Exported by orgsync from live state.")
}

// ManifestConnection is one connection as a manifest declares it: by
// labels, or a raw UUID for a sink the manifest does not know.
type ManifestConnection struct {
	From, To string
	Types    []string
}

// exportedConnections lists the live outgoing connections of the orgs of m
// that live holds, sorted by source and sink, and the labels of the orgs
// they need: their sources, and the sinks that m declares.
func exportedConnections(m *manifest.Manifest, live State) ([]ManifestConnection, map[string]bool) {
	labelByID := make(map[string]string, len(m.Orgs))
	for _, o := range m.Orgs {
		labelByID[strings.ToLower(o.ID)] = o.Label
	}
	needed := make(map[string]bool)
	var conns []ManifestConnection
	for _, o := range m.Orgs {
		lcs, ok := live.Orgs[o.Label]
		if !ok {
			continue
		}
		needed[o.Label] = true
		for _, lc := range lcs {
			if !strings.EqualFold(lc.SourceID, o.ID) && lc.SourceID != "" {
				continue
			}
			to := strings.ToLower(lc.SinkID)
			if l, ok := labelByID[to]; ok {
				to = l
				needed[l] = true
			}
			conns = append(conns, ManifestConnection{o.Label, to, normalizeTypes(lc.Types)})
		}
	}
	SortConnections(conns)
	return conns, needed
}

// YAMLString is a string scalar that every YAML reader reads as a string.
func YAMLString(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	if yaml11Bool[strings.ToLower(v)] {
		// yaml.v3 writes these plain, as YAML 1.2 allows, but a YAML
		// 1.1 reader (PyYAML, yamllint, Ansible) would see a boolean.
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// exportedOrg is the mapping of one org, without the fields that hold
// their default.
func exportedOrg(o manifest.Org) *yaml.Node {
	org := &yaml.Node{Kind: yaml.MappingNode}
	org.Content = append(org.Content, YAMLString("id"), YAMLString(o.ID))
	if o.Site != "" && o.Site != manifest.DefaultSite {
		org.Content = append(org.Content, YAMLString("site"), YAMLString(o.Site))
	}
	if o.APIKeyEnv != "" && o.APIKeyEnv != manifest.DefaultAPIKeyEnv {
		org.Content = append(org.Content, YAMLString("api_key_env"), YAMLString(o.APIKeyEnv))
	}
	if o.AppKeyEnv != "" && o.AppKeyEnv != manifest.DefaultAppKeyEnv {
		org.Content = append(org.Content, YAMLString("app_key_env"), YAMLString(o.AppKeyEnv))
	}
	if o.Prune {
		org.Content = append(org.Content, YAMLString("prune"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	return org
}

// SortConnections sorts conns by source, then sink.
func SortConnections(conns []ManifestConnection) {
	slices.SortFunc(conns, func(a, b ManifestConnection) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
}

// ConnectionList is a manifest's connections list, "[]" when empty.
func ConnectionList(conns []ManifestConnection) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, c := range conns {
		types := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range c.Types {
			types.Content = append(types.Content, YAMLString(t))
		}
		item := &yaml.Node{Kind: yaml.MappingNode}
		item.Content = append(item.Content, YAMLString("from"), YAMLString(c.From), YAMLString("to"), YAMLString(c.To), YAMLString("types"), types)
		list.Content = append(list.Content, item)
	}
	if len(conns) == 0 {
		list.Style = yaml.FlowStyle
	}
	return list
}

// EncodeManifest writes root as a manifest file, after a $schema line for
// editors (when schemaRef is not empty) and the header lines as comments.
func EncodeManifest(root *yaml.Node, schemaRef string, header ...string) ([]byte, error) {
	var b bytes.Buffer
	if schemaRef != "" {
		fmt.Fprintf(&b, "# yaml-language-server: $schema=%s\n", schemaRef)
	}
	for _, line := range header {
		b.WriteString("# " + line + "\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return b.Bytes(), nil
}

// yaml11Bool are the plain scalars that YAML 1.1 reads as booleans.
var yaml11Bool = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true, "true": true, "false": true}
