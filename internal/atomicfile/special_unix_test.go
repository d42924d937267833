//go:build unix

package atomicfile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/atomicfile"
)

// TestWriteToAFIFOKeepsIt: an output that is not a regular file (a FIFO
// here; /dev/null or /dev/stdout for a user) is written to, never replaced.
// "--report /dev/null" run as root used to rename a regular file over the
// device.
func TestWriteToAFIFOKeepsIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "report.fifo")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	// A reader that does not block: opening the FIFO for writing then
	// succeeds at once, and a FIFO replaced by a file reads as empty.
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)

	require.NoError(t, atomicfile.Write(path, []byte(`{"status": "complete"}`)))
	buf := make([]byte, 1024)
	n, _ := syscall.Read(fd, buf)
	assert.Equal(t, `{"status": "complete"}`, string(buf[:max(n, 0)]), "the reader got the report")
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe, fi.Mode().Type(), "still a FIFO")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}
