package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	readOnlyID = "5b1c7e0a-3f2d-4c8e-9a6b-1d2e3f4a5b6c"
	noPermID   = "6c2d8f1b-4a3e-4d9f-8b7c-2e3f4a5b6c7d"
	keylessID  = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
	otherID    = "7d3e9a2c-5b4f-4e0a-9c8d-3f4a5b6c7d8e"
	zeroID     = "00000000-0000-0000-0000-000000000000"
)

var (
	readOnlyKeys = keys{"api-read-only", "app-read-only"}
	noPermKeys   = keys{"api-no-perm", "app-no-perm"}
	otherKeys    = keys{"api-other", "app-other"}
)

// apiFixture is the recorded pair plus orgs with fewer rights.
func apiFixture(t *testing.T) *Fixture {
	f := recordedFixture(t)
	f.Orgs = append(f.Orgs,
		FixtureOrg{ID: readOnlyID, Name: "Read only", APIKey: readOnlyKeys.api, AppKey: readOnlyKeys.app,
			Permissions: []string{PermissionRead}},
		FixtureOrg{ID: noPermID, Name: "No permission", APIKey: noPermKeys.api, AppKey: noPermKeys.app,
			Permissions: []string{}},
		FixtureOrg{ID: keylessID, Name: "Sink only"},
		FixtureOrg{ID: otherID, Name: "Other", APIKey: otherKeys.api, AppKey: otherKeys.app},
	)
	return f
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newServer(t, apiFixture(t), Options{})
	const (
		unauthorized = `{"errors":["Unauthorized"]}` + "\n"
		forbidden    = `{"errors":["Forbidden"]}` + "\n"
	)
	tests := []struct {
		name     string
		keys     keys
		method   string
		path     string
		body     string
		wantCode int
		wantBody string
	}{
		{"no keys", noKeys, "GET", "/api/v2/org_connections", "", 401, unauthorized},
		{"api key only", keys{srcKeys.api, ""}, "GET", "/api/v2/org_connections", "", 401, unauthorized},
		{"app key only", keys{"", srcKeys.app}, "GET", "/api/v2/org_connections", "", 401, unauthorized},
		{"wrong api key", keys{"nope", srcKeys.app}, "GET", "/api/v2/org_connections", "", 401, unauthorized},
		{"wrong app key", keys{srcKeys.api, "nope"}, "GET", "/api/v2/org_connections", "", 401, unauthorized},
		{"keys of two orgs", keys{srcKeys.api, sinkKeys.app}, "GET", "/api/v2/org_connections", "", 401, unauthorized},
		{"current_user without keys", noKeys, "GET", "/api/v2/current_user", "", 401, unauthorized},
		{"create without keys", noKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"), 401, unauthorized},
		{"read only can list", readOnlyKeys, "GET", "/api/v2/org_connections", "", 200, ""},
		{"read only cannot create", readOnlyKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"), 403, forbidden},
		{"read only cannot update", readOnlyKeys, "PATCH", "/api/v2/org_connections/" + zeroID, updateBody(zeroID, "logs"), 403, forbidden},
		{"read only cannot delete", readOnlyKeys, "DELETE", "/api/v2/org_connections/" + zeroID, "", 403, forbidden},
		{"no permission cannot list", noPermKeys, "GET", "/api/v2/org_connections", "", 403, forbidden},
		{"no permission has a current user", noPermKeys, "GET", "/api/v2/current_user", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := call(s, tt.keys, tt.method, tt.path, tt.body)
			assert.Equal(t, tt.wantCode, w.Code)
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, w.Body.String())
			}
		})
	}
	assert.Empty(t, s.Connections(), "no refused request may write")
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{})
	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
		wantAllow    string
	}{
		{"GET", "/api/v2/nope", 404, `{"errors":["Not found"]}` + "\n", ""},
		{"GET", "/api/v2/org_connections/", 404, `{"errors":["Not found"]}` + "\n", ""},
		{"DELETE", "/api/v2/org_connections/" + zeroID + "/x", 404, `{"errors":["Not found"]}` + "\n", ""},
		{"PUT", "/api/v2/org_connections", 405, `{"errors":["Method Not Allowed"]}` + "\n", "GET, POST"},
		{"GET", "/api/v2/org_connections/" + zeroID, 405, `{"errors":["Method Not Allowed"]}` + "\n", "PATCH, DELETE"},
		{"POST", "/api/v2/current_user", 405, `{"errors":["Method Not Allowed"]}` + "\n", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := call(s, srcKeys, tt.method, tt.path, "")
			assert.Equal(t, tt.wantCode, w.Code)
			assert.Equal(t, tt.wantBody, w.Body.String())
			assert.Equal(t, tt.wantAllow, w.Header().Get("Allow"))
		})
	}
}

