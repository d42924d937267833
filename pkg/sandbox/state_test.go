package sandbox

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatePersists(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	f := apiFixture(t)
	f.Connections = []FixtureConnection{
		{Source: srcID, Sink: sinkID, Types: []string{"logs"}},
		{Source: sinkID, Sink: srcID, Types: []string{"metrics"}},
	}

	s1, err := New(f, Options{StatePath: path})
	require.NoError(t, err)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written before the first write")
	before := s1.Connections()
	require.Len(t, before, 2)
	mustCreate(t, s1, srcKeys, keylessID, "audit")
	w := call(s1, srcKeys, "PATCH", "/api/v2/org_connections/"+before[0].ID, updateBody(before[0].ID, "logs", "metrics"))
	require.Equal(t, http.StatusOK, w.Code)
	w = call(s1, srcKeys, "DELETE", "/api/v2/org_connections/"+before[1].ID, "")
	require.Equal(t, http.StatusOK, w.Code)
	want := s1.Connections()
	require.NoError(t, s1.Close())
	require.NoError(t, s1.Close(), "Close is idempotent")

	saved, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, k := range []keys{srcKeys, sinkKeys, otherKeys} {
		assert.NotContains(t, string(saved), k.api, "keys are never saved")
		assert.NotContains(t, string(saved), k.app, "keys are never saved")
	}

	// The saved connections replace the fixture's: the deleted one stays
	// deleted although the fixture still declares it.
	s2 := newServer(t, f, Options{StatePath: path})
	got := s2.Connections()
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].ID, got[i].ID)
		assert.Equal(t, want[i].Types, got[i].Types)
		assert.True(t, want[i].CreatedAt.Equal(got[i].CreatedAt))
	}
	w = call(s2, srcKeys, "POST", "/api/v2/org_connections", createBody(keylessID, "logs"))
	assert.Equal(t, http.StatusConflict, w.Code, "the indexes are rebuilt from the file")

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temp file is left behind")
}

