package apply

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/orgsync/orgsync/internal/atomicfile"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/schemas"
)

// FormatVersion is the version of the report JSON.
const FormatVersion = 1

// Outcome is what happened to one change.
type Outcome string

// The outcomes of a change. AlreadyPresent is a create that found the
// connection there (409) with the right types; a create that found it with
// other types and fixed them is Updated.
const (
	Created        Outcome = "created"
	Updated        Outcome = "updated"
	Deleted        Outcome = "deleted"
	AlreadyPresent Outcome = "already_present"
	Unchanged      Outcome = "unchanged"
	Failed         Outcome = "failed"
	Skipped        Outcome = "skipped"
)

// ActionVerify is the action of a result that stands for a whole source org
// whose keys could not be checked or belong to another org: none of its
// changes could be planned.
const ActionVerify plan.Action = "verify"

// Status says how a run ended, so that CI can tell "nothing to do" from
// "did nothing" without reading every result.
type Status string

// The statuses of a report (contract 8.5).
const (
	StatusComplete    Status = "complete"    // every change was made or already there
	StatusFailed      Status = "failed"      // some change failed, or a source org could not be used
	StatusRefused     Status = "refused"     // nothing was started; Reason says why
	StatusInterrupted Status = "interrupted" // SIGINT/SIGTERM: changes not started are skipped
)

// Shard is the --shard i/n of the run that wrote a report.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Report is the JSON report of an apply run (contract sections 6 and 8.5).
type Report struct {
	FormatVersion int    `json:"format_version"`
	Status        Status `json:"status"`
	Reason        string `json:"reason,omitempty"`
	Shard         *Shard `json:"shard,omitempty"`
	// MissingShards are the shards a partial merge (report merge
	// --partial) went without.
	MissingShards []int          `json:"missing_shards,omitempty"`
	StartedAt     time.Time      `json:"started_at"`
	FinishedAt    time.Time      `json:"finished_at"`
	Summary       Summary        `json:"summary"`
	Results       []Result       `json:"results"`
	RateLimit     RateLimitStats `json:"rate_limit"`
}

// Summary counts results by outcome.
type Summary struct {
	Created        int `json:"created"`
	Updated        int `json:"updated"`
	Deleted        int `json:"deleted"`
	AlreadyPresent int `json:"already_present"`
	Unchanged      int `json:"unchanged"`
	Failed         int `json:"failed"`
	Skipped        int `json:"skipped"`
}

// RateLimitStats says how often the server pushed back during the run.
type RateLimitStats struct {
	ThrottledResponses int64 `json:"throttled_responses"`
	Retries            int64 `json:"retries"`
}

// Result is what happened to one change of the plan.
type Result struct {
	Action          plan.Action `json:"action"`
	Outcome         Outcome     `json:"outcome"`
	SourceOrg       plan.OrgRef `json:"source_org"`
	SinkOrg         plan.OrgRef `json:"sink_org"`
	ConnectionID    string      `json:"-"`
	ConnectionTypes []string    `json:"connection_types"`
	Attempts        int         `json:"attempts"`
	HTTPStatus      int         `json:"-"`
	Duration        time.Duration
	Error           string `json:"-"`
}

type resultJSON struct {
	Action          plan.Action `json:"action"`
	Outcome         Outcome     `json:"outcome"`
	SourceOrg       plan.OrgRef `json:"source_org"`
	SinkOrg         plan.OrgRef `json:"sink_org"`
	ConnectionID    *string     `json:"connection_id"`
	ConnectionTypes []string    `json:"connection_types"`
	Attempts        int         `json:"attempts"`
	HTTPStatus      *int        `json:"http_status"`
	DurationMS      int64       `json:"duration_ms"`
	Error           *string     `json:"error"`
}

