//go:build unix

package main

// End-to-end tests of the reports, output paths and stdout handling of
// apply, through the built binary (see TestMain in e2e_test.go).

import (
	"bufio"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestE2EUnusableOrgIsOneVerifyResult: one source org's key env vars are
// unset. That org is one failed verify result; the other orgs are applied,
// and the report says the run failed.
func TestE2EUnusableOrgIsOneVerifyResult(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 3, 2, "key")
	delete(w.env, "E2E_API_KEY_1")
	delete(w.env, "E2E_APP_KEY_1")
	sb, ts := w.serve(t, sandbox.Faults{})
	report := filepath.Join(w.dir, "report.json")
	r := runOrgsync(t, w.dir, w.env, "apply", "-f", w.manifest, "--auto-approve", "--report", report, "--api-url", ts.URL)
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: error: org src-1: check keys: $E2E_API_KEY_1 and $E2E_APP_KEY_1: not set")

	validateAgainstSchema(t, "report.schema.json", mustRead(t, report))
	rep := readReport(t, report)
	assert.Equal(t, apply.StatusFailed, rep.Status)
	assert.Equal(t, apply.Summary{Created: 4, Failed: 1}, rep.Summary)
	require.NotEmpty(t, rep.Results)
	v := rep.Results[0]
	assert.Equal(t, apply.ActionVerify, v.Action)
	assert.Equal(t, apply.Failed, v.Outcome)
	assert.Equal(t, "src-1", v.SourceOrg.Label)
	assert.Contains(t, v.Error, "check keys: $E2E_API_KEY_1 and $E2E_APP_KEY_1: not set")
	assert.Len(t, sb.Connections(), 4, "src-0 and src-2 were applied")
	for _, c := range sb.Connections() {
		assert.NotEqual(t, e2eOrgID(1, 1), c.Source, "src-1 got no connection")
	}
}

// TestE2EClosedStdoutNeverStopsApply: `apply --output json | head -1` and
// `apply | head -1`. The reader goes away after the first line; the apply
// must go on to the end and write its report (a SIGPIPE used to kill it
// half-way). The text plan is larger than a pipe's buffer, so writing it
// meets the closed pipe too.
func TestE2EClosedStdoutNeverStopsApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		sources, sinks int
		latency        time.Duration // keeps the run going after the reader left
		args           []string
		firstLine      string
	}{
		{name: "json", sources: 2, sinks: 40, latency: 5 * time.Millisecond, args: []string{"--output", "json", "--parallelism", "2"}, firstLine: `"outcome":"created"`},
		{name: "text", sources: 1, sinks: 1500, args: []string{"--parallelism", "8"}, firstLine: "orgsync will perform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, tt.sources, tt.sinks, "key")
			sb, ts := w.serve(t, sandbox.Faults{Latency: tt.latency})
			report := filepath.Join(w.dir, "report.json")
			args := append([]string{"apply", "-f", w.manifest, "--auto-approve", "--report", report, "--api-url", ts.URL}, tt.args...)
			o := prepareOrgsync(t, w.dir, w.env, args...)
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			o.cmd.Stdout = pw
			o.start(t)
			require.NoError(t, pw.Close()) // the child holds the only write end
			line, err := bufio.NewReader(pr).ReadString('\n')
			require.NoError(t, err)
			assert.Contains(t, line, tt.firstLine)
			require.NoError(t, pr.Close()) // like head -1 exiting

			require.Equal(t, 0, o.wait(t), "exit code (-1: killed by a signal)\nstderr:\n%s", o.stderr.String())
			assert.Equal(t, 1, strings.Count(o.stderr.String(), "orgsync: warning: cannot write to stdout"), "warned once")
			rep := readReport(t, report)
			assert.Equal(t, apply.StatusComplete, rep.Status)
			assert.Equal(t, tt.sources*tt.sinks, rep.Summary.Created)
			w.checkConverged(t, sb)
		})
	}
}