func TestCurrentUser(t *testing.T) {
	t.Parallel()
	f := recordedFixture(t)
	f.Orgs[1].User = &FixtureUser{Handle: "orgsync-ci", ServiceAccount: true}
	s := newServer(t, f, Options{})
	w := call(s, srcKeys, "GET", "/api/v2/current_user", "")
	require.Equal(t, http.StatusOK, w.Code)
	want := fmt.Sprintf(`{"data":{"type":"users","id":%q,"attributes":{"name":"orgsync sandbox","handle":"sandbox-4dee724d@orgsync.invalid","created_at":"2020-01-01T00:00:00.000000+00:00","modified_at":"2020-01-01T00:00:00.000000+00:00","email":"sandbox-4dee724d@orgsync.invalid","icon":"https://secure.gravatar.com/avatar/47896f7fdf53c3bcf4a446d7e474161e?s=48&d=retro","title":null,"verified":true,"service_account":false,"disabled":false,"allowed_login_methods":[],"status":"Active"},"relationships":{"org":{"data":{"type":"orgs","id":%q}}}}}`+"\n",
		userID(srcID), srcID)
	assert.Equal(t, want, w.Body.String(), "default: a personal user")
	assert.NotEqual(t, userID(srcID), userID(sinkID), "each org has its own user")

	w = call(s, sinkKeys, "GET", "/api/v2/current_user", "")
	require.Equal(t, http.StatusOK, w.Code)
	var got struct {
		Data struct {
			ID         string
			Attributes struct {
				Handle         string
				ServiceAccount bool `json:"service_account"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, userID(sinkID), got.Data.ID)
	assert.Equal(t, "orgsync-ci", got.Data.Attributes.Handle)
	assert.True(t, got.Data.Attributes.ServiceAccount, "the fixture's user")
}

func TestCreate(t *testing.T) {
	t.Parallel()
	const (
		validation = `{"errors":["Validation failed for input."]}`
		notFound   = `{"errors":["Not found"]}` + "\n"
		notAllowed = `{"errors":["connection between orgs ` + srcID + ` and ` + sinkID + ` is not allowed"]}`
	)
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantBody string
	}{
		{"malformed JSON", `{"data":`, 400, validation},
		{"not an object", `[]`, 400, validation},
		{"missing data", `{}`, 400, validation},
		{"wrong type", strings.Replace(createBody(sinkID, "logs"), `"org_connection"`, `"org_connections"`, 1), 400, validation},
		{"missing types", `{"data":{"attributes":{},"relationships":{"sink_org":{"data":{"id":"` + sinkID + `"}}},"type":"org_connection"}}`, 400, validation},
		{"empty types", createBody(sinkID), 400, validation},
		{"unknown type", createBody(sinkID, "traces"), 400, validation},
		{"types not strings", `{"data":{"attributes":{"connection_types":[1]},"relationships":{"sink_org":{"data":{"id":"` + sinkID + `"}}},"type":"org_connection"}}`, 400, validation},
		{"missing sink", `{"data":{"attributes":{"connection_types":["logs"]},"type":"org_connection"}}`, 400, validation},
		{"sink of wrong type", strings.Replace(createBody(sinkID, "logs"), `"orgs"`, `"users"`, 1), 400, validation},
		{"unknown sink", createBody(zeroID, "logs"), 404, notFound},
		{"sink not a UUID", createBody("nonexistent-org-id", "logs"), 404, notFound},
		{"unknown sink before duplicate types", createBody(zeroID, "logs", "logs"), 404, notFound},
		{"duplicate types", createBody(sinkID, "logs", "logs"), 400, notAllowed},
		{"to itself", createBody(srcID, "logs"), 400, `{"errors":["connection between orgs ` + srcID + ` and ` + srcID + ` is not allowed"]}`},
		{"sink id in upper case", createBody(strings.ToUpper(sinkID), "logs", "audit"), 200, ""},
		{"sink name is ignored", `{"data":{"attributes":{"connection_types":["logs"]},"relationships":{"sink_org":{"data":{"id":"` + sinkID + `","name":"","type":"orgs"}}},"type":"org_connection"}}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, recordedFixture(t), Options{})
			w := call(s, srcKeys, "POST", "/api/v2/org_connections", tt.body)
			assert.Equal(t, tt.wantCode, w.Code)
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, w.Body.String())
			}
			if tt.wantCode == 200 {
				assert.Len(t, s.Connections(), 1)
				assert.Equal(t, int64(1), s.Stats().Writes)
			} else {
				assert.Empty(t, s.Connections())
			}
		})
	}
}

