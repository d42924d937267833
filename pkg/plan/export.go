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
	root.Content = append(root.Content, yamlStr("version"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
	orgs := &yaml.Node{Kind: yaml.MappingNode}
	for _, o := range m.Orgs {
		if needed[o.Label] {
			orgs.Content = append(orgs.Content, yamlStr(o.Label), exportedOrg(o))
		}
	}
	root.Content = append(root.Content, yamlStr("orgs"), orgs, yamlStr("connections"), connectionList(conns))
	return encodeManifest(root, schemaRef)
}

// exportedConn is one live connection as a manifest declares it: by
// labels, or a raw UUID for a sink the manifest does not know.
type exportedConn struct {
	from, to string
	types    []string
}

// exportedConnections lists the live outgoing connections of the orgs of m
// that live holds, sorted by source and sink, and the labels of the orgs
// they need: their sources, and the sinks that m declares.
func exportedConnections(m *manifest.Manifest, live State) ([]exportedConn, map[string]bool) {
	labelByID := make(map[string]string, len(m.Orgs))
	for _, o := range m.Orgs {
		labelByID[strings.ToLower(o.ID)] = o.Label
	}
	needed := make(map[string]bool)
	var conns []exportedConn
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
			conns = append(conns, exportedConn{o.Label, to, normalizeTypes(lc.Types)})
		}
	}
	slices.SortFunc(conns, func(a, b exportedConn) int {
		if c := strings.Compare(a.from, b.from); c != 0 {
			return c
		}
		return strings.Compare(a.to, b.to)
	})
	return conns, needed
}

// yamlStr is a string scalar that every YAML reader reads as a string.
func yamlStr(v string) *yaml.Node {
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
	org.Content = append(org.Content, yamlStr("id"), yamlStr(o.ID))
	if o.Site != "" && o.Site != manifest.DefaultSite {
		org.Content = append(org.Content, yamlStr("site"), yamlStr(o.Site))
	}
	if o.APIKeyEnv != "" && o.APIKeyEnv != manifest.DefaultAPIKeyEnv {
		org.Content = append(org.Content, yamlStr("api_key_env"), yamlStr(o.APIKeyEnv))
	}
	if o.AppKeyEnv != "" && o.AppKeyEnv != manifest.DefaultAppKeyEnv {
		org.Content = append(org.Content, yamlStr("app_key_env"), yamlStr(o.AppKeyEnv))
	}
	if o.Prune {
		org.Content = append(org.Content, yamlStr("prune"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	return org
}

// connectionList is the connections list, "[]" when empty.
func connectionList(conns []exportedConn) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, c := range conns {
		types := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range c.types {
			types.Content = append(types.Content, yamlStr(t))
		}
		item := &yaml.Node{Kind: yaml.MappingNode}
		item.Content = append(item.Content, yamlStr("from"), yamlStr(c.from), yamlStr("to"), yamlStr(c.to), yamlStr("types"), types)
		list.Content = append(list.Content, item)
	}
	if len(conns) == 0 {
		list.Style = yaml.FlowStyle
	}
	return list
}

// encodeManifest writes root as a manifest file, after its header comments.
func encodeManifest(root *yaml.Node, schemaRef string) ([]byte, error) {
	var b bytes.Buffer
	if schemaRef != "" {
		fmt.Fprintf(&b, "# yaml-language-server: $schema=%s\n", schemaRef)
	}
	b.WriteString("# Exported by orgsync from live state.\n")
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
