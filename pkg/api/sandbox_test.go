package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/sandbox"
)

// The client against the emulator over loopback HTTP: every operation and
// every error kind the contract names, end to end.

const (
	srcID  = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	sinkID = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	roID   = "11111111-1111-4111-8111-111111111111"
)

func startSandbox(t *testing.T, rl *sandbox.RateLimitConfig, extraSinks int) string {
	t.Helper()
	f := &sandbox.Fixture{RateLimit: rl, Orgs: []sandbox.FixtureOrg{
		{ID: srcID, Name: "Source", APIKey: "src-api", AppKey: "src-app"},
		{ID: sinkID, Name: "Sink", APIKey: "sink-api", AppKey: "sink-app"},
		{ID: roID, Name: "Read only", APIKey: "ro-api", AppKey: "ro-app", Permissions: []string{sandbox.PermissionRead}},
	}}
	for i := range extraSinks {
		f.Orgs = append(f.Orgs, sandbox.FixtureOrg{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("sink %d", i)})
	}
	srv, err := sandbox.New(f, sandbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

func newClient(t *testing.T, base, apiKey, appKey string) *api.Client {
	t.Helper()
	c, err := api.NewClient(api.Config{BaseURL: base, APIKey: apiKey, AppKey: appKey})
	require.NoError(t, err)
	return c
}

func TestClientAgainstSandbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := startSandbox(t, nil, 0)
	src := newClient(t, base, "src-api", "src-app")

	org, err := src.CurrentOrg(ctx)
	require.NoError(t, err)
	assert.Equal(t, srcID, org)

	created, err := src.CreateConnection(ctx, sinkID, []string{"logs"})
	require.NoError(t, err)
	assert.Equal(t, srcID, created.SourceOrgID())
	assert.Equal(t, sinkID, created.SinkOrgID())
	assert.Equal(t, "Sink", created.Relationships.SinkOrg.Data.Name)

	_, err = src.CreateConnection(ctx, sinkID, []string{"logs"})
	assert.True(t, api.IsConflict(err), "%v", err)
	assert.Contains(t, err.Error(), "already exists")

	_, err = src.CreateConnection(ctx, "nonexistent-org-id", []string{"logs"})
	assert.True(t, api.IsNotFound(err), "%v", err)

	_, err = src.CreateConnection(ctx, roID, []string{"logs", "logs"})
	var apiErr *api.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.Equal(t, []string{fmt.Sprintf("connection between orgs %s and %s is not allowed", srcID, roID)}, apiErr.Errors)

	updated, err := src.UpdateConnection(ctx, created.ID, []string{"metrics", "logs"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"logs", "metrics"}, updated.Attributes.ConnectionTypes)
	assert.Empty(t, updated.Relationships.SinkOrg.Data.Name, "PATCH answers without names, as recorded")

	_, err = src.UpdateConnection(ctx, "00000000-0000-0000-0000-000000000000", []string{"logs"})
	assert.True(t, api.IsNotFound(err), "%v", err)

	// The sink sees the connection too, as sink.
	sink := newClient(t, base, "sink-api", "sink-app")
	seen, err := sink.ListConnections(ctx, api.ListOptions{})
	require.NoError(t, err)
	require.Len(t, seen, 1)
	assert.Equal(t, srcID, seen[0].SourceOrgID())

	require.NoError(t, src.DeleteConnection(ctx, created.ID))
	err = src.DeleteConnection(ctx, created.ID)
	assert.True(t, api.IsNotFound(err), "a second delete is a 404: %v", err)

	_, err = newClient(t, base, "src-api", "wrong").ListConnections(ctx, api.ListOptions{})
	assert.True(t, api.IsUnauthorized(err), "%v", err)
	_, err = newClient(t, base, "ro-api", "ro-app").CreateConnection(ctx, sinkID, []string{"logs"})
	assert.True(t, api.IsForbidden(err), "%v", err)
}

func TestClientPaginatesSandbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := startSandbox(t, nil, 25)
	src := newClient(t, base, "src-api", "src-app")
	for i := range 25 {
		_, err := src.CreateConnection(ctx, fmt.Sprintf("00000000-0000-4000-8000-%012d", i), []string{"logs"})
		require.NoError(t, err)
	}
	var ci api.CallInfo
	all, err := src.ListConnections(api.WithCallInfo(ctx, &ci), api.ListOptions{PageSize: 10})
	require.NoError(t, err)
	assert.Len(t, all, 25)
	assert.Equal(t, api.CallInfo{Attempts: 3, StatusCode: 200}, ci, "the list's CallInfo covers its three pages")
	ids := map[string]bool{}
	for _, c := range all {
		ids[c.ID] = true
	}
	assert.Len(t, ids, 25, "no connection twice across pages")

	one, err := src.ListConnections(ctx, api.ListOptions{SinkOrgID: "00000000-0000-4000-8000-000000000007", PageSize: 10})
	require.NoError(t, err)
	require.Len(t, one, 1)
	assert.Equal(t, "00000000-0000-4000-8000-000000000007", one[0].SinkOrgID())
}

func TestClientSeesSandboxRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := startSandbox(t, &sandbox.RateLimitConfig{Limit: 3, Period: 3600}, 0)
	var infos []api.ResponseInfo
	first, err := api.NewClient(api.Config{BaseURL: base, APIKey: "src-api", AppKey: "src-app",
		OnResponse: func(ri api.ResponseInfo) { infos = append(infos, ri) }})
	require.NoError(t, err)
	for range 3 {
		_, err := first.ListConnections(ctx, api.ListOptions{})
		require.NoError(t, err)
	}
	require.Len(t, infos, 3)
	last := infos[2].RateLimit
	assert.Equal(t, "org_connections", last.Name)
	assert.Equal(t, 3, last.Limit)
	assert.Equal(t, 3600, last.Period)
	assert.Equal(t, 0, last.Remaining)
	assert.Positive(t, last.Reset)

	// A second client of the same org has not seen the headers yet: its
	// request is refused with 429, and with no retries that is the answer.
	second, err := api.NewClient(api.Config{BaseURL: base, APIKey: "src-api", AppKey: "src-app", MaxRetries: 0})
	require.NoError(t, err)
	_, err = second.ListConnections(ctx, api.ListOptions{})
	require.True(t, api.IsRateLimited(err), "%v", err)
	var apiErr *api.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 0, apiErr.RateLimit.Remaining)
	assert.Positive(t, apiErr.RetryAfter)
}
