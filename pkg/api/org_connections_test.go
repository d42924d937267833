package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

const connID = "0105233a-4d7b-4c52-b364-cc968d003de0"

func TestCreateConnection(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testHeaders(t, r)
		testQuery(t, r, url.Values{})
		testBody(t, r, `{"data":{"attributes":{"connection_types":["logs","metrics"]},"relationships":{"sink_org":{"data":{"id":"`+sinkOrg+`","type":"orgs"}}},"type":"org_connection"}}`)
		writeJSON(w, http.StatusOK, connJSON(connID, "logs", "metrics"))
	})
	var ci api.CallInfo
	got, err := c.CreateConnection(api.WithCallInfo(t.Context(), &ci), sinkOrg, []string{"logs", "metrics"})
	require.NoError(t, err)
	assert.Equal(t, connID, got.ID)
	assert.Equal(t, "org_connection", got.Type)
	assert.Equal(t, []string{"logs", "metrics"}, got.Attributes.ConnectionTypes)
	assert.Equal(t, sourceOrg, got.SourceOrgID())
	assert.Equal(t, sinkOrg, got.SinkOrgID())
	assert.Equal(t, api.CallInfo{Attempts: 1, StatusCode: 200}, ci)
}

func TestCreateConnectionBodyIsByteExact(t *testing.T) {
	t.Parallel()
	// The Go client's recorded body, byte for byte (keys sorted, no name).
	want := `{"data":{"attributes":{"connection_types":["logs"]},"relationships":{"sink_org":{"data":{"id":"` + sinkOrg + `","type":"orgs"}}},"type":"org_connection"}}`
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, want, readAll(r))
		writeJSON(w, http.StatusOK, connJSON(connID))
	})
	_, err := c.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
	require.NoError(t, err)
}

func TestUpdateConnection(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections/"+connID, func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPatch)
		testHeaders(t, r)
		testBody(t, r, `{"data":{"attributes":{"connection_types":["logs","metrics"]},"id":"`+connID+`","type":"org_connection"}}`)
		// The PATCH answer carries no names.
		writeJSON(w, http.StatusOK, `{"data":{"type":"org_connection","id":"`+connID+`","attributes":{"created_at":"2025-08-26T20:19:38.208326+00:00","connection_types":["logs","metrics"]},"relationships":{"source_org":{"data":{"type":"orgs","id":"`+sourceOrg+`"}},"sink_org":{"data":{"type":"orgs","id":"`+sinkOrg+`"}},"created_by":{"data":{"type":"users","id":"03e6bc43-7ecc-11f0-b50b-f28f2be41840"}}}}}`)
	})
	got, err := c.UpdateConnection(t.Context(), connID, []string{"logs", "metrics"})
	require.NoError(t, err)
	assert.Equal(t, connID, got.ID)
	assert.Equal(t, sinkOrg, got.SinkOrgID())
	assert.Empty(t, got.Relationships.SinkOrg.Data.Name)
}

func TestDeleteConnection(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections/"+connID, func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodDelete)
		testHeaders(t, r)
		testBody(t, r, "")
		writeJSON(w, http.StatusOK, "{}\n")
	})
	require.NoError(t, c.DeleteConnection(t.Context(), connID))
}

func TestConnectionIDIsEscaped(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections/", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/v2/org_connections/a%2Fb%3Fc", r.URL.EscapedPath())
		writeJSON(w, http.StatusBadRequest, `{"errors":["connection id must be a valid uuid"]}`)
	})
	err := c.DeleteConnection(t.Context(), "a/b?c")
	var apiErr *api.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/api/v2/org_connections/a%2Fb%3Fc", apiErr.URL)
}

func TestEmptyArguments(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	})
	_, err := c.CreateConnection(t.Context(), "", []string{"logs"})
	assert.ErrorContains(t, err, "empty sink org id")
	_, err = c.UpdateConnection(t.Context(), "", []string{"logs"})
	assert.ErrorContains(t, err, "empty connection id")
	assert.ErrorContains(t, c.DeleteConnection(t.Context(), ""), "empty connection id")
}

func TestNilTypesEncodeAsEmptyList(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections/"+connID, func(w http.ResponseWriter, r *http.Request) {
		testBody(t, r, `{"data":{"attributes":{"connection_types":[]},"id":"`+connID+`","type":"org_connection"}}`)
		writeJSON(w, http.StatusBadRequest, `{"errors":["Validation failed for input."]}`)
	})
	_, err := c.UpdateConnection(t.Context(), connID, nil)
	assert.ErrorContains(t, err, "400 Bad Request: Validation failed for input.")
}

