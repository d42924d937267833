package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/orgsync/orgsync/pkg/manifest"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// loadManifest loads and validates the manifests, printing every problem
// as FILE:LINE:COL: message and every warning as "orgsync: warning:
// FILE:LINE:COL: message" (and both as GitHub annotations inside Actions).
func loadManifest(paths []string, s streams) (*manifest.Manifest, error) {
	if len(paths) == 0 {
		return nil, withHint(errors.New("no manifest given"), "name one or more files or directories with -f")
	}
	m, err := manifest.Load(paths)
	gh := s.getenv("GITHUB_ACTIONS") == "true"
	if err == nil {
		for _, w := range m.Warnings {
			fmt.Fprintf(s.stderr, "orgsync: warning: %s\n", w.Error())
			if gh {
				annotateAt(s.stderr, "warning", w)
			}
		}
		return m, nil
	}
	var verrs *manifest.ValidationErrors
	if !errors.As(err, &verrs) {
		return nil, err
	}
	for _, e := range verrs.Errors {
		fmt.Fprintln(s.stderr, e.Error())
		if gh {
			annotateAt(s.stderr, "error", e)
		}
	}
	return nil, &exitError{code: 1, err: fmt.Errorf("the manifest is invalid: %d %s", len(verrs.Errors), plural(len(verrs.Errors), "problem", "problems"))}
}

// annotateAt prints a GitHub Actions annotation of kind (error, warning) at
// the manifest position of e.
func annotateAt(w io.Writer, kind string, e *manifest.ValidationError) {
	fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d::%s\n", kind, escapeProperty(e.File), e.Line, e.Column, escapeData(e.Msg))
}

// escapeData and escapeProperty follow the GitHub Actions workflow command
// escaping rules, so a message with a newline or a comma stays one annotation.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// connection is an open line to the API for a set of source orgs.
type connection struct {
	clients   *orgapi.Clients
	counters  *apply.Counters
	keySource string // plan.KeysFrom*: where the orgs' keys come from
	close     func() error
}

// closeOrWarn closes the connection; a failure (the sandbox could not save
// its state) is worth a warning, not a failed run: every write was saved
// before it was answered.
func (c *connection) closeOrWarn(s streams) {
	if err := c.close(); err != nil {
		fmt.Fprintf(s.stderr, "orgsync: warning: %v\n", err)
	}
}

// connect makes the clients for orgs, on the real sites, on --api-url, or on
// the in-process emulator with --sandbox; world is every org that the
// emulator must know. stop, when closed, lets requests on the wire finish
// but starts no new attempt. An org that gets no client (an unusable
// site) is returned in failed, and the others are connected; an org whose
// keys cannot be found fails on its first call, in openOrgs.
func connect(tf *targetFlags, s streams, orgs []plan.SourceOrg, world []orgapi.SandboxOrg, stop <-chan struct{}) (conn *connection, failed []orgapi.OrgFailure, err error) {
	// The sandbox makes its own keys; ORGSYNC_KEYS_* are not read for it.
	ks := keySource{orgapi.SandboxKeys, plan.KeysFromSandbox}
	if tf.sandbox == "" {
		if ks, err = tf.keys.source(s); err != nil {
			return nil, nil, err
		}
	}
	cfg, err := apiConfig(tf, s, ks.Source, stop)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() error { return nil }
	if tf.sandbox != "" {
		sb, err := openSandbox(tf, s, world)
		if err != nil {
			return nil, nil, err
		}
		useSandbox(&cfg, sb)
		closeFn = sb.Close
	}
	clients, err := orgapi.New(cfg, orgs)
	var se *orgapi.SetupError
	if errors.As(err, &se) {
		failed, err = se.Orgs, nil
	}
	if err != nil {
		_ = closeFn()
		return nil, nil, err
	}
	return &connection{clients: clients, counters: cfg.Counters, keySource: ks.kind, close: closeFn}, failed, nil
}

// apiConfig is how the flags say to reach and pace the API, with keys from
// ks. With --sandbox, the caller opens the emulator and hands it to
// useSandbox.
func apiConfig(tf *targetFlags, s streams, ks keys.Source, stop <-chan struct{}) (orgapi.Config, error) {
	cfg := orgapi.Config{
		Keys:        ks,
		UserAgent:   "orgsync/" + version(),
		Timeout:     tf.timeout,
		MaxRetries:  tf.maxRetries,
		Rate:        tf.rate.value,
		Burst:       tf.burst,
		RateIsCap:   tf.rate.set,
		Parallelism: tf.parallelism,
		Stop:        stop,
		Counters:    &apply.Counters{},
	}
	if tf.verbose {
		cfg.OnResponse = verboseLogger(s.stderr)
	}
	if tf.sandbox == "" {
		ep, err := tf.apiURL.endpoints(s.getenv)
		if err != nil {
			return cfg, err
		}
		cfg.Endpoints = ep
		if tf.verbose {
			cfg.OnEndpoint = endpointLogger(s.stderr)
		}
	}
	return cfg, nil
}

