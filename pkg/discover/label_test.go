package discover

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// labelRE is the manifest's label pattern (schemas/manifest.schema.json).
var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func TestBaseLabel(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"payments", "payments"},
		{"Team A", "team-a"},
		{"Team (B)", "team-b"},
		{"ACME Corp. (EU)", "acme-corp.-eu"},
		{"  spaced   out  ", "spaced-out"},
		{"a - b", "a-b"},
		{"snake_case.dotted", "snake_case.dotted"},
		{"_hidden.", "hidden"},
		{"...", ""},
		{"--x--", "x"},
		{"Zürich Ops", "zurich-ops"},
		{"Équipe Données", "equipe-donnees"},
		{"Straße", "strasse"},
		{"Øresund Łódź", "oresund-lodz"},
		{"İstanbul", "istanbul"},
		{"東京 Tokyo", "tokyo"},
		{"東京", ""},
		{"Команда", ""},
		{"prod 🚀 eu", "prod-eu"},
		{"Tab\tand\nnewline", "tab-and-newline"},
		{"123", "123"},
		{"", ""},
		{"a\u00a0b", "a-b"},
		{strings.Repeat("y", 70), strings.Repeat("y", 63)},
		{"abc" + strings.Repeat("-", 60) + "x", "abc-x"},
		{"ab" + strings.Repeat(".", 61) + " x", "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := BaseLabel(tt.name)
			assert.Equal(t, tt.want, got)
			if got != "" {
				assert.Regexp(t, labelRE, got)
				assert.LessOrEqual(t, len(got), maxLabelLen)
			}
		})
	}
}

func TestAssignLabels(t *testing.T) {
	t.Parallel()
	org := func(id, name, created string) Org { return Org{ID: id, Name: name, CreatedAt: created} }
	tests := []struct {
		name    string
		parent  Org
		managed []Org
		want    map[string]string // id -> label
	}{
		{
			name:   "same name: the older org keeps the label",
			parent: org("00000000-0000-0000-0000-00000000000a", "Hub", ""),
			managed: []Org{
				org("00000000-0000-0000-0000-000000000002", "Team A", "2025-01-01T00:00:00+00:00"),
				org("00000000-0000-0000-0000-000000000001", "team a", "2024-01-01T00:00:00.5+00:00"),
				org("00000000-0000-0000-0000-000000000003", "TEAM-A", "2026-01-01T00:00:00Z"),
			},
			want: map[string]string{
				"00000000-0000-0000-0000-00000000000a": "hub",
				"00000000-0000-0000-0000-000000000001": "team-a",
				"00000000-0000-0000-0000-000000000002": "team-a-2",
				"00000000-0000-0000-0000-000000000003": "team-a-3",
			},
		},
		{
			name:   "the parent keeps its label; a name that is already a suffixed label keeps it",
			parent: org("00000000-0000-0000-0000-00000000000a", "Team A", ""),
			managed: []Org{
				org("00000000-0000-0000-0000-000000000001", "Team A", "2024-01-01T00:00:00Z"),
				org("00000000-0000-0000-0000-000000000002", "Team A 2", "2025-01-01T00:00:00Z"),
			},
			want: map[string]string{
				"00000000-0000-0000-0000-00000000000a": "team-a",
				"00000000-0000-0000-0000-000000000001": "team-a-3",
				"00000000-0000-0000-0000-000000000002": "team-a-2",
			},
		},
		{
			name:   "no usable name: a label from the id; no creation time: after the others, by id",
			parent: org("8399aaaa-7f97-11f0-8de1-1ecf66f1aa85", "", ""),
			managed: []Org{
				org("4dee724d-00cc-11ea-a77b-570c9d03c6c5", "東京", ""),
				org("00000000-0000-0000-0000-000000000009", "Dup", ""),
				org("00000000-0000-0000-0000-000000000008", "Dup", "not a time"),
				org("00000000-0000-0000-0000-000000000007", "Dup", "2020-01-01T00:00:00Z"),
				org("5eee724d-00cc-11ea-a77b-570c9d03c6c5", "org 4dee724d", "2020-01-01T00:00:00Z"),
			},
			want: map[string]string{
				"8399aaaa-7f97-11f0-8de1-1ecf66f1aa85": "org-8399aaaa",
				"4dee724d-00cc-11ea-a77b-570c9d03c6c5": "org-4dee724d-2",
				"5eee724d-00cc-11ea-a77b-570c9d03c6c5": "org-4dee724d",
				"00000000-0000-0000-0000-000000000007": "dup",
				"00000000-0000-0000-0000-000000000008": "dup-2",
				"00000000-0000-0000-0000-000000000009": "dup-3",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Whatever order the API lists them in, the labels are the same.
			for seed := range uint64(5) {
				parent := tt.parent
				managed := append([]Org(nil), tt.managed...)
				rand.New(rand.NewPCG(seed, 1)).Shuffle(len(managed), func(i, j int) { managed[i], managed[j] = managed[j], managed[i] })
				assignLabels(&parent, managed)
				got := map[string]string{parent.ID: parent.Label}
				for _, o := range managed {
					got[o.ID] = o.Label
				}
				require.Equal(t, tt.want, got, "seed %d", seed)
			}
		})
	}
}

// TestAssignLabelsValidAndUnique labels many orgs with names made of runes
// from every class the rules treat differently.
func TestAssignLabelsValidAndUnique(t *testing.T) {
	t.Parallel()
	alphabet := []rune("aZ09_.- ()#/éÉßæ東Ωк\t🚀İ")
	r := rand.New(rand.NewPCG(7, 7))
	parent := Org{ID: "00000000-0000-0000-0000-000000000000", Name: "Parent"}
	managed := make([]Org, 2000)
	for i := range managed {
		name := make([]rune, r.IntN(6))
		for j := range name {
			name[j] = alphabet[r.IntN(len(alphabet))]
		}
		managed[i] = Org{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1), Name: string(name)}
	}
	assignLabels(&parent, managed)
	seen := map[string]string{parent.Label: parent.Name}
	for _, o := range managed {
		require.Regexp(t, labelRE, o.Label, "name %q", o.Name)
		prev, dup := seen[o.Label]
		require.False(t, dup, "label %q of %q already given to %q", o.Label, o.Name, prev)
		seen[o.Label] = o.Name
	}
}
