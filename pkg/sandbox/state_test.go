package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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
	require.NoError(t, err, "the store is created when the sandbox opens")
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
		{"not a state file", "not json, not bbolt either", "not a sandbox state file"},
		{"a YAML file of a few KB", strings.Repeat("# a manifest named by mistake\n", 200), "not a sandbox state file"},
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
			_, err = os.Stat(path + ".converting")
			assert.True(t, errors.Is(err, fs.ErrNotExist), "a failed conversion leaves nothing behind")
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

// TestGroupCommit holds the first commit until all 32 writers are waiting;
// the 31 that queued behind it must then share one transaction.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		const writers = 32
		f := &Fixture{Orgs: []FixtureOrg{{ID: uuidN(0)}}}
		for i := 1; i <= writers; i++ {
			k := orgKeys(i)
			f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i), APIKey: k.api, AppKey: k.app})
		}
		s, err := New(f, Options{StatePath: filepath.Join(dir, "state.db")})
		require.NoError(t, err)
		defer func() { assert.NoError(t, s.Close()) }()
		hold := make(chan struct{})
		first := true
		s.store.beforeCommit = func() error {
			if first {
				first = false
				<-hold
			}
			return nil
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
		commits := s.store.commits
		s.store.mu.Unlock()
		assert.Equal(t, 2, commits, "the held commit, then one for every write queued behind it")
		assert.Len(t, savedConns(t, s), writers)
	})
}

// savedConns reads what the store has committed, through its own handle
// (the file is locked).
func savedConns(t *testing.T, s *Server) []stateConn {
	t.Helper()
	conns, found, err := loadConns(s.store.db, "state")
	require.NoError(t, err)
	require.True(t, found)
	return conns
}

func TestConcurrentWritesPersist(t *testing.T) {
	t.Parallel()
	const writers = 32
	f := &Fixture{Orgs: []FixtureOrg{{ID: uuidN(0)}}}
	for i := 1; i <= writers; i++ {
		k := orgKeys(i)
		f.Orgs = append(f.Orgs, FixtureOrg{ID: uuidN(i), APIKey: k.api, AppKey: k.app})
	}
	s := newServer(t, f, Options{StatePath: filepath.Join(t.TempDir(), "state.db")})
	var wg sync.WaitGroup
	for i := 1; i <= writers; i++ {
		wg.Go(func() {
			w := call(s, orgKeys(i), "POST", "/api/v2/org_connections", createBody(uuidN(0), "logs"))
			assert.Equal(t, http.StatusOK, w.Code)
			// Acknowledged means committed: the store already holds it.
			conns, _, err := loadConns(s.store.db, "state")
			if assert.NoError(t, err) {
				assert.True(t, containsSource(conns, uuidN(i)), "writer %d not on disk when answered", i)
			}
		})
	}
	wg.Wait()
	s.store.mu.Lock()
	commits := s.store.commits
	s.store.mu.Unlock()
	assert.LessOrEqual(t, commits, writers)
}

func containsSource(conns []stateConn, source string) bool {
	for _, c := range conns {
		if c.Source == source {
			return true
		}
	}
	return false
}

// TestStateWriteFailure: a write that cannot be committed is answered 500
// and undone; nothing is saved after it, and Close reports it.
func TestStateWriteFailure(t *testing.T) {
	t.Parallel()
	var logs []string
	var mu sync.Mutex
	s, err := New(recordedFixture(t), Options{StatePath: filepath.Join(t.TempDir(), "state.db"), Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}})
	require.NoError(t, err)
	s.store.beforeCommit = func() error { return errors.New("disk full") }
	w := call(s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
	assert.Equal(t, http.StatusInternalServerError, w.Code, "a write that is not on disk is not acknowledged")
	assert.Equal(t, `{"errors":["Internal Server Error"]}`+"\n", w.Body.String())
	assert.Empty(t, s.Connections(), "the unsaved create is undone in memory too")

	s.store.beforeCommit = nil
	w = call(s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
	assert.Equal(t, http.StatusInternalServerError, w.Code, "nothing is saved after a failed commit")
	assert.Empty(t, s.Connections())
	err = s.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "save sandbox state: disk full")
	mu.Lock()
	assert.Contains(t, strings.Join(logs, "\n"), "disk full")
	mu.Unlock()
}

