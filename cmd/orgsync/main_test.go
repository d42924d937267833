package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
)

var update = flag.Bool("update", false, "update golden files")

// cliResult is what one command line did.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs orgsync in-process with the given environment (nothing from
// the real environment leaks in) and no terminal.
func runCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	return runCLIContext(t, context.Background(), env, args...)
}

func runCLIContext(t *testing.T, ctx context.Context, env map[string]string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(ctx, args, streams{
		stdin:  strings.NewReader(""),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return env[k] },
	})
	return cliResult{code, stdout.String(), stderr.String()}
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	assert.Equal(t, string(want), got, "output differs from %s; run go test -update and review the diff", path)
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func readReport(t *testing.T, path string) *apply.Report {
	t.Helper()
	r, err := apply.ReadReport(path)
	require.NoError(t, err)
	return r
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(s), v), s)
}

const quickstart = "../../examples/quickstart.yaml"

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{args: []string{"-h"}, code: 0, inStdout: "Usage:"},
		{args: []string{"-h"}, code: 0, inStdout: "  orgsync apply    PLAN.json  [--report FILE]   apply a saved plan, checked for consistency only\n"},
		{args: []string{"-h"}, code: 0, inStdout: "  orgsync sandbox  serve --listen ADDR --fixture FILE [--state FILE] [fault flags]\n"},
		{args: []string{"version"}, code: 0, inStdout: "orgsync "},
		{args: []string{"plan", "-h"}, code: 0, inStderr: "-detailed-exitcode"},
		{args: []string{"apply", "-h"}, code: 0, inStderr: "-auto-approve"},
		{args: []string{"validate", "-h"}, code: 0, inStderr: "-f PATH"},
		{args: []string{"sandbox", "serve", "-h"}, code: 0, inStderr: "-fail-5xx"},
		{args: []string{"report", "merge", "-h"}, code: 0, inStderr: "Usage: orgsync report merge"},
		{args: []string{"discover", "-h"}, code: 0, inStderr: "-connections"},
		{args: []string{"export", "-h"}, code: 0, inStderr: "-org LABEL"},
		{args: nil, code: 1, inStderr: "no command given"},
		{args: []string{"frobnicate"}, code: 1, inStderr: `unknown command "frobnicate"`},
		{args: []string{"plan", "--no-such-flag"}, code: 1, inStderr: "orgsync: error: flag provided but not defined: -no-such-flag\norgsync: hint: run \"orgsync plan -h\" for its flags\n"},
		{args: []string{"apply", "--parallelism", "x"}, code: 1, inStderr: "orgsync: error: invalid value \"x\" for flag -parallelism"},
		{args: []string{"sandbox", "serve", "--nope"}, code: 1, inStderr: "orgsync: error: flag provided but not defined: -nope"},
		{args: []string{"version", "extra"}, code: 1, inStderr: "orgsync: error: version takes no arguments, got \"extra\""},
		{args: []string{"plan", "-f", quickstart, "--shard", "1/4294967296"}, code: 1, inStderr: "orgsync: error: invalid value \"1/4294967296\" for flag -shard: want i/n with 1 <= i <= n <= 1000, such as 1/4"},
		{args: []string{"apply", "-f", "m.yaml", "--shard", "1/4294967297"}, code: 1, inStderr: "for flag -shard: want i/n with 1 <= i <= n <= 1000"},
		{args: []string{"plan", "-f", "m.yaml", "--shard", "0/0"}, code: 1, inStderr: "for flag -shard: want i/n with 1 <= i <= n <= 1000"},
		{args: []string{"plan", "-f", "m.yaml", "--shard", "1001/1001"}, code: 1, inStderr: "for flag -shard: want i/n with 1 <= i <= n <= 1000"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, tt.args...)
			assert.Equal(t, tt.code, r.code, r.stderr)
			assert.Contains(t, r.stdout, tt.inStdout)
			assert.Contains(t, r.stderr, tt.inStderr)
			assert.LessOrEqual(t, strings.Count(r.stdout+r.stderr, "Usage:"), 1, "the usage is printed once:\n%s", r.stderr)
			if tt.code != 0 {
				assert.True(t, strings.HasPrefix(r.stderr, "orgsync: error: ") || strings.HasPrefix(r.stderr, "orgsync makes"),
					"a usage error starts with orgsync: error: (or the usage), not the flag package's own line:\n%s", r.stderr)
			}
		})
	}
}

func TestParsePlanArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, a planArgs)
		wantErr string
	}{
		{name: "defaults", args: []string{"-f", "m.yaml"}, check: func(t *testing.T, a planArgs) {
			assert.Equal(t, []string{"m.yaml"}, []string(a.target.files))
			assert.Equal(t, 128, a.target.parallelism)
			assert.Equal(t, 10, a.maxDeletes)
			assert.False(t, a.target.rate.set)
		}},
		{name: "paths after flags", args: []string{"-f", "a.yaml", "--json", "b/", "--org", "x", "--org", "y"}, check: func(t *testing.T, a planArgs) {
			assert.Equal(t, []string{"a.yaml", "b/"}, []string(a.target.files))
			assert.Equal(t, []string{"x", "y"}, []string(a.target.orgs))
			assert.True(t, a.json)
		}},
		{name: "shard", args: []string{"-f", "m.yaml", "--shard", "2/4"}, check: func(t *testing.T, a planArgs) {
			assert.Equal(t, shard{2, 4}, a.target.shard)
		}},
		{name: "largest shard count", args: []string{"-f", "m.yaml", "--shard", "1000/1000"}, check: func(t *testing.T, a planArgs) {
			assert.Equal(t, shard{1000, 1000}, a.target.shard)
		}},
		{name: "rate is a cap once set", args: []string{"-f", "m.yaml", "--rate", "2.5", "--burst", "3"}, check: func(t *testing.T, a planArgs) {
			assert.Equal(t, rateFlag{2.5, true}, a.target.rate)
			assert.Equal(t, 3, a.target.burst)
		}},
		{name: "bad shard", args: []string{"--shard", "5/4"}, wantErr: "want i/n with 1 <= i <= n <= 1000"},
		{name: "zero rate", args: []string{"--rate", "0"}, wantErr: "want requests per second"},
		{name: "zero parallelism", args: []string{"--parallelism", "0"}, wantErr: "--parallelism must be at least 1"},
		{name: "zero burst", args: []string{"--burst", "0"}, wantErr: "--burst must be at least 1"},
		{name: "negative retries", args: []string{"--max-retries", "-1"}, wantErr: "--max-retries must not be negative"},
		{name: "sandbox and api url", args: []string{"--sandbox", "s.json", "--api-url", "http://127.0.0.1:1"}, wantErr: "exclude each other"},
		{name: "negative max deletes", args: []string{"--max-deletes", "-1"}, wantErr: "--max-deletes must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := parsePlanArgs(tt.args, streams{stderr: &bytes.Buffer{}})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, a)
		})
	}
}

func TestParseApplyArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		planFile string
		files    []string
		report   string
		wantErr  string
	}{
		{name: "manifest", args: []string{"-f", "m.yaml", "--auto-approve"}, files: []string{"m.yaml"}, report: "orgsync-report.json"},
		{name: "saved plan with flags after it", args: []string{"plan.json", "--report", "r.json"}, planFile: "plan.json", report: "r.json"},
		{name: "two plans", args: []string{"a.json", "b.json"}, wantErr: "one saved plan"},
		{name: "saved plan and manifests, as the CI example runs it", args: []string{"reviewed/plan.json", "-f", "orgs/", "--report", "report.json"},
			planFile: "reviewed/plan.json", files: []string{"orgs/"}, report: "report.json"},
		{name: "manifests first, then the plan and more manifests", args: []string{"-f", "a.yaml", "p.JSON", "b.yml"},
			planFile: "p.JSON", files: []string{"a.yaml", "b.yml"}, report: "orgsync-report.json"},
		{name: "--plan with manifests", args: []string{"--plan", "p.json", "-f", "orgs/"}, planFile: "p.json", files: []string{"orgs/"}, report: "orgsync-report.json"},
		{name: "--plan alone", args: []string{"--plan", "p.json"}, planFile: "p.json", report: "orgsync-report.json"},
		{name: "--plan and an argument", args: []string{"--plan", "p.json", "q.json"}, wantErr: "got --plan p.json and q.json"},
		{name: "two plans with manifests", args: []string{"-f", "m.yaml", "p.json", "q.json"}, wantErr: "got p.json and q.json"},
		{name: "nothing", args: nil, wantErr: "nothing to apply"},
		{name: "org with a saved plan", args: []string{"p.json", "--org", "a"}, wantErr: "a saved plan is applied whole"},
		{name: "bad output", args: []string{"-f", "m.yaml", "--output", "yaml"}, wantErr: `--output "yaml"`},
		{name: "empty report", args: []string{"-f", "m.yaml", "--report", ""}, wantErr: "--report must name a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := parseApplyArgs(tt.args, streams{stderr: &bytes.Buffer{}})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.planFile, a.planFile)
			assert.Equal(t, tt.files, []string(a.target.files))
			assert.Equal(t, tt.report, a.report)
		})
	}
}

func TestParseSandboxArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "ok", args: []string{"serve", "--fixture", "f.yaml", "--fail-5xx", "0.2", "--drop-after", "0.05", "--latency", "20ms", "--seed", "7"}},
		{name: "no serve", args: []string{"run"}, wantErr: "usage: orgsync sandbox serve"},
		{name: "no fixture", args: []string{"serve"}, wantErr: "needs --fixture"},
		{name: "bad probability", args: []string{"serve", "--fixture", "f", "--drop-before", "1.5"}, wantErr: "--drop-before must be a probability"},
		{name: "stray argument", args: []string{"serve", "--fixture", "f", "extra"}, wantErr: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseSandboxArgs(tt.args, streams{stderr: &bytes.Buffer{}})
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", `version: 1
orgs:
  hub:
    id: 83999dcd-7f97-11f0-8de1-1ecf66f1aa85
  team-a:
    id: not-a-uuid
    api_key: abc
connections:
  - from: team-a
    to: nowhere
    types: [logs, logs]
`)
	r := runCLI(t, nil, "validate", "-f", bad)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	checkGolden(t, "validate-bad.golden", strings.ReplaceAll(r.stderr, dir, "$TMP"))

	t.Run("github annotations", func(t *testing.T) {
		r := runCLI(t, map[string]string{"GITHUB_ACTIONS": "true"}, "validate", "-f", bad)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "::error file="+escapeProperty(bad)+",line=6,col=9::")
	})
	t.Run("every example is valid", func(t *testing.T) {
		for _, ex := range examplePaths(t) {
			r := runCLI(t, nil, "validate", "-f", ex)
			assert.Equal(t, 0, r.code, "%s: %s", ex, r.stderr)
			assert.Contains(t, r.stdout, "The manifest is valid")
		}
	})
}

// TestExamplesPlanAndApplyOnTheSandbox checks that every example plans
// against the emulator, applies, and then plans to no changes.
func TestExamplesPlanAndApplyOnTheSandbox(t *testing.T) {
	t.Parallel()
	for _, ex := range examplePaths(t) {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			state := filepath.Join(dir, "sandbox.json")
			r := runCLI(t, nil, "plan", "--sandbox", state, "-f", ex, "--detailed-exitcode")
			require.Equal(t, 2, r.code, r.stderr)
			assert.Contains(t, r.stdout, "to create")
			r = runCLI(t, nil, "apply", "--sandbox", state, "-f", ex, "--auto-approve", "--report", filepath.Join(dir, "r.json"))
			require.Equal(t, 0, r.code, r.stderr)
			rep := readReport(t, filepath.Join(dir, "r.json"))
			assert.Positive(t, rep.Summary.Created)
			assert.Zero(t, rep.Summary.Failed)
			r = runCLI(t, nil, "plan", "--sandbox", state, "-f", ex, "--detailed-exitcode")
			assert.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "No changes.")
		})
	}
}

// examplePaths lists every example manifest (a folder counts as one).
func examplePaths(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../../examples")
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		p := filepath.Join("../../examples", e.Name())
		switch {
		case e.IsDir() && e.Name() != "ci":
			out = append(out, p)
		case strings.HasSuffix(e.Name(), ".yaml") && e.Name() != "sandbox-fixture.yaml":
			out = append(out, p)
		}
	}
	require.NotEmpty(t, out)
	return out
}

func TestParseSmallCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		parse   func([]string, streams) error
		args    []string
		wantErr string
	}{
		{name: "validate files and dirs", parse: func(a []string, s streams) error {
			got, err := parseValidateArgs(a, s)
			if err == nil && len(got.files) != 3 {
				t.Errorf("files %v", got.files)
			}
			return err
		}, args: []string{"-f", "a.yaml", "b/", "-f", "c.yml"}},
		{name: "export with orgs", parse: func(a []string, s streams) error {
			got, err := parseExportArgs(a, s)
			if err == nil && (len(got.target.orgs) != 2 || len(got.target.files) != 1) {
				t.Errorf("orgs %v files %v", got.target.orgs, got.target.files)
			}
			return err
		}, args: []string{"-f", "m.yaml", "--org", "a", "--org", "b"}},
		{name: "export bad parallelism", parse: func(a []string, s streams) error { _, err := parseExportArgs(a, s); return err },
			args: []string{"--parallelism", "0"}, wantErr: "--parallelism must be at least 1"},
		{name: "merge", parse: func(a []string, s streams) error {
			got, err := parseReportArgs(a, s)
			if err == nil && (len(got.files) != 2 || got.out != "m.json") {
				t.Errorf("%+v", got)
			}
			return err
		}, args: []string{"merge", "r1.json", "-o", "m.json", "r2.json"}},
		{name: "merge nothing", parse: func(a []string, s streams) error { _, err := parseReportArgs(a, s); return err },
			args: []string{"merge"}, wantErr: "at least one report file"},
		{name: "report without merge", parse: func(a []string, s streams) error { _, err := parseReportArgs(a, s); return err },
			args: []string{"join"}, wantErr: "usage: orgsync report merge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.parse(tt.args, streams{stderr: &bytes.Buffer{}})
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