// TestStateOrgsAddedLater is the in-process mode: no fixture, orgs from the
// manifest, connections from the state file.
func TestStateOrgsAddedLater(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	a := FixtureOrg{ID: srcID, Name: "team-a", APIKey: "a", AppKey: "a"}
	hub := FixtureOrg{ID: sinkID, Name: "hub"}

	s1 := newServer(t, nil, Options{StatePath: path})
	require.NoError(t, s1.AddOrg(a))
	require.NoError(t, s1.AddOrg(hub))
	id := mustCreate(t, s1, keys{"a", "a"}, sinkID, "logs")
	require.NoError(t, s1.Close())

	s2 := newServer(t, nil, Options{StatePath: path})
	require.Len(t, s2.Connections(), 1, "kept while its orgs are not declared yet")
	require.NoError(t, s2.AddOrg(a))
	w := call(s2, keys{"a", "a"}, "GET", "/api/v2/org_connections", "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), id)
	assert.Contains(t, w.Body.String(), `"id":"`+sinkID+`","name":""`, "an undeclared org has no name")
}

func TestCorruptState(t *testing.T) {
	t.Parallel()
	good := `{"id":"` + zeroID + `","source":"` + srcID + `","sink":"` + sinkID + `","types":["logs"],"created_at":"2025-08-26T20:19:35.554634Z"}`
	state := func(conns ...string) string {
		return `{"format_version":1,"connections":[` + strings.Join(conns, ",") + `]}`
	}
	tests := []struct {
		name, content, wantErr string
	}{
		{"empty", "", "EOF"},
		{"not JSON", "not json", "invalid character"},
		{"truncated", state(good)[:40], "unexpected EOF"},
		{"trailing data", state(good) + "{}", "data after the JSON document"},
		{"unknown field", `{"format_version":1,"orgs":[]}`, `unknown field "orgs"`},
		{"wrong version", `{"format_version":2,"connections":[]}`, "format_version is 2, want 1"},
		{"bad id", state(strings.Replace(good, zeroID, "x", 1)), `connections[0]: id "x" is not a UUID`},
		{"bad types", state(strings.Replace(good, `["logs"]`, `["logs","logs"]`, 1)), `connections[0]: connection type "logs" is listed twice`},
		{"no types", state(strings.Replace(good, `["logs"]`, `[]`, 1)), "at least one connection type"},
		{"no created_at", state(strings.Replace(good, `"2025-08-26T20:19:35.554634Z"`, `"0001-01-01T00:00:00Z"`, 1)), "created_at is missing"},
		{"self connection", state(strings.Replace(good, sinkID, srcID, 1)), "source and sink are the same org"},
		{"duplicate id", state(good, strings.Replace(good, sinkID, keylessID, 1)), "id " + zeroID + " is used twice"},
		{"duplicate pair", state(good, strings.Replace(good, zeroID, otherID, 1)), "is saved twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			_, err := New(recordedFixture(t), Options{StatePath: path})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "corrupt sandbox state "+path)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "state.json")
		require.NoError(t, os.WriteFile(path, []byte(state(good)), 0o600))
		s := newServer(t, recordedFixture(t), Options{StatePath: path})
		assert.Len(t, s.Connections(), 1)
	})
}

// TestGroupCommit holds the first state write until all 32 writers are
// waiting; they must then all be acknowledged by one file write.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		const writers = 32
		f := &Fixture{Orgs: []FixtureOrg{{ID: uuidN(0)}}}
		for i := 1; i <= writers; i++ {
			k := orgKeys(i)
			f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i), APIKey: k.api, AppKey: k.app})
		}
		path := filepath.Join(dir, "state.json")
		s, err := New(f, Options{StatePath: path})
		require.NoError(t, err)
		defer func() { assert.NoError(t, s.Close()) }()
		hold := make(chan struct{})
		first := true
		s.store.beforeFlush = func() {
			if first {
				first = false
				<-hold
			}
		}

		codes := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				codes[i] = call(s, orgKeys(i+1), "POST", "/api/v2/org_connections", createBody(uuidN(0), "logs")).Code
			})
		}
		synctest.Wait() // every writer is now waiting for the disk
		for _, c := range codes {
			require.Zero(t, c, "no write is answered before it is on disk")
		}
		close(hold)
		wg.Wait()

		for i, c := range codes {
			assert.Equal(t, http.StatusOK, c, "writer %d", i)
		}
		s.store.mu.Lock()
		writes := s.store.writes
		s.store.mu.Unlock()
		assert.Equal(t, 1, writes, "one snapshot covers every queued write")
		conns, found, err := loadState(path)
		require.NoError(t, err)
		require.True(t, found)
		assert.Len(t, conns, writers)
	})
}

func TestConcurrentWritesPersist(t *testing.T) {
	t.Parallel()
	const writers = 32
	f := &Fixture{Orgs: []FixtureOrg{{ID: uuidN(0)}}}
	for i := 1; i <= writers; i++ {
		k := orgKeys(i)
		f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i), APIKey: k.api, AppKey: k.app})
	}
	path := filepath.Join(t.TempDir(), "state.json")
	s := newServer(t, f, Options{StatePath: path})
	var wg sync.WaitGroup
	for i := 1; i <= writers; i++ {
		wg.Go(func() {
			w := call(s, orgKeys(i), "POST", "/api/v2/org_connections", createBody(uuidN(0), "logs"))
			assert.Equal(t, http.StatusOK, w.Code)
			// Acknowledged means on disk: the file already holds it.
			conns, _, err := loadState(path)
			if assert.NoError(t, err) {
				assert.True(t, containsSource(conns, uuidN(i)), "writer %d not on disk when answered", i)
			}
		})
	}
	wg.Wait()
	s.store.mu.Lock()
	writes := s.store.writes
	s.store.mu.Unlock()
	assert.LessOrEqual(t, writes, writers)
}

func containsSource(conns []stateConn, source string) bool {
	for _, c := range conns {
		if c.Source == source {
			return true
		}
	}
	return false
}

func TestStateWriteFailure(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing-dir", "state.json")
	var logs []string
	var mu sync.Mutex
	s, err := New(recordedFixture(t), Options{StatePath: path, Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, format)
	}})
	require.NoError(t, err)
	w := call(s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
	assert.Equal(t, http.StatusInternalServerError, w.Code, "a write that is not on disk is not acknowledged")
	assert.Equal(t, `{"errors":["Internal Server Error"]}`+"\n", w.Body.String())
	err = s.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "save sandbox state")
	mu.Lock()
	assert.NotEmpty(t, logs)
	mu.Unlock()
}
