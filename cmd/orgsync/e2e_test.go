//go:build unix

package main

// End-to-end tests: the test binary runs itself as orgsync in a subprocess
// (see TestMain), against the emulator served on a loopback socket by
// httptest, so that signals, exit codes and the bytes written to the real
// stdout and stderr are those of a real run. Unix only, as they send signals.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestMain lets the test binary stand in for orgsync: with
// ORGSYNC_TEST_MAIN=1 it runs main's code on its arguments and exits.
func TestMain(m *testing.M) {
	if os.Getenv("ORGSYNC_TEST_MAIN") == "1" {
		os.Exit(mainCode())
	}
	os.Exit(m.Run())
}

// e2eWorld is a manifest on disk, the sandbox fixture it runs against, and
// the environment that holds the source orgs' keys.
type e2eWorld struct {
	dir      string
	manifest string // path
	fixture  *sandbox.Fixture
	env      map[string]string
	declared map[[2]string][]string // (source id, sink id) -> sorted types
}

// e2eOrgID makes a valid org UUID: kind 1 for sources, 2 for sinks.
func e2eOrgID(kind, n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n) }

// newE2EWorld declares every one of nSources source orgs connected to every
// one of nSinks sink orgs, with types [logs, metrics]. keyPrefix starts
// every key value, so that a test can look for it in output.
func newE2EWorld(t *testing.T, nSources, nSinks int, keyPrefix string) *e2eWorld {
	t.Helper()
	w := &e2eWorld{dir: t.TempDir(), fixture: &sandbox.Fixture{}, env: map[string]string{}, declared: map[[2]string][]string{}}
	var m strings.Builder
	m.WriteString("version: 1\ndefaults:\n  connection_types: [logs, metrics]\norgs:\n")
	var from, to []string
	for i := range nSources {
		id, label := e2eOrgID(1, i), fmt.Sprintf("src-%d", i)
		apiEnv, appEnv := fmt.Sprintf("E2E_API_KEY_%d", i), fmt.Sprintf("E2E_APP_KEY_%d", i)
		apiKey, appKey := fmt.Sprintf("%s-api-%d-7f3a9c", keyPrefix, i), fmt.Sprintf("%s-app-%d-2b8e4d", keyPrefix, i)
		w.env[apiEnv], w.env[appEnv] = apiKey, appKey
		w.fixture.Orgs = append(w.fixture.Orgs, sandbox.FixtureOrg{ID: id, Name: label, APIKey: apiKey, AppKey: appKey})
		fmt.Fprintf(&m, "  %s:\n    id: %s\n    api_key_env: %s\n    app_key_env: %s\n", label, id, apiEnv, appEnv)
		from = append(from, label)
	}
	for j := range nSinks {
		id, label := e2eOrgID(2, j), fmt.Sprintf("sink-%03d", j)
		w.fixture.Orgs = append(w.fixture.Orgs, sandbox.FixtureOrg{ID: id, Name: label})
		fmt.Fprintf(&m, "  %s:\n    id: %s\n", label, id)
		to = append(to, label)
		for i := range nSources {
			w.declared[[2]string{e2eOrgID(1, i), id}] = []string{"logs", "metrics"}
		}
	}
	fmt.Fprintf(&m, "connections:\n  - from: [%s]\n    to: [%s]\n", strings.Join(from, ", "), strings.Join(to, ", "))
	w.manifest = writeFile(t, w.dir, "manifest.yaml", m.String())
	return w
}

