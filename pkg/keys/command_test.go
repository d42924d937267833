//go:build unix

package keys_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/keys"
)

// syncBuffer is a bytes.Buffer safe for the relay's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// printKeys is a command printing the test keys of the org it is run for.
var printKeys = fmt.Sprintf(`printf '{"api_key": "%s-%%s", "app_key": "%s-%%s"}\n' "$ORGSYNC_ORG_LABEL" "$ORGSYNC_ORG_ID"`, apiKey, appKey)

func testEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

func TestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cmd        string
		timeout    time.Duration
		want       keys.Pair
		wantErr    string
		wantStderr string
	}{
		{name: "prints keys, with the org in its env", cmd: printKeys,
			want: keys.Pair{API: apiKey + "-team-a", App: appKey + "-" + teamA.ID}},
		{name: "site in its env, stderr relayed", cmd: `echo "fetching for $ORGSYNC_ORG_SITE" >&2; echo second line >&2; ` + printKeys,
			want:       keys.Pair{API: apiKey + "-team-a", App: appKey + "-" + teamA.ID},
			wantStderr: "orgsync: keys command (team-a): fetching for datadoghq.eu\norgsync: keys command (team-a): second line\n"},
		{name: "exits non-zero after printing real keys", cmd: printKeys + "; echo 'vault: token expired' >&2; exit 3",
			wantErr:    "keys command: exit status 3; its output is not used",
			wantStderr: "orgsync: keys command (team-a): vault: token expired\n"},
		{name: "repeats the keys on stderr", cmd: printKeys + " | tee /dev/stderr",
			want:       keys.Pair{API: apiKey + "-team-a", App: appKey + "-" + teamA.ID},
			wantStderr: `orgsync: keys command (team-a): {"api_key": "[redacted]", "app_key": "[redacted]"}` + "\n"},
		{name: "prints junk", cmd: "echo " + apiKey + " " + appKey,
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed 76 bytes that are not a JSON object`},
		{name: "prints broken JSON, and its key on stderr", cmd: `echo "debug: ` + apiKey + `" >&2; printf '{"api_key": "` + apiKey + `", "app_key": '`,
			wantErr:    `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed 59 bytes that are not a JSON object`,
			wantStderr: "orgsync: keys command (team-a): debug: [redacted]\n"},
		{name: "prints junk, and it on stderr", cmd: "echo " + apiKey + " " + appKey + " | tee /dev/stderr",
			wantErr:    `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed 76 bytes that are not a JSON object`,
			wantStderr: "orgsync: keys command (team-a): [redacted] [redacted]\n"},
		{name: "prints nothing", cmd: "true",
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed nothing`},
		{name: "no stdin", cmd: "cat",
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed nothing`},
		{name: "one key missing", cmd: `echo '{"api_key": "` + apiKey + `"}'`,
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it has no app_key`},
		{name: "a key is a number", cmd: `echo '{"api_key": "` + apiKey + `", "app_key": 12345678}'`,
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: app_key is not a string`},
		{name: "key with a trailing newline", cmd: `printf '%s' '{"api_key": "` + apiKey + `\n", "app_key": "` + appKey + `"}'`,
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: api_key ends with whitespace (a trailing newline in a stored secret?); remove it`},
		{name: "two objects", cmd: printKeys + "; " + printKeys,
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed more after the JSON object`},
		{name: "other fields", cmd: `echo '{"api_key": "` + apiKey + `", "app_key": "` + appKey + `", "expires": 1}'`,
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it has fields other than api_key and app_key`},
		{name: "too much output", cmd: "head -c 70000 /dev/zero",
			wantErr: `keys command: exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: it printed more than 64 KiB`},
		{name: "killed by a signal", cmd: printKeys + "; kill -9 $$",
			wantErr: "keys command: signal: killed; its output is not used"},
		{name: "hangs, with a child that hangs too", cmd: printKeys + "; echo waiting >&2; sleep 60 & sleep 60", timeout: 200 * time.Millisecond,
			wantErr:    "keys command: timed out after 200ms and was killed (with the processes it started)",
			wantStderr: "orgsync: keys command (team-a): waiting\n"},
		{name: "control characters on stderr", cmd: `printf 'a\033[2Jb\n' >&2; ` + printKeys,
			want:       keys.Pair{API: apiKey + "-team-a", App: appKey + "-" + teamA.ID},
			wantStderr: "orgsync: keys command (team-a): a?[2Jb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr syncBuffer
			src := keys.NewCommand(tt.cmd, keys.CommandOptions{Env: testEnv(), Stderr: &stderr, Timeout: tt.timeout})
			start := time.Now()
			p, err := src.Keys(t.Context(), teamA)
			assert.Less(t, time.Since(start), 20*time.Second, "a hung command is killed")
			assert.Equal(t, tt.wantStderr, stderr.String())
			assert.NotContains(t, stderr.String(), marker)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, p)
				return
			}
			assertNoKey(t, err)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

// TestCommandRunsAtBoundedConcurrency runs the command for more orgs than
// it may run at once, each run logging its start and end to a file, and
// checks that no more than the bound ever overlapped.
func TestCommandRunsAtBoundedConcurrency(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		concurrency, orgs, want int
	}{{2, 6, 2}, {0, 12, keys.DefaultCommandConcurrency}} {
		t.Run(fmt.Sprint(tt.concurrency), func(t *testing.T) {
			t.Parallel()
			log := filepath.Join(t.TempDir(), "log")
			cmd := fmt.Sprintf(`echo start >> %s; sleep 0.05; echo end >> %s; %s`, log, log, printKeys)
			src := keys.NewCommand(cmd, keys.CommandOptions{Env: testEnv(), Concurrency: tt.concurrency})
			var wg sync.WaitGroup
			for i := range tt.orgs {
				wg.Go(func() {
					_, err := src.Keys(t.Context(), keys.Org{Label: fmt.Sprintf("org-%d", i), ID: teamA.ID})
					assert.NoError(t, err)
				})
			}
			wg.Wait()
			b, err := os.ReadFile(log)
			require.NoError(t, err)
			running, most := 0, 0
			for _, l := range strings.Fields(string(b)) {
				if l == "start" {
					running++
				} else {
					running--
				}
				most = max(most, running)
			}
			assert.Equal(t, 2*tt.orgs, len(strings.Fields(string(b))), "one run per org")
			assert.LessOrEqual(t, most, tt.want)
		})
	}
	assert.Equal(t, 8, keys.DefaultCommandConcurrency, "the README says up to 8 at a time")
	assert.Equal(t, 30*time.Second, keys.DefaultCommandTimeout, "the README says 30 s")
}

func TestCommandStopsWithItsContext(t *testing.T) {
	t.Parallel()
	// The command says it has started through a fifo, so that the test
	// cancels a running command, not one waiting for its turn.
	fifo := filepath.Join(t.TempDir(), "started")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	ctx, cancel := context.WithCancel(t.Context())
	src := keys.NewCommand("echo started > "+fifo+"; sleep 60", keys.CommandOptions{Env: testEnv()})
	done := make(chan error)
	go func() {
		_, err := src.Keys(ctx, teamA)
		done <- err
	}()
	b, err := os.ReadFile(fifo)
	require.NoError(t, err)
	require.Equal(t, "started\n", string(b))
	cancel()
	assert.EqualError(t, <-done, "keys command: interrupted: context canceled")
}
