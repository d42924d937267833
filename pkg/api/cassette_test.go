package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/cassette"
	"github.com/orgsync/orgsync/pkg/api"
)

// TestCassettes replays every recorded interaction: a server answers with the
// recorded status and body, and the client call that makes that request
// must send what the official Go client sent and decode the answer.
func TestCassettes(t *testing.T) {
	t.Parallel()
	cassettes, err := cassette.LoadDir("../../testdata/cassettes")
	require.NoError(t, err)
	require.NotEmpty(t, cassettes)
	replayed := 0
	for _, cas := range cassettes {
		// The Terraform provider sends "name":"" in the sink relationship;
		// we send the Go client's form, so only its decoding is compared.
		terraform := strings.HasPrefix(cas.Name, "TestAcc")
		for i, in := range cas.Interactions {
			replayed++
			t.Run(cas.Name+"/"+in.Request.Method+"#"+strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				replay(t, in, terraform)
			})
		}
	}
	assert.GreaterOrEqual(t, replayed, 30, "interactions replayed")
}

func replay(t *testing.T, in cassette.Interaction, terraform bool) {
	rec, err := url.Parse(in.Request.URL)
	require.NoError(t, err)
	c, mux := newTestClient(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, in.Request.Method)
		testHeaders(t, r)
		assert.Equal(t, rec.EscapedPath(), r.URL.EscapedPath(), "path")
		// Our list pages explicitly; every recorded param must be there
		// with its value, and the only extra ones are limit and offset.
		got := r.URL.Query()
		for k, v := range rec.Query() {
			assert.Equal(t, v, got[k], "query param %s", k)
		}
		for k := range got {
			if _, ok := rec.Query()[k]; !ok {
				assert.Contains(t, []string{"limit", "offset"}, k, "extra query param")
			}
		}
		if want := first(in.Request.Headers["Accept"]); want != "" {
			assert.Equal(t, want, r.Header.Get("Accept"), "Accept")
		}
		if want := first(in.Request.Headers["Content-Type"]); want != "" {
			assert.Equal(t, want, r.Header.Get("Content-Type"), "Content-Type")
		}
		body, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		switch {
		case strings.TrimSpace(in.Request.Body) == "":
			assert.Empty(t, body, "body")
		case !terraform:
			assert.JSONEq(t, in.Request.Body, string(body), "body")
		}
		if ct := first(in.Response.Headers["Content-Type"]); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(in.Response.Code)
		io.WriteString(w, in.Response.Body)
	})

	var ci api.CallInfo
	ctx := api.WithCallInfo(t.Context(), &ci)
	route, id := rec.Path, ""
	if rest, ok := strings.CutPrefix(rec.Path, "/api/v2/org_connections/"); ok {
		route, id = "/api/v2/org_connections/{id}", rest
	}
	var (
		one  *api.Connection
		list []api.Connection
	)
	switch in.Request.Method + " " + route {
	case "POST /api/v2/org_connections":
		var req struct {
			Data struct {
				Attributes struct {
					ConnectionTypes []string `json:"connection_types"`
				} `json:"attributes"`
				Relationships struct {
					SinkOrg struct{ Data struct{ ID string } } `json:"sink_org"`
				} `json:"relationships"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(in.Request.Body), &req))
		one, err = c.CreateConnection(ctx, req.Data.Relationships.SinkOrg.Data.ID, req.Data.Attributes.ConnectionTypes)
	case "PATCH /api/v2/org_connections/{id}":
		var req struct {
			Data struct {
				Attributes struct {
					ConnectionTypes []string `json:"connection_types"`
				} `json:"attributes"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(in.Request.Body), &req))
		one, err = c.UpdateConnection(ctx, id, req.Data.Attributes.ConnectionTypes)
	case "DELETE /api/v2/org_connections/{id}":
		err = c.DeleteConnection(ctx, id)
	case "GET /api/v2/org_connections":
		q := rec.Query()
		list, err = c.ListConnections(ctx, api.ListOptions{SinkOrgID: q.Get("sink_org_id"), SourceOrgID: q.Get("source_org_id")})
	default:
		t.Fatalf("no client call for %s %s", in.Request.Method, rec.Path)
	}
	assert.Equal(t, api.CallInfo{Attempts: 1, StatusCode: in.Response.Code}, ci)

	if in.Response.Code != http.StatusOK {
		var apiErr *api.Error
		require.ErrorAs(t, err, &apiErr)
		var want struct{ Errors []string }
		require.NoError(t, json.Unmarshal([]byte(in.Response.Body), &want))
		assert.Equal(t, in.Response.Code, apiErr.StatusCode)
		assert.Equal(t, want.Errors, apiErr.Errors)
		assert.Empty(t, apiErr.Body)
		assert.Equal(t, in.Request.Method, apiErr.Method)
		assert.Equal(t, rec.Path, apiErr.URL)
		assert.Equal(t, in.Response.Code == 404, api.IsNotFound(err), "IsNotFound")
		assert.Equal(t, in.Response.Code == 409, api.IsConflict(err), "IsConflict")
		assert.False(t, api.IsRateLimited(err) || api.IsUnauthorized(err) || api.IsForbidden(err))
		assert.Contains(t, err.Error(), want.Errors[0])
		return
	}
	require.NoError(t, err)

	// Decode the recorded answer independently of our types.
	var raw struct{ Data json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(in.Response.Body), &raw))
	switch {
	case one != nil:
		assertConnection(t, raw.Data, *one)
	case in.Request.Method == http.MethodGet:
		var items []json.RawMessage
		require.NoError(t, json.Unmarshal(raw.Data, &items))
		require.Len(t, list, len(items))
		for i := range items {
			assertConnection(t, items[i], list[i])
		}
		assertCreators(t, in.Response.Body, list)
	}
}

