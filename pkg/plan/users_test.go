package plan

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/manifest"
)

// ownersState reads the mixed manifest's source orgs with team-a's keys of
// a person, team-b's of a service account and team-c's of a user the API
// did not describe.
func ownersState(t *testing.T) (State, []manifest.Org) {
	t.Helper()
	orgs := manifest.SourceOrgs(mixedManifest())
	r := &fakeReader{
		keysOf: map[string]string{"team-a": idTeamA, "team-b": idTeamB, "team-c": idTeamC},
		users:  map[string]User{"team-a": *userPerson, "team-b": *userBot, "team-c": *userAnon},
	}
	st, err := ReadState(context.Background(), r, orgs, 2)
	require.NoError(t, err)
	return st, orgs
}

func TestReadStateRecordsKeyOwners(t *testing.T) {
	t.Parallel()
	st, _ := ownersState(t)
	assert.Equal(t, map[string]User{"team-a": *userPerson, "team-b": *userBot, "team-c": *userAnon}, st.Owners)
}

func TestPersonalKeyWarnings(t *testing.T) {
	t.Parallel()
	st, orgs := ownersState(t)
	got := PersonalKeyWarnings(st, orgs)
	require.Len(t, got, 1, "one warning, for the one org whose keys are a person's")
	assert.Equal(t, "org team-a: its keys belong to frog@example.com, a personal user, not a service account: "+
		"Datadog deletes the connections a user created when that user is deactivated; use the keys of a service account "+
		"(--require-service-account makes this an error)", got[0])

	delete(st.Orgs, "team-a")
	assert.Empty(t, PersonalKeyWarnings(st, orgs), "an org that was not read gets no warning")
}

func TestRequireServiceAccounts(t *testing.T) {
	t.Parallel()
	st, orgs := ownersState(t)
	errs := RequireServiceAccounts(&st, orgs)
	require.Len(t, errs, 2)
	assert.Equal(t, "team-a", errs[0].Org.Label)
	assert.ErrorIs(t, errs[0], ErrNotServiceAccount)
	assert.Contains(t, errs[0].Error(), "org team-a: keys do not belong to a service account: they belong to frog@example.com, a personal user, and --require-service-account is set")
	assert.Equal(t, "team-c", errs[1].Org.Label, "a user the API did not describe is not known to be a service account")
	assert.Contains(t, errs[1].Error(), "the API did not say whether user "+userAnon.ID+" is a service account")
	assert.NotContains(t, st.Orgs, "team-a", "the org is left out of the state, so nothing is planned or written with its keys")
	assert.NotContains(t, st.Orgs, "team-c")
	assert.Contains(t, st.Orgs, "team-b", "the org of a service account goes on")
	assert.Empty(t, PersonalKeyWarnings(st, orgs), "a failed org is not also warned about")
}

func TestPlanCarriesCreators(t *testing.T) {
	t.Parallel()
	p := Diff(mixedManifest(), mixedState())
	by := map[string]*User{}
	for _, c := range p.Changes {
		by[string(c.Action)+" "+c.Key()] = c.CreatedBy
	}
	assert.Equal(t, userPerson, by["update "+idTeamA+"->"+idHub])
	assert.Equal(t, userBot, by["noop "+idTeamB+"->"+idHub])
	assert.Equal(t, userPerson, by["unmanaged "+idTeamB+"->"+idTeamC])
	assert.Equal(t, userAnon, by["noop "+idTeamC+"->"+idHub])
	assert.Nil(t, by["delete "+idTeamC+"->"+idTeamA], "no creator known")
	assert.Nil(t, by["create "+idTeamB+"->"+idOther], "a create has no creator")
	assert.Equal(t, []creatorCount{{"team-a", 1, 1}, {"team-b", 1, 2}}, personalCreators(p.Changes))
}
