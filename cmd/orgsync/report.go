package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/orgsync/orgsync/pkg/apply"
)

type reportArgs struct {
	files   []string
	out     string
	partial bool
}

func parseReportArgs(args []string, s streams) (reportArgs, error) {
	var a reportArgs
	fs, err := newSubcommandFlags(args, "report", "merge", "orgsync report merge [--partial] [-o FILE] REPORT.json...",
		"Joins the reports of sharded apply runs into one, with summed counts. Every input must match\nschemas/report.schema.json, and the inputs must be every shard of one --shard split, each once.", s)
	if err != nil {
		return a, err
	}
	fs.StringVar(&a.out, "o", "", "write the merged report to `FILE` instead of stdout")
	fs.BoolVar(&a.partial, "partial", false, "merge even if some shards are missing (listed in missing_shards; the status is then not complete)")
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
	if a.out != "" {
		var inputs []input
		for _, f := range a.files {
			inputs = append(inputs, input{path: f, what: "a report to merge"})
		}
		if err := checkOutput("-o", a.out, inputs); err != nil {
			return err
		}
	}
	var inputs []apply.MergeInput
	for _, f := range a.files {
		r, err := apply.ReadReport(f)
		if err != nil {
			return err
		}
		inputs = append(inputs, apply.MergeInput{Name: f, Report: r})
	}
	merged, err := apply.Merge(inputs, apply.MergeOptions{Partial: a.partial})
	if err != nil {
		return withHint(err, "merge the reports of one sharded run: one report per --shard i/n, same n")
	}
	if len(merged.MissingShards) > 0 {
		fmt.Fprintf(s.stderr, "orgsync: warning: merged without shards %v of %d (--partial): the merged report is not complete\n", merged.MissingShards, inputs[0].Report.Shard.Count)
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
