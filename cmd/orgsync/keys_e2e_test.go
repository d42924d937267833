//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// sourceKeys lists the world's source orgs with their fixture keys.
func (w *e2eWorld) sourceKeys() []sandbox.FixtureOrg {
	var out []sandbox.FixtureOrg
	for _, o := range w.fixture.Orgs {
		if o.APIKey != "" {
			out = append(out, o)
		}
	}
	return out
}

// writeKeysFile writes the world's keys as a keys file in a directory of
// its own (the leak checks read every file the runs leave in w.dir), keyed
// by label or by upper-cased id, in JSON or YAML.
func (w *e2eWorld) writeKeysFile(t *testing.T, name string, byID bool) string {
	t.Helper()
	var b strings.Builder
	yaml := strings.HasSuffix(name, ".yaml")
	if !yaml {
		b.WriteString("{\n")
	}
	srcs := w.sourceKeys()
	for i, o := range srcs {
		entry := o.Name
		if byID {
			entry = strings.ToUpper(o.ID)
		}
		if yaml {
			fmt.Fprintf(&b, "%s:\n  api_key: %s\n  app_key: %s\n", entry, o.APIKey, o.AppKey)
			continue
		}
		sep := ","
		if i == len(srcs)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "\t%q: {\"api_key\": %q, \"app_key\": %q}%s\n", entry, o.APIKey, o.AppKey, sep)
	}
	if !yaml {
		b.WriteString("}\n")
	}
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// writeKeysCommand writes a shell script that logs each run as a line
// "LABEL ID SITE" to the returned log and prints the org's fixture keys.
// fail maps a label to shell commands that replace its normal answer.
func (w *e2eWorld) writeKeysCommand(t *testing.T, fail map[string]string) (cmd, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	var b strings.Builder
	fmt.Fprintf(&b, "echo \"$ORGSYNC_ORG_LABEL $ORGSYNC_ORG_ID $ORGSYNC_ORG_SITE\" >> %s\ncase \"$ORGSYNC_ORG_LABEL\" in\n", log)
	for _, o := range w.sourceKeys() {
		answer := fmt.Sprintf(`printf '{"api_key": "%s", "app_key": "%s"}\n'`, o.APIKey, o.AppKey)
		if f, ok := fail[o.Name]; ok {
			answer = strings.ReplaceAll(f, "KEYS", answer)
		}
		fmt.Fprintf(&b, "%s)\n  echo 'fetching keys' >&2\n  %s ;;\n", o.Name, answer)
	}
	b.WriteString("*) echo \"unknown org $ORGSYNC_ORG_LABEL\" >&2; exit 9 ;;\nesac\n")
	script := filepath.Join(dir, "keys.sh")
	require.NoError(t, os.WriteFile(script, []byte(b.String()), 0o700))
	return "sh " + script, log
}

// keysCommandCalls returns the labels the keys command ran for, one per
// run, sorted.
func keysCommandCalls(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var labels []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		labels = append(labels, strings.Fields(l)[0])
	}
	sort.Strings(labels)
	return labels
}