// serve runs a sandbox built from the world's fixture on a loopback port.
// Closing the returned httptest.Server waits for the requests in flight;
// the sandbox outlives it, so a test can serve the same state again.
func (w *e2eWorld) serve(t *testing.T, faults sandbox.Faults) (*sandbox.Server, *httptest.Server) {
	t.Helper()
	sb, err := sandbox.New(w.fixture, sandbox.Options{Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	return sb, serveHandler(t, sb)
}

func serveHandler(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(ts.Close)
	return ts
}

// checkConverged asserts that the server holds exactly the declared
// connections, with their types, once each.
func (w *e2eWorld) checkConverged(t *testing.T, sb *sandbox.Server) {
	t.Helper()
	conns := sb.Connections()
	seen := map[[2]string]bool{}
	for _, c := range conns {
		k := [2]string{c.Source, c.Sink}
		assert.False(t, seen[k], "duplicate connection %s -> %s", c.Source, c.Sink)
		seen[k] = true
		want, ok := w.declared[k]
		if assert.True(t, ok, "undeclared connection %s -> %s", c.Source, c.Sink) {
			assert.Equal(t, want, slices.Sorted(slices.Values(c.Types)), "types of %s -> %s", c.Source, c.Sink)
		}
	}
	assert.Len(t, seen, len(w.declared), "declared connections on the server")
}

// orgsync is one orgsync subprocess.
type orgsync struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer  // read while it runs
	done           chan struct{} // closed when it has exited
	waitErr        error
}

// startOrgsync starts the test binary as orgsync with args, in dir, with
// env added to a copy of the test's environment from which anything that
// orgsync reads has been removed.
func startOrgsync(t testing.TB, dir string, env map[string]string, args ...string) *orgsync {
	t.Helper()
	o := prepareOrgsync(t, dir, env, args...)
	o.start(t)
	return o
}

// prepareOrgsync is startOrgsync without the start, for a test that wires
// the process's streams itself.
func prepareOrgsync(t testing.TB, dir string, env map[string]string, args ...string) *orgsync {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	o := &orgsync{done: make(chan struct{})}
	o.cmd = exec.Command(exe, args...)
	o.cmd.Dir = dir
	o.cmd.Stdout, o.cmd.Stderr = &o.stdout, &o.stderr
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DD_") || strings.HasPrefix(k, "ORGSYNC_") || strings.HasPrefix(k, "GITHUB_") || k == "NO_COLOR" || k == "GORACE" {
			continue
		}
		o.cmd.Env = append(o.cmd.Env, kv)
	}
	// A race-enabled binary sleeps 1 s before exiting unless told not to.
	o.cmd.Env = append(o.cmd.Env, "ORGSYNC_TEST_MAIN=1", "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	for k, v := range env {
		o.cmd.Env = append(o.cmd.Env, k+"="+v)
	}
	return o
}

func (o *orgsync) start(t testing.TB) {
	t.Helper()
	require.NoError(t, o.cmd.Start())
	go func() {
		o.waitErr = o.cmd.Wait()
		close(o.done)
	}()
	t.Cleanup(func() {
		select {
		case <-o.done:
		default:
			_ = o.cmd.Process.Kill()
			<-o.done
		}
	})
}

// e2eTimeout bounds how long a test waits for an orgsync subprocess: a
// guard against a hung run, not a wait for time to pass.
const e2eTimeout = 60 * time.Second

// wait waits for the process to exit and returns its exit code (-1 when a
// signal killed it).
func (o *orgsync) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(e2eTimeout):
		t.Fatalf("orgsync %s did not exit in %s\nstderr:\n%s", strings.Join(o.cmd.Args[1:], " "), e2eTimeout, o.stderr.String())
	}
	return o.cmd.ProcessState.ExitCode()
}

// runOrgsync runs orgsync to its end.
func runOrgsync(t *testing.T, dir string, env map[string]string, args ...string) cliResult {
	t.Helper()
	o := startOrgsync(t, dir, env, args...)
	code := o.wait(t)
	return cliResult{code: code, stdout: o.stdout.String(), stderr: o.stderr.String()}
}

