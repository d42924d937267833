package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/orgsync/orgsync/internal/atomicfile"
)

// The state file is a bbolt database: one file, an exclusive lock while it
// is open, and transactions that reach the disk before they return and
// write only the pages they change. Version 1 was one JSON document
// rewritten whole after every batch of writes; it is still read, and
// converted once.
const (
	stateFormat   = 2
	stateFormatV1 = 1

	// DefaultLockTimeout is how long opening a state file waits for another
	// process to let go of it before giving up.
	DefaultLockTimeout = 2 * time.Second
)

var (
	bucketMeta  = []byte("meta")
	bucketConns = []byte("connections") // connection id -> stateConn as JSON
	keyFormat   = []byte("format_version")
)

// ErrStateInUse is the error (wrapped, with the file's name) when another
// process holds the state file.
var ErrStateInUse = errors.New("in use by another orgsync process")

// stateConn is one saved connection. Orgs and keys come from the fixture or
// AddOrg at every start, so no secret is ever saved.
type stateConn struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Sink      string    `json:"sink"`
	Types     []string  `json:"types"`
	CreatedAt time.Time `json:"created_at"`
}

// stateFileV1 is the layout of version 1 state files.
type stateFileV1 struct {
	FormatVersion int         `json:"format_version"`
	Connections   []stateConn `json:"connections"`
}

func corruptState(path, format string, args ...any) error {
	return fmt.Errorf("corrupt sandbox state %s: %s (move it away to start from the fixture)", path, fmt.Sprintf(format, args...))
}

// checkConns applies the API's rules to saved connections, so that a file
// edited by hand cannot make the emulator answer what Datadog never would.
// It lower-cases the ids in place.
func checkConns(path string, conns []stateConn) error {
	ids := map[string]bool{}
	type pair struct{ source, sink string }
	pairs := map[pair]bool{}
	for i, c := range conns {
		c.ID, c.Source, c.Sink = strings.ToLower(c.ID), strings.ToLower(c.Source), strings.ToLower(c.Sink)
		conns[i] = c
		var msg string
		switch {
		case !isUUID(c.ID):
			msg = fmt.Sprintf("id %q is not a UUID", c.ID)
		case !isUUID(c.Source):
			msg = fmt.Sprintf("source %q is not a UUID", c.Source)
		case !isUUID(c.Sink):
			msg = fmt.Sprintf("sink %q is not a UUID", c.Sink)
		case c.Source == c.Sink:
			msg = "source and sink are the same org"
		case typesProblem(c.Types) != "":
			msg = typesProblem(c.Types)
		case c.CreatedAt.IsZero():
			msg = "created_at is missing"
		case ids[c.ID]:
			msg = fmt.Sprintf("id %s is used twice", c.ID)
		case pairs[pair{c.Source, c.Sink}]:
			msg = fmt.Sprintf("connection %s -> %s is saved twice", c.Source, c.Sink)
		}
		if msg != "" {
			return corruptState(path, "connections[%d]: %s", i, msg)
		}
		ids[c.ID] = true
		pairs[pair{c.Source, c.Sink}] = true
	}
	return nil
}

// parseV1 reads a version 1 state file.
func parseV1(path string, b []byte) ([]stateConn, error) {
	var st stateFileV1
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, corruptState(path, "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, corruptState(path, "data after the JSON document")
	}
	if st.FormatVersion != stateFormatV1 {
		return nil, corruptState(path, "format_version is %d, want %d", st.FormatVersion, stateFormatV1)
	}
	if err := checkConns(path, st.Connections); err != nil {
		return nil, err
	}
	return st.Connections, nil
}

// isV1 reports whether path holds a version 1 (JSON) state: its first
// non-blank byte is "{". A bbolt file starts with a binary page header.
func isV1(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open sandbox state: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read sandbox state: %w", err)
	}
	head := bytes.TrimLeft(buf[:n], " \t\r\n")
	return len(head) > 0 && head[0] == '{', nil
}

