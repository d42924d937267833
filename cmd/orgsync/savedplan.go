package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
)

// A saved plan crosses a trust boundary: in CI it is an artifact of one job
// applied by another, with keys that can write. With -f, apply makes the
// plan again from the manifests against live state and applies the saved
// one only if it is exactly that plan; without -f it can check only that
// the plan holds together and that live state has not moved, and says so.

// notVerified is the notice for a saved plan applied without -f.
const notVerified = "orgsync: warning: the saved plan's origin was not verified: without -f, apply checks only that the plan holds together " +
	"and that live state has not changed since; give the manifests with -f to apply it only if they produce exactly this plan"

// isPlanPath tells a saved plan among apply's arguments: with -f, the other
// arguments are manifests.
func isPlanPath(arg string) bool { return strings.HasSuffix(strings.ToLower(arg), ".json") }

// readSavedPlan reads and checks a saved plan file.
func readSavedPlan(path string) (*plan.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := plan.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// planSource is what a saved plan is checked against: the manifests given
// with -f, or, without them, only the plan itself.
type planSource struct {
	manifest *manifest.Manifest  // nil without -f
	orgs     []manifest.Org      // the source orgs to read
	world    []orgapi.SandboxOrg // every org the sandbox must know
}

// savedPlanSource loads the manifests of tf, if any, and picks the source
// orgs to read: with -f, the manifests' own definitions of the orgs the
// plan names (never the plan's, which may have been edited).
func savedPlanSource(tf *targetFlags, s streams, p *plan.Plan) (*planSource, error) {
	if len(tf.files) == 0 {
		fmt.Fprintln(s.stderr, notVerified)
		return &planSource{orgs: planOrgs(p), world: planWorld(p)}, nil
	}
	m, err := loadManifest(tf.files, s)
	if err != nil {
		return nil, err
	}
	src := &planSource{manifest: m, world: sandboxWorld(m)}
	for _, o := range manifest.SourceOrgs(m) {
		if _, ok := p.Org(o.Label); ok {
			src.orgs = append(src.orgs, o)
		}
	}
	return src, nil
}

// verify checks the saved plan p against live state st and returns the plan
// to apply: with -f, the plan the manifests give now, which must be exactly
// p; without, p itself once its live state is found unchanged.
func (src *planSource) verify(p *plan.Plan, st plan.State) (*plan.Plan, error) {
	var stale []string
	for _, o := range p.Orgs {
		if conns, read := st.Orgs[o.Label]; read && plan.Fingerprint(conns) != p.LiveState[o.Label] {
			stale = append(stale, o.Label)
		}
	}
	if len(stale) > 0 {
		return nil, withHint(
			fmt.Errorf("the saved plan is stale: live connections of %s changed since it was made; nothing was applied", strings.Join(stale, ", ")),
			"run orgsync plan again and review the new plan")
	}
	if src.manifest == nil {
		return p, nil
	}
	fresh := plan.Diff(src.manifest, st)
	diffs := plan.Mismatches(p, fresh)
	if len(diffs) == 0 {
		return fresh, nil
	}
	return nil, withHint(
		errors.New("the saved plan is not the plan the manifests give against live state now; nothing was applied:\n  - "+strings.Join(diffs, "\n  - ")),
		"make the plan again with orgsync plan -f ... --out, review it, and apply that plan")
}
