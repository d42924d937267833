package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// closedWriter is a stdout whose reader went away.
type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestClosedStdoutExitCodes backs the README's sentence on a closed stdout:
// apply keeps its exit code (the changes and the report go on), while a
// command whose output is what stdout carries (plan, export) fails, since
// that output was lost.
func TestClosedStdoutExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     func(dir string) []string
		code     int
		inStderr string
	}{
		{name: "apply", args: func(dir string) []string {
			return []string{"apply", "--auto-approve", "--report", filepath.Join(dir, "r.json")}
		}, code: 0, inStderr: "orgsync: warning: cannot write to stdout"},
		{name: "plan", args: func(string) []string { return []string{"plan", "--detailed-exitcode"} }, code: 1, inStderr: "orgsync: error: broken pipe"},
		{name: "export", args: func(string) []string { return []string{"export"} }, code: 1, inStderr: "orgsync: error: broken pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append(tt.args(dir), "--sandbox", filepath.Join(dir, "sandbox.db"), "-f", quickstart)
			var stderr bytes.Buffer
			code := runWith(context.Background(), args, streams{
				stdin: strings.NewReader(""), stdout: closedWriter{}, stderr: &stderr,
				getenv: func(string) string { return "" },
			})
			assert.Equal(t, tt.code, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.inStderr)
		})
	}
}
