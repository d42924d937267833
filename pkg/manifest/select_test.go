package manifest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selectManifest has a sink-only hub, three source orgs and one prune org.
func selectManifest() *Manifest {
	const hub = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	return &Manifest{
		Orgs: []Org{
			{Label: "hub", ID: hub},
			{Label: "team-a", ID: "4dee724d-00cc-11ea-a77b-570c9d03c6c5"},
			{Label: "team-b", ID: "11111111-1111-4111-8111-111111111111"},
			{Label: "team-c", ID: "22222222-2222-4222-8222-222222222222", Prune: true},
		},
		Connections: []Connection{
			{SourceLabel: "team-a", SinkLabel: "hub", SinkID: hub},
			{SourceLabel: "team-b", SinkLabel: "hub", SinkID: hub},
		},
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	m := selectManifest()
	sources := SourceOrgs(m)
	labels := func(orgs []Org) []string {
		var out []string
		for _, o := range orgs {
			out = append(out, o.Label)
		}
		return out
	}
	require.Equal(t, []string{"team-a", "team-b", "team-c"}, labels(sources))
	tests := []struct {
		name    string
		sel     Selection
		anyOrg  bool
		want    []string
		wantErr string
	}{
		{name: "all", want: []string{"team-a", "team-b", "team-c"}},
		{name: "one org", sel: Selection{Labels: []string{"team-b"}}, want: []string{"team-b"}},
		{name: "repeated and unsorted", sel: Selection{Labels: []string{"team-c", "team-a", "team-c"}}, want: []string{"team-a", "team-c"}},
		{name: "unknown label", sel: Selection{Labels: []string{"nope"}}, wantErr: "--org nope: no org with that label"},
		{name: "not a source", sel: Selection{Labels: []string{"hub"}}, wantErr: "--org hub: not a source org"},
		{name: "any org for export", sel: Selection{Labels: []string{"hub"}}, anyOrg: true, want: []string{"hub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Select(m, sources, tt.sel, tt.anyOrg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, labels(got))
		})
	}
}

func TestShardsPartitionTheOrgs(t *testing.T) {
	t.Parallel()
	m := &Manifest{}
	for i := range 1000 {
		m.Orgs = append(m.Orgs, Org{Label: fmt.Sprintf("org-%04d", i), ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i*7919), Prune: true})
	}
	seen := make(map[string]int)
	for i := 1; i <= 4; i++ {
		got, err := Select(m, m.Orgs, Selection{ShardIndex: i, ShardCount: 4}, false)
		require.NoError(t, err)
		// A fair split: each shard holds about a quarter.
		assert.InDelta(t, 250, len(got), 50, "shard %d", i)
		for _, o := range got {
			seen[o.Label]++
		}
	}
	assert.Len(t, seen, 1000, "every org is in a shard")
	for l, n := range seen {
		assert.Equal(t, 1, n, "org %s is in %d shards", l, n)
	}
	// Stable: removing other orgs does not move an org to another shard.
	got, err := Select(&Manifest{Orgs: m.Orgs[:20]}, m.Orgs[:20], Selection{ShardIndex: ShardOf(m.Orgs[10].ID, 4), ShardCount: 4}, false)
	require.NoError(t, err)
	assert.Contains(t, got, m.Orgs[10])
}

// TestShardOfAnyCount: ShardOf never panics and always names a shard in
// 1..n, also for counts the CLI refuses (n = 2^32 divided by zero before).
func TestShardOfAnyCount(t *testing.T) {
	t.Parallel()
	const id = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	for _, n := range []int{-1, 0, 1, 2, 4, 1000, 1 << 32, 1<<32 + 1, 1<<62 + 3} {
		got := ShardOf(id, n)
		assert.GreaterOrEqual(t, got, 1, "n=%d", n)
		assert.LessOrEqual(t, got, max(n, 1), "n=%d", n)
	}
	// The same split as before for the counts the CLI accepts.
	assert.Equal(t, ShardOf(id, 4), ShardOf(strings.ToUpper(id), 4))
}

func TestSuggestLabel(t *testing.T) {
	t.Parallel()
	m := selectManifest()
	for given, want := range map[string]string{"Team-A": "team-a", "team-d": "team-a", "hbu": "hub", "platform": "", "hub": "hub"} {
		assert.Equal(t, want, SuggestLabel(m, given), given)
	}
}
