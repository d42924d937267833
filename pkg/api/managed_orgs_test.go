package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

const (
	parentOrg  = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
	childOrg   = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	child2Org  = "9a0e0c6e-1d2b-11ef-9f3c-da7ad0900002"
	foreignOrg = "0f0f0f0f-0000-4000-8000-000000000000"
)

// managedOrgsJSON is an answer in the shape of the official Go client's
// ManagedOrgsResponse (no recording of this endpoint exists). The child's
// public id is the short one recorded for it, which must never be used.
const managedOrgsJSON = `{"data":{"id":"` + parentOrg + `","type":"managed_orgs","relationships":{` +
	`"current_org":{"data":{"id":"` + parentOrg + `","type":"orgs"}},` +
	`"managed_orgs":{"data":[{"id":"` + childOrg + `","type":"orgs"},{"id":"` + child2Org + `","type":"orgs"}]}}},` +
	`"included":[` +
	`{"id":"` + parentOrg + `","type":"orgs","attributes":{"name":"Parent","public_id":"abcdef0123456789","created_at":"2025-08-20T10:00:00+00:00","modified_at":"2025-08-20T10:00:00+00:00","description":"","disabled":false,"sharing":"none","url":"https://app.datadoghq.com"}},` +
	`{"id":"` + childOrg + `","type":"orgs","attributes":{"name":"Team A","public_id":"fasjyydbcgwwc2uc","created_at":"2019-11-06T14:46:40+00:00","modified_at":"2025-01-01T00:00:00+00:00","description":"payments","disabled":false,"sharing":"none","url":"https://app.datadoghq.com"}},` +
	`{"id":"` + child2Org + `","type":"orgs","attributes":{"name":"Team (B)","public_id":"` + child2Org + `","created_at":"2024-05-30T08:00:00.123456+00:00","modified_at":"2024-05-30T08:00:00+00:00","description":"","disabled":true,"sharing":"none","url":"https://app.datadoghq.com"}}]}`

func TestListManagedOrgs(t *testing.T) {
	t.Parallel()
	type org struct{ id, name string }
	tests := []struct {
		name        string
		filter      string
		wantQuery   url.Values
		body        string
		wantCurrent org
		wantManaged []org
	}{
		{
			name:        "official client shape",
			body:        managedOrgsJSON,
			wantQuery:   url.Values{},
			wantCurrent: org{parentOrg, "Parent"},
			wantManaged: []org{{childOrg, "Team A"}, {child2Org, "Team (B)"}},
		},
		{
			name:        "name filter",
			filter:      "Team A&b=c",
			wantQuery:   url.Values{"filter[name]": {"Team A&b=c"}},
			body:        managedOrgsJSON,
			wantCurrent: org{parentOrg, "Parent"},
			wantManaged: []org{{childOrg, "Team A"}, {child2Org, "Team (B)"}},
		},
		{
			name: "current org missing from included",
			body: `{"data":{"id":"` + parentOrg + `","type":"managed_orgs","relationships":{"current_org":{"data":{"id":"` + parentOrg + `","type":"orgs"}},"managed_orgs":{"data":[{"id":"` + childOrg + `","type":"orgs"}]}}},` +
				`"included":[{"id":"` + childOrg + `","type":"orgs","attributes":{"name":"Team A"}}]}`,
			wantQuery:   url.Values{},
			wantCurrent: org{parentOrg, ""},
			wantManaged: []org{{childOrg, "Team A"}},
		},
		{
			name:        "no included, no current_org relationship",
			body:        `{"data":{"id":"` + parentOrg + `","type":"managed_orgs","relationships":{"managed_orgs":{"data":[{"id":"` + childOrg + `","type":"orgs"}]}}}}`,
			wantQuery:   url.Values{},
			wantCurrent: org{parentOrg, ""},
			wantManaged: []org{{childOrg, ""}},
		},
		{
			name:        "no managed orgs",
			body:        `{"data":{"id":"` + parentOrg + `","type":"managed_orgs","relationships":{"current_org":{"data":{"id":"` + parentOrg + `","type":"orgs"}},"managed_orgs":{"data":[]}}},"included":[]}`,
			wantQuery:   url.Values{},
			wantCurrent: org{parentOrg, ""},
		},
		{
			name: "included org of no relationship, current and duplicate in managed, other types",
			body: `{"data":{"id":"` + parentOrg + `","type":"managed_orgs","relationships":{"current_org":{"data":{"id":"` + parentOrg + `","type":"orgs"}},` +
				`"managed_orgs":{"data":[{"id":"` + parentOrg + `","type":"orgs"},{"id":"` + childOrg + `","type":"orgs"},{"id":"` + childOrg + `","type":"orgs"}]}}},` +
				`"included":[{"id":"` + foreignOrg + `","type":"orgs","attributes":{"name":"Elsewhere"}},{"id":"` + childOrg + `","type":"users","attributes":{"name":"A user"}},{"id":"` + childOrg + `","type":"orgs","attributes":{"name":"Team A"}}]}`,
			wantQuery:   url.Values{},
			wantCurrent: org{parentOrg, ""},
			wantManaged: []org{{childOrg, "Team A"}},
		},
		{
			name:        "ids in upper case resolve case-insensitively and keep their case",
			body:        `{"data":{"id":"` + parentOrg + `","type":"managed_orgs","relationships":{"managed_orgs":{"data":[{"id":"4DEE724D-00CC-11EA-A77B-570C9D03C6C5","type":"orgs"}]}}},"included":[{"id":"` + childOrg + `","type":"orgs","attributes":{"name":"Team A"}}]}`,
			wantQuery:   url.Values{},
			wantCurrent: org{parentOrg, ""},
			wantManaged: []org{{"4DEE724D-00CC-11EA-A77B-570C9D03C6C5", "Team A"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t)
			mux.HandleFunc("/api/v2/org", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, http.MethodGet)
				testHeaders(t, r)
				testQuery(t, r, tt.wantQuery)
				testBody(t, r, "")
				writeJSON(w, http.StatusOK, tt.body)
			})
			resp, err := c.ListManagedOrgs(t.Context(), tt.filter)
			require.NoError(t, err)
			current, managed := resp.Orgs()
			assert.Equal(t, tt.wantCurrent, org{current.ID, current.Attributes.Name}, "current org")
			var got []org
			for _, m := range managed {
				got = append(got, org{m.ID, m.Attributes.Name})
			}
			assert.Equal(t, tt.wantManaged, got, "managed orgs")
		})
	}
}

