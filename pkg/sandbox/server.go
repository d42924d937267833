package sandbox

import (
	"cmp"
	crand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Faults makes the sandbox misbehave on purpose, so that retry and
// idempotency code can be tested. Probabilities are in [0, 1]; each request
// draws its fate from a generator seeded with Seed, so a sequential run
// replays exactly.
type Faults struct {
	Fail5xx    float64       // answer 500, 502, 503 or 504 without doing the work
	DropBefore float64       // close the connection without doing anything
	DropAfter  float64       // writes only: commit, then close without answering
	Latency    time.Duration // added to every request
	Seed       int64         // non-zero also makes new connection ids repeatable
}

// Options configures a [Server].
type Options struct {
	// StatePath, when set, keeps the connections in this file (a bbolt
	// database), locked while the Server is open: each write is committed
	// to it before it is answered. A version 1 (JSON) file is converted.
	StatePath string
	// LockTimeout bounds the wait for another process's lock on StatePath
	// (0: DefaultLockTimeout); then New fails with ErrStateInUse.
	LockTimeout time.Duration
	// Notice, when set, gets messages for the user, such as the
	// conversion of an old state file.
	Notice func(msg string)
	Faults Faults
	// Logf, when set, gets one line per request. It never sees a key.
	Logf func(format string, args ...any)
}

// Connection is a connection as the sandbox stores it.
type Connection struct {
	ID        string
	Source    string
	Sink      string
	Types     []string
	CreatedAt time.Time
}

// Stats counts what the sandbox did, for tests and for the summary that
// `sandbox serve` prints on exit.
type Stats struct {
	Requests    int64
	ByStatus    map[int]int64    // answers sent, by status code
	RateLimited map[string]int64 // 429 answers, by org id
	Faults      FaultStats
	Writes      int64 // creates, updates and deletes committed
}

// FaultStats counts the faults injected.
type FaultStats struct {
	Fail5xx    int64
	DropBefore int64
	DropAfter  int64
}

// Server is the emulator. It is safe for concurrent use.
type Server struct {
	now     func() time.Time // tests replace it before the first request
	logf    func(format string, args ...any)
	faults  Faults
	limiter *limiter // nil without a rate limit
	store   *store   // nil without a StatePath

	mu       sync.Mutex
	orgs     map[string]*org
	byAPIKey map[[32]byte]*org
	conns    map[string]*conn
	bySource map[string]map[string]*conn // source -> sink -> connection
	bySink   map[string]map[string]*conn // sink -> source -> connection
	visible  map[string][]*conn          // per org, sorted by (created_at, id); dropped when its connections change
	idRand   *mrand.Rand                 // nil: crypto/rand

	faultMu   sync.Mutex
	faultRand *mrand.Rand

	statsMu sync.Mutex
	stats   Stats

	closeOnce sync.Once
	closeErr  error
}

// org is immutable once built; AddOrg replaces it whole.
type org struct {
	id, name, site string
	parent         string   // "" when no org manages it
	apiKey         [32]byte // SHA-256 of the keys: the raw keys are not kept
	appKey         [32]byte
	hasKeys        bool
	read, write    bool
	manage         bool // org_management
	user           user
}

// conn's types slice is replaced, never modified, so snapshots may share it.
type conn struct {
	id, source, sink string
	types            []string
	createdAt        time.Time
}

// New builds a sandbox from a fixture (nil for an empty one, with orgs added
// later by AddOrg). With opt.StatePath, the state file is opened and locked
// first: one that cannot be created or written, or that another process
// holds, is an error before anything else. When it holds connections, they
// replace the fixture's, so a restarted sandbox continues where it stopped;
// a corrupt file is an error rather than a silent reset.
func New(f *Fixture, opt Options) (*Server, error) {
	if f == nil {
		f = &Fixture{}
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	if err := opt.Faults.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		now:      time.Now,
		logf:     opt.Logf,
		faults:   opt.Faults,
		orgs:     map[string]*org{},
		byAPIKey: map[[32]byte]*org{},
		conns:    map[string]*conn{},
		bySource: map[string]map[string]*conn{},
		bySink:   map[string]map[string]*conn{},
		visible:  map[string][]*conn{},
	}
	if seed := opt.Faults.Seed; seed != 0 {
		s.idRand = mrand.New(mrand.NewPCG(uint64(seed), 0x1d5))
		s.faultRand = mrand.New(mrand.NewPCG(uint64(seed), 0xfa17))
	} else {
		var b [32]byte
		_, _ = crand.Read(b[:])
		s.faultRand = mrand.New(mrand.NewChaCha8(b))
	}
	if rl := f.RateLimit; rl != nil {
		s.limiter = newLimiter(rl.Limit, rl.Period)
	}
	// s is not shared yet, so the *Locked helpers need no lock here.
	for _, o := range f.Orgs {
		if err := s.addOrgLocked(o); err != nil {
			return nil, err // validate already rejected what this could
		}
	}

	var db *bolt.DB
	loaded := false
	if opt.StatePath != "" {
		timeout := cmp.Or(opt.LockTimeout, DefaultLockTimeout)
		var saved []stateConn
		var err error
		db, saved, loaded, err = openState(opt.StatePath, timeout, opt.Notice)
		if err != nil {
			return nil, err
		}
		for _, c := range saved {
			s.insertLocked(&conn{id: c.ID, source: c.Source, sink: c.Sink,
				types: c.Types, createdAt: c.CreatedAt})
		}
	}
	if !loaded {
		// Consecutive microseconds keep the fixture's order in list answers.
		start := time.Now().UTC().Truncate(time.Microsecond)
		for i, fc := range f.Connections {
			s.insertLocked(&conn{
				id:        s.newIDLocked(),
				source:    strings.ToLower(fc.Source),
				sink:      strings.ToLower(fc.Sink),
				types:     slices.Clone(fc.Types),
				createdAt: start.Add(time.Duration(i) * time.Microsecond),
			})
		}
	}
	if db != nil {
		if !loaded {
			// A new store is written at once: its first commit proves that
			// the file can be written, before any request.
			if err := initStore(db, s.stateConnsLocked()); err != nil {
				_ = db.Close()
				return nil, fmt.Errorf("save sandbox state %s: %w", opt.StatePath, err)
			}
		}
		s.store = newStore(db, s.readConns, s.resetConns)
	}
	return s, nil
}

func (f Faults) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"fail-5xx", f.Fail5xx}, {"drop-before", f.DropBefore}, {"drop-after", f.DropAfter}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return fmt.Errorf("%s probability %v is not between 0 and 1", p.name, p.v)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("latency %v is negative", f.Latency)
	}
	return nil
}