// waitUntil polls cond on a short ticker until it holds. It fails the test
// if the process exits first: the event it waits for would never come.
func (o *orgsync) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	guard := time.NewTimer(e2eTimeout)
	defer guard.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-o.done:
			if cond() {
				return
			}
			t.Fatalf("orgsync exited (%v) before %s\nstderr:\n%s", o.waitErr, what, o.stderr.String())
		case <-guard.C:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// Sizes of the interrupted runs: with 20ms of latency per request and 4
// requests in flight, applying 300 creates takes about 1.5 s, long enough to
// interrupt it half-way.
const (
	e2eSources    = 3
	e2eSinks      = 100
	e2eDeclared   = e2eSources * e2eSinks
	e2eLatency    = 20 * time.Millisecond
	interruptFrom = 40 // committed writes before the interrupt
)

// TestE2EKilledRunConverges kills apply with SIGKILL half-way, then reruns
// it: the rerun must converge without duplicates and report the connections
// the killed run made as unchanged.
func TestE2EKilledRunConverges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults sandbox.Faults
	}{
		{name: "clean server", faults: sandbox.Faults{Latency: e2eLatency}},
		{name: "server losing writes' answers", faults: sandbox.Faults{Latency: e2eLatency, DropAfter: 0.05, Fail5xx: 0.05, Seed: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, e2eSources, e2eSinks, "key")
			sb, ts := w.serve(t, tt.faults)
			report := filepath.Join(w.dir, "report.json")
			args := []string{"apply", "-f", w.manifest, "--auto-approve", "--parallelism", "4", "--report", report}

			o := startOrgsync(t, w.dir, w.env, append(args, "--api-url", ts.URL)...)
			o.waitUntil(t, "the server committed some writes", func() bool { return sb.Stats().Writes >= interruptFrom })
			require.NoError(t, o.cmd.Process.Kill())
			assert.Equal(t, -1, o.wait(t), "exit code of a process killed by a signal")
			ts.Close() // the server finishes the requests the killed run left in flight
			before := len(sb.Connections())
			require.GreaterOrEqual(t, before, interruptFrom)
			require.Less(t, before, e2eDeclared, "the run was killed after it finished")
			_, err := os.Stat(report)
			assert.ErrorIs(t, err, os.ErrNotExist, "a killed run writes no report, not half of one")

			ts = serveHandler(t, sb) // the same state, on a new port
			r := runOrgsync(t, w.dir, w.env, append(args, "--api-url", ts.URL)...)
			require.Equal(t, 0, r.code, r.stderr)
			w.checkConverged(t, sb)
			rep := readReport(t, report)
			s := rep.Summary
			assert.Equal(t, before, s.Unchanged, "what the killed run made is unchanged")
			assert.Equal(t, e2eDeclared-before, s.Created+s.AlreadyPresent)
			assert.Equal(t, e2eDeclared, s.Created+s.AlreadyPresent+s.Unchanged)
			assert.Zero(t, s.Updated+s.Deleted+s.Failed+s.Skipped)
			checkReportMatchesServer(t, rep, sb)
		})
	}
}

// TestE2EInterruptedRunReports sends SIGINT half-way through apply: the
// requests in flight finish, nothing new starts, the report lists what was
// done and what was skipped, and exit is 1.
func TestE2EInterruptedRunReports(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, e2eSources, e2eSinks, "key")
	sb, ts := w.serve(t, sandbox.Faults{Latency: e2eLatency})
	report := filepath.Join(w.dir, "report.json")
	o := startOrgsync(t, w.dir, w.env, "apply", "-f", w.manifest, "--auto-approve", "--parallelism", "4",
		"--report", report, "--api-url", ts.URL)
	o.waitUntil(t, "the server committed some writes", func() bool { return sb.Stats().Writes >= interruptFrom })
	require.NoError(t, o.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 1, o.wait(t), o.stderr.String())
	ts.Close()

	assert.Contains(t, o.stderr.String(), "orgsync: error: interrupted")
	assert.Contains(t, o.stdout.String(), "Apply interrupted:")
	rep := readReport(t, report)
	assert.Equal(t, apply.StatusInterrupted, rep.Status)
	s := rep.Summary
	assert.Positive(t, s.Created)
	assert.Positive(t, s.Skipped)
	assert.Zero(t, s.Failed, "requests in flight finish: none is cut off")
	assert.Equal(t, e2eDeclared, s.Created+s.Skipped+s.AlreadyPresent)
	assert.Len(t, rep.Results, e2eDeclared)
	assert.Len(t, sb.Connections(), s.Created+s.AlreadyPresent, "the server holds what the report says was created")
	assert.EqualValues(t, s.Created, sb.Stats().Writes)
	for _, r := range rep.Results {
		if r.Outcome == apply.Skipped {
			assert.Empty(t, r.ConnectionID)
			assert.Zero(t, r.Attempts, "a skipped change sent nothing")
			assert.Contains(t, r.Error, "interrupted")
		}
	}
	checkReportMatchesServer(t, rep, sb)
}

