package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/pkg/manifest"
)

// checkLabelArgs catches "--org a b": flag parsing takes b as a manifest
// path, and the error about a missing file would not say why. An argument
// that is no file and does not look like a path is taken for a label.
func checkLabelArgs(positional, orgs []string) error {
	if len(orgs) == 0 {
		return nil
	}
	for _, arg := range positional {
		if !looksLikeLabel(arg) {
			continue
		}
		repeated := make([]string, 0, len(orgs)+1)
		for _, o := range append(orgs[:len(orgs):len(orgs)], arg) {
			repeated = append(repeated, "--org "+o)
		}
		return withHint(fmt.Errorf("%s is not a file: --org takes one label", arg),
			"to select several orgs, repeat --org: "+strings.Join(repeated, " "))
	}
	return nil
}

// looksLikeLabel: no such file, and nothing that marks a path (a
// separator, a manifest or plan extension).
func looksLikeLabel(arg string) bool {
	if strings.ContainsAny(arg, `/\`) {
		return false
	}
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".yaml", ".yml", ".json":
		return false
	}
	_, err := os.Stat(arg)
	return errors.Is(err, os.ErrNotExist)
}

// isManifestPath says whether arg names a YAML file, which apply reads
// with -f, not as a saved plan.
func isManifestPath(arg string) bool {
	ext := strings.ToLower(filepath.Ext(arg))
	return ext == ".yaml" || ext == ".yml"
}

// looksLikeManifest says whether path holds a YAML mapping with a version
// or orgs key, so that "apply FILE" hints at -f only when FILE is one.
func looksLikeManifest(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var doc map[string]any
	if yaml.Unmarshal(b, &doc) != nil {
		return false
	}
	_, version := doc["version"]
	_, orgs := doc["orgs"]
	return version || orgs
}

// manifestNotPlan is the error for "apply m.yaml" (forgot -f).
func manifestNotPlan(path string, err error) error {
	return withHint(err, "apply a manifest with -f: orgsync apply -f "+path)
}

// withLabelHint adds "did you mean --org X?" to a selection error when a
// label given with --org is not in the manifest but close to one that is.
func withLabelHint(err error, m *manifest.Manifest, given []string) error {
	for _, l := range given {
		if _, ok := m.Org(l); ok {
			continue
		}
		if best := manifest.SuggestLabel(m, l); best != "" {
			return withHint(err, fmt.Sprintf("did you mean --org %s?", best))
		}
	}
	return err
}