// assertConnection compares a decoded connection with the recorded JSON.
func assertConnection(t *testing.T, raw json.RawMessage, got api.Connection) {
	t.Helper()
	var want map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	attrs := want["attributes"].(map[string]any)
	rels := want["relationships"].(map[string]any)
	relID := func(name string) string {
		return rels[name].(map[string]any)["data"].(map[string]any)["id"].(string)
	}
	assert.Equal(t, want["id"], got.ID)
	assert.Equal(t, "org_connection", got.Type)
	assert.Equal(t, want["type"], got.Type)
	assert.Equal(t, attrs["created_at"], got.Attributes.CreatedAt)
	var types []any
	for _, ct := range got.Attributes.ConnectionTypes {
		types = append(types, ct)
	}
	assert.Equal(t, attrs["connection_types"], types)
	assert.Equal(t, relID("source_org"), got.SourceOrgID())
	assert.Equal(t, relID("sink_org"), got.SinkOrgID())
	assert.Equal(t, sourceOrg, got.SourceOrgID())
	assert.Equal(t, relID("created_by"), got.Relationships.CreatedBy.Data.ID)
	assert.Equal(t, "users", got.Relationships.CreatedBy.Data.Type)
}

// assertCreators checks each listed connection's creator against the
// recorded included users, read independently of our types.
func assertCreators(t *testing.T, body string, list []api.Connection) {
	t.Helper()
	var rec struct {
		Included []map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rec))
	users := map[string]map[string]any{}
	for _, it := range rec.Included {
		if it["type"] == "users" {
			users[it["id"].(string)] = it["attributes"].(map[string]any)
		}
	}
	for _, c := range list {
		require.NotNil(t, c.Creator, "connection %s names its creator", c.ID)
		assert.Equal(t, c.Relationships.CreatedBy.Data.ID, c.Creator.ID)
		u, ok := users[c.Creator.ID]
		require.True(t, ok, "the recording includes the creator of %s", c.ID)
		assert.Equal(t, u["handle"], c.Creator.Handle)
		require.NotNil(t, c.Creator.ServiceAccount)
		assert.Equal(t, u["service_account"], *c.Creator.ServiceAccount)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
