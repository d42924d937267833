package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/orgsync/orgsync/pkg/plan"
)

type exportArgs struct {
	target targetFlags
}

func parseExportArgs(args []string, s streams) (exportArgs, error) {
	var a exportArgs
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: orgsync export -f PATH... [--org LABEL...] [flags]\n\nPrints a manifest of the live outgoing connections of the given orgs (default: the source orgs).\n\n")
		fs.PrintDefaults()
	}
	a.target.register(fs)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return a, err
	}
	if err := checkLabelArgs(rest, a.target.orgs); err != nil {
		return a, err
	}
	a.target.files = append(a.target.files, rest...)
	return a, a.target.check()
}

func runExport(ctx context.Context, args []string, s streams) error {
	a, err := parseExportArgs(args, s)
	if err != nil {
		return err
	}
	st, err := readManifestState(ctx, &a.target, s, true, nil)
	if err != nil {
		return err
	}
	defer st.conn.closeOrWarn(s)
	if len(st.orgErrs) > 0 {
		return orgErrorsErr(st.orgErrs)
	}
	out, err := plan.Export(st.manifest, st.live, "")
	if err != nil {
		return err
	}
	_, err = s.stdout.Write(out)
	return err
}
