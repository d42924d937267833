package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestGitHubWorkflowExample checks that every orgsync command line in the
// example workflow parses with the CLI as built, so the example cannot
// drift from the flags.
func TestGitHubWorkflowExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../examples/ci/github-actions.yml")
	require.NoError(t, err)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	require.Contains(t, wf.Jobs, "plan")
	require.Contains(t, wf.Jobs, "apply")

	parsers := map[string]func([]string, streams) error{
		"validate": func(a []string, s streams) error { _, err := parseValidateArgs(a, s); return err },
		"plan":     func(a []string, s streams) error { _, err := parsePlanArgs(a, s); return err },
		"apply":    func(a []string, s streams) error { _, err := parseApplyArgs(a, s); return err },
	}
	var seen []string
	for name, job := range wf.Jobs {
		for _, step := range job.Steps {
			for _, line := range strings.Split(step.Run, "\n") {
				fields := strings.Fields(line)
				if len(fields) < 2 || fields[0] != "orgsync" {
					continue
				}
				parse, ok := parsers[fields[1]]
				require.True(t, ok, "job %s runs an unknown command: %s", name, line)
				var stderr bytes.Buffer
				assert.NoError(t, parse(fields[2:], streams{stderr: &stderr}), "job %s: %s: %s", name, line, stderr.String())
				seen = append(seen, fields[1])
			}
		}
	}
	assert.ElementsMatch(t, []string{"validate", "plan", "apply"}, seen)
	// The plan job's artifact is what the apply job downloads.
	assert.Contains(t, string(b), "name: orgsync-plan")
	assert.Contains(t, string(b), "--name orgsync-plan")
}