// checkReportMatchesServer asserts that every result that made or found a
// connection names the connection the server holds for its pair, and that
// every skipped one names a pair the server does not hold.
func checkReportMatchesServer(t *testing.T, rep *apply.Report, sb *sandbox.Server) {
	t.Helper()
	byPair := map[[2]string]sandbox.Connection{}
	for _, c := range sb.Connections() {
		byPair[[2]string{c.Source, c.Sink}] = c
	}
	for _, r := range rep.Results {
		c, ok := byPair[[2]string{r.SourceOrg.ID, r.SinkOrg.ID}]
		switch r.Outcome {
		case apply.Created, apply.AlreadyPresent, apply.Unchanged, apply.Updated:
			if assert.True(t, ok, "%s %s -> %s is not on the server", r.Outcome, r.SourceOrg.Label, r.SinkOrg.Label) {
				assert.Equal(t, c.ID, r.ConnectionID, "connection_id of %s -> %s", r.SourceOrg.Label, r.SinkOrg.Label)
			}
		case apply.Skipped:
			assert.False(t, ok, "skipped %s -> %s is on the server", r.SourceOrg.Label, r.SinkOrg.Label)
		}
	}
}

// echoKeys answers every write with an error that quotes the request's key
// headers back, like a careless proxy: orgsync must redact them.
func echoKeys(next http.Handler) http.Handler {
	return echoKeysWhen(func(r *http.Request) bool { return r.Method != http.MethodGet }, next)
}

