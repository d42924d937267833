package sandbox

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bigFixture has orgs+1 orgs: a hub (org 0) that every other org sends to,
// so the hub sees `orgs` connections, and a second ring of connections
// (org i to org i+1) so the store holds twice as many.
func bigFixture(orgs int) *Fixture {
	f := &Fixture{}
	for i := 0; i <= orgs; i++ {
		k := orgKeys(i)
		f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i), Name: fmt.Sprintf("org %d", i), APIKey: k.api, AppKey: k.app})
	}
	for i := 1; i <= orgs; i++ {
		f.Connections = append(f.Connections,
			FixtureConnection{Source: uuidN(i), Sink: uuidN(0), Types: []string{"logs"}},
			FixtureConnection{Source: uuidN(i), Sink: uuidN(i%orgs + 1), Types: []string{"metrics"}})
	}
	return f
}

// BenchmarkList10k pages through the hub's 10,000 connections (10 pages
// of 1,000) in a store of 20,000.
func BenchmarkList10k(b *testing.B) {
	s, err := New(bigFixture(10_000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if n, err := pageAll(s, orgKeys(0)); err != nil || n != 10_000 {
			b.Fatalf("saw %d connections: %v", n, err)
		}
	}
}

// pageAll lists every connection of an org, a page of 1,000 at a time, the
// way a client should: until an empty page.
func pageAll(s *Server, k keys) (int, error) {
	seen := 0
	for offset := 0; ; offset += 1000 {
		r := httptest.NewRequest("GET", fmt.Sprintf("/api/v2/org_connections?limit=1000&offset=%d", offset), nil)
		r.Header.Set("DD-API-KEY", k.api)
		r.Header.Set("DD-APPLICATION-KEY", k.app)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			return seen, fmt.Errorf("status %d", w.Code)
		}
		// Counting items beats decoding them: the benchmark is about the server.
		n := bytes.Count(w.Body.Bytes(), []byte(`{"type":"org_connection",`))
		if n == 0 {
			return seen, nil
		}
		seen += n
	}
}

// BenchmarkListSpoke1000Orgs lists one small org's connections in a store
// of 1,000 orgs and 2,000 connections: the cost must not grow with the store.
func BenchmarkListSpoke1000Orgs(b *testing.B) {
	s, err := New(bigFixture(1000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	k := orgKeys(500)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/api/v2/org_connections", nil)
		r.Header.Set("DD-API-KEY", k.api)
		r.Header.Set("DD-APPLICATION-KEY", k.app)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// TestBigStore runs the benchmark's scenario once, so that it stays
// correct in normal test runs.
func TestBigStore(t *testing.T) {
	t.Parallel()
	s := newServer(t, bigFixture(10_000), Options{})
	n, err := pageAll(s, orgKeys(0))
	require.NoError(t, err)
	assert.Equal(t, 10_000, n)
	n, err = pageAll(s, orgKeys(42))
	require.NoError(t, err)
	assert.Equal(t, 3, n, "org 42 sends to the hub and to 43, and receives from 41")
}