// openSandbox starts the in-process emulator of --sandbox holding world.
func openSandbox(tf *targetFlags, s streams, world []orgapi.SandboxOrg) (*sandbox.Server, error) {
	sb, err := orgapi.OpenSandbox(tf.sandbox, world, func(msg string) { fmt.Fprintf(s.stderr, "orgsync: %s\n", msg) })
	if err != nil {
		return nil, stateHint(err)
	}
	return sb, nil
}

// useSandbox sends every call of cfg to the in-process emulator sb.
func useSandbox(cfg *orgapi.Config, sb *sandbox.Server) {
	cfg.Transport = sb.Transport()
	cfg.Endpoints = orgapi.Everywhere(orgapi.SandboxURL, "the in-process sandbox")
}

// openOrgs connects to orgs, checks each one's keys against its declared id
// and reads its live state. It is the one path every per-org failure goes
// through: an org that cannot be used (keys missing or refused, keys of
// another org, an unusable site, unreadable state) is left out of live and
// returned as one *plan.OrgError, in the order of orgs, and the others go
// on. The error is for what stops every org (the sandbox cannot open).
func openOrgs(ctx context.Context, tf *targetFlags, s streams, orgs []manifest.Org, world []orgapi.SandboxOrg, stop <-chan struct{}) (*connection, plan.State, []*plan.OrgError, error) {
	conn, failed, err := connect(tf, s, orgapi.FromManifest(orgs), world, stop)
	if err != nil {
		return nil, plan.State{}, nil, err
	}
	why := make(map[string]error, len(failed))
	for _, f := range failed {
		why[f.Label] = f.Err
	}
	var usable []manifest.Org
	for _, o := range orgs {
		if why[o.Label] == nil {
			usable = append(usable, o)
		}
	}
	live, readErrs := readState(ctx, conn, usable, tf, s)
	for _, e := range readErrs {
		why[e.Org.Label] = e.Err
	}
	var orgErrs []*plan.OrgError
	for _, o := range orgs {
		if err := why[o.Label]; err != nil {
			orgErrs = append(orgErrs, &plan.OrgError{Org: o, Err: err})
		}
	}
	return conn, live, orgErrs, nil
}

// verboseLogger prints one line per API response. It prints method, path,
// status and rate-limit headers: never a header that carries a key.
func verboseLogger(w io.Writer) func(api.ResponseInfo) {
	var n atomic.Int64
	var mu sync.Mutex // responses come from many goroutines; one line at a time
	return func(ri api.ResponseInfo) {
		mu.Lock()
		defer mu.Unlock()
		rl := ""
		if ri.RateLimit.Limit >= 0 {
			rl = fmt.Sprintf(", rate limit %s %d/%d per %ds, reset %ds", ri.RateLimit.Name, ri.RateLimit.Remaining, ri.RateLimit.Limit, ri.RateLimit.Period, ri.RateLimit.Reset)
		}
		fmt.Fprintf(w, "orgsync: [%d] %s %s -> %d (attempt %d, %dms%s)\n", n.Add(1), ri.Method, ri.Path, ri.StatusCode, ri.Attempt, ri.Elapsed.Milliseconds(), rl)
	}
}

// sandboxWorld lists the orgs of a manifest on their sites, and the raw-UUID
// sinks of its connections (on their source's site, as Datadog requires),
// so that the emulator holds every org a connection points at.
func sandboxWorld(m *manifest.Manifest) []orgapi.SandboxOrg {
	var out []orgapi.SandboxOrg
	siteOf := map[string]string{}
	for _, o := range m.Orgs {
		out = append(out, orgapi.SandboxOrg{Label: o.Label, ID: o.ID, Site: o.Site, Declared: true})
		siteOf[o.Label] = o.Site
	}
	for _, c := range m.Connections {
		if c.SinkLabel == "" {
			out = append(out, orgapi.SandboxOrg{ID: c.SinkID, Site: siteOf[c.SourceLabel]})
		}
	}
	return out
}

// planWorld is sandboxWorld for a saved plan: its source orgs, then the
// sinks of its changes on their source's site.
func planWorld(p *plan.Plan) []orgapi.SandboxOrg {
	var out []orgapi.SandboxOrg
	siteOf := map[string]string{}
	for _, o := range p.Orgs {
		out = append(out, orgapi.SandboxOrg{Label: o.Label, ID: o.ID, Site: o.Site, Declared: true})
		siteOf[strings.ToLower(o.ID)] = o.Site
	}
	for _, c := range p.Changes {
		out = append(out, orgapi.SandboxOrg{Label: c.SinkOrg.Label, ID: c.SinkOrg.ID, Site: siteOf[strings.ToLower(c.SourceOrg.ID)]})
	}
	return out
}