// TestE2EKeysNeverLeak runs plan, apply and export in every mode that
// prints or saves something, with keys that all start with a recognisable
// marker, and looks for the marker in stdout, stderr, the report, the saved
// plan and the GitHub step summary.
func TestE2EKeysNeverLeak(t *testing.T) {
	t.Parallel()
	const marker = "c4n4ry"
	type step struct {
		args      []string
		savedPlan bool // args name a saved plan, not the manifest
		wantCode  int
		check     func(t *testing.T, r cliResult, dir string) // that the step took the path it is meant to
	}
	reportOf := func(t *testing.T, dir string) *apply.Report { return readReport(t, filepath.Join(dir, "report.json")) }
	tests := []struct {
		name     string
		readOnly bool                            // the fixture gives the orgs read permission only
		wrapper  func(http.Handler) http.Handler // in front of the sandbox
		wrongEnv bool                            // the env vars hold other keys than the fixture
		// keys, when set, gives the keys through a keys file or command
		// instead of the env vars: it returns the env that names it.
		keys  func(t *testing.T, w *e2eWorld) map[string]string
		steps []step
	}{
		{name: "plan saved and applied, verbose", steps: []step{
			{args: []string{"plan", "-v", "--json", "--out", "plan.json"}, wantCode: 0, check: func(t *testing.T, r cliResult, _ string) {
				assert.Contains(t, r.stderr, "GET /api/v2/org_connections -> 200")
			}},
			{args: []string{"apply", "plan.json", "-v", "--report", "report.json"}, savedPlan: true, wantCode: 0, check: func(t *testing.T, _ cliResult, dir string) {
				assert.Equal(t, 4, reportOf(t, dir).Summary.Created)
			}},
			// Applied once, the plan is stale: a refused report, a reason,
			// a step summary and an ::error line.
			{args: []string{"apply", "plan.json", "-v", "--report", "report.json"}, savedPlan: true, wantCode: 1, check: func(t *testing.T, r cliResult, dir string) {
				assert.Equal(t, apply.StatusRefused, reportOf(t, dir).Status)
				assert.Contains(t, r.stderr, "::error title=orgsync apply::")
			}},
		}},
		{name: "apply verbose with JSON output and a step summary", steps: []step{
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 0, check: func(t *testing.T, r cliResult, _ string) {
				assert.Equal(t, 4, strings.Count(r.stdout, `"outcome":"created"`))
			}},
			{args: []string{"export", "-v"}, wantCode: 0, check: func(t *testing.T, r cliResult, _ string) {
				assert.Contains(t, r.stdout, "connections:")
			}},
		}},
		{name: "wrong keys (401)", wrongEnv: true, steps: []step{
			{args: []string{"plan", "-v"}, wantCode: 1, check: func(t *testing.T, r cliResult, _ string) {
				assert.Contains(t, r.stderr, "401")
			}},
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 1, check: func(t *testing.T, r cliResult, dir string) {
				assert.Contains(t, r.stderr, "401")
				assert.Equal(t, 2, reportOf(t, dir).Summary.Failed, "one failed verify result per org")
			}},
		}},
		{name: "read-only keys (403)", readOnly: true, steps: []step{
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 1, check: func(t *testing.T, r cliResult, dir string) {
				assert.Contains(t, r.stderr, "403")
				assert.Positive(t, reportOf(t, dir).Summary.Failed)
			}},
		}},
		{name: "server echoing the keys", wrapper: echoKeys, steps: []step{
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 1, check: func(t *testing.T, r cliResult, dir string) {
				rep := reportOf(t, dir)
				require.Equal(t, 4, rep.Summary.Failed)
				assert.Contains(t, rep.Results[0].Error, "DD-API-KEY=[redacted]", "the echo reached the report, redacted")
			}},
		}},
		{name: "keys file, plan saved and applied, verbose", keys: func(t *testing.T, w *e2eWorld) map[string]string {
			return map[string]string{"ORGSYNC_KEYS_FILE": w.writeKeysFile(t, "keys.json", true)}
		}, steps: []step{
			{args: []string{"plan", "-v", "--json", "--out", "plan.json"}, wantCode: 0},
			// The saved plan verified against the manifest (-f is added).
			{args: []string{"apply", "plan.json", "-v", "--report", "report.json"}, wantCode: 0, check: func(t *testing.T, _ cliResult, dir string) {
				assert.Equal(t, 4, reportOf(t, dir).Summary.Created)
			}},
		}},
		{name: "keys file with a newline after a key", keys: func(t *testing.T, w *e2eWorld) map[string]string {
			path := w.writeKeysFile(t, "keys.yaml", false)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			srcs := w.sourceKeys()
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), srcs[1].AppKey, `"`+srcs[1].AppKey+`\n"`, 1)), 0o600))
			return map[string]string{"ORGSYNC_KEYS_FILE": path}
		}, steps: []step{
			{args: []string{"plan", "-v"}, wantCode: 1, check: func(t *testing.T, r cliResult, _ string) {
				assert.Contains(t, r.stderr, "app_key ends with whitespace")
			}},
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 1, check: func(t *testing.T, _ cliResult, dir string) {
				assert.Equal(t, 1, reportOf(t, dir).Summary.Failed)
			}},
		}},
		{name: "keys command repeating the keys on stderr", keys: func(t *testing.T, w *e2eWorld) map[string]string {
			cmd, _ := w.writeKeysCommand(t, map[string]string{"src-0": "KEYS | tee /dev/stderr", "src-1": "KEYS | tee /dev/stderr"})
			return map[string]string{"ORGSYNC_KEYS_COMMAND": cmd}
		}, steps: []step{
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 0, check: func(t *testing.T, r cliResult, _ string) {
				assert.Contains(t, r.stderr, `orgsync: keys command (src-0): {"api_key": "[redacted]", "app_key": "[redacted]"}`)
			}},
			{args: []string{"plan", "-v", "--out", "plan.json"}, wantCode: 0},
		}},
		{name: "keys command failing after printing the keys", keys: func(t *testing.T, w *e2eWorld) map[string]string {
			cmd, _ := w.writeKeysCommand(t, map[string]string{"src-0": "KEYS; KEYS >&2; exit 4"})
			return map[string]string{"ORGSYNC_KEYS_COMMAND": cmd}
		}, steps: []step{
			{args: []string{"plan", "-v", "--json"}, wantCode: 1, check: func(t *testing.T, r cliResult, _ string) {
				assert.Contains(t, r.stderr, "org src-0: check keys: keys command: exit status 4")
			}},
			{args: []string{"apply", "--auto-approve", "-v", "--output", "json", "--report", "report.json"}, wantCode: 1, check: func(t *testing.T, _ cliResult, dir string) {
				rep := reportOf(t, dir)
				assert.Equal(t, 1, rep.Summary.Failed)
				assert.Equal(t, 2, rep.Summary.Created)
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newE2EWorld(t, 2, 2, marker)
			if tt.readOnly {
				for i := range w.fixture.Orgs {
					w.fixture.Orgs[i].Permissions = []string{sandbox.PermissionRead}
				}
			}
			env := w.env
			if tt.keys != nil {
				env = tt.keys(t, w)
			}
			if tt.wrongEnv {
				env = map[string]string{}
				for k, v := range w.env {
					env[k] = v + "-wrong"
				}
			}
			sb, err := sandbox.New(w.fixture, sandbox.Options{})
			require.NoError(t, err)
			var h http.Handler = sb
			if tt.wrapper != nil {
				h = tt.wrapper(h)
			}
			ts := serveHandler(t, h)
			summary := filepath.Join(w.dir, "step-summary.md")
			env["GITHUB_ACTIONS"], env["GITHUB_STEP_SUMMARY"] = "true", summary

			var outputs []string
			for _, st := range tt.steps {
				args := append(slices.Clone(st.args), "--api-url", ts.URL)
				if !st.savedPlan {
					args = append(args, "-f", w.manifest)
				}
				r := runOrgsync(t, w.dir, env, args...)
				assert.Equal(t, st.wantCode, r.code, "%s\nstderr:\n%s", strings.Join(st.args, " "), r.stderr)
				if st.check != nil {
					st.check(t, r, w.dir)
				}
				outputs = append(outputs, "stdout of "+st.args[0]+":\n"+r.stdout, "stderr of "+st.args[0]+":\n"+r.stderr)
			}
			// Every file the runs left: reports, saved plans, step summary.
			entries, err := os.ReadDir(w.dir)
			require.NoError(t, err)
			for _, e := range entries {
				if e.Name() == "manifest.yaml" {
					continue
				}
				b, err := os.ReadFile(filepath.Join(w.dir, e.Name()))
				require.NoError(t, err)
				outputs = append(outputs, e.Name()+":\n"+string(b))
			}
			for _, out := range outputs {
				assert.NotContains(t, out, marker, "a key leaked")
				for _, v := range env {
					if strings.Contains(v, marker) {
						assert.NotContains(t, out, v, "a key leaked")
					}
				}
			}
			assert.FileExists(t, summary, "the step summary was written, and checked")
		})
	}
}
