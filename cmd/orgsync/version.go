package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// version returns the module version the binary was built from, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func runVersion(args []string, s streams) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), "Usage: orgsync version\n\nPrints the version of orgsync.\n") }
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("version takes no arguments, got %q", strings.Join(rest, " "))
	}
	fmt.Fprintf(s.stdout, "orgsync %s\n", version())
	return nil
}