func TestListManagedOrgsKeepsAttributes(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t)
	mux.HandleFunc("/api/v2/org", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, managedOrgsJSON)
	})
	resp, err := c.ListManagedOrgs(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, "managed_orgs", resp.Data.Type)
	_, managed := resp.Orgs()
	require.Len(t, managed, 2)
	// The id is the UUID; the public id is kept apart and is not a UUID.
	assert.Equal(t, childOrg, managed[0].ID)
	assert.Equal(t, "fasjyydbcgwwc2uc", managed[0].Attributes.PublicID)
	assert.Equal(t, "2019-11-06T14:46:40+00:00", managed[0].Attributes.CreatedAt)
	assert.Equal(t, "payments", managed[0].Attributes.Description)
	assert.True(t, managed[1].Attributes.Disabled)
}

func TestListManagedOrgsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		check   func(error) bool
		wantMsg string
	}{
		{"forbidden", http.StatusForbidden, `{"errors":["Forbidden"]}`, api.IsForbidden, "GET /api/v2/org: 403 Forbidden: Forbidden"},
		{"unauthorized", http.StatusUnauthorized, `{"errors":["Unauthorized"]}`, api.IsUnauthorized, "401 Unauthorized"},
		{"no current org", http.StatusOK, `{"data":{"type":"managed_orgs","relationships":{}},"included":[]}`, isDecodeError, "names no current org"},
		{"managed org without id", http.StatusOK, `{"data":{"id":"` + parentOrg + `","relationships":{"managed_orgs":{"data":[{"type":"orgs"}]}}}}`, isDecodeError, "managed org 0 has no id"},
		{"not JSON", http.StatusOK, `<html>proxy</html>`, isDecodeError, "cannot decode 200 answer"},
		{"wrong shape", http.StatusOK, `{"data":[]}`, isDecodeError, "cannot decode 200 answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := newTestClient(t)
			mux.HandleFunc("/api/v2/org", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			})
			_, err := c.ListManagedOrgs(t.Context(), "")
			require.Error(t, err)
			assert.True(t, tt.check(err), "%T %v", err, err)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), testAPIKey)
			assert.NotContains(t, err.Error(), testAppKey)
		})
	}
}

func isDecodeError(err error) bool {
	var de *api.DecodeError
	return errors.As(err, &de)
}
