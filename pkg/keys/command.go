package keys

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Defaults of [CommandOptions].
const (
	DefaultCommandTimeout     = 30 * time.Second
	DefaultCommandConcurrency = 8
)

// maxCommandOutput bounds what is kept of a keys command's stdout and of
// its stderr: keys take a few hundred bytes.
const maxCommandOutput = 64 << 10

// CommandOptions configures a [Command].
type CommandOptions struct {
	// Env is the environment the command runs in, to which the org's
	// ORGSYNC_ORG_LABEL, ORGSYNC_ORG_ID and ORGSYNC_ORG_SITE are added;
	// nil means os.Environ().
	Env []string
	// Stderr receives the command's stderr, one line at a time, each
	// prefixed with the org's label; nil drops it.
	Stderr io.Writer
	// Timeout bounds one run; the command's process group is killed when
	// it passes. Default [DefaultCommandTimeout].
	Timeout time.Duration
	// Concurrency is how many runs may go at once (one per org). Default
	// [DefaultCommandConcurrency].
	Concurrency int
}

// Command gets each org's keys from a shell command, in the manner of the
// AWS CLI's credential_process or git's credential helpers: it runs the
// command through `sh -c` with the org in its environment and no stdin,
// and reads {"api_key": "...", "app_key": "..."} from its stdout. A
// failure (non-zero exit, timeout, other output) fails that org only, with
// an error that names the exit status and never quotes the output.
type Command struct {
	cmd     string
	env     []string
	timeout time.Duration
	sem     chan struct{}
	stderr  io.Writer
	mu      sync.Mutex // one org's stderr lines at a time
}

// NewCommand returns a Source that runs cmd.
func NewCommand(cmd string, opt CommandOptions) *Command {
	if opt.Env == nil {
		opt.Env = os.Environ()
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultCommandTimeout
	}
	if opt.Concurrency < 1 {
		opt.Concurrency = DefaultCommandConcurrency
	}
	return &Command{cmd: cmd, env: opt.Env, timeout: opt.Timeout, sem: make(chan struct{}, opt.Concurrency), stderr: opt.Stderr}
}

// Keys implements [Source]: it runs the command once for org.
func (c *Command) Keys(ctx context.Context, org Org) (Pair, error) {
	fail := func(msg string) error { return &Error{Org: org.Label, Where: "keys command", Msg: msg} }
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Pair{}, fail("not run: " + ctx.Err().Error())
	}
	defer func() { <-c.sem }()

	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, "sh", "-c", c.cmd)
	cmd.Env = append(slices.Clone(c.env), "ORGSYNC_ORG_LABEL="+org.Label, "ORGSYNC_ORG_ID="+org.ID, "ORGSYNC_ORG_SITE="+org.Site)
	cmd.Stdin = nil // reads from the null device
	stdout, stderr := &capped{max: maxCommandOutput}, &capped{max: maxCommandOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killGroupOnCancel(cmd)
	// Orphans of the command that keep its pipes open do not hold the run
	// up for more than this once the command itself is gone.
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()

	pair, problem := parseOutput(stdout)
	c.relay(org.Label, stderr, keysIn(stdout.Bytes()))

	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return Pair{}, fail("interrupted: " + ctx.Err().Error())
	case runErr != nil && errors.Is(rctx.Err(), context.DeadlineExceeded):
		return Pair{}, fail(fmt.Sprintf("timed out after %s and was killed (with the processes it started)", c.timeout))
	case errors.As(runErr, &exitErr):
		return Pair{}, fail(exitErr.ProcessState.String() + "; its output is not used")
	case runErr != nil && !errors.Is(runErr, exec.ErrWaitDelay):
		return Pair{}, fail("could not run sh: " + unwrapExec(runErr).Error())
	case problem != "":
		return Pair{}, fail(`exit status 0, but its output is not {"api_key": "...", "app_key": "..."}: ` + problem)
	}
	return pair, nil
}

// unwrapExec drops the *exec.Error and *fs.PathError layers, which repeat
// the program's path.
func unwrapExec(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// parseOutput reads the command's answer, or says what is wrong with it
// without quoting it.
func parseOutput(out *capped) (Pair, string) {
	if out.cut {
		return Pair{}, fmt.Sprintf("it printed more than %d KiB", maxCommandOutput>>10)
	}
	b := out.Bytes()
	if len(bytes.TrimSpace(b)) == 0 {
		return Pair{}, "it printed nothing"
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return Pair{}, fmt.Sprintf("it printed %d bytes that are not a JSON object", len(b))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Pair{}, "it printed more after the JSON object"
	}
	var p Pair
	for _, f := range []struct {
		name string
		dst  *string
	}{{"api_key", &p.API}, {"app_key", &p.App}} {
		raw, ok := m[f.name]
		if !ok {
			return Pair{}, "it has no " + f.name
		}
		if json.Unmarshal(raw, f.dst) != nil {
			return Pair{}, f.name + " is not a string"
		}
		if msg := checkKey(*f.dst); msg != "" {
			return Pair{}, f.name + " " + msg
		}
	}
	if len(m) > 2 {
		return Pair{}, "it has fields other than api_key and app_key"
	}
	return p, ""
}

// keysIn returns the api_key and app_key strings of out when it is a JSON
// object, even one that failed the run, so that the stderr relay can hide
// them if the command repeats them there. Output that is not a JSON object
// may still hold keys (cut short, or printed bare): then every word of it
// is hidden.
func keysIn(out []byte) []string {
	var m map[string]any
	if json.Unmarshal(out, &m) != nil {
		return strings.FieldsFunc(string(out), func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune(`"{}[],:`, r)
		})
	}
	var ks []string
	for _, f := range []string{"api_key", "app_key"} {
		if s, ok := m[f].(string); ok {
			ks = append(ks, strings.TrimSpace(s))
		}
	}
	return ks
}

// relay passes the command's stderr on, one line at a time prefixed with
// the org's label, control characters replaced and any key it printed on
// stdout hidden. It comes after the command has finished, so that those
// keys are known and one org's lines stay together.
func (c *Command) relay(label string, stderr *capped, hide []string) {
	if c.stderr == nil || len(stderr.Bytes()) == 0 {
		return
	}
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
	sc.Buffer(nil, maxCommandOutput+1)
	for sc.Scan() {
		line := Redact(strings.TrimRight(sc.Text(), "\r"), hide...)
		fmt.Fprintf(&b, "orgsync: keys command (%s): %s\n", label, printable(line))
	}
	if stderr.cut {
		fmt.Fprintf(&b, "orgsync: keys command (%s): (stderr cut after %d KiB)\n", label, maxCommandOutput>>10)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.stderr, b.String())
}

// printable replaces control characters, so that a command's stderr cannot
// drive the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0)) {
			return r
		}
		return '?'
	}, s)
}

// capped is a buffer that keeps the first max bytes written to it and
// notes that more came.
type capped struct {
	buf bytes.Buffer
	max int
	cut bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.buf.Write(p[:max(room, 0)])
		c.cut = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) Bytes() []byte { return c.buf.Bytes() }