// TestStateUnusable: a state that cannot be created or written fails New,
// before any request (issue 12: it used to be a 500 on the first write).
func TestStateUnusable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, path := range map[string]string{
		"missing directory": filepath.Join(dir, "missing", "state.db"),
		"a directory":       dir,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(recordedFixture(t), Options{StatePath: path})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sandbox state")
		})
	}
}

// TestStateLock: a second opener of the same state waits LockTimeout and
// is refused with ErrStateInUse; once the first closes, it gets in and sees
// every write of the first.
func TestStateLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s1, err := New(recordedFixture(t), Options{StatePath: path})
	require.NoError(t, err)
	id := mustCreate(t, s1, srcKeys, sinkID, "logs")

	_, err = New(recordedFixture(t), Options{StatePath: path, LockTimeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, ErrStateInUse)
	assert.EqualError(t, err, "state "+path+" is in use by another orgsync process")

	require.NoError(t, s1.Close())
	s2 := newServer(t, recordedFixture(t), Options{StatePath: path, LockTimeout: 100 * time.Millisecond})
	got := s2.Connections()
	require.Len(t, got, 1)
	assert.Equal(t, id, got[0].ID)
}

// TestStateCostIsTheChange: one write commits the same few pages whether
// the store holds 20 connections or 4,000 (issue 12: every write used to
// rewrite the whole file).
func TestStateCostIsTheChange(t *testing.T) {
	t.Parallel()
	pages := func(n int) int64 {
		s := newServer(t, bigFixture(n), Options{StatePath: filepath.Join(t.TempDir(), "state.db")})
		written := func() int64 { st := s.store.db.Stats(); return st.TxStats.GetWrite() }
		before := written()
		var id string
		for _, c := range s.Connections() {
			if c.Source == uuidN(1) && c.Sink == uuidN(0) {
				id = c.ID
			}
		}
		w := call(s, orgKeys(1), "PATCH", "/api/v2/org_connections/"+id, updateBody(id, "audit"))
		require.Equal(t, http.StatusOK, w.Code)
		return written() - before
	}
	small, big := pages(10), pages(2_000)
	t.Logf("pages written by one update: %d with 20 connections, %d with 4,000", small, big)
	assert.LessOrEqual(t, big, small+2, "a write costs about the same in a big store")
	assert.LessOrEqual(t, big, int64(8))
}

// TestStateV1Conversion: a version 1 JSON state is converted once, with a
// message, and kept as FILE.v1.bak.
func TestStateV1Conversion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	v1 := `{"format_version":1,"connections":[{"id":"` + zeroID + `","source":"` + srcID + `","sink":"` + sinkID + `","types":["logs"],"created_at":"2025-08-26T20:19:35.554634Z"}]}`
	require.NoError(t, os.WriteFile(path, []byte(v1), 0o644))
	var notices []string
	notice := func(msg string) { notices = append(notices, msg) }

	s1 := newServer(t, recordedFixture(t), Options{StatePath: path, Notice: notice})
	require.Len(t, s1.Connections(), 1)
	assert.Equal(t, zeroID, s1.Connections()[0].ID)
	require.Equal(t, []string{"converted the sandbox state " + path + " (1 connection) from version 1 (JSON) to version 2; the old file is kept as " + path + ".v1.bak"}, notices)
	backup, err := os.ReadFile(path + ".v1.bak")
	require.NoError(t, err)
	assert.Equal(t, v1, string(backup))
	mustCreate(t, s1, sinkKeys, srcID, "metrics")
	require.NoError(t, s1.Close())

	s2 := newServer(t, recordedFixture(t), Options{StatePath: path, Notice: notice})
	assert.Len(t, s2.Connections(), 2)
	assert.Len(t, notices, 1, "converted once")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "the store and the backup, no leftover")
}

// TestStateV1ConversionRace: processes that find the same JSON file at
// once convert it once between them, and all end up on one store.
func TestStateV1ConversionRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	v1 := `{"format_version":1,"connections":[]}`
	require.NoError(t, os.WriteFile(path, []byte(v1), 0o644))
	var mu sync.Mutex
	notices := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := New(recordedFixture(t), Options{StatePath: path, Notice: func(string) {
				mu.Lock()
				notices++
				mu.Unlock()
			}})
			if err != nil {
				assert.ErrorIs(t, err, ErrStateInUse)
				return
			}
			assert.NoError(t, s.Close())
		})
	}
	wg.Wait()
	assert.Equal(t, 1, notices)
	s := newServer(t, recordedFixture(t), Options{StatePath: path})
	assert.Empty(t, s.Connections())
}
