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
				If  string `yaml:"if"`
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	require.Contains(t, wf.Jobs, "plan")
	require.Contains(t, wf.Jobs, "apply")

	// keysFile is the keys flag of a command that reads live state.
	var keysFile = map[string]string{}
	parsers := map[string]func(job string, a []string, s streams) error{
		"validate": func(_ string, a []string, s streams) error { _, err := parseValidateArgs(a, s); return err },
		"plan": func(job string, a []string, s streams) error {
			pa, err := parsePlanArgs(a, s)
			keysFile[job] = pa.target.keys.file
			return err
		},
		"apply": func(job string, a []string, s streams) error {
			aa, err := parseApplyArgs(a, s)
			keysFile[job] = aa.target.keys.file
			assert.NotEmpty(t, aa.planFile, "apply applies the reviewed plan")
			assert.Equal(t, []string{"orgs/"}, []string(aa.target.files), "apply checks the plan against the manifests (contract 8.4)")
			return err
		},
	}
	var seen []string
	for name, job := range wf.Jobs {
		wroteKeys, removedKeys := -1, -1
		var usesKeys []int // steps that run plan or apply
		for i, step := range job.Steps {
			if strings.Contains(step.Run, "umask 077") && strings.Contains(step.Run, "> \"$RUNNER_TEMP/orgsync-keys.json\"") {
				wroteKeys = i
			}
			if strings.Contains(step.Run, "rm -f \"$RUNNER_TEMP/orgsync-keys.json\"") && step.If == "always()" {
				removedKeys = i
			}
			for _, line := range strings.Split(step.Run, "\n") {
				fields := strings.Fields(line)
				if len(fields) < 2 || fields[0] != "orgsync" {
					continue
				}
				parse, ok := parsers[fields[1]]
				require.True(t, ok, "job %s runs an unknown command: %s", name, line)
				var stderr bytes.Buffer
				assert.NoError(t, parse(name, fields[2:], streams{stderr: &stderr}), "job %s: %s: %s", name, line, stderr.String())
				seen = append(seen, fields[1])
				if fields[1] != "validate" {
					usesKeys = append(usesKeys, i)
				}
			}
		}
		for _, i := range usesKeys {
			assert.Greater(t, i, wroteKeys, "job %s writes the keys file, readable by its user only, before step %d", name, i)
			assert.Less(t, i, removedKeys, "job %s removes the keys file after step %d, whatever happened", name, i)
		}
	}
	assert.ElementsMatch(t, []string{"validate", "plan", "apply"}, seen)
	assert.Equal(t, map[string]string{"plan": `"$RUNNER_TEMP/orgsync-keys.json"`, "apply": `"$RUNNER_TEMP/orgsync-keys.json"`}, keysFile,
		"plan and apply read the keys file the job wrote")
	assert.NotContains(t, string(b), "DD_API_KEY_", "no env var per org: one secret holds every org's keys")
	// The plan job's artifact is what the apply job downloads.
	assert.Contains(t, string(b), "name: orgsync-plan")
	assert.Contains(t, string(b), "--name orgsync-plan")
}