// MarshalJSON writes the contract's result object, with null for what is
// not known (no connection id, no HTTP answer, no error).
func (r Result) MarshalJSON() ([]byte, error) {
	j := resultJSON{Action: r.Action, Outcome: r.Outcome, SourceOrg: r.SourceOrg, SinkOrg: r.SinkOrg,
		ConnectionTypes: r.ConnectionTypes, Attempts: r.Attempts, DurationMS: r.Duration.Milliseconds()}
	if j.ConnectionTypes == nil {
		j.ConnectionTypes = []string{}
	}
	if r.ConnectionID != "" {
		j.ConnectionID = &r.ConnectionID
	}
	if r.HTTPStatus != 0 {
		j.HTTPStatus = &r.HTTPStatus
	}
	if r.Error != "" {
		j.Error = &r.Error
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes (report merge needs it).
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{Action: j.Action, Outcome: j.Outcome, SourceOrg: j.SourceOrg, SinkOrg: j.SinkOrg,
		ConnectionTypes: j.ConnectionTypes, Attempts: j.Attempts, Duration: time.Duration(j.DurationMS) * time.Millisecond}
	if j.ConnectionID != nil {
		r.ConnectionID = *j.ConnectionID
	}
	if j.HTTPStatus != nil {
		r.HTTPStatus = *j.HTTPStatus
	}
	if j.Error != nil {
		r.Error = *j.Error
	}
	return nil
}

// add counts one result.
func (s *Summary) add(o Outcome) {
	switch o {
	case Created:
		s.Created++
	case Updated:
		s.Updated++
	case Deleted:
		s.Deleted++
	case AlreadyPresent:
		s.AlreadyPresent++
	case Unchanged:
		s.Unchanged++
	case Failed:
		s.Failed++
	case Skipped:
		s.Skipped++
	}
}

// Summarize recounts the summary from the results.
func (r *Report) Summarize() {
	r.Summary = Summary{}
	for _, res := range r.Results {
		r.Summary.add(res.Outcome)
	}
}

// OK reports whether nothing failed or was skipped.
func (r *Report) OK() bool { return r.Summary.Failed == 0 && r.Summary.Skipped == 0 }

// WriteFile writes the report atomically, so a reader (or a crash) never
// sees half a report.
func (r *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// ReadReport reads a report file (for report merge). A file that does not
// match schemas/report.schema.json, or whose summary does not count its
// results, is an error: merging it would hide what happened.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read report %s: not JSON: %w", path, err)
	}
	sch, err := reportSchema()
	if err != nil {
		return nil, err
	}
	if err := sch.Validate(doc); err != nil {
		return nil, fmt.Errorf("read report %s: does not match schemas/report.schema.json: %s", path, schemaProblem(err))
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	counted := r.Summary
	r.Summarize()
	if counted != r.Summary {
		return nil, fmt.Errorf("read report %s: its summary does not count its results", path)
	}
	return &r, nil
}

const reportSchemaURL = "https://orgsync.invalid/schemas/report.schema.json"

var reportSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	raw, err := schemas.FS.ReadFile("report.schema.json")
	if err != nil {
		return nil, fmt.Errorf("read embedded report schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(reportSchemaURL, bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("load embedded report schema: %w", err)
	}
	return c.Compile(reportSchemaURL)
})

// schemaProblem is the deepest cause of a validation error, on one line:
// where in the document, and what is wrong there.
func schemaProblem(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	loc := ve.InstanceLocation
	if loc == "" {
		loc = "/"
	}
	return fmt.Sprintf("at %s: %s", loc, ve.Message)
}

// Encode writes the report as indented JSON.
func (r *Report) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// MergeInput is one report to merge, with the name (its file) that errors
// use.
type MergeInput struct {
	Name   string
	Report *Report
}

// MergeOptions tune Merge.
type MergeOptions struct {
	// Partial merges the shards there are when some are missing; the
	// merged report then lists them in MissingShards and is not complete.
	Partial bool
}

// Merge joins the reports of runs over disjoint slices of the source orgs
// (--shard i/n) into the report one run over all of them would have
// written: results in plan order, counts summed, the earliest start and
// latest end, and a status made from the inputs' (see mergedStatus).
//
// It refuses what would make that report a lie: reports of different splits
// (shard counts) or sharded and unsharded ones together, a shard given twice
// (the same report twice), a missing shard (unless opt.Partial), two reports
// that share a source org, and results or statuses it does not know.
func Merge(inputs []MergeInput, opt MergeOptions) (*Report, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no report to merge")
	}
	for _, in := range inputs {
		if err := checkKnown(in.Report); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	missing, err := checkShards(inputs, opt)
	if err != nil {
		return nil, err
	}
	owner := make(map[string]int) // source org label -> input index
	for i, in := range inputs {
		for j := range i {
			if reflect.DeepEqual(in.Report, inputs[j].Report) {
				return nil, fmt.Errorf("%s and %s are the same report", inputs[j].Name, in.Name)
			}
		}
		seen := make(map[string]bool)
		for _, res := range in.Report.Results {
			l := res.SourceOrg.Label
			if seen[l] {
				continue
			}
			seen[l] = true
			if j, ok := owner[l]; ok {
				return nil, fmt.Errorf("%s and %s both hold source org %s: they are not disjoint shards of one run", inputs[j].Name, in.Name, l)
			}
			owner[l] = i
		}
	}
	m := &Report{FormatVersion: FormatVersion, Results: []Result{}}
	reports := make([]*Report, len(inputs))
	for i, in := range inputs {
		r := in.Report
		reports[i] = r
		if i == 0 || r.StartedAt.Before(m.StartedAt) {
			m.StartedAt = r.StartedAt
		}
		if r.FinishedAt.After(m.FinishedAt) {
			m.FinishedAt = r.FinishedAt
		}
		m.Results = append(m.Results, r.Results...)
		m.RateLimit.ThrottledResponses += r.RateLimit.ThrottledResponses
		m.RateLimit.Retries += r.RateLimit.Retries
	}
	slices.SortStableFunc(m.Results, compareResults)
	m.Summarize()
	m.Status, m.Reason = mergedStatus(reports)
	if len(missing) > 0 {
		m.MissingShards = missing
		if m.Status == StatusComplete || m.Status == StatusRefused {
			m.Status, m.Reason = StatusFailed, ""
		}
	}
	return m, nil
}