func TestCreateConflict(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{})
	mustCreate(t, s, srcKeys, sinkID, "logs")
	w := call(s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "metrics"))
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, `{"errors":["connection between orgs `+srcID+` and `+sinkID+` already exists"]}`, w.Body.String(),
		"a pair is a duplicate whatever its types")

	// The reverse direction is another connection.
	mustCreate(t, s, sinkKeys, srcID, "logs")
	assert.Len(t, s.Connections(), 2)
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	const validation = `{"errors":["Validation failed for input."]}`
	notFound := func(id string) string {
		return `{"errors":["Org connection with id:` + id + ` not found not found"]}`
	}
	tests := []struct {
		name     string
		keys     keys
		path     func(id string) string
		body     func(id string) string
		wantCode int
		wantBody func(id string) string
	}{
		{"not a uuid", srcKeys,
			func(string) string { return "malformed_id" },
			func(id string) string { return updateBody("malformed_id", "logs") },
			400, func(string) string { return `{"errors":["connection id must be a valid uuid"]}` }},
		{"not a uuid is checked before the body", srcKeys,
			func(string) string { return "malformed_id" },
			func(string) string { return "{" },
			400, func(string) string { return `{"errors":["connection id must be a valid uuid"]}` }},
		{"malformed body", srcKeys, nil, func(string) string { return "{" }, 400, func(string) string { return validation }},
		{"body id differs", srcKeys, nil, func(string) string { return updateBody(zeroID, "logs") }, 400, func(string) string { return validation }},
		{"body without id", srcKeys, nil, func(string) string {
			return `{"data":{"attributes":{"connection_types":["logs"]},"type":"org_connection"}}`
		}, 400, func(string) string { return validation }},
		{"wrong type", srcKeys, nil, func(id string) string {
			return strings.Replace(updateBody(id, "logs"), `"org_connection"`, `"orgs"`, 1)
		}, 400, func(string) string { return validation }},
		{"duplicate types", srcKeys, nil, func(id string) string { return updateBody(id, "logs", "logs") }, 400, func(string) string { return validation }},
		{"unknown type", srcKeys, nil, func(id string) string { return updateBody(id, "logs", "apm") }, 400, func(string) string { return validation }},
		{"empty types", srcKeys, nil, func(id string) string { return updateBody(id) }, 400, func(string) string { return validation }},
		{"unknown id", srcKeys,
			func(string) string { return zeroID },
			func(string) string { return updateBody(zeroID, "logs", "metrics") },
			404, func(string) string { return notFound(zeroID) }},
		{"the sink may not update", sinkKeys, nil, func(id string) string { return updateBody(id, "metrics") }, 404, notFound},
		{"source updates", srcKeys, nil, func(id string) string { return updateBody(id, "metrics", "logs") }, 200, func(id string) string {
			return `{"data":{"type":"org_connection","id":"` + id + `","attributes":{"created_at":"2025-08-26T20:19:38.208326+00:00","connection_types":["metrics","logs"]},"relationships":{"source_org":{"data":{"type":"orgs","id":"` + srcID +
				`"}},"sink_org":{"data":{"type":"orgs","id":"` + sinkID + `"}},"created_by":{"data":{"type":"users","id":"` + userID(srcID) + `"}}}}}` + "\n"
		}},
		{"upper-case id", srcKeys, func(id string) string { return strings.ToUpper(id) },
			func(id string) string { return updateBody(strings.ToUpper(id), "audit") }, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, recordedFixture(t), Options{})
			s.now = fixedClock("2025-08-26T20:19:38.208326789Z")
			id := mustCreate(t, s, srcKeys, sinkID, "logs")
			path := id
			if tt.path != nil {
				path = tt.path(id)
			}
			w := call(s, tt.keys, "PATCH", "/api/v2/org_connections/"+path, tt.body(id))
			assert.Equal(t, tt.wantCode, w.Code)
			if tt.wantBody != nil {
				assert.Equal(t, tt.wantBody(id), w.Body.String())
			}
			got := s.Connections()
			require.Len(t, got, 1)
			if tt.wantCode != 200 {
				assert.Equal(t, []string{"logs"}, got[0].Types, "a refused update changes nothing")
			} else {
				assert.NotEqual(t, []string{"logs"}, got[0].Types)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	notFound := func(id string) string {
		return `{"errors":["org connection with id:` + id + ` not found not found"]}`
	}
	f := apiFixture(t)
	tests := []struct {
		name     string
		keys     keys
		path     func(id string) string
		wantCode int
		wantBody func(id string) string
	}{
		{"not a uuid", srcKeys, func(string) string { return "malformed_id" }, 400,
			func(string) string { return `{"errors":["connection id must be a valid uuid"]}` }},
		{"unknown", srcKeys, func(string) string { return zeroID }, 404, func(string) string { return notFound(zeroID) }},
		{"an org at neither end", otherKeys, func(id string) string { return id }, 404, notFound},
		{"source", srcKeys, func(id string) string { return id }, 200, func(string) string { return "{}\n" }},
		{"sink", sinkKeys, func(id string) string { return id }, 200, func(string) string { return "{}\n" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, f, Options{})
			id := mustCreate(t, s, srcKeys, sinkID, "logs")
			w := call(s, tt.keys, "DELETE", "/api/v2/org_connections/"+tt.path(id), "")
			assert.Equal(t, tt.wantCode, w.Code)
			assert.Equal(t, tt.wantBody(id), w.Body.String())
			if tt.wantCode == 200 {
				assert.Empty(t, s.Connections())
				again := call(s, tt.keys, "DELETE", "/api/v2/org_connections/"+id, "")
				assert.Equal(t, http.StatusNotFound, again.Code, "a second delete is a 404, as recorded")
			} else {
				assert.Len(t, s.Connections(), 1)
			}
		})
	}
}

