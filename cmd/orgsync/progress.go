package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/orgsync/orgsync/pkg/apply"
)

// progress reports how far an apply is on stderr: a live line redrawn in
// place on a terminal, a plain line every few seconds otherwise (CI logs).
type progress struct {
	w        io.Writer
	tty      bool
	total    int
	counters *apply.Counters
	start    time.Time

	mu       sync.Mutex
	finished int
	failed   int
	quit     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newProgress(w io.Writer, total int, counters *apply.Counters) *progress {
	p := &progress{w: w, tty: isTerminal(w), total: total, counters: counters, start: time.Now(), quit: make(chan struct{})}
	if total == 0 {
		return p
	}
	interval := 5 * time.Second
	if p.tty {
		interval = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

// done counts a finished change (noop ones are not part of the total).
func (p *progress) done(r apply.Result) {
	if r.Outcome == apply.Unchanged || r.Action == apply.ActionVerify {
		return
	}
	p.mu.Lock()
	p.finished++
	if r.Outcome == apply.Failed {
		p.failed++
	}
	p.mu.Unlock()
}

func (p *progress) line() string {
	p.mu.Lock()
	done, failed := p.finished, p.failed
	p.mu.Unlock()
	elapsed := time.Since(p.start)
	rate := float64(done) / elapsed.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("orgsync: %d/%d changes done, %d failed, %.1f/s, %d throttled, ETA %s",
		done, p.total, failed, rate, p.counters.Throttled.Load(), eta)
}

func (p *progress) print() {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", p.line())
		return
	}
	fmt.Fprintln(p.w, p.line())
}

// stop ends the reports; on a terminal it clears the live line.
func (p *progress) stop() {
	p.stopOnce.Do(func() {
		close(p.quit)
		p.wg.Wait()
		if p.tty && p.total > 0 {
			fmt.Fprint(p.w, "\r\x1b[K")
		}
	})
}