// AddOrg adds an org, or replaces the org with the same id (so calling it
// twice with the same org is harmless). The in-process `--sandbox` mode uses
// it to create the orgs that a manifest declares.
func (s *Server) AddOrg(o FixtureOrg) error {
	if ps := orgProblems(o); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = errors.New(p.String())
		}
		return fmt.Errorf("add org %s: %w", o.ID, errors.Join(errs...))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addOrgLocked(o)
}

func (s *Server) addOrgLocked(fo FixtureOrg) error {
	o := &org{
		id:     strings.ToLower(fo.ID),
		name:   fo.Name,
		site:   cmp.Or(canonicalSite(fo.Site), DefaultSite),
		parent: strings.ToLower(fo.Parent),
		read:   fo.Permissions == nil || slices.Contains(fo.Permissions, PermissionRead),
		write:  fo.Permissions == nil || slices.Contains(fo.Permissions, PermissionWrite),
		manage: slices.Contains(fo.Permissions, PermissionManageOrgs),
	}
	o.user = orgUser(o.id, fo.User)
	if fo.APIKey != "" {
		o.hasKeys = true
		o.apiKey = sha256.Sum256([]byte(fo.APIKey))
		o.appKey = sha256.Sum256([]byte(fo.AppKey))
		if other, ok := s.byAPIKey[o.apiKey]; ok && other.id != o.id {
			return fmt.Errorf("add org %s: its api key is already the key of org %s", o.id, other.id)
		}
	}
	if old, ok := s.orgs[o.id]; ok && old.hasKeys {
		delete(s.byAPIKey, old.apiKey)
	}
	s.orgs[o.id] = o
	if o.hasKeys {
		s.byAPIKey[o.apiKey] = o
	}
	return nil
}