// checkKnown fails on a status or an outcome that this version does not
// know (it could not be counted), and on a complete status that the
// report's own results contradict.
func checkKnown(r *Report) error {
	switch r.Status {
	case StatusComplete, StatusFailed, StatusRefused, StatusInterrupted:
	default:
		return fmt.Errorf("unknown status %q", r.Status)
	}
	notDone := 0
	for i, res := range r.Results {
		switch res.Outcome {
		case Created, Updated, Deleted, AlreadyPresent, Unchanged:
		case Failed, Skipped:
			notDone++
		default:
			return fmt.Errorf("result %d has unknown outcome %q", i+1, res.Outcome)
		}
	}
	// A merged status is derived from the inputs' statuses, so one that
	// contradicts its own results would make the merge claim success.
	if r.Status == StatusComplete && notDone > 0 {
		return fmt.Errorf("its status is complete but %d of its results failed or were skipped", notDone)
	}
	return nil
}

// checkShards checks that the inputs are the shards of one split, each
// once, and returns the shard indexes missing (an error unless partial).
// Unsharded reports (runs over disjoint --org selections) merge too, but
// never with sharded ones.
func checkShards(inputs []MergeInput, opt MergeOptions) ([]int, error) {
	first := inputs[0]
	byIndex := make(map[int]string)
	for _, in := range inputs {
		sh, fsh := in.Report.Shard, first.Report.Shard
		switch {
		case fsh == nil && sh == nil:
			continue
		case fsh == nil:
			return nil, fmt.Errorf("%s is not sharded but %s is shard %d/%d", first.Name, in.Name, sh.Index, sh.Count)
		case sh == nil:
			return nil, fmt.Errorf("%s is shard %d/%d but %s is not sharded", first.Name, fsh.Index, fsh.Count, in.Name)
		case sh.Count != fsh.Count:
			return nil, fmt.Errorf("%s is shard %d/%d but %s is shard %d/%d: they are not shards of one run", first.Name, fsh.Index, fsh.Count, in.Name, sh.Index, sh.Count)
		}
		if sh.Index > sh.Count {
			return nil, fmt.Errorf("%s is shard %d/%d: no such shard", in.Name, sh.Index, sh.Count)
		}
		if other, ok := byIndex[sh.Index]; ok {
			return nil, fmt.Errorf("%s and %s are both shard %d/%d", other, in.Name, sh.Index, sh.Count)
		}
		byIndex[sh.Index] = in.Name
	}
	if first.Report.Shard == nil {
		return nil, nil
	}
	var missing []int
	n := first.Report.Shard.Count
	for i := 1; i <= n; i++ {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 && !opt.Partial {
		return nil, fmt.Errorf("shard %d/%d is missing: merge every shard of the run, or pass --partial", missing[0], n)
	}
	return missing, nil
}

// mergedStatus is the status of the run that the shards make together: an
// interrupt anywhere makes it interrupted, a failure or a shard refused
// while others ran makes it failed, and it is refused only if every shard
// was (with their reasons).
func mergedStatus(reports []*Report) (Status, string) {
	var interrupted, failed bool
	var reasons []string
	for _, r := range reports {
		switch r.Status {
		case StatusInterrupted:
			interrupted = true
		case StatusFailed:
			failed = true
		case StatusRefused:
			reason := r.Reason
			if r.Shard != nil {
				reason = fmt.Sprintf("shard %d/%d: %s", r.Shard.Index, r.Shard.Count, r.Reason)
			}
			reasons = append(reasons, reason)
		}
	}
	switch {
	case interrupted:
		return StatusInterrupted, ""
	case len(reasons) > 0 && len(reasons) == len(reports):
		return StatusRefused, strings.Join(reasons, "; ")
	case failed || len(reasons) > 0:
		return StatusFailed, ""
	}
	return StatusComplete, ""
}

// compareResults orders results as Run does: org failures first, then by
// the plan's order of changes.
func compareResults(a, b Result) int {
	rank := func(r Result) int {
		if r.Action == ActionVerify {
			return -1
		}
		return r.Action.Rank()
	}
	return cmp.Or(
		cmp.Compare(rank(a), rank(b)),
		cmp.Compare(a.SourceOrg.Label, b.SourceOrg.Label),
		plan.CompareSinks(a.SinkOrg, b.SinkOrg),
		cmp.Compare(a.ConnectionID, b.ConnectionID),
	)
}
