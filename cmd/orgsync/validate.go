package main

import (
	"context"
	"flag"
	"fmt"
)

type validateArgs struct {
	files []string
}

func parseValidateArgs(args []string, s streams) (validateArgs, error) {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: orgsync validate -f PATH...\n\nChecks manifests against the schema and for semantic problems, with no network call.\n\n")
		fs.PrintDefaults()
	}
	var files listFlag
	fs.Var(&files, "f", "manifest `PATH` (file or directory; repeatable)")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return validateArgs{}, err
	}
	return validateArgs{files: append(files, rest...)}, nil
}

func runValidate(_ context.Context, args []string, s streams) error {
	a, err := parseValidateArgs(args, s)
	if err != nil {
		return err
	}
	m, err := loadManifest(a.files, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "The manifest is valid: %d %s, %d %s.\n",
		len(m.Orgs), plural(len(m.Orgs), "org", "orgs"), len(m.Connections), plural(len(m.Connections), "connection", "connections"))
	return nil
}
