package main

import (
	"bytes"
	"context"
	"errors"

	"github.com/orgsync/orgsync/pkg/apply"
)

type reportArgs struct {
	files []string
	out   string
}

func parseReportArgs(args []string, s streams) (reportArgs, error) {
	var a reportArgs
	fs, err := newSubcommandFlags(args, "report", "merge", "orgsync report merge [-o FILE] REPORT.json...",
		"Joins the reports of sharded apply runs into one, with summed counts.", s)
	if err != nil {
		return a, err
	}
	fs.StringVar(&a.out, "o", "", "write the merged report to `FILE` instead of stdout")
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return a, err
	}
	if len(rest) == 0 {
		return a, errors.New("report merge needs at least one report file")
	}
	a.files = rest
	return a, nil
}

func runReport(_ context.Context, args []string, s streams) error {
	a, err := parseReportArgs(args, s)
	if err != nil {
		return err
	}
	var reports []*apply.Report
	for _, f := range a.files {
		r, err := apply.ReadReport(f)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	merged, err := apply.Merge(reports...)
	if err != nil {
		return withHint(err, "merge the reports of one sharded run: one report per --shard i/n, same n")
	}
	if a.out != "" {
		return merged.WriteFile(a.out)
	}
	var b bytes.Buffer
	if err := merged.Encode(&b); err != nil {
		return err
	}
	_, err = s.stdout.Write(b.Bytes())
	return err
}
