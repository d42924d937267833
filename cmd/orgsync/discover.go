package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/orgsync/orgsync/internal/atomicfile"
	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/discover"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/site"
)

type discoverArgs struct {
	target      targetFlags
	out         string
	site        string
	filterName  string
	connections bool
	apiKeyEnv   string
	appKeyEnv   string
}

// discoverSkipsFlags are the flags of plan and apply that mean nothing to
// discover: it reads every org of the account.
var discoverSkipsFlags = map[string]bool{"org": true, "shard": true, "no-color": true, "f": true}

func parseDiscoverArgs(args []string, s streams) (discoverArgs, error) {
	var a discoverArgs
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: orgsync discover [-o FILE] [--site SITE] [--filter-name TEXT] [--connections] [flags]

Writes a manifest of the account: the parent org (whose keys are in $DD_API_KEY and
$DD_APP_KEY) and every org it manages, labelled from their names, with the connections
the parent's list shows. With --connections and a keys source for the managed orgs, also
every managed org's outgoing connections. Exits 1 when something could not be read,
after writing the rest.

`)
		fs.PrintDefaults()
	}
	common := flag.NewFlagSet("", flag.ContinueOnError)
	a.target.register(common)
	common.VisitAll(func(f *flag.Flag) {
		if !discoverSkipsFlags[f.Name] {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	fs.Var(&a.target.files, "f", "with --sandbox: the manifest `PATH` whose orgs the emulator holds, its first org by label the parent (repeatable)")
	fs.StringVar(&a.out, "o", "", "write the manifest to `FILE` (atomically) instead of stdout")
	fs.StringVar(&a.site, "site", manifest.DefaultSite, "the Datadog `SITE` of the account")
	fs.StringVar(&a.filterName, "filter-name", "", "only the managed orgs whose name matches `TEXT` (the API's filter[name])")
	fs.BoolVar(&a.connections, "connections", false, "also read every managed org's outgoing connections, with its keys from --keys-file or --keys-command")
	fs.StringVar(&a.apiKeyEnv, "api-key-env", manifest.DefaultAPIKeyEnv, "the env var `NAME` that holds the parent org's API key")
	fs.StringVar(&a.appKeyEnv, "app-key-env", manifest.DefaultAppKeyEnv, "the env var `NAME` that holds the parent org's application key")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return a, err
	}
	if len(rest) > 0 {
		return a, fmt.Errorf("discover takes no arguments, got %q", rest[0])
	}
	return a, a.check()
}

func (a *discoverArgs) check() error {
	if err := a.target.check(); err != nil {
		return err
	}
	canonical, ok := site.Canonical(a.site)
	if !ok {
		return fmt.Errorf("--site %q is not a Datadog site: use one of %s (for another endpoint, --api-url)", a.site, strings.Join(site.Names, ", "))
	}
	a.site = canonical
	switch {
	case a.apiKeyEnv == "" || a.appKeyEnv == "":
		return errors.New("--api-key-env and --app-key-env must name env vars")
	case a.target.sandbox != "" && len(a.target.files) == 0:
		return withHint(errors.New("--sandbox needs -f PATH: the manifest whose orgs the emulator holds"),
			"the emulator treats the manifest's first org by label as the parent of the others")
	case a.target.sandbox == "" && len(a.target.files) > 0:
		return errors.New("-f is only for --sandbox: discover reads the orgs from the account")
	case !a.connections && (a.target.keys.file != "" || a.target.keys.command != ""):
		return withHint(errors.New("--keys-file and --keys-command give the managed orgs' keys, which only --connections uses"),
			"add --connections to read every managed org's own connections; the parent's keys are in env vars")
	}
	return nil
}

func runDiscover(ctx context.Context, args []string, s streams) error {
	a, err := parseDiscoverArgs(args, s)
	if err != nil {
		return err
	}
	if a.out != "" {
		if err := checkOutput("-o", a.out, targetInputs(&a.target, s)); err != nil {
			return err
		}
	}
	acc, err := openAccount(ctx, a, s)
	if err != nil {
		return err
	}
	defer acc.close()
	acct, err := discover.ReadAccount(ctx, acc.parent, a.site, a.filterName)
	if err != nil {
		if api.IsForbidden(err) {
			return withHint(err, "listing the managed orgs needs the org_management or org_connections_write permission on the parent org's keys")
		}
		return err
	}
	fmt.Fprintf(s.stderr, "orgsync: discover: %s manages %d %s\n", acct.Parent.Label, len(acct.Managed), plural(len(acct.Managed), "org", "orgs"))
	if a.connections {
		readManaged(ctx, acct, acc.managed, a.target.parallelism, s)
	}

	out, err := discover.Write(acct, discover.WriteOptions{SchemaRef: discover.SchemaURL, ParentAPIKeyEnv: a.apiKeyEnv, ParentAppKeyEnv: a.appKeyEnv})
	if err != nil {
		return err
	}
	if a.out != "" {
		if err := atomicfile.Write(a.out, out); err != nil {
			return err
		}
		fmt.Fprintf(s.stderr, "orgsync: discover: wrote %s: %d orgs, %d %s\n", a.out, len(acct.Managed)+1,
			len(acct.Connections), plural(len(acct.Connections), "connection", "connections"))
	} else if _, err := s.stdout.Write(out); err != nil {
		return err
	}
	return unreadErr(acct)
}

// account is the way to an account: the parent org's client, and the
// configuration that reaches the managed orgs with their keys.
type account struct {
	parent  *api.Client
	managed orgapi.Config
	close   func()
}

// openAccount checks the keys sources and connects to the parent org: with
// the keys in the env vars that a names, or on the in-process emulator,
// whose first manifest org by label is the parent of the others. The managed orgs'
// keys come from the run's keys source, for --connections only.
func openAccount(ctx context.Context, a discoverArgs, s streams) (*account, error) {
	parentKeys, managedKeys := keys.Source(keys.Env{Getenv: s.getenv}), keys.Source(nil)
	parent := plan.SourceOrg{Label: "parent", Site: a.site, APIKeyEnv: a.apiKeyEnv, AppKeyEnv: a.appKeyEnv}
	if a.target.sandbox != "" {
		parentKeys, managedKeys = orgapi.SandboxKeys, orgapi.SandboxKeys
	} else {
		if err := checkParentKeys(a, s); err != nil {
			return nil, err
		}
		if a.connections {
			ks, err := a.target.keys.source(s)
			if err != nil {
				return nil, err
			}
			if ks.kind == plan.KeysFromEnv {
				return nil, withHint(errors.New("--connections needs a keys source for the managed orgs"),
					"give --keys-file FILE or --keys-command CMD (or ORGSYNC_KEYS_FILE / ORGSYNC_KEYS_COMMAND); it is asked with the labels discover gives")
			}
			managedKeys = withoutLeaveOut(ks.Source)
		}
	}
	cfg, err := apiConfig(&a.target, s, parentKeys, nil)
	if err != nil {
		return nil, err
	}
	acc := &account{close: func() {}}
	if a.target.sandbox != "" {
		m, err := loadManifest(a.target.files, s)
		if err != nil {
			return nil, err
		}
		if len(m.Orgs) == 0 {
			return nil, errors.New("the manifest declares no orgs: the emulator has no account to discover")
		}
		sb, err := openSandbox(&a.target, s, sandboxWorld(m))
		if err != nil {
			return nil, err
		}
		acc.close = func() {
			if err := sb.Close(); err != nil {
				fmt.Fprintf(s.stderr, "orgsync: warning: %v\n", err)
			}
		}
		useSandbox(&cfg, sb)
		parent = orgapi.FromManifest(m.Orgs[:1])[0]
	}
	clients, err := orgapi.New(cfg, []plan.SourceOrg{parent})
	if err == nil {
		acc.parent, err = clients.API(ctx, parent.Label)
	}
	if err != nil {
		acc.close()
		return nil, err
	}
	acc.managed = cfg
	acc.managed.Keys = managedKeys
	return acc, nil
}

// checkParentKeys fails, before any request, when the parent's key env
// vars are empty.
func checkParentKeys(a discoverArgs, s streams) error {
	var missing []string
	for _, name := range []string{a.apiKeyEnv, a.appKeyEnv} {
		if s.getenv(name) == "" {
			missing = append(missing, "$"+name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return withHint(fmt.Errorf("%s not set: discover reads the account with the parent org's API and application keys", strings.Join(missing, " and ")),
		"export the parent org's keys, or name their env vars with --api-key-env and --app-key-env")
}

// readManaged reads every managed org's outgoing connections with its own
// keys (cfg.Keys, asked with the labels discover gave). An org that cannot
// be read says why.
func readManaged(ctx context.Context, acct *discover.Account, cfg orgapi.Config, parallelism int, s streams) {
	sources := make([]plan.SourceOrg, len(acct.Managed))
	for i, o := range acct.Managed {
		sources[i] = orgapi.FromManifest([]manifest.Org{acct.ManifestOrg(o)})[0]
	}
	clients, err := orgapi.New(cfg, sources)
	failed := map[string]bool{}
	var se *orgapi.SetupError
	switch {
	case errors.As(err, &se):
		for _, f := range se.Orgs {
			failed[f.Label] = true
			if o, ok := acct.ByLabel(f.Label); ok {
				acct.MarkUnread(o.ID, f.Err.Error())
			}
		}
	case err != nil:
		for _, o := range acct.Managed {
			acct.MarkUnread(o.ID, err.Error())
		}
		return
	}
	var usable []discover.Org
	for _, o := range acct.Managed {
		if !failed[o.Label] {
			usable = append(usable, o)
		}
	}
	total := len(usable)
	var mu sync.Mutex
	shown := 0
	progress := func(n int) {
		if total < 10 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if n > shown && (n*10/total > shown*10/total || n == total) {
			shown = n
			fmt.Fprintf(s.stderr, "orgsync: discover: read the connections of %d/%d orgs\n", n, total)
		}
	}
	acct.ReadOrgs(ctx, clients, usable, parallelism, progress)
}

// withoutLeaveOut drops the advice to leave an org out with --org from the
// errors of src: discover takes no --org, and writes such an org anyway.
func withoutLeaveOut(src keys.Source) keys.Source {
	return keys.Func(func(ctx context.Context, org keys.Org) (keys.Pair, error) {
		p, err := src.Keys(ctx, org)
		var ke *keys.Error
		if errors.As(err, &ke) && ke.LeaveOut {
			c := *ke
			c.LeaveOut = false
			return p, &c
		}
		return p, err
	})
}

// unreadErr reports, one line each, the orgs left out or not read.
func unreadErr(acct *discover.Account) error {
	lines := slices.Clone(acct.Problems)
	orgs := append([]discover.Org{acct.Parent}, acct.Managed...)
	for _, o := range orgs {
		if reason, ok := acct.Unread[o.ID]; ok {
			lines = append(lines, fmt.Sprintf("org %s: connections not read: %s", o.Label, reason))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return &exitError{code: 1, err: withHint(errors.New(strings.Join(lines, "\n")),
		"the manifest was written without what could not be read; each org concerned says why in a comment")}
}
