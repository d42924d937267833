//go:build unix

package main

// End-to-end tests of the sandbox's state file (issue 12) through orgsync
// subprocesses: its lock between processes, and a SIGKILL in the middle of
// a write-heavy apply.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/sandbox"
)

// stateConns opens a state file once no process holds it, and returns its
// connections.
func stateConns(t *testing.T, path string) []sandbox.Connection {
	t.Helper()
	sb, err := sandbox.New(nil, sandbox.Options{StatePath: path})
	require.NoError(t, err)
	defer func() { require.NoError(t, sb.Close()) }()
	return sb.Connections()
}

// assertUniquePairs fails on a (source, sink) pair stored twice.
func assertUniquePairs(t *testing.T, conns []sandbox.Connection) {
	t.Helper()
	seen := map[[2]string]bool{}
	for _, c := range conns {
		k := [2]string{c.Source, c.Sink}
		assert.False(t, seen[k], "duplicate connection %s -> %s", c.Source, c.Sink)
		seen[k] = true
	}
}

// TestE2ESandboxStateKilledApplyConverges kills `apply --sandbox FILE` with
// SIGKILL while it writes, then reruns it: the state opens (not corrupt),
// the rerun converges with no duplicate, and a plan finds nothing to do.
func TestE2ESandboxStateKilledApplyConverges(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 4, 150, "key")
	const declared = 4 * 150
	state := filepath.Join(w.dir, "state.db")
	report := filepath.Join(w.dir, "report.json")
	args := []string{"apply", "--sandbox", state, "-f", w.manifest, "--auto-approve", "--parallelism", "8", "--report", report}

	o := startOrgsync(t, w.dir, nil, args...)
	// The store grows by doubling from 32 KiB as connections are committed
	// (to 512 KiB for all 600): past 64 KiB, some are on disk.
	o.waitUntil(t, "the state holds some connections", func() bool {
		fi, err := os.Stat(state)
		return err == nil && fi.Size() > 64<<10
	})
	require.NoError(t, o.cmd.Process.Kill())
	assert.Equal(t, -1, o.wait(t), "exit code of a process killed by a signal")

	before := stateConns(t, state)
	require.NotEmpty(t, before)
	require.Less(t, len(before), declared, "the run was killed after it finished")
	assertUniquePairs(t, before)

	r := runOrgsync(t, w.dir, nil, args...)
	require.Equal(t, 0, r.code, r.stderr)
	rep := readReport(t, report)
	assert.Equal(t, len(before), rep.Summary.Unchanged, "what the killed run committed is there")
	assert.Equal(t, declared-len(before), rep.Summary.Created+rep.Summary.AlreadyPresent)
	assert.Zero(t, rep.Summary.Failed)

	r = runOrgsync(t, w.dir, nil, "plan", "--sandbox", state, "-f", w.manifest, "--detailed-exitcode")
	assert.Equal(t, 0, r.code, "no changes after the rerun: %s%s", r.stdout, r.stderr)
	after := stateConns(t, state)
	assert.Len(t, after, declared)
	assertUniquePairs(t, after)
}