// TestE2EKeySources plans and applies with the keys in a file (JSON by id,
// YAML by label) or printed by a command, given by flag or by env var, and
// checks that the run converges, that the saved plan records the source,
// and that the command ran once per source org and run.
func TestE2EKeySources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		source func(t *testing.T, w *e2eWorld) (args []string, env map[string]string, log string)
		kind   string
	}{
		{name: "keys file, JSON by id, flag", kind: plan.KeysFromFile,
			source: func(t *testing.T, w *e2eWorld) ([]string, map[string]string, string) {
				return []string{"--keys-file", w.writeKeysFile(t, "keys.json", true)}, nil, ""
			}},
		{name: "keys file, YAML by label, env", kind: plan.KeysFromFile,
			source: func(t *testing.T, w *e2eWorld) ([]string, map[string]string, string) {
				return nil, map[string]string{"ORGSYNC_KEYS_FILE": w.writeKeysFile(t, "keys.yaml", false)}, ""
			}},
		{name: "keys command, flag", kind: plan.KeysFromCommand,
			source: func(t *testing.T, w *e2eWorld) ([]string, map[string]string, string) {
				cmd, log := w.writeKeysCommand(t, nil)
				return []string{"--keys-command", cmd}, nil, log
			}},
		{name: "keys command, env", kind: plan.KeysFromCommand,
			source: func(t *testing.T, w *e2eWorld) ([]string, map[string]string, string) {
				cmd, log := w.writeKeysCommand(t, nil)
				return nil, map[string]string{"ORGSYNC_KEYS_COMMAND": cmd}, log
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, 3, 2, "k5rc")
			sb, ts := w.serve(t, sandbox.Faults{})
			keyArgs, env, log := tt.source(t, w)
			args := func(a ...string) []string {
				return append(append(a, "--api-url", ts.URL, "-f", w.manifest), keyArgs...)
			}
			r := runOrgsync(t, w.dir, env, args("plan", "--out", "plan.json")...)
			require.Equal(t, 0, r.code, r.stderr)
			var p plan.Plan
			decodeJSON(t, mustRead(t, filepath.Join(w.dir, "plan.json")), &p)
			assert.Equal(t, 6, p.Summary.Create)
			for _, o := range p.Orgs {
				assert.Equal(t, tt.kind, o.KeySource, "the plan records where %s's keys came from", o.Label)
			}
			if len(keyArgs) > 0 {
				assert.Contains(t, r.stderr, "apply it with \"orgsync apply plan.json -f "+w.manifest+" --api-url "+ts.URL+" "+keyArgs[0]+" ")
			}
			r = runOrgsync(t, w.dir, env, append([]string{"apply", "plan.json", "--api-url", ts.URL, "--report", "report.json"}, keyArgs...)...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.NotContains(t, r.stderr, "orgsync: note:", "the apply finds keys as the plan did")
			w.checkConverged(t, sb)
			r = runOrgsync(t, w.dir, env, args("export", "--org", "src-1")...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "src-1:")
			if log != "" {
				assert.Equal(t, []string{"src-0", "src-0", "src-1", "src-1", "src-1", "src-2", "src-2"}, keysCommandCalls(t, log),
					"once per source org in each run (plan, apply, export of src-1), never for sinks")
				assert.Contains(t, r.stderr, "orgsync: keys command (src-1): fetching keys\n")
			}
		})
	}
}

// TestE2EKeysCommandRunsOnlyForTheRunsOrgs checks that the command runs for
// the orgs --org and --shard select, and passes each its label, id and site.
func TestE2EKeysCommandRunsOnlyForTheRunsOrgs(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 8, 1, "k5rc")
	_, ts := w.serve(t, sandbox.Faults{})
	m, err := manifest.Load([]string{w.manifest})
	require.NoError(t, err)
	for _, sel := range []struct {
		args []string
		sel  manifest.Selection
	}{
		{[]string{"--org", "src-3", "--org", "src-5"}, manifest.Selection{Labels: []string{"src-3", "src-5"}}},
		{[]string{"--shard", "1/3"}, manifest.Selection{ShardIndex: 1, ShardCount: 3}},
		{[]string{"--shard", "3/3"}, manifest.Selection{ShardIndex: 3, ShardCount: 3}},
	} {
		t.Run(strings.Join(sel.args, " "), func(t *testing.T) {
			t.Parallel()
			cmd, log := w.writeKeysCommand(t, nil)
			r := runOrgsync(t, w.dir, nil, append([]string{"plan", "--api-url", ts.URL, "-f", w.manifest, "--keys-command", cmd}, sel.args...)...)
			require.Equal(t, 0, r.code, r.stderr)
			orgs, err := manifest.Select(m, manifest.SourceOrgs(m), sel.sel, false)
			require.NoError(t, err)
			require.NotEmpty(t, orgs)
			var want []string
			for _, o := range orgs {
				want = append(want, o.Label)
			}
			assert.Equal(t, want, keysCommandCalls(t, log))
			b, err := os.ReadFile(log)
			require.NoError(t, err)
			assert.Contains(t, string(b), orgs[0].Label+" "+orgs[0].ID+" datadoghq.com\n")
		})
	}
}

