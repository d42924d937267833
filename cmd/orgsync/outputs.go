package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// input is a file or directory a run reads, and how the user named it,
// for the error that refuses to overwrite it.
type input struct {
	path string
	what string // "-f m.yaml", "the saved plan"
}

// targetInputs lists what a plan or apply reads from disk: the -f paths,
// the --sandbox state and the keys file (--keys-file or ORGSYNC_KEYS_FILE).
func targetInputs(tf *targetFlags, s streams) []input {
	var out []input
	for _, f := range tf.files {
		out = append(out, input{path: f, what: "-f " + f})
	}
	if tf.sandbox != "" {
		out = append(out, input{path: tf.sandbox, what: "--sandbox " + tf.sandbox})
	}
	if tf.keys.file != "" {
		out = append(out, input{path: tf.keys.file, what: "--keys-file " + tf.keys.file})
	} else if f := s.getenv("ORGSYNC_KEYS_FILE"); f != "" {
		out = append(out, input{path: f, what: "ORGSYNC_KEYS_FILE " + f})
	}
	return out
}

// checkOutput fails, before a run changes or reads anything, when the file
// that flag (as typed: "--report", "-o") names cannot be written (a missing
// directory, no permission, a directory in its place) or is one of inputs,
// directly or as a manifest of an input directory: a report or saved plan
// must never replace what the run reads.
func checkOutput(flag, path string, inputs []input) error {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s %s: is a directory, not a file", flag, path)
		}
		for _, in := range inputs {
			if isInput(fi, in.path) {
				return withHint(fmt.Errorf("%s %s is an input of this run (%s): refusing to overwrite it", flag, path, in.what),
					fmt.Sprintf("name another file for %s", flag))
			}
		}
		if !fi.Mode().IsRegular() {
			return nil // a device or a pipe (/dev/stdout) is written in place
		}
	}
	// The file itself is replaced by a rename, so what must be writable is
	// its directory: try it the same way.
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".orgsync-check-*")
	if err != nil {
		reason := err
		var pe *os.PathError
		if errors.As(err, &pe) {
			reason = pe.Err
		}
		return fmt.Errorf("%s %s: cannot write there (%v); nothing was done", flag, path, reason)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// isInput says whether fi is the file at in, or a manifest directly inside
// the directory in (what manifest.Load reads of a directory).
func isInput(fi os.FileInfo, in string) bool {
	st, err := os.Stat(in)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return os.SameFile(fi, st)
	}
	entries, err := os.ReadDir(in)
	if err != nil {
		return false
	}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		if st, err := os.Stat(filepath.Join(in, name)); err == nil && os.SameFile(fi, st) {
			return true
		}
	}
	return false
}