// startSandboxServe writes w's fixture to a file and runs `orgsync sandbox
// serve` on it with --state state; it returns the process and its URL.
func startSandboxServe(t *testing.T, w *e2eWorld, state string) (*orgsync, string) {
	t.Helper()
	fixture := filepath.Join(w.dir, "fixture.yaml")
	var f strings.Builder
	f.WriteString("orgs:\n")
	for _, o := range w.fixture.Orgs {
		fmt.Fprintf(&f, "  - {id: %s, name: %s", o.ID, o.Name)
		if o.APIKey != "" {
			fmt.Fprintf(&f, ", api_key: %s, app_key: %s", o.APIKey, o.AppKey)
		}
		f.WriteString("}\n")
	}
	require.NoError(t, os.WriteFile(fixture, []byte(f.String()), 0o600))
	srv := startOrgsync(t, w.dir, nil, "sandbox", "serve", "--fixture", fixture, "--state", state, "--listen", "127.0.0.1:0")
	listening := regexp.MustCompile(fmt.Sprintf(`listening on (http://127\.0\.0\.1:\d+) \(%d orgs\)`, len(w.fixture.Orgs)))
	var url string
	srv.waitUntil(t, "the sandbox listens", func() bool {
		m := listening.FindStringSubmatch(srv.stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	return srv, url
}

// TestE2EShardsAgainstOneSandboxServe is the README's rehearsal of a
// sharded rollout: four shards at once against one `sandbox serve`, whose
// state holds them all; the merged report counts every create once.
func TestE2EShardsAgainstOneSandboxServe(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 40, 5, "key")
	state := filepath.Join(w.dir, "shared.db")
	srv, url := startSandboxServe(t, w, state)
	var shards []*orgsync
	merge := []string{"report", "merge"}
	for i := 1; i <= 4; i++ {
		rep := filepath.Join(w.dir, fmt.Sprintf("r%d.json", i))
		shards = append(shards, startOrgsync(t, w.dir, w.env, "apply", "--api-url", url, "-f", w.manifest, "--auto-approve",
			"--shard", fmt.Sprintf("%d/4", i), "--report", rep))
		merge = append(merge, rep)
	}
	for _, o := range shards {
		require.Equal(t, 0, o.wait(t), o.stderr.String())
	}
	r := runOrgsync(t, w.dir, nil, append(merge, "-o", filepath.Join(w.dir, "report.json"))...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, len(w.declared), readReport(t, filepath.Join(w.dir, "report.json")).Summary.Created)
	r = runOrgsync(t, w.dir, w.env, "plan", "--api-url", url, "-f", w.manifest, "--detailed-exitcode")
	assert.Equal(t, 0, r.code, "no changes: %s%s", r.stdout, r.stderr)

	require.NoError(t, srv.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 0, srv.wait(t), srv.stderr.String())
	conns := stateConns(t, state)
	assert.Len(t, conns, len(w.declared))
	assertUniquePairs(t, conns)
}

// TestE2ESandboxStateInUse: while `sandbox serve --state FILE` holds a
// state, `apply --sandbox FILE` is refused up front with a hint; the
// server's writes are all kept.
func TestE2ESandboxStateInUse(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 2, 3, "key")
	state := filepath.Join(w.dir, "shared.db")
	srv, url := startSandboxServe(t, w, state)
	r := runOrgsync(t, w.dir, w.env, "apply", "--api-url", url, "-f", w.manifest, "--auto-approve", "--report", filepath.Join(w.dir, "r1.json"))
	require.Equal(t, 0, r.code, r.stderr)

	r = runOrgsync(t, w.dir, nil, "apply", "--sandbox", state, "-f", w.manifest, "--auto-approve", "--report", filepath.Join(w.dir, "r2.json"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "orgsync: error: sandbox: state "+state+" is in use by another orgsync process")
	assert.Contains(t, r.stderr, "orgsync: hint: a state file belongs to one orgsync process at a time")
	assert.NotContains(t, r.stdout, "Apply complete")

	require.NoError(t, srv.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 0, srv.wait(t), srv.stderr.String())
	conns := stateConns(t, state)
	assert.Len(t, conns, len(w.declared), "every write of the server is in the state")
	assertUniquePairs(t, conns)
}

// TestE2ESandboxParallelShards runs four `apply --sandbox FILE --shard i/4`
// at once on one state file (issue 12: two of them used to report creates
// that the file then lacked). Each run either has the file to itself or is
// refused; rerunning the refused ones converges, and no create is lost.
func TestE2ESandboxParallelShards(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 40, 5, "key")
	state := filepath.Join(w.dir, "par.db")
	shard := func(i int) []string {
		return []string{"apply", "--sandbox=" + state, "-f", w.manifest, "--auto-approve", "--shard", fmt.Sprintf("%d/4", i),
			"--report", filepath.Join(w.dir, fmt.Sprintf("r%d.json", i))}
	}
	created := 0
	var refused []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		o := startOrgsync(t, w.dir, nil, shard(i)...)
		wg.Go(func() {
			code := o.wait(t)
			mu.Lock()
			defer mu.Unlock()
			switch code {
			case 0:
				created += summaryCreated(t, o.stdout.String())
			case 1:
				assert.Contains(t, o.stderr.String(), "is in use by another orgsync process")
				refused = append(refused, i)
			default:
				t.Errorf("shard %d: exit %d: %s", i, code, o.stderr.String())
			}
		})
	}
	wg.Wait()
	t.Logf("shards refused while another held the state: %v", refused)
	for _, i := range refused {
		r := runOrgsync(t, w.dir, nil, shard(i)...)
		require.Equal(t, 0, r.code, r.stderr)
		created += summaryCreated(t, r.stdout)
	}
	assert.Equal(t, len(w.declared), created, "every create reported is kept, once")
	r := runOrgsync(t, w.dir, nil, "plan", "--sandbox", state, "-f", w.manifest, "--detailed-exitcode")
	assert.Equal(t, 0, r.code, "no changes: %s%s", r.stdout, r.stderr)
	conns := stateConns(t, state)
	assert.Len(t, conns, len(w.declared))
	assertUniquePairs(t, conns)
}

var appliedCreated = regexp.MustCompile(`Apply complete: (\d+) created`)

func summaryCreated(t *testing.T, stdout string) int {
	t.Helper()
	m := appliedCreated.FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}