// TestE2EOutputPathsCheckedFirst: an output that cannot be written, or that
// would overwrite an input, is refused before any change (it used to be
// found after every change was made, or to overwrite the manifest).
func TestE2EOutputPathsCheckedFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    func(w *e2eWorld, keys string) []string // before --api-url
		env     string                                  // an env var set to the keys file
		wantErr string
	}{
		{name: "report in a missing directory", args: func(w *e2eWorld, keys string) []string {
			return []string{"apply", "-f", w.manifest, "--auto-approve", "--report", filepath.Join(w.dir, "nonexistent", "r.json")}
		}, wantErr: "orgsync: error: --report " + "%DIR%/nonexistent/r.json: cannot write there"},
		{name: "report over the manifest", args: func(w *e2eWorld, keys string) []string {
			return []string{"apply", "-f", w.manifest, "--auto-approve", "--report", w.manifest}
		}, wantErr: "orgsync: error: --report %DIR%/manifest.yaml is an input of this run (-f %DIR%/manifest.yaml): refusing to overwrite it"},
		{name: "report over a manifest of a directory", args: func(w *e2eWorld, keys string) []string {
			return []string{"apply", "-f", w.dir, "--auto-approve", "--report", w.manifest}
		}, wantErr: "is an input of this run (-f %DIR%): refusing to overwrite it"},
		{name: "saved plan over the manifest", args: func(w *e2eWorld, keys string) []string {
			return []string{"plan", "-f", w.manifest, "--out", w.manifest}
		}, wantErr: "orgsync: error: --out %DIR%/manifest.yaml is an input of this run"},
		{name: "saved plan in a missing directory", args: func(w *e2eWorld, keys string) []string {
			return []string{"plan", "-f", w.manifest, "--out", filepath.Join(w.dir, "nonexistent", "p.json")}
		}, wantErr: "orgsync: error: --out %DIR%/nonexistent/p.json: cannot write there"},
		{name: "report over the keys file", args: func(w *e2eWorld, keys string) []string {
			return []string{"apply", "-f", w.manifest, "--auto-approve", "--keys-file", keys, "--report", keys}
		}, wantErr: "orgsync: error: --report %KEYS% is an input of this run (--keys-file %KEYS%): refusing to overwrite it"},
		{name: "saved plan over the keys file named in the env", args: func(w *e2eWorld, keys string) []string {
			return []string{"plan", "-f", w.manifest, "--out", keys}
		}, env: "ORGSYNC_KEYS_FILE", wantErr: "orgsync: error: --out %KEYS% is an input of this run (ORGSYNC_KEYS_FILE %KEYS%): refusing to overwrite it"},
		{name: "report over the saved plan being applied", args: func(w *e2eWorld, keys string) []string {
			return []string{"apply", filepath.Join(w.dir, "plan.json"), "--report", filepath.Join(w.dir, "plan.json")}
		}, wantErr: "orgsync: error: --report %DIR%/plan.json is an input of this run (the saved plan): refusing to overwrite it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, 2, 2, "key")
			sb, ts := w.serve(t, sandbox.Faults{})
			planFile := filepath.Join(w.dir, "plan.json")
			r := runOrgsync(t, w.dir, w.env, "plan", "-f", w.manifest, "--out", planFile, "--api-url", ts.URL)
			require.Equal(t, 0, r.code, r.stderr)
			keysFile := w.writeKeysFile(t, "keys.json", true)
			manifestBefore, planBefore, keysBefore := mustRead(t, w.manifest), mustRead(t, planFile), mustRead(t, keysFile)
			writesBefore := sb.Stats().Writes
			env := maps.Clone(w.env)
			if tt.env != "" {
				env[tt.env] = keysFile
			}

			r = runOrgsync(t, w.dir, env, append(tt.args(w, keysFile), "--api-url", ts.URL)...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, strings.NewReplacer("%DIR%", w.dir, "%KEYS%", keysFile).Replace(tt.wantErr))
			assert.Equal(t, writesBefore, sb.Stats().Writes, "no change was made")
			assert.Empty(t, sb.Connections())
			assert.Equal(t, manifestBefore, mustRead(t, w.manifest), "the manifest is untouched")
			assert.Equal(t, planBefore, mustRead(t, planFile), "the saved plan is untouched")
			assert.Equal(t, keysBefore, mustRead(t, keysFile), "the keys file is untouched")
		})
	}
}

// TestE2ESecondInterruptStopsAtOnce: the first SIGINT lets requests on the
// wire finish; a second one ends orgsync at once, even when a request
// never answers.
func TestE2ESecondInterruptStopsAtOnce(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 1, 3, "key")
	sb, err := sandbox.New(w.fixture, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	var writes atomic.Int64
	release := make(chan struct{})
	ts := serveHandler(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			sb.ServeHTTP(rw, r)
			return
		}
		writes.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // lets the server see the client go
		select {                           // a write that never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before the server's Close waits
	o := startOrgsync(t, w.dir, w.env, "apply", "-f", w.manifest, "--auto-approve", "--timeout", "1h",
		"--report", filepath.Join(w.dir, "report.json"), "--api-url", ts.URL)
	o.waitUntil(t, "a write is on the wire", func() bool { return writes.Load() > 0 })
	require.NoError(t, o.cmd.Process.Signal(os.Interrupt))
	// The first signal is taken; until orgsync gives SIGINT its default
	// action back, more are taken the same way. Keep sending until one
	// ends the process.
	o.waitUntil(t, "a later SIGINT ends orgsync", func() bool {
		select {
		case <-o.done:
			return true
		default:
			_ = o.cmd.Process.Signal(os.Interrupt)
			return false
		}
	})
	<-o.done
	ws, ok := o.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "ended by SIGINT, not by finishing (status %v)\nstderr:\n%s", o.cmd.ProcessState, o.stderr.String())
}

// TestE2EOutputOverSandboxState: --report or --out naming the --sandbox
// state file is refused before any change (the report used to replace the
// state, and every later run failed on a "corrupt sandbox state").
func TestE2EOutputOverSandboxState(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"apply", "--auto-approve", "--report"},
		{"plan", "--out"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, 2, 2, "key")
			state := filepath.Join(w.dir, "sb.db")
			r := runOrgsync(t, w.dir, w.env, "apply", "-f", w.manifest, "--sandbox", state, "--auto-approve")
			require.Equal(t, 0, r.code, r.stderr)
			before := mustRead(t, state)

			r = runOrgsync(t, w.dir, w.env, append([]string{args[0], "-f", w.manifest, "--sandbox", state}, append(args[1:], state)...)...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "orgsync: error: "+args[len(args)-1]+" "+state+" is an input of this run (--sandbox "+state+"): refusing to overwrite it")
			assert.Equal(t, before, mustRead(t, state), "the sandbox state is untouched")

			r = runOrgsync(t, w.dir, w.env, "plan", "-f", w.manifest, "--sandbox", state, "--detailed-exitcode")
			assert.Equal(t, 0, r.code, r.stderr)
		})
	}
}