// Connections returns a copy of every connection, sorted by (source, sink).
func (s *Server) Connections() []Connection {
	s.mu.Lock()
	out := make([]Connection, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, Connection{ID: c.id, Source: c.source, Sink: c.sink,
			Types: slices.Clone(c.types), CreatedAt: c.createdAt})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Connection) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Sink, b.Sink))
	})
	return out
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats
	st.ByStatus = maps.Clone(s.stats.ByStatus)
	st.RateLimited = maps.Clone(s.stats.RateLimited)
	if st.ByStatus == nil {
		st.ByStatus = map[int]int64{}
	}
	if st.RateLimited == nil {
		st.RateLimited = map[string]int64{}
	}
	return st
}

// Close writes any state not yet on disk and stops the writer goroutine. It
// returns the error of the last write, so that a CLI can exit non-zero when
// the state file could not be saved. Later calls return the same error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.store != nil {
			s.closeErr = s.store.close()
		}
	})
	return s.closeErr
}

func (s *Server) log(format string, args ...any) {
	if s.logf != nil {
		s.logf(format, args...)
	}
}

func (s *Server) count(f func(st *Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	s.statsMu.Unlock()
}

// newIDLocked returns a connection id that is not in use.
func (s *Server) newIDLocked() string {
	for {
		id := newUUID(s.idRand)
		if _, taken := s.conns[id]; !taken {
			return id
		}
	}
}

func (s *Server) insertLocked(c *conn) {
	s.conns[c.id] = c
	index(s.bySource, c.source)[c.sink] = c
	index(s.bySink, c.sink)[c.source] = c
	delete(s.visible, c.source)
	delete(s.visible, c.sink)
}

func index(m map[string]map[string]*conn, k string) map[string]*conn {
	inner := m[k]
	if inner == nil {
		inner = map[string]*conn{}
		m[k] = inner
	}
	return inner
}

func (s *Server) removeLocked(c *conn) {
	delete(s.conns, c.id)
	delete(s.bySource[c.source], c.sink)
	if len(s.bySource[c.source]) == 0 {
		delete(s.bySource, c.source)
	}
	delete(s.bySink[c.sink], c.source)
	if len(s.bySink[c.sink]) == 0 {
		delete(s.bySink, c.sink)
	}
	delete(s.visible, c.source)
	delete(s.visible, c.sink)
}

// visibleLocked returns the connections an org takes part in, as source or
// sink, in list order. The slice is cached until one of them changes, so
// paging through a hub's 10,000 connections sorts them once, not per page.
// Callers must not modify it.
func (s *Server) visibleLocked(orgID string) []*conn {
	if v, ok := s.visible[orgID]; ok {
		return v
	}
	out := make([]*conn, 0, len(s.bySource[orgID])+len(s.bySink[orgID]))
	for _, c := range s.bySource[orgID] {
		out = append(out, c)
	}
	for _, c := range s.bySink[orgID] {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *conn) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), strings.Compare(a.id, b.id))
	})
	s.visible[orgID] = out
	return out
}

// stateConnsLocked returns every connection as the store saves it.
func (s *Server) stateConnsLocked() []stateConn {
	out := make([]stateConn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c.state())
	}
	return out
}

func (c *conn) state() stateConn {
	return stateConn{ID: c.id, Source: c.source, Sink: c.sink, Types: c.types, CreatedAt: c.createdAt}
}

// readConns is what the store commits: the current value of each
// connection, or nil for one that no longer exists.
func (s *Server) readConns(ids []string) []*stateConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stateConn, len(ids))
	for i, id := range ids {
		if c := s.conns[id]; c != nil {
			out[i] = ptr(c.state())
		}
	}
	return out
}

// resetConns puts connections back to their saved values after a failed
// commit.
func (s *Server) resetConns(saved map[string]*stateConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sc := range saved {
		if c := s.conns[id]; c != nil {
			s.removeLocked(c)
		}
		if sc != nil {
			if old := s.bySource[sc.Source][sc.Sink]; old != nil {
				s.removeLocked(old)
			}
			s.insertLocked(&conn{id: sc.ID, source: sc.Source, sink: sc.Sink, types: sc.Types, createdAt: sc.CreatedAt})
		}
	}
}