func TestWriteAnswerWithoutConnection(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"data":null}`)
	})
	_, err := c.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
	var derr *api.DecodeError
	require.ErrorAs(t, err, &derr)
	assert.ErrorContains(t, err, "no connection id")
}

func TestCurrentUser(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	const userID = "03e6bc43-7ecc-11f0-b50b-f28f2be41840"
	orgRel := `"relationships":{"roles":{"data":[]},"org":{"data":{"type":"orgs","id":"` + sourceOrg + `"}}}`
	tests := []struct {
		name    string
		body    string
		want    api.Me
		wantErr string
	}{
		{
			name: "personal user",
			body: `{"data":{"type":"users","id":"` + userID + `","attributes":{"name":"Amy","handle":"amy@example.com","service_account":false},` +
				orgRel + `},"included":[]}`,
			want: api.Me{User: api.User{ID: userID, Handle: "amy@example.com", ServiceAccount: &no}, OrgID: sourceOrg},
		},
		{
			name: "service account",
			body: `{"data":{"type":"users","id":"` + userID + `","attributes":{"handle":"ci-bot","service_account":true},` + orgRel + `}}`,
			want: api.Me{User: api.User{ID: userID, Handle: "ci-bot", ServiceAccount: &yes}, OrgID: sourceOrg},
		},
		{
			name: "no attributes: unknown, not personal",
			body: `{"data":{"type":"users","id":"` + userID + `",` + orgRel + `}}`,
			want: api.Me{User: api.User{ID: userID}, OrgID: sourceOrg},
		},
		{name: "no org", body: `{"data":{"type":"users","id":"x","relationships":{}}}`, wantErr: "no data.relationships.org.data.id"},
		{name: "not json", body: `<html>`, wantErr: "cannot decode 200 answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t)
			mux.HandleFunc("/api/v2/current_user", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, http.MethodGet)
				testHeaders(t, r)
				testQuery(t, r, url.Values{})
				writeJSON(w, http.StatusOK, tt.body)
			})
			got, err := c.CurrentUser(t.Context())
			orgID, orgErr := c.CurrentOrg(t.Context())
			if tt.wantErr != "" {
				var derr *api.DecodeError
				require.ErrorAs(t, err, &derr)
				assert.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, orgErr, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, orgErr)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want.OrgID, orgID)
		})
	}
}

// TestListCreators decodes each connection's created_by and the included
// users, and tolerates every part being absent or odd.
func TestListCreators(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	conn := func(id, createdBy string) string {
		rels := `"source_org":{"data":{"type":"orgs","id":"` + sourceOrg + `"}},"sink_org":{"data":{"type":"orgs","id":"` + sinkOrg + `"}}`
		if createdBy != "" {
			rels += `,"created_by":{"data":{"type":"users","id":"` + createdBy + `"}}`
		}
		return `{"type":"org_connection","id":"` + id + `","attributes":{"connection_types":["logs"]},"relationships":{` + rels + `}}`
	}
	body := `{"data":[` + conn("c1", "u-person") + `,` + conn("c2", "u-bot") + `,` + conn("c3", "") + `,` + conn("c4", "u-unknown") + `,` + conn("c5", "u-odd") + `],` +
		`"included":[{"type":"orgs","id":"` + sourceOrg + `","attributes":{"name":"Src","handle":"not-a-user"}},` +
		`{"type":"users","id":"u-person","attributes":{"name":"frog","handle":"frog@example.com","service_account":false}},` +
		`{"type":"users","id":"u-bot","attributes":{"handle":"bot","service_account":true}},` +
		`{"type":"users","id":"u-odd","attributes":"surprise"},` +
		`"not even an object"],` +
		`"meta":{"page":{"total_count":5,"total_filtered_count":5}}}`
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, body) })
	got, err := c.ListConnections(t.Context(), api.ListOptions{})
	require.NoError(t, err)
	require.Len(t, got, 5)
	creators := map[string]*api.User{}
	for _, lc := range got {
		creators[lc.ID] = lc.Creator
	}
	assert.Equal(t, &api.User{ID: "u-person", Handle: "frog@example.com", ServiceAccount: &no}, creators["c1"])
	assert.Equal(t, &api.User{ID: "u-bot", Handle: "bot", ServiceAccount: &yes}, creators["c2"])
	assert.Nil(t, creators["c3"], "no created_by: no creator")
	assert.Equal(t, &api.User{ID: "u-unknown"}, creators["c4"], "a creator not among the included users is known by id only")
	assert.Equal(t, &api.User{ID: "u-odd"}, creators["c5"], "an odd included item costs only its details")
}

// pagedServer serves n connections with limit/offset as the API does.
type pagedServer struct {
	t     *testing.T
	n     int
	calls *atomic.Int32
	// meta returns the meta JSON for a page, "" for none.
	meta func(offset, count int) string
	// page overrides which items a page holds.
	page func(offset, limit int) (first, count int)
	// wantQuery are the filter params every request must carry.
	wantQuery url.Values
}

func (s *pagedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	testMethod(s.t, r, http.MethodGet)
	testHeaders(s.t, r)
	q := r.URL.Query()
	for k, v := range s.wantQuery {
		assert.Equal(s.t, v, q[k], "query %s", k)
	}
	limit, err1 := strconv.Atoi(q.Get("limit"))
	offset, err2 := strconv.Atoi(q.Get("offset"))
	if !assert.NoError(s.t, err1) || !assert.NoError(s.t, err2) {
		http.Error(w, "bad paging", http.StatusBadRequest)
		return
	}
	first, count := offset, max(0, min(limit, s.n-offset))
	if s.page != nil {
		first, count = s.page(offset, limit)
	}
	items := make([]string, count)
	for i := range items {
		items[i] = strings.TrimSuffix(strings.TrimPrefix(connJSON(fmt.Sprintf("00000000-0000-0000-0000-%012d", first+i)), `{"data":`), "}")
	}
	body := `{"data":[` + strings.Join(items, ",") + `]`
	if s.meta != nil {
		if m := s.meta(offset, count); m != "" {
			body += `,"meta":` + m
		}
	} else {
		body += fmt.Sprintf(`,"meta":{"page":{"total_count":%d,"total_filtered_count":%d}}`, s.n+3, s.n)
	}
	writeJSON(w, http.StatusOK, body+`,"included":[{"type":"orgs","id":"x","attributes":{"name":"n"}}]}`)
}

func TestListConnections(t *testing.T) {
	t.Parallel()
	fullPagesForever := func(offset, limit int) (int, int) { return offset, limit }
	tests := []struct {
		name      string
		opt       api.ListOptions
		srv       pagedServer
		wantN     int
		wantCalls int32
		wantErr   string
	}{
		{name: "empty", srv: pagedServer{n: 0}, wantN: 0, wantCalls: 1},
		{name: "one page", srv: pagedServer{n: 3}, wantN: 3, wantCalls: 1},
		{name: "default page size", srv: pagedServer{n: 1001, wantQuery: url.Values{"limit": {"1000"}}}, wantN: 1001, wantCalls: 2},
		{name: "several pages", opt: api.ListOptions{PageSize: 2}, srv: pagedServer{n: 5}, wantN: 5, wantCalls: 3},
		{name: "exact multiple stops on total", opt: api.ListOptions{PageSize: 2}, srv: pagedServer{n: 6}, wantN: 6, wantCalls: 3},
		{
			name:  "filters",
			opt:   api.ListOptions{SinkOrgID: sinkOrg, SourceOrgID: sourceOrg, PageSize: 2},
			srv:   pagedServer{n: 3, wantQuery: url.Values{"sink_org_id": {sinkOrg}, "source_org_id": {sourceOrg}, "limit": {"2"}}},
			wantN: 3, wantCalls: 2,
		},
		{
			name:  "server caps the page size",
			opt:   api.ListOptions{PageSize: 10},
			srv:   pagedServer{n: 7, page: func(offset, _ int) (int, int) { return offset, min(3, 7-offset) }},
			wantN: 7, wantCalls: 3,
		},
		{
			name: "total larger than the data: stops at an empty page",
			opt:  api.ListOptions{PageSize: 2},
			srv: pagedServer{n: 3, meta: func(int, int) string {
				return `{"page":{"total_count":100,"total_filtered_count":100}}`
			}},
			wantN: 3, wantCalls: 3,
		},
		{
			name: "total smaller than the data: trusts the total",
			opt:  api.ListOptions{PageSize: 2},
			srv: pagedServer{n: 10, meta: func(int, int) string {
				return `{"page":{"total_filtered_count":3}}`
			}},
			wantN: 4, wantCalls: 2,
		},
		{
			name: "only total_count",
			opt:  api.ListOptions{PageSize: 2},
			srv: pagedServer{n: 4, meta: func(int, int) string {
				return `{"page":{"total_count":4}}`
			}},
			wantN: 4, wantCalls: 2,
		},
		{
			name: "total that grows with every page",
			opt:  api.ListOptions{PageSize: 2},
			srv: pagedServer{n: 1 << 30, page: fullPagesForever, meta: func(offset, _ int) string {
				return fmt.Sprintf(`{"page":{"total_filtered_count":%d}}`, offset+10)
			}},
			wantErr: "still claims more", wantCalls: 7,
		},
		{
			name: "full pages forever with a huge total",
			opt:  api.ListOptions{PageSize: 500},
			srv: pagedServer{n: 1 << 30, page: fullPagesForever, meta: func(int, int) string {
				return `{"page":{"total_filtered_count":1500}}`
			}},
			wantN: 1500, wantCalls: 3,
		},
		{
			name:      "same page forever (offset ignored)",
			opt:       api.ListOptions{PageSize: 2},
			srv:       pagedServer{n: 100, page: func(int, int) (int, int) { return 0, 2 }},
			wantErr:   "repeats items",
			wantCalls: 2,
		},
		{
			name:  "missing meta, short page",
			opt:   api.ListOptions{PageSize: 5},
			srv:   pagedServer{n: 3, meta: func(int, int) string { return "" }},
			wantN: 3, wantCalls: 1,
		},
		{
			name:      "missing meta, full page",
			opt:       api.ListOptions{PageSize: 2},
			srv:       pagedServer{n: 3, meta: func(int, int) string { return "" }},
			wantErr:   "no meta.page totals",
			wantCalls: 1,
		},
		{
			name:      "meta without page",
			opt:       api.ListOptions{PageSize: 2},
			srv:       pagedServer{n: 3, meta: func(int, int) string { return `{}` }},
			wantErr:   "no meta.page totals",
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t)
			srv := tt.srv
			srv.t, srv.calls = t, new(atomic.Int32)
			mux.Handle("/api/v2/org_connections", &srv)
			got, err := c.ListConnections(t.Context(), tt.opt)
			assert.Equal(t, tt.wantCalls, srv.calls.Load(), "requests")
			if tt.wantErr != "" {
				require.ErrorIs(t, err, api.ErrPagination)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, tt.wantN)
			for i, conn := range got {
				assert.Equal(t, fmt.Sprintf("00000000-0000-0000-0000-%012d", i), conn.ID)
				assert.Equal(t, sourceOrg, conn.SourceOrgID())
			}
		})
	}
}

func TestListConnectionsOffsets(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	var offsets []string
	srv := &pagedServer{t: t, n: 5, calls: new(atomic.Int32)}
	mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
		offsets = append(offsets, r.URL.Query().Get("offset"))
		srv.ServeHTTP(w, r)
	})
	_, err := c.ListConnections(context.Background(), api.ListOptions{PageSize: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "2", "4"}, offsets)
}

func TestListConnectionsError(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	srv := &pagedServer{t: t, n: 5, calls: new(atomic.Int32)}
	mux.HandleFunc("/api/v2/org_connections", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "2" {
			writeJSON(w, http.StatusForbidden, `{"errors":["Forbidden"]}`)
			return
		}
		srv.ServeHTTP(w, r)
	})
	got, err := c.ListConnections(t.Context(), api.ListOptions{PageSize: 2})
	assert.Nil(t, got, "no partial list")
	assert.True(t, api.IsForbidden(err))
	assert.EqualError(t, err, "GET /api/v2/org_connections?limit=2&offset=2: 403 Forbidden: Forbidden; the keys lack the org_connections_read permission")
}

func readAll(r *http.Request) string {
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestForbiddenNamesThePermission checks that a 403 on each endpoint says
// which permission the keys lack, as the spec's x-permission names it, and
// that other statuses and endpoints say nothing of permissions.
func TestForbiddenNamesThePermission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		call   func(c *api.Client) error
		want   string
	}{
		{"list", 403, func(c *api.Client) error { _, err := c.ListConnections(t.Context(), api.ListOptions{}); return err },
			"GET /api/v2/org_connections?limit=1000&offset=0: 403 Forbidden: Forbidden; the keys lack the org_connections_read permission"},
		{"create", 403, func(c *api.Client) error {
			_, err := c.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
			return err
		},
			"POST /api/v2/org_connections: 403 Forbidden: Forbidden; the keys lack the org_connections_write permission"},
		{"update", 403, func(c *api.Client) error {
			_, err := c.UpdateConnection(t.Context(), connID, []string{"logs"})
			return err
		},
			"PATCH /api/v2/org_connections/" + connID + ": 403 Forbidden: Forbidden; the keys lack the org_connections_write permission"},
		{"delete", 403, func(c *api.Client) error { return c.DeleteConnection(t.Context(), connID) },
			"DELETE /api/v2/org_connections/" + connID + ": 403 Forbidden: Forbidden; the keys lack the org_connections_write permission"},
		{"current user", 403, func(c *api.Client) error { _, err := c.CurrentOrg(t.Context()); return err },
			"GET /api/v2/current_user: 403 Forbidden: Forbidden"},
		{"401 on create", 401, func(c *api.Client) error {
			_, err := c.CreateConnection(t.Context(), sinkOrg, []string{"logs"})
			return err
		},
			"POST /api/v2/org_connections: 401 Unauthorized: Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t)
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tt.status, `{"errors":["Forbidden"]}`) })
			assert.EqualError(t, tt.call(c), tt.want)
		})
	}
}
