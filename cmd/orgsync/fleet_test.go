package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/plan"
)

// TestFleetExampleKeyEnvTemplates checks what examples/fleet.yaml says of
// itself: 50 source orgs whose key env vars come from the template in its
// defaults, and a sink that needs no keys.
func TestFleetExampleKeyEnvTemplates(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "plan", "--sandbox", filepath.Join(t.TempDir(), "s.json"), "-f", "../../examples/fleet.yaml", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var p plan.Plan
	decodeJSON(t, r.stdout, &p)
	require.Len(t, p.Orgs, 50)
	assert.Equal(t, 50, p.Summary.Create)
	envs := map[string][2]string{}
	for _, o := range p.Orgs {
		envs[o.Label] = [2]string{o.APIKeyEnv, o.AppKeyEnv}
	}
	assert.Equal(t, [2]string{"DD_API_KEY_TEAM_API", "DD_APP_KEY_TEAM_API"}, envs["team-api"])
	assert.Equal(t, [2]string{"DD_API_KEY_TEAM_DATA_ENG", "DD_APP_KEY_TEAM_DATA_ENG"}, envs["team-data-eng"])
	assert.NotContains(t, envs, "central", "a sink only")
}