// openBolt opens (or creates) a bbolt file, waiting at most timeout for
// another process's lock. same is false when path no longer names the file
// that was opened and locked (a conversion renamed another over it).
func openBolt(path, lockName string, timeout time.Duration) (db *bolt.DB, same bool, err error) {
	var file *os.File
	db, err = bolt.Open(path, 0o644, &bolt.Options{
		Timeout:        timeout,
		NoFreelistSync: true, // rebuilt on open: fewer pages per commit
		FreelistType:   bolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, false, fmt.Errorf("state %s is %w", lockName, ErrStateInUse)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, false, corruptState(path, "not a sandbox state file: %v", err)
	case err != nil && errors.As(err, new(*fs.PathError)):
		return nil, false, fmt.Errorf("open sandbox state: %w", err)
	case err != nil: // bbolt's own checks, such as "file size too small"
		return nil, false, corruptState(path, "not a sandbox state file: %v", err)
	}
	return db, sameFile(path, file), nil
}

func sameFile(path string, f *os.File) bool {
	a, err1 := os.Stat(path)
	b, err2 := f.Stat()
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// openState opens the state at path, converting a version 1 file first.
// found is false for a new (empty) store, which the caller seeds from the
// fixture.
func openState(path string, timeout time.Duration, notice func(string)) (*bolt.DB, []stateConn, bool, error) {
	for range 3 {
		v1, err := isV1(path)
		if err != nil {
			return nil, nil, false, err
		}
		if v1 {
			if err := convertV1(path, timeout, notice); err != nil {
				return nil, nil, false, err
			}
			continue
		}
		db, same, err := openBolt(path, path, timeout)
		if err != nil {
			return nil, nil, false, err
		}
		if !same { // converted under us: open the new file
			_ = db.Close()
			continue
		}
		conns, found, err := loadConns(db, path)
		if err != nil {
			_ = db.Close()
			return nil, nil, false, err
		}
		return db, conns, found, nil
	}
	return nil, nil, false, fmt.Errorf("open sandbox state %s: another process keeps replacing it", path)
}

// loadConns reads every saved connection; found is false when the store has
// never been initialised.
func loadConns(db *bolt.DB, path string) (conns []stateConn, found bool, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		found = true
		if v := string(meta.Get(keyFormat)); v != fmt.Sprint(stateFormat) {
			return corruptState(path, "format_version is %q, want %d", v, stateFormat)
		}
		b := tx.Bucket(bucketConns)
		if b == nil {
			return corruptState(path, "no connections bucket")
		}
		return b.ForEach(func(k, v []byte) error {
			var c stateConn
			if err := json.Unmarshal(v, &c); err != nil {
				return corruptState(path, "connection %q: %v", k, err)
			}
			if c.ID != string(k) {
				return corruptState(path, "connection %q is saved under key %q", c.ID, k)
			}
			conns = append(conns, c)
			return nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	if err := checkConns(path, conns); err != nil {
		return nil, false, err
	}
	return conns, found, nil
}

// initStore writes the buckets and conns into a new or half-converted
// store, replacing whatever it held.
func initStore(db *bolt.DB, conns []stateConn) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketConns} {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(fmt.Sprint(stateFormat))); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketConns)
		if err != nil {
			return err
		}
		for _, c := range conns {
			if err := putConn(b, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func putConn(b *bolt.Bucket, c stateConn) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.Put([]byte(c.ID), v)
}

// convertV1 turns a version 1 JSON state into a bbolt file, once. The
// conversion is built in path+".converting", whose lock makes concurrent
// conversions take turns; the one holding it checks that path is still
// JSON, keeps the JSON as path+".v1.bak" and renames the new file over
// path. A crash at any point leaves either the JSON or the new file.
func convertV1(path string, timeout time.Duration, notice func(string)) (err error) {
	tmp := path + ".converting"
	db, same, err := openBolt(tmp, path, timeout)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			if err != nil && same {
				_ = os.Remove(tmp) // still locked by this process: nobody else uses it
			}
			_ = db.Close()
		}
	}()
	v1, err := isV1(path)
	if err != nil {
		return err
	}
	if !v1 { // another process converted it while this one waited
		_ = db.Close()
		closed = true
		if same {
			_ = os.Remove(tmp)
		}
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read sandbox state: %w", err)
	}
	conns, err := parseV1(path, b)
	if err != nil {
		return err
	}
	if err := initStore(db, conns); err != nil {
		return fmt.Errorf("convert sandbox state %s: %w", path, err)
	}
	backup := path + ".v1.bak"
	if err := atomicfile.Write(backup, b); err != nil {
		return fmt.Errorf("convert sandbox state %s: keep the old file: %w", path, err)
	}
	// Renamed while still locked: a process waiting for the lock then
	// finds path converted (POSIX lets an open file be renamed).
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("convert sandbox state %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	closed = true
	if err := db.Close(); err != nil {
		return fmt.Errorf("convert sandbox state %s: %w", path, err)
	}
	if notice != nil {
		notice(fmt.Sprintf("converted the sandbox state %s (%d %s) from version 1 (JSON) to version %d; the old file is kept as %s",
			path, len(conns), plural(len(conns), "connection", "connections"), stateFormat, backup))
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every file system can sync a directory
		_ = d.Close()
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// store commits changed connections to the state file with group commit.
// A write is answered only once a transaction that holds it has reached
// the disk; one goroutine runs the transactions, and the writes that
// arrive while one runs all go into the next. A transaction writes the
// current in-memory value of each changed connection (or deletes it), so
// its cost is that of the change, not of the store, and the order in which
// writers queue does not matter.
type store struct {
	db    *bolt.DB
	read  func(ids []string) []*stateConn // current values; nil = deleted
	reset func(saved map[string]*stateConn)

	beforeCommit func() error // test hook: an error fails the commit

	mu      sync.Mutex
	cond    *sync.Cond
	pending map[string]struct{}
	open    uint64 // the batch that new writes join
	done    uint64 // the last batch that ended
	failed  map[uint64]error
	err     error // the first failure, for close
	closing bool
	commits int // transactions committed, for tests
	// lastBatch is the size of the last transaction, to tell concurrent
	// writers from a lone one.
	lastBatch int
	exited    chan struct{}
}

var errClosed = errors.New("sandbox is closed")

// linger is how long the committer waits for more writes when writers are
// concurrent: about the time a client takes to send its next write.
const linger = time.Millisecond

func newStore(db *bolt.DB, read func([]string) []*stateConn, reset func(map[string]*stateConn)) *store {
	st := &store{db: db, read: read, reset: reset, pending: map[string]struct{}{},
		open: 1, failed: map[uint64]error{}, exited: make(chan struct{})}
	st.cond = sync.NewCond(&st.mu)
	go st.run()
	return st
}

// save blocks until the current value of connection id is on disk.
func (st *store) save(id string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closing {
		return errClosed
	}
	st.pending[id] = struct{}{}
	batch := st.open
	st.cond.Broadcast()
	for st.done < batch {
		st.cond.Wait()
	}
	return st.failed[batch]
}

func (st *store) run() {
	defer close(st.exited)
	for {
		st.mu.Lock()
		for len(st.pending) == 0 && !st.closing {
			st.cond.Wait()
		}
		if len(st.pending) == 0 {
			st.mu.Unlock()
			return
		}
		if st.lastBatch > 1 && !st.closing {
			// Writers are concurrent: the ones answered by the last commit
			// are about to send their next writes. Waiting for them a
			// moment halves the number of commits (and fsyncs); a lone
			// writer never waits.
			st.mu.Unlock()
			time.Sleep(linger)
			st.mu.Lock()
		}
		ids := make([]string, 0, len(st.pending))
		for id := range st.pending {
			ids = append(ids, id)
		}
		clear(st.pending)
		batch := st.open
		st.open++
		st.mu.Unlock()

		st.lastBatch = len(ids)
		err := st.commit(ids)

		st.mu.Lock()
		st.done = batch
		if err != nil {
			err = fmt.Errorf("save sandbox state: %w", err)
			st.failed[batch] = err
			if st.err == nil {
				st.err = err
			}
		} else {
			st.commits++
		}
		st.cond.Broadcast()
		st.mu.Unlock()
	}
}

func (st *store) commit(ids []string) error {
	vals := st.read(ids)
	err := func() error {
		st.mu.Lock()
		broken := st.err
		st.mu.Unlock()
		if broken != nil {
			// After a failed commit nothing more is saved: memory was put
			// back to the disk's state, and a later write acknowledged
			// on top of it could hide that loss.
			return errors.New("an earlier write failed")
		}
		if st.beforeCommit != nil {
			if err := st.beforeCommit(); err != nil {
				return err
			}
		}
		return st.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketConns)
			for i, id := range ids {
				var err error
				if vals[i] == nil {
					err = b.Delete([]byte(id))
				} else {
					err = putConn(b, *vals[i])
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}()
	if err != nil {
		st.rollBack(ids)
	}
	return err
}

// rollBack puts the in-memory connections back to what the disk holds, so
// that a write that was not saved is not visible either.
func (st *store) rollBack(ids []string) {
	saved := map[string]*stateConn{}
	err := st.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConns)
		for _, id := range ids {
			saved[id] = nil
			if v := b.Get([]byte(id)); v != nil {
				var c stateConn
				if err := json.Unmarshal(v, &c); err != nil {
					return err
				}
				saved[id] = &c
			}
		}
		return nil
	})
	if err == nil {
		st.reset(saved)
	}
}

// close commits what is pending, stops the goroutine and closes the file,
// releasing its lock. It returns the first commit error.
func (st *store) close() error {
	st.mu.Lock()
	st.closing = true
	st.cond.Broadcast()
	st.mu.Unlock()
	<-st.exited
	err := st.db.Close()
	st.mu.Lock()
	defer st.mu.Unlock()
	return errors.Join(st.err, err)
}
