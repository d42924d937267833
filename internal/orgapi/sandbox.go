package orgapi

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/orgsync/orgsync/pkg/keys"
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

// SandboxOrg is an org the in-process emulator must know.
type SandboxOrg struct {
	Label string // "" for a sink the manifest names by raw UUID
	ID    string
	Site  string
	// Declared is true for an org the manifest declares: it gets keys (a
	// service account's), so it may call the API.
	Declared bool
}

// OpenSandbox starts the in-process emulator with its state kept in path
// (locked until Close), holding orgs on their sites. Declared orgs have
// keys that act as a service account's, and the first of them manages the
// others (GET /api/v2/org); raw-UUID sinks have no keys. notice gets
// messages for the user, such as the conversion of an old state file.
func OpenSandbox(path string, orgs []SandboxOrg, notice func(string)) (*sandbox.Server, error) {
	f := &sandbox.Fixture{}
	parent := ""
	for _, o := range orgs {
		if o.Declared {
			parent = strings.ToLower(o.ID)
			break
		}
	}
	seen := make(map[string]bool)
	for _, o := range orgs {
		id := strings.ToLower(o.ID)
		if seen[id] {
			continue
		}
		seen[id] = true
		fo := sandbox.FixtureOrg{ID: id, Name: cmp.Or(o.Label, id), Site: o.Site}
		if o.Declared {
			p := sandboxPair(id)
			fo.APIKey, fo.AppKey = p.API, p.App
			fo.User = &sandbox.FixtureUser{Handle: "orgsync-" + o.Label, ServiceAccount: true}
			if id != parent {
				fo.Parent = parent
			}
		}
		f.Orgs = append(f.Orgs, fo)
	}
	srv, err := sandbox.New(f, sandbox.Options{StatePath: path, Notice: notice})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return srv, nil
}