// TestE2EKeysCommandFailsOneOrg: the command fails for src-1 in three ways
// (exit status after printing real keys, junk, a key with a newline); that
// org alone is a failed verify result, the others are applied, and no key
// or output of the command is quoted.
func TestE2EKeysCommandFailsOneOrg(t *testing.T) {
	t.Parallel()
	const marker = "f41lm4rk"
	tests := []struct {
		name, fail, wantErr string
	}{
		{"exit status after real keys", "KEYS; exit 3", "org src-1: check keys: keys command: exit status 3; its output is not used"},
		{"junk", "echo " + marker + "-junk", `org src-1: check keys: keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed`},
		{"key with a newline", `printf '{"api_key": "` + marker + `-0123456789\\n", "app_key": "` + marker + `-9876543210"}'`,
			`org src-1: check keys: keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: api_key ends with whitespace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, 3, 1, marker)
			sb, ts := w.serve(t, sandbox.Faults{})
			cmd, log := w.writeKeysCommand(t, map[string]string{"src-1": tt.fail})
			base := []string{"--api-url", ts.URL, "-f", w.manifest, "--keys-command", cmd}

			r := runOrgsync(t, w.dir, nil, append([]string{"plan"}, base...)...)
			assert.Equal(t, 1, r.code, "a plan that leaves an org out would lie")
			assert.Contains(t, r.stderr, "orgsync: error: "+tt.wantErr)
			assert.Contains(t, r.stderr, "orgsync: hint: fix the keys of those orgs, or leave them out: --org runs only the orgs it names\n")
			assert.NotContains(t, r.stdout+r.stderr, marker)

			r = runOrgsync(t, w.dir, nil, append([]string{"apply", "--auto-approve", "--report", "report.json"}, base...)...)
			assert.Equal(t, 1, r.code)
			assert.NotContains(t, r.stdout+r.stderr, marker)
			rep := readReport(t, filepath.Join(w.dir, "report.json"))
			assert.Equal(t, 2, rep.Summary.Created, "the other orgs go on")
			require.Equal(t, 1, rep.Summary.Failed)
			for _, res := range rep.Results {
				if res.Outcome == "failed" {
					assert.Equal(t, "verify", string(res.Action))
					assert.Equal(t, "src-1", res.SourceOrg.Label)
					assert.Contains(t, res.Error, tt.wantErr)
				}
			}
			b, err := json.Marshal(rep)
			require.NoError(t, err)
			assert.NotContains(t, string(b), marker)
			assert.Len(t, sb.Connections(), 2)
			assert.Equal(t, []string{"src-0", "src-0", "src-1", "src-1", "src-2", "src-2"}, keysCommandCalls(t, log))
		})
	}
}

// TestE2EOneKeySourceOnly: two sources of keys at once is a usage error,
// before any request.
func TestE2EOneKeySourceOnly(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 1, 1, "k5rc")
	sb, ts := w.serve(t, sandbox.Faults{})
	file := w.writeKeysFile(t, "keys.json", false)
	cmd, log := w.writeKeysCommand(t, nil)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"two flags", []string{"--keys-file", file, "--keys-command", cmd}, nil,
			"orgsync: error: --keys-file and --keys-command exclude each other: give one source of keys"},
		{"two env vars", nil, map[string]string{"ORGSYNC_KEYS_FILE": file, "ORGSYNC_KEYS_COMMAND": cmd},
			"orgsync: error: ORGSYNC_KEYS_FILE and ORGSYNC_KEYS_COMMAND both give keys: give one source of keys"},
		{"a flag and an env var", []string{"--keys-file", file}, map[string]string{"ORGSYNC_KEYS_COMMAND": cmd},
			"orgsync: error: --keys-file and ORGSYNC_KEYS_COMMAND both give keys: give one source of keys"},
		{"sandbox and a keys flag", []string{"--keys-command", cmd, "--sandbox", filepath.Join(t.TempDir(), "s.json")}, nil,
			"orgsync: error: --sandbox makes its own keys: it takes no --keys-file or --keys-command"},
	}
	for _, tt := range tests {
		for _, command := range []string{"plan", "apply"} {
			t.Run(tt.name+" "+command, func(t *testing.T) {
				args := append([]string{command, "-f", w.manifest, "--auto-approve", "--report", filepath.Join(t.TempDir(), "r.json")}, tt.args...)
				if command == "plan" {
					args = append([]string{command, "-f", w.manifest}, tt.args...)
				}
				if !strings.Contains(tt.name, "sandbox") {
					args = append(args, "--api-url", ts.URL)
				}
				r := runOrgsync(t, w.dir, tt.env, args...)
				assert.Equal(t, 1, r.code)
				assert.Contains(t, r.stderr, tt.wantErr)
			})
		}
	}
	assert.Zero(t, sb.Stats().Requests, "no request sent")
	assert.Nil(t, keysCommandCalls(t, log), "the command never ran")
}

// TestE2EKeysFileProblems: an org missing from the file or with a bad
// entry fails alone and the error says where; a file others can read gets
// a warning; a file that is not a map stops the run before any request.
func TestE2EKeysFileProblems(t *testing.T) {
	t.Parallel()
	const marker = "f1lem4rk"
	w := newE2EWorld(t, 3, 1, marker)
	sb, ts := w.serve(t, sandbox.Faults{})
	srcs := w.sourceKeys()
	dir := t.TempDir()
	file := filepath.Join(dir, "keys.yaml")
	content := fmt.Sprintf("src-0: {api_key: %s, app_key: %s}\nsrc-2:\n  api_key: %s\n  app_key: |\n    %s\n",
		srcs[0].APIKey, srcs[0].AppKey, srcs[2].APIKey, srcs[2].AppKey)
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))

	r := runOrgsync(t, w.dir, nil, "plan", "--api-url", ts.URL, "-f", w.manifest, "--keys-file", file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "orgsync: warning: keys file "+file+" can be read by group or others (mode 0644); run chmod 600 "+file+"\n")
	assert.Contains(t, r.stderr, "orgsync: error: org src-1: check keys: keys file "+file+": no entry for org src-1 (by its id "+srcs[1].ID+" or its label); add one, or run with --org for the other orgs only\n")
	assert.Contains(t, r.stderr, `orgsync: error: org src-2: check keys: keys file `+file+`, entry "src-2" (line 2): app_key ends with whitespace (a trailing newline in a stored secret?); remove it`+"\n")
	assert.NotContains(t, r.stdout+r.stderr, marker)

	r = runOrgsync(t, w.dir, nil, "plan", "--api-url", ts.URL, "-f", w.manifest, "--keys-file", file, "--org", "src-0")
	assert.Equal(t, 0, r.code, "--org leaves the orgs without keys out: %s", r.stderr)

	require.NoError(t, os.WriteFile(file, []byte("- "+srcs[0].APIKey+"\n"), 0o600))
	require.NoError(t, os.Chmod(file, 0o600))
	requests := sb.Stats().Requests
	r = runOrgsync(t, w.dir, nil, "plan", "--api-url", ts.URL, "-f", w.manifest, "--keys-file", file)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "orgsync: error: keys file "+file+": want a map from org id or label to {api_key, app_key} (line 1)\n", r.stderr)
	assert.Equal(t, requests, sb.Stats().Requests, "no request sent")
}

// TestE2ESavedPlanNotesKeySource: a plan made with a keys file is applied
// with the env vars the plan names, as apply's own command line says, and
// apply notes the change of source.
func TestE2ESavedPlanNotesKeySource(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 2, 1, "n0te")
	sb, ts := w.serve(t, sandbox.Faults{})
	r := runOrgsync(t, w.dir, nil, "plan", "--api-url", ts.URL, "-f", w.manifest, "--out", "plan.json", "--keys-file", w.writeKeysFile(t, "keys.json", false))
	require.Equal(t, 0, r.code, r.stderr)
	r = runOrgsync(t, w.dir, w.env, "apply", "plan.json", "--api-url", ts.URL, "--report", "report.json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: note: the plan found its keys in a keys file; this apply reads them from env vars (api_key_env and app_key_env)\n")
	w.checkConverged(t, sb)
}
