//go:build unix

package main

// End-to-end tests of the reports, output paths and stdout handling of
// apply, through the built binary (see TestMain in e2e_test.go).

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// TestE2EUnusableOrgIsOneVerifyResult: one source org's key env vars are
// unset. That org is one failed verify result; the other orgs are applied,
// and the report says the run failed.
func TestE2EUnusableOrgIsOneVerifyResult(t *testing.T) {
	t.Parallel()
	w := newE2EWorld(t, 3, 2, "key")
	delete(w.env, "E2E_API_KEY_1")
	delete(w.env, "E2E_APP_KEY_1")
	sb, ts := w.serve(t, sandbox.Faults{})
	report := filepath.Join(w.dir, "report.json")
	r := runOrgsync(t, w.dir, w.env, "apply", "-f", w.manifest, "--auto-approve", "--report", report, "--api-url", ts.URL)
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "orgsync: error: org src-1: $E2E_API_KEY_1 and $E2E_APP_KEY_1 are not set")

	validateAgainstSchema(t, "report.schema.json", mustRead(t, report))
	rep := readReport(t, report)
	assert.Equal(t, apply.StatusFailed, rep.Status)
	assert.Equal(t, apply.Summary{Created: 4, Failed: 1}, rep.Summary)
	require.NotEmpty(t, rep.Results)
	v := rep.Results[0]
	assert.Equal(t, apply.ActionVerify, v.Action)
	assert.Equal(t, apply.Failed, v.Outcome)
	assert.Equal(t, "src-1", v.SourceOrg.Label)
	assert.Contains(t, v.Error, "$E2E_API_KEY_1 and $E2E_APP_KEY_1 are not set")
	assert.Len(t, sb.Connections(), 4, "src-0 and src-2 were applied")
	for _, c := range sb.Connections() {
		assert.NotEqual(t, e2eOrgID(1, 1), c.Source, "src-1 got no connection")
	}
}
