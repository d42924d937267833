package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/apply"
)

// runInteractive runs apply in-process as if stdin were a terminal.
func runInteractive(ctx context.Context, stdin io.Reader, stderr io.Writer, args ...string) int {
	return runWith(ctx, args, streams{stdin: stdin, stdout: io.Discard, stderr: stderr,
		getenv: func(string) string { return "" }, interactive: true})
}

// TestApprovalPrompt: "yes" applies, another answer refuses, and Ctrl-C at
// the prompt cancels at once (it used to wait for a line) with a refused
// report.
func TestApprovalPrompt(t *testing.T) {
	t.Parallel()
	t.Run("yes applies", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		report := filepath.Join(dir, "r.json")
		var stderr lockedBuffer
		code := runInteractive(context.Background(), strings.NewReader("yes\n"), &stderr,
			"apply", "--sandbox", filepath.Join(dir, "s.json"), "-f", quickstart, "--report", report)
		require.Equal(t, 0, code, stderr.String())
		assert.Equal(t, apply.StatusComplete, readReport(t, report).Status)
	})
	t.Run("another answer refuses", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		report := filepath.Join(dir, "r.json")
		var stderr lockedBuffer
		code := runInteractive(context.Background(), strings.NewReader("no\n"), &stderr,
			"apply", "--sandbox", filepath.Join(dir, "s.json"), "-f", quickstart, "--report", report)
		require.Equal(t, 1, code, stderr.String())
		rep := readReport(t, report)
		assert.Equal(t, apply.StatusRefused, rep.Status)
		assert.Equal(t, "apply cancelled: the answer was not 'yes'", rep.Reason)
	})
	t.Run("ctrl-c at the prompt", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		report := filepath.Join(dir, "r.json")
		state := filepath.Join(dir, "s.json")
		stdin, typist := io.Pipe()           // a terminal on which nobody types
		t.Cleanup(func() { typist.Close() }) // ends the abandoned read
		var stderr lockedBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- runInteractive(ctx, stdin, &stderr, "apply", "--sandbox", state, "-f", quickstart, "--report", report)
		}()
		waitFor(t, "the prompt", func() bool { return strings.Contains(stderr.String(), "Enter a value:") })
		cancel() // what SIGINT does to the run's context
		select {
		case code := <-done:
			assert.Equal(t, 1, code)
		case <-time.After(10 * time.Second): // a guard against a hang, not a wait
			t.Fatal("apply still waits for an answer after Ctrl-C")
		}
		assert.Contains(t, stderr.String(), "orgsync: error: apply cancelled: interrupted at the approval prompt")
		rep := readReport(t, report)
		assert.Equal(t, apply.StatusRefused, rep.Status)
		assert.Equal(t, "apply cancelled: interrupted at the approval prompt", rep.Reason)
		assert.Equal(t, apply.Summary{Skipped: 3}, rep.Summary)
	})
}

// waitFor polls cond until it holds; the guard only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	guard := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-guard:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(2 * time.Millisecond):
		}
	}
}
