package apply

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/orgsync/orgsync/internal/atomicfile"
	"github.com/orgsync/orgsync/pkg/plan"
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
	FormatVersion int            `json:"format_version"`
	Status        Status         `json:"status"`
	Reason        string         `json:"reason,omitempty"`
	Shard         *Shard         `json:"shard,omitempty"`
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

// ReadReport reads a report file (for report merge).
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	if r.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read report %s: format_version %d is not supported (want %d)", path, r.FormatVersion, FormatVersion)
	}
	return &r, nil
}

// Encode writes the report as indented JSON.
func (r *Report) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Merge joins the reports of runs over disjoint slices of the source orgs
// (--shard) into the report one run over all of them would have written:
// results in plan order, counts summed, the earliest start and latest end.
// Reports that share a source org (the same report twice, or shards of
// different splits) would count changes twice: that is an error naming the
// org and the two reports, by their index in reports.
func Merge(reports ...*Report) (*Report, error) {
	owner := make(map[string]int) // source org label -> report index
	for i, r := range reports {
		seen := make(map[string]bool)
		for _, res := range r.Results {
			l := res.SourceOrg.Label
			if seen[l] {
				continue
			}
			seen[l] = true
			if j, ok := owner[l]; ok {
				return nil, fmt.Errorf("reports %d and %d both hold source org %s: they are not disjoint shards of one run", j+1, i+1, l)
			}
			owner[l] = i
		}
	}
	m := &Report{FormatVersion: FormatVersion, Results: []Result{}}
	for i, r := range reports {
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
	return m, nil
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
