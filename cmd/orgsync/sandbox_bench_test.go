//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkApplySandbox10k is issue 12's target: 10,000 creates (1,000
// source orgs x 10 sinks) through `apply --sandbox FILE --parallelism 32`
// in one orgsync process, timed end to end with its peak RSS; a plan
// afterwards must find no changes. Run it with
//
//	go test -run '^$' -bench ApplySandbox10k -benchtime 3x ./cmd/orgsync/
func BenchmarkApplySandbox10k(b *testing.B) {
	const sources, sinks = 1000, 10
	dir := b.TempDir()
	var m strings.Builder
	m.WriteString("version: 1\ndefaults:\n  connection_types: [logs]\norgs:\n")
	var to []string
	for j := range sinks {
		fmt.Fprintf(&m, "  sink-%02d:\n    id: 00000000-0000-4000-9000-%012x\n", j, j)
		to = append(to, fmt.Sprintf("sink-%02d", j))
	}
	for i := range sources {
		fmt.Fprintf(&m, "  src-%04d:\n    id: 00000000-0000-4000-8000-%012x\n", i, i)
	}
	m.WriteString("connections:\n")
	for i := range sources {
		fmt.Fprintf(&m, "  - from: src-%04d\n    to: [%s]\n", i, strings.Join(to, ", "))
	}
	manifest := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(manifest, []byte(m.String()), 0o644); err != nil {
		b.Fatal(err)
	}

	var wall time.Duration
	var rss int64
	n := 0
	for b.Loop() {
		n++
		state := filepath.Join(dir, fmt.Sprintf("state-%d.db", n))
		start := time.Now()
		o := startOrgsync(b, dir, nil, "apply", "--sandbox", state, "-f", manifest, "--auto-approve",
			"--parallelism", "32", "--report", filepath.Join(dir, "r.json"))
		<-o.done
		wall += time.Since(start)
		if code := o.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(o.stdout.String(), "Apply complete: 10000 created") {
			b.Fatalf("apply: exit %d\n%s%s", code, o.stdout.String(), o.stderr.String())
		}
		if ru, ok := o.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, int64(ru.Maxrss)*1024) // kilobytes on Linux
		}
		b.StopTimer()
		p := startOrgsync(b, dir, nil, "plan", "--sandbox", state, "-f", manifest, "--detailed-exitcode")
		<-p.done
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			b.Fatalf("plan after apply: exit %d (want 0, no changes)\n%s%s", code, p.stdout.String(), p.stderr.String())
		}
		b.StartTimer()
	}
	b.ReportMetric(wall.Seconds()/float64(n), "s/apply")
	b.ReportMetric(float64(rss)/(1<<20), "MB-peak-rss")
}
