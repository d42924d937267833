package sandbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orgsync/orgsync/internal/atomicfile"
)

// stateFormat is the version of the state file layout.
const stateFormat = 1

// stateFile is what StatePath holds: connections only. Orgs and keys come
// from the fixture or AddOrg at every start, so no secret is ever saved.
type stateFile struct {
	FormatVersion int         `json:"format_version"`
	Connections   []stateConn `json:"connections"`
}

type stateConn struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Sink      string    `json:"sink"`
	Types     []string  `json:"types"`
	CreatedAt time.Time `json:"created_at"`
}

// loadState reads a state file; found is false when there is none yet. A
// file that cannot be trusted is an error: silently starting empty would
// make the next `orgsync plan` propose to recreate everything.
func loadState(path string) (conns []stateConn, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read sandbox state: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("corrupt sandbox state %s: %s (move it away to start from the fixture)", path, fmt.Sprintf(format, args...))
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, false, corrupt("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false, corrupt("data after the JSON document")
	}
	if st.FormatVersion != stateFormat {
		return nil, false, corrupt("format_version is %d, want %d", st.FormatVersion, stateFormat)
	}
	ids := map[string]bool{}
	type pair struct{ source, sink string }
	pairs := map[pair]bool{}
	for i, c := range st.Connections {
		c.ID, c.Source, c.Sink = strings.ToLower(c.ID), strings.ToLower(c.Source), strings.ToLower(c.Sink)
		st.Connections[i] = c
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
			return nil, false, corrupt("connections[%d]: %s", i, msg)
		}
		ids[c.ID] = true
		pairs[pair{c.Source, c.Sink}] = true
	}
	return st.Connections, true, nil
}

// writeState replaces path atomically (see atomicfile.Write), so a crash
// never leaves half a state file.
func writeState(path string, conns []stateConn) error {
	slices.SortFunc(conns, func(a, b stateConn) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Sink, b.Sink))
	})
	b, err := json.MarshalIndent(stateFile{FormatVersion: stateFormat, Connections: conns}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	return nil
}

// committer persists the state with group commit. A write is answered only
// once a snapshot that contains it is on disk, but a single goroutine takes
// the snapshots: writes that arrive while a file is being written all wait
// for the next one, so 32 concurrent creates cost about two fsyncs, not 32.
type committer struct {
	path        string
	snapshot    func(after uint64) (uint64, []stateConn, bool)
	beforeFlush func() // test hook

	kick chan struct{} // capacity 1: "there is something to write"
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	flushed uint64 // highest version a flush has ended for
	err     error  // the result of that flush
	closed  bool
	writes  int // files written, for tests
}

var errClosed = errors.New("sandbox is closed")

func newCommitter(path string, snapshot func(uint64) (uint64, []stateConn, bool)) *committer {
	c := &committer{path: path, snapshot: snapshot,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *committer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
			c.flush()
		case <-c.stop:
			c.flush()
			c.mu.Lock()
			c.closed = true
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
	}
}

// wait blocks until version v is on disk, or its flush failed.
func (c *committer) wait(v uint64) error {
	select {
	case c.kick <- struct{}{}:
	default: // a flush is already due; it will include v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushed < v {
		if c.closed {
			return errClosed
		}
		c.cond.Wait()
	}
	return c.err
}

func (c *committer) flush() {
	if c.beforeFlush != nil {
		c.beforeFlush()
	}
	c.mu.Lock()
	after := c.flushed
	if c.err != nil {
		after = 0 // retry a failed write even if nothing changed since
	}
	c.mu.Unlock()
	v, conns, changed := c.snapshot(after)
	if !changed {
		return
	}
	err := writeState(c.path, conns) // reported by wait and close, not logged here
	c.mu.Lock()
	c.flushed, c.err = v, err
	if err == nil {
		c.writes++
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// close writes what is pending and stops the goroutine.
func (c *committer) close() error {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
