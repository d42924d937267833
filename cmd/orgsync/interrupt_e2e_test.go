//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// serveSandboxProcess runs `orgsync sandbox serve` on the world's fixture as
// a process of its own and returns its base URL.
func (w *e2eWorld) serveSandboxProcess(t *testing.T, args ...string) (string, *orgsync) {
	t.Helper()
	f := *w.fixture
	f.Orgs = slices.Clone(f.Orgs)
	for i := range f.Orgs {
		// A nil list would be written as [], which means no permission.
		f.Orgs[i].Permissions = []string{sandbox.PermissionRead, sandbox.PermissionWrite}
	}
	b, err := yaml.Marshal(&f)
	require.NoError(t, err)
	fixture := writeFile(t, w.dir, "fixture.yaml", string(b))
	srv := startOrgsync(t, w.dir, nil, append([]string{"sandbox", "serve", "--listen", "127.0.0.1:0", "--fixture", fixture}, args...)...)
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	srv.waitUntil(t, "the sandbox listens", func() bool { return listening.MatchString(srv.stderr.String()) })
	return listening.FindStringSubmatch(srv.stderr.String())[1], srv
}

// listFromProcess lists, with each source org's keys, the connections the
// sandbox at url holds, by id.
func (w *e2eWorld) listFromProcess(t *testing.T, url string, nSources int) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	ids := map[string]bool{}
	var g errgroup.Group
	for i := range nSources {
		g.Go(func() error {
			req, err := http.NewRequest(http.MethodGet, url+"/api/v2/org_connections", nil)
			if err != nil {
				return err
			}
			req.Header.Set("DD-API-KEY", w.env[fmt.Sprintf("E2E_API_KEY_%d", i)])
			req.Header.Set("DD-APPLICATION-KEY", w.env[fmt.Sprintf("E2E_APP_KEY_%d", i)])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var list struct {
				Data []struct{ ID string } `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range list.Data {
				ids[c.ID] = true
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	return ids
}

// TestE2EInterruptStopsEveryOrg is the QA repro of issue 9, defect 1: 40
// source orgs with one connection each, a sandbox process answering every
// request after 500 ms, 4 requests in flight at most, SIGINT as soon as the
// first create is on the wire. Every org's changes stop at once: what was on the wire
// finishes, what waited for a slot is skipped, and the run ends within one
// request latency plus 1 s with its report written.
func TestE2EInterruptStopsEveryOrg(t *testing.T) {
	t.Parallel()
	const (
		sources = 40
		latency = 500 * time.Millisecond
	)
	w := newE2EWorld(t, sources, 1, "key")
	url, _ := w.serveSandboxProcess(t, "--latency", latency.String())
	// A proxy in front of the sandbox tells when the first create is on
	// the wire, the moment the QA pass interrupted at.
	target, err := neturl.Parse(url)
	require.NoError(t, err)
	var posts atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := serveHandler(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		proxy.ServeHTTP(rw, r)
	}))
	report := filepath.Join(w.dir, "report.json")
	o := startOrgsync(t, w.dir, w.env, "apply", "-f", w.manifest, "--auto-approve", "--parallelism", "4",
		"--report", report, "--api-url", front.URL)
	o.waitUntil(t, "the first create is sent", func() bool { return posts.Load() > 0 })
	require.NoError(t, o.cmd.Process.Signal(os.Interrupt))
	interrupted := time.Now()
	require.Equal(t, 1, o.wait(t), o.stderr.String())
	took := time.Since(interrupted)
	assert.Less(t, took, latency+time.Second, "from SIGINT to exit")

	rep := readReport(t, report)
	s := rep.Summary
	assert.Positive(t, s.Skipped)
	assert.Zero(t, s.Failed, "requests in flight finish: none is cut off")
	assert.Equal(t, sources, s.Created+s.Skipped, "every change was made or skipped")
	onServer := w.listFromProcess(t, url, sources)
	assert.Len(t, onServer, s.Created, "the server holds what the report says was created")
	for _, r := range rep.Results {
		switch r.Outcome {
		case apply.Created:
			assert.True(t, onServer[r.ConnectionID], "created %s is on the server", r.ConnectionID)
		case apply.Skipped:
			assert.Zero(t, r.Attempts, "a skipped change sent nothing")
		}
	}
}

// TestE2EInterruptWhileReading: SIGINT while the orgs' keys and live state
// are being read ends plan and apply with one "interrupted" error, not one
// "context canceled" error per org and a plan of those orgs as unreadable.
func TestE2EInterruptWhileReading(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"plan", "apply"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			const sources = 6
			w := newE2EWorld(t, sources, 1, "key")
			url, _ := w.serveSandboxProcess(t, "--latency", "2s")
			target, err := neturl.Parse(url)
			require.NoError(t, err)
			var gets atomic.Int64
			proxy := httputil.NewSingleHostReverseProxy(target)
			front := serveHandler(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				gets.Add(1)
				proxy.ServeHTTP(rw, r)
			}))
			report := filepath.Join(w.dir, "report.json")
			args := []string{cmd, "-f", w.manifest, "--api-url", front.URL}
			if cmd == "apply" {
				args = append(args, "--auto-approve", "--report", report)
			}
			o := startOrgsync(t, w.dir, w.env, args...)
			o.waitUntil(t, "the first read is sent", func() bool { return gets.Load() > 0 })
			require.NoError(t, o.cmd.Process.Signal(os.Interrupt))
			require.Equal(t, 1, o.wait(t), o.stderr.String())
			stderr := o.stderr.String()
			assert.Equal(t, 1, strings.Count(stderr, "orgsync: error: interrupted while reading live state"), stderr)
			assert.NotContains(t, stderr, "context canceled")
			assert.NotContains(t, o.stdout.String(), "Not planned")
			if cmd == "apply" {
				rep := readReport(t, report)
				assert.Equal(t, apply.StatusRefused, rep.Status)
				assert.Equal(t, "interrupted while reading live state", rep.Reason)
			}
		})
	}
}
