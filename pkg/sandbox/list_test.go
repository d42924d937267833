package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listAnswer is the part of a list answer the tests look at.
type listAnswer struct {
	Data []struct {
		ID            string
		Relationships struct {
			SourceOrg struct{ Data struct{ ID, Name string } } `json:"source_org"`
			SinkOrg   struct{ Data struct{ ID, Name string } } `json:"sink_org"`
		}
	}
	Included []struct{ Type, ID string }
	Meta     struct {
		Page struct {
			TotalCount         int `json:"total_count"`
			TotalFilteredCount int `json:"total_filtered_count"`
		}
	}
}

// pair names a connection by the numbers of its orgs, "3>0" for org 3 to
// the hub (org 0).
func (a listAnswer) pairs() []string {
	out := []string{}
	for _, d := range a.Data {
		out = append(out, orgNum(d.Relationships.SourceOrg.Data.ID)+">"+orgNum(d.Relationships.SinkOrg.Data.ID))
	}
	return out
}

func orgNum(id string) string {
	var n int
	_, _ = fmt.Sscanf(id[24:], "%d", &n)
	return fmt.Sprint(n)
}

func orgKeys(n int) keys { return keys{fmt.Sprintf("api-%d", n), fmt.Sprintf("app-%d", n)} }

// hubFixture: org 0 is a hub; orgs 1..20 send to it, it sends to 1..5, and
// 1 also sends to 2. Orgs 21 and 22 exist with no connection.
func hubFixture() *Fixture {
	f := &Fixture{}
	for i := 0; i <= 22; i++ {
		k := orgKeys(i)
		f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i), Name: fmt.Sprintf("org %d", i), APIKey: k.api, AppKey: k.app})
	}
	for i := 1; i <= 20; i++ {
		f.Connections = append(f.Connections, FixtureConnection{Source: uuidN(i), Sink: uuidN(0), Types: []string{"logs"}})
	}
	for i := 1; i <= 5; i++ {
		f.Connections = append(f.Connections, FixtureConnection{Source: uuidN(0), Sink: uuidN(i), Types: []string{"metrics"}})
	}
	f.Connections = append(f.Connections, FixtureConnection{Source: uuidN(1), Sink: uuidN(2), Types: []string{"audit"}})
	return f
}

func pairRange(from, to int, format string) []string {
	out := []string{}
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	s := newServer(t, hubFixture(), Options{})
	all := append(pairRange(1, 20, "%d>0"), pairRange(1, 5, "0>%d")...)
	tests := []struct {
		name          string
		caller        int
		query         string
		wantPairs     []string
		wantTotal     int
		wantFiltered  int
		wantIncluded  []string // type/org-number pairs
		skipIncluded  bool
		wantIncludeNo bool
	}{
		{name: "everything, in creation order", query: "", wantPairs: all, wantTotal: 25, wantFiltered: 25, skipIncluded: true},
		{name: "first page", query: "?limit=2", wantPairs: []string{"1>0", "2>0"}, wantTotal: 25, wantFiltered: 25,
			wantIncluded: []string{"orgs/1", "orgs/0", "orgs/2", "users/1", "users/2"}},
		{name: "middle page", query: "?limit=10&offset=10", wantPairs: pairRange(11, 20, "%d>0"), wantTotal: 25, wantFiltered: 25, skipIncluded: true},
		{name: "last partial page", query: "?limit=10&offset=20", wantPairs: pairRange(1, 5, "0>%d"), wantTotal: 25, wantFiltered: 25,
			wantIncluded: []string{"orgs/0", "orgs/1", "orgs/2", "orgs/3", "orgs/4", "orgs/5", "users/0"}},
		{name: "offset at the end", query: "?offset=25", wantPairs: []string{}, wantTotal: 25, wantFiltered: 25, wantIncludeNo: true},
		{name: "offset past the end", query: "?offset=1000&limit=1", wantPairs: []string{}, wantTotal: 25, wantFiltered: 25, wantIncludeNo: true},
		{name: "large limit is capped, not refused", query: "?limit=5000", wantPairs: all, wantTotal: 25, wantFiltered: 25, skipIncluded: true},
		{name: "by sink", query: "?sink_org_id=" + uuidN(0), wantPairs: pairRange(1, 20, "%d>0"), wantTotal: 25, wantFiltered: 20, skipIncluded: true},
		{name: "by source", query: "?source_org_id=" + uuidN(0), wantPairs: pairRange(1, 5, "0>%d"), wantTotal: 25, wantFiltered: 5, skipIncluded: true},
		{name: "by sink, paged", query: "?sink_org_id=" + uuidN(0) + "&limit=3&offset=18", wantPairs: []string{"19>0", "20>0"}, wantTotal: 25, wantFiltered: 20, skipIncluded: true},
		{name: "by both", query: "?source_org_id=" + uuidN(0) + "&sink_org_id=" + uuidN(3), wantPairs: []string{"0>3"}, wantTotal: 25, wantFiltered: 1, skipIncluded: true},
		{name: "empty filter is no filter", query: "?sink_org_id=", wantPairs: all, wantTotal: 25, wantFiltered: 25, skipIncluded: true},
		{name: "filter on a pair the caller is not in", query: "?source_org_id=" + uuidN(1) + "&sink_org_id=" + uuidN(2), wantPairs: []string{}, wantTotal: 25, wantFiltered: 0, wantIncludeNo: true},
		{name: "filter that is not a UUID", query: "?sink_org_id=nope", wantPairs: []string{}, wantTotal: 25, wantFiltered: 0, wantIncludeNo: true},
		{name: "a spoke sees what it sends and receives", caller: 1, wantPairs: []string{"1>0", "0>1", "1>2"}, wantTotal: 3, wantFiltered: 3,
			wantIncluded: []string{"orgs/1", "orgs/0", "orgs/2", "users/1", "users/0"}},
		{name: "a sink sees what it receives", caller: 2, query: "?source_org_id=" + uuidN(1), wantPairs: []string{"1>2"}, wantTotal: 3, wantFiltered: 1, skipIncluded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := call(s, orgKeys(tt.caller), "GET", "/api/v2/org_connections"+tt.query, "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var got listAnswer
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, tt.wantPairs, got.pairs())
			assert.Equal(t, tt.wantTotal, got.Meta.Page.TotalCount)
			assert.Equal(t, tt.wantFiltered, got.Meta.Page.TotalFilteredCount)
			if tt.wantIncludeNo {
				assert.NotContains(t, w.Body.String(), `"included"`)
			}
			if !tt.skipIncluded && !tt.wantIncludeNo {
				var inc []string
				for _, e := range got.Included {
					num := orgNum(e.ID)
					if e.Type == "users" {
						num = userNum(e.ID)
					}
					inc = append(inc, e.Type+"/"+num)
				}
				assert.Equal(t, tt.wantIncluded, inc)
			}
		})
	}
}

