package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orgsync/orgsync/pkg/apply"
)

// lockedBuffer is a bytes.Buffer safe for the progress goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressLinesWithoutATerminal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		counters := &apply.Counters{}
		p := newProgress(&out, 10, counters)
		for range 4 {
			p.done(apply.Result{Outcome: apply.Created})
		}
		p.done(apply.Result{Outcome: apply.Failed})
		p.done(apply.Result{Outcome: apply.Unchanged}) // not part of the total
		counters.Throttled.Add(2)
		time.Sleep(5*time.Second + time.Millisecond)
		synctest.Wait()
		assert.Equal(t, "orgsync: 5/10 changes done, 1 failed, 1.0/s, 2 throttled, ETA 5s\n", out.String())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		assert.Equal(t, 2, strings.Count(out.String(), "\n"), "a line every 5 s")
		p.stop()
		p.stop() // idempotent
		time.Sleep(time.Minute)
		assert.Equal(t, 2, strings.Count(out.String(), "\n"), "nothing after stop")
	})
}

func TestProgressSilentWithNothingToDo(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		p := newProgress(&out, 0, &apply.Counters{})
		time.Sleep(time.Minute)
		p.stop()
		assert.Empty(t, out.String())
	})
}