// manifestState is a manifest, the source orgs a command works on, an open
// connection to their API, and what could be read of their live state.
type manifestState struct {
	manifest *manifest.Manifest
	orgs     []manifest.Org
	conn     *connection
	live     plan.State
	orgErrs  []*plan.OrgError
}

// readManifestState loads the manifests of tf, selects the source orgs
// (--org, --shard; anyOrg lets --org name any org, for export), connects,
// and reads their live state. The caller closes st.conn.
func readManifestState(ctx context.Context, tf *targetFlags, s streams, anyOrg bool, stop <-chan struct{}) (*manifestState, error) {
	m, err := loadManifest(tf.files, s)
	if err != nil {
		return nil, err
	}
	sel := manifest.Selection{Labels: tf.orgs, ShardIndex: tf.shard.index, ShardCount: tf.shard.count}
	orgs, err := manifest.Select(m, manifest.SourceOrgs(m), sel, anyOrg)
	if err != nil {
		return nil, withLabelHint(err, m, tf.orgs)
	}
	conn, live, orgErrs, err := openOrgs(ctx, tf, s, orgs, sandboxWorld(m), stop)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// The orgs that failed were cut off by the interrupt: they are
		// not broken, so they are neither reported nor planned.
		conn.closeOrWarn(s)
		return nil, errors.New("interrupted while reading live state")
	}
	return &manifestState{manifest: m, orgs: orgs, conn: conn, live: live, orgErrs: orgErrs}, nil
}

// readState verifies and reads the live state of orgs. For plan and apply
// it then checks whom the keys belong to: an org whose keys are a person's
// gets a warning on stderr or, with --require-service-account, is taken
// out of the state as an org error.
func readState(ctx context.Context, conn *connection, orgs []manifest.Org, tf *targetFlags, s streams) (plan.State, []*plan.OrgError) {
	st, err := plan.ReadState(ctx, conn.clients, orgs, tf.parallelism)
	var orgErrs []*plan.OrgError
	if err != nil {
		for _, e := range unwrapAll(err) {
			var oe *plan.OrgError
			if errors.As(e, &oe) {
				orgErrs = append(orgErrs, oe)
			}
		}
	}
	if tf.requireServiceAccount {
		orgErrs = append(orgErrs, plan.RequireServiceAccounts(&st, orgs)...)
	}
	if tf.ownerChecks {
		for _, w := range plan.PersonalKeyWarnings(st, orgs) {
			fmt.Fprintf(s.stderr, "orgsync: warning: %s\n", w)
		}
	}
	return st, orgErrs
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// orgErrorsErr joins org failures into one error of a line each.
func orgErrorsErr(errs []*plan.OrgError) error {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	err := errors.New(strings.Join(lines, "\n"))
	for _, e := range errs {
		if errors.Is(e, plan.ErrWrongOrg) {
			return withHint(err, "check that the keys each org gets (from its env vars, keys file entry or keys command) are those of the org whose id the manifest declares")
		}
		if errors.Is(e, plan.ErrNotServiceAccount) {
			return withHint(err, "give orgsync the keys of a service account of that org (Organization Settings > Service Accounts)")
		}
		if api.IsUnauthorized(e) {
			return withHint(err, "the server refused the keys: check the keys that org gets from its env vars, keys file entry or keys command")
		}
		if ke := (*keys.Error)(nil); errors.As(e, &ke) {
			return withHint(err, "fix the keys of those orgs, or leave them out: --org runs only the orgs it names")
		}
	}
	return err
}

// colorEnabled says whether output to w may use ANSI colors.
func colorEnabled(tf *targetFlags, s streams, w io.Writer) bool {
	if tf.noColor || s.getenv("NO_COLOR") != "" {
		return false
	}
	return isTerminal(w)
}

// isTerminal reports whether v is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && isTerminalFd(f.Fd())
}

// planOrgs turns a saved plan's orgs back into manifest orgs for reading.
func planOrgs(p *plan.Plan) []manifest.Org {
	out := make([]manifest.Org, len(p.Orgs))
	for i, o := range p.Orgs {
		out[i] = manifest.Org{Label: o.Label, ID: o.ID, Site: o.Site, APIKeyEnv: o.APIKeyEnv, AppKeyEnv: o.AppKeyEnv, Prune: o.Prune}
	}
	return out
}
