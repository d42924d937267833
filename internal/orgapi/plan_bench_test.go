package orgapi

import (
	"context"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"

	"golang.org/x/sync/errgroup"
)

// BenchmarkPlanAgainstSandbox plans 1,000 source orgs with 10,000 live
// connections against the emulator over loopback HTTP, as `orgsync plan`
// does with its default parallelism and no rate limit (target: under 10 s).
func BenchmarkPlanAgainstSandbox(b *testing.B) {
	const orgs, perOrg = 1000, 10
	m, url := serveBenchWorld(b, orgs, perOrg)
	clients, err := New(Config{Endpoints: Everywhere(url, "the benchmark's server"), Keys: SandboxKeys, Timeout: 30 * time.Second, MaxRetries: 3, Burst: 1, Parallelism: 10},
		FromManifest(m.Orgs))
	if err != nil {
		b.Fatal(err)
	}
	sources := manifest.SourceOrgs(m)
	b.ResetTimer()
	for b.Loop() {
		st, err := plan.ReadState(context.Background(), clients, sources, 10)
		if err != nil {
			b.Fatal(err)
		}
		p := plan.Diff(m, st)
		if p.Summary.Noop != orgs*perOrg || p.Summary.Pending() != 0 {
			b.Fatalf("unexpected plan %+v", p.Summary)
		}
	}
}

// BenchmarkPlanKeysCommand plans 500 source orgs against the emulator over
// loopback HTTP, with the keys from the env (in memory) and from a keys
// command run through sh once per org, as `orgsync plan --keys-command`
// does. The difference between the two is what the command adds to a plan
// (target: under 2 s for 500 orgs).
func BenchmarkPlanKeysCommand(b *testing.B) {
	const orgs = 500
	m, url := serveBenchWorld(b, orgs, 1)
	sources := manifest.SourceOrgs(m)
	command := `printf '{"api_key": "sandbox-api-%s", "app_key": "sandbox-app-%s"}\n' "$ORGSYNC_ORG_ID" "$ORGSYNC_ORG_ID"`
	for _, src := range []struct {
		name string
		keys func() keys.Source
	}{
		{"env", func() keys.Source { return SandboxKeys }},
		{"keys command", func() keys.Source {
			return keys.Once(keys.NewCommand(command, keys.CommandOptions{Env: []string{"PATH=" + os.Getenv("PATH")}}))
		}},
	} {
		b.Run(src.name, func(b *testing.B) {
			// CPU time, the process's and its children's, is reported
			// beside wall time: on a loaded machine, the wall time of
			// starting 500 processes says more about the load than about
			// orgsync.
			before := cpuTime()
			for b.Loop() {
				// New clients each time: keys are asked for once per org
				// and run, as in one `orgsync plan`.
				clients, err := New(Config{Endpoints: Everywhere(url, "the benchmark's server"), Keys: src.keys(),
					Timeout: 30 * time.Second, MaxRetries: 3, Burst: 1, Parallelism: 10}, FromManifest(m.Orgs))
				if err != nil {
					b.Fatal(err)
				}
				st, err := plan.ReadState(context.Background(), clients, sources, 10)
				if err != nil {
					b.Fatal(err)
				}
				if p := plan.Diff(m, st); p.Summary.Noop != orgs || p.Summary.Pending() != 0 {
					b.Fatalf("unexpected plan %+v", p.Summary)
				}
			}
			reportCPU(b, before)
		})
	}
	// The floor: the same 500 shells started 8 at a time with nothing else,
	// which is what the machine charges for the command whoever runs it.
	b.Run("shells alone", func(b *testing.B) {
		before := cpuTime()
		for b.Loop() {
			g := new(errgroup.Group)
			g.SetLimit(keys.DefaultCommandConcurrency)
			for _, o := range sources {
				g.Go(func() error {
					cmd := exec.Command("sh", "-c", command)
					cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ORGSYNC_ORG_ID=" + o.ID}
					return cmd.Run()
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, before)
	})
}

// reportCPU reports the CPU time used since before, per op: the process's
// and its children's.
func reportCPU(b *testing.B, before cpu) {
	after := cpuTime()
	b.ReportMetric(float64((after.self-before.self).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64((after.children-before.children).Milliseconds())/float64(b.N), "children-cpu-ms/op")
}

// serveBenchWorld serves, on a loopback port for the benchmark's duration,
// an emulator holding orgs source orgs with perOrg connections each (to the
// next orgs), and returns the manifest that declares exactly them.
func serveBenchWorld(b *testing.B, orgs, perOrg int) (*manifest.Manifest, string) {
	m := &manifest.Manifest{}
	f := &sandbox.Fixture{}
	for i := range orgs {
		o := manifest.Org{Label: fmt.Sprintf("org-%04d", i), ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			Site: manifest.DefaultSite, APIKeyEnv: "K", AppKeyEnv: "K"}
		m.Orgs = append(m.Orgs, o)
		p := sandboxPair(o.ID)
		f.Orgs = append(f.Orgs, sandbox.FixtureOrg{ID: o.ID, Name: o.Label, APIKey: p.API, AppKey: p.App})
	}
	for i := range orgs {
		for j := range perOrg {
			sink := m.Orgs[(i+1+j)%orgs]
			m.Connections = append(m.Connections, manifest.Connection{SourceLabel: m.Orgs[i].Label, SinkLabel: sink.Label, SinkID: sink.ID, Types: []string{"logs"}})
			f.Connections = append(f.Connections, sandbox.FixtureConnection{Source: m.Orgs[i].ID, Sink: sink.ID, Types: []string{"logs"}})
		}
	}
	srv, err := sandbox.New(f, sandbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	return m, hs.URL
}
