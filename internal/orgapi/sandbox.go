package orgapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// SandboxURL is the base URL clients use for the in-process emulator. No
// request leaves the process: the emulator's in-memory transport carries
// them, whatever the host.
const SandboxURL = "http://127.0.0.1"

// SandboxKeys gives every org of the in-process emulator its own key pair.
// They are made-up values that unlock only the emulator.
var SandboxKeys = keys.Func(func(_ context.Context, o keys.Org) (keys.Pair, error) { return sandboxPair(o.ID), nil })

func sandboxPair(id string) keys.Pair {
	id = strings.ToLower(id)
	return keys.Pair{API: "sandbox-api-" + id, App: "sandbox-app-" + id}
}

// OpenSandbox starts the in-process emulator with its state kept in path,
// holding the source orgs (with keys) and every other org a connection may
// point at (without keys: they can only be sinks).
func OpenSandbox(path string, sources []plan.SourceOrg, sinks []plan.OrgRef) (*sandbox.Server, error) {
	f := &sandbox.Fixture{}
	seen := make(map[string]bool)
	for _, o := range sources {
		id := strings.ToLower(o.ID)
		if seen[id] {
			continue
		}
		seen[id] = true
		p := sandboxPair(id)
		f.Orgs = append(f.Orgs, sandbox.FixtureOrg{ID: id, Name: o.Label, APIKey: p.API, AppKey: p.App})
	}
	for _, s := range sinks {
		id := strings.ToLower(s.ID)
		if seen[id] {
			continue
		}
		seen[id] = true
		name := s.Label
		if name == "" {
			name = id
		}
		f.Orgs = append(f.Orgs, sandbox.FixtureOrg{ID: id, Name: name})
	}
	srv, err := sandbox.New(f, sandbox.Options{StatePath: path})
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", path, err)
	}
	return srv, nil
}
