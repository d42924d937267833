package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2EReportToSpecialFiles: --report naming a device or a pipe writes
// to it and leaves it what it was. /proc/self/fd/1 (what /dev/stdout
// points at) used to be refused, its directory taking no temporary file;
// and as root, a rename over /dev/null or a FIFO replaced it with a regular
// file.
func TestE2EReportToSpecialFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := writeFile(t, dir, "m.yaml", hubManifest)
	state := filepath.Join(dir, "s.db")

	r := runOrgsync(t, dir, nil, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--report", "/proc/self/fd/1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"format_version": 1`, "the report went to stdout")

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	link := filepath.Join(dir, "report.json")
	require.NoError(t, syscall.Symlink(fifo, link))
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo) // blocks until orgsync opens the FIFO to write
		got <- b
	}()
	r = runOrgsync(t, dir, nil, "apply", "--sandbox", state, "-f", m, "--auto-approve", "--report", link)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, string(<-got), `"status": "complete"`)
	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(link, &st))
	assert.Equal(t, uint32(syscall.S_IFLNK), st.Mode&syscall.S_IFMT, "the link is still a link")
}
