package main

import (
	"bytes"
	"fmt"
	"os"
)

// appendStepSummary appends Markdown to the file GitHub Actions names in
// $GITHUB_STEP_SUMMARY, when running inside Actions.
func appendStepSummary(s streams, render func(*bytes.Buffer)) error {
	path := s.getenv("GITHUB_STEP_SUMMARY")
	if s.getenv("GITHUB_ACTIONS") != "true" || path == "" {
		return nil
	}
	var b bytes.Buffer
	render(&b)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	return f.Close()
}
