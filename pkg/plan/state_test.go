package plan

import (
	"context"
	"errors"
	"github.com/orgsync/orgsync/pkg/manifest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeReader answers for orgs by label; failures are injected by label.
type fakeReader struct {
	mu       sync.Mutex
	keysOf   map[string]string // label -> org id the keys really belong to
	users    map[string]User   // label -> the user the keys belong to
	conns    map[string][]LiveConnection
	listErr  map[string]error
	listed   []string
	inFlight int
	maxSeen  int
}

var _ Reader = (*fakeReader)(nil)

func (f *fakeReader) CurrentUser(_ context.Context, org manifest.Org) (KeyOwner, error) {
	return KeyOwner{OrgID: f.keysOf[org.Label], User: f.users[org.Label]}, nil
}

func (f *fakeReader) ListConnections(_ context.Context, org manifest.Org) ([]LiveConnection, error) {
	f.mu.Lock()
	f.listed = append(f.listed, org.Label)
	f.inFlight++
	f.maxSeen = max(f.maxSeen, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if err := f.listErr[org.Label]; err != nil {
		return nil, err
	}
	return f.conns[org.Label], nil
}

func TestReadState(t *testing.T) {
	t.Parallel()
	m := mixedManifest()
	orgs := manifest.SourceOrgs(m)
	r := &fakeReader{
		keysOf: map[string]string{"team-a": idTeamA, "team-b": idHub, "team-c": idTeamC}, // team-b holds the hub's keys
		conns: map[string][]LiveConnection{
			"team-a": {
				{ID: "out", SourceID: idTeamA, SinkID: idHub, Types: []string{"logs"}},
				{ID: "in", SourceID: idTeamC, SinkID: idTeamA, Types: []string{"logs"}}, // team-a is only the sink
			},
			"team-b": {{ID: "never read", SourceID: idTeamB, SinkID: idHub}},
		},
		listErr: map[string]error{"team-c": errors.New("403 Forbidden")},
	}
	st, err := ReadState(context.Background(), r, orgs, 2)
	require.Error(t, err)

	assert.Equal(t, []LiveConnection{{ID: "out", SourceID: idTeamA, SinkID: idHub, Types: []string{"logs"}}}, st.Orgs["team-a"],
		"only the org's outgoing connections are its own")
	assert.NotContains(t, st.Orgs, "team-b", "an org whose keys belong to another org is not read")
	assert.NotContains(t, st.Orgs, "team-c", "an org that cannot be listed is left out")

	var wrong, failed *OrgError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var oe *OrgError
		if errors.As(e, &oe) && oe.Org.Label == "team-b" {
			wrong = oe
		}
		if errors.As(e, &oe) && oe.Org.Label == "team-c" {
			failed = oe
		}
	}
	require.NotNil(t, wrong)
	assert.ErrorIs(t, wrong, ErrWrongOrg)
	assert.Equal(t, "org team-b: keys belong to another org: the org's keys are for org "+idHub+", not the declared id "+idTeamB, wrong.Error())
	require.NotNil(t, failed)
	assert.Contains(t, failed.Error(), "org team-c: list connections: 403 Forbidden")
	assert.LessOrEqual(t, r.maxSeen, 2, "at most parallelism orgs at a time")
}
