package orgapi

import (
	"context"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// BenchmarkPlanAgainstSandbox plans 1,000 source orgs with 10,000 live
// connections against the emulator over loopback HTTP, as `orgsync plan`
// does with its default parallelism and no rate limit (target: under 10 s).
func BenchmarkPlanAgainstSandbox(b *testing.B) {
	const orgs, perOrg = 1000, 10
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
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	clients, err := New(Config{Endpoints: Everywhere(hs.URL, "the benchmark's server"), Keys: SandboxKeys, Timeout: 30 * time.Second, MaxRetries: 3, Burst: 1, Parallelism: 10},
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