func TestAddOrg(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, Options{})
	a := FixtureOrg{ID: srcID, Name: "team-a", APIKey: "ka", AppKey: "pa"}
	require.NoError(t, s.AddOrg(a))
	require.NoError(t, s.AddOrg(a), "adding the same org twice is harmless")
	require.NoError(t, s.AddOrg(FixtureOrg{ID: strings.ToUpper(sinkID), Name: "hub"}), "a sink needs no keys")

	err := s.AddOrg(FixtureOrg{ID: readOnlyID, APIKey: "ka", AppKey: "other"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "ka", "errors never quote keys")
	assert.Error(t, s.AddOrg(FixtureOrg{ID: "team-b"}))
	assert.Error(t, s.AddOrg(FixtureOrg{ID: readOnlyID, APIKey: "only-one"}))
	assert.Error(t, s.AddOrg(FixtureOrg{ID: readOnlyID, Permissions: []string{"admin"}}))

	id := mustCreate(t, s, keys{"ka", "pa"}, sinkID, "logs")
	assert.NotEmpty(t, id)

	// Replacing an org replaces its keys.
	require.NoError(t, s.AddOrg(FixtureOrg{ID: srcID, Name: "team-a", APIKey: "ka2", AppKey: "pa2"}))
	assert.Equal(t, http.StatusUnauthorized, call(s, keys{"ka", "pa"}, "GET", "/api/v2/org_connections", "").Code)
	assert.Equal(t, http.StatusOK, call(s, keys{"ka2", "pa2"}, "GET", "/api/v2/org_connections", "").Code)
}

func TestConnectionsAndStats(t *testing.T) {
	t.Parallel()
	s := newServer(t, apiFixture(t), Options{})
	mustCreate(t, s, sinkKeys, srcID, "metrics")
	mustCreate(t, s, srcKeys, sinkID, "logs")
	mustCreate(t, s, srcKeys, keylessID, "audit")
	call(s, noKeys, "GET", "/api/v2/org_connections", "")

	got := s.Connections()
	require.Len(t, got, 3)
	pairs := make([]string, len(got))
	for i, c := range got {
		pairs[i] = c.Source[:4] + ">" + c.Sink[:4]
	}
	assert.Equal(t, []string{"4dee>0f9e", "4dee>8399", "8399>4dee"}, pairs, "sorted by (source, sink)")
	got[0].Types[0] = "changed"
	assert.Equal(t, "audit", s.Connections()[0].Types[0], "Connections returns copies")

	st := s.Stats()
	assert.Equal(t, int64(4), st.Requests)
	assert.Equal(t, map[int]int64{200: 3, 401: 1}, st.ByStatus)
	assert.Equal(t, int64(3), st.Writes)
}