// userNum maps a synthetic user id back to its org number in hubFixture.
func userNum(id string) string {
	for i := 0; i <= 22; i++ {
		if userID(uuidN(i)) == id {
			return fmt.Sprint(i)
		}
	}
	return "?"
}

func TestListEmpty(t *testing.T) {
	t.Parallel()
	s := newServer(t, hubFixture(), Options{})
	w := call(s, orgKeys(21), "GET", "/api/v2/org_connections", "")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `{"data":[],"meta":{"page":{"total_count":0,"total_filtered_count":0}}}`+"\n", w.Body.String())
}

func TestListBadParameters(t *testing.T) {
	t.Parallel()
	s := newServer(t, hubFixture(), Options{})
	for _, q := range []string{"limit=abc", "limit=-1", "limit=0", "limit=1.5", "offset=-1", "offset=x"} {
		t.Run(q, func(t *testing.T) {
			w := call(s, orgKeys(0), "GET", "/api/v2/org_connections?"+q, "")
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.Equal(t, `{"errors":["Validation failed for input."]}`, w.Body.String())
		})
	}
}

func TestListCapsThePage(t *testing.T) {
	t.Parallel()
	f := &Fixture{Orgs: []FixtureOrg{{ID: uuidN(0), APIKey: "hub", AppKey: "hub"}}}
	for i := 1; i <= maxLimit+1; i++ {
		f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i)})
		f.Connections = append(f.Connections, FixtureConnection{Source: uuidN(0), Sink: uuidN(i), Types: []string{"logs"}})
	}
	s := newServer(t, f, Options{})
	for _, q := range []string{"", "?limit=5000"} {
		var got listAnswer
		w := call(s, keys{"hub", "hub"}, "GET", "/api/v2/org_connections"+q, "")
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		assert.Len(t, got.Data, maxLimit, q)
		assert.Equal(t, maxLimit+1, got.Meta.Page.TotalFilteredCount, q)
	}
}

// TestListFollowsWrites checks the per-org cache is dropped on every write.
func TestListFollowsWrites(t *testing.T) {
	t.Parallel()
	s := newServer(t, hubFixture(), Options{})
	count := func(org int) int {
		var got listAnswer
		w := call(s, orgKeys(org), "GET", "/api/v2/org_connections", "")
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		return got.Meta.Page.TotalCount
	}
	require.Equal(t, 25, count(0))
	require.Equal(t, 0, count(21))
	mustCreate(t, s, orgKeys(21), uuidN(0), "logs")
	assert.Equal(t, 26, count(0))
	assert.Equal(t, 1, count(21))

	var got listAnswer
	w := call(s, orgKeys(0), "GET", "/api/v2/org_connections?sink_org_id="+uuidN(0)+"&source_org_id="+uuidN(21), "")
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Len(t, got.Data, 1)
	w = call(s, orgKeys(0), "DELETE", "/api/v2/org_connections/"+got.Data[0].ID, "")
	require.Equal(t, http.StatusOK, w.Code, "the sink may delete")
	assert.Equal(t, 25, count(0))
	assert.Equal(t, 0, count(21))
}
