package plan

import (
	"encoding/json"
	"maps"
	"slices"
)

// FormatVersion is the version of the plan JSON. It changes only when a
// consumer of the JSON would have to change.
const FormatVersion = 1

// Action says what applying a [Change] does.
type Action string

// The actions of a plan. Only Create, Update and Delete change anything;
// Unmanaged marks a live connection that the manifest does not declare on an
// org without prune, which is shown and never touched.
const (
	Create    Action = "create"
	Update    Action = "update"
	Delete    Action = "delete"
	Noop      Action = "noop"
	Unmanaged Action = "unmanaged"
)

// actionOrder is the order changes are listed and applied in: everything that
// adds first, deletes last, so an interrupted run has only added.
var actionOrder = map[Action]int{Create: 0, Update: 1, Delete: 2, Noop: 3, Unmanaged: 4}

// Rank is the position of the action in apply order.
func (a Action) Rank() int {
	if r, ok := actionOrder[a]; ok {
		return r
	}
	return len(actionOrder)
}

// Pending reports whether the action changes live state.
func (a Action) Pending() bool { return a == Create || a == Update || a == Delete }

// Plan is the difference between a manifest and live state, as a value that
// can be printed, saved and applied later.
type Plan struct {
	FormatVersion int      `json:"format_version"`
	Changes       []Change `json:"changes"`
	Summary       Summary  `json:"summary"`
	// Orgs are the source orgs the plan was computed for, with what it takes
	// to call their API again (env var names, never keys).
	Orgs []SourceOrg `json:"orgs"`
	// LiveState fingerprints, per source org label, the live outgoing
	// connections the plan was computed from; apply of a saved plan refuses
	// to run when they changed since.
	LiveState map[string]string `json:"live_state"`
}

// Change is one (source org, sink org) pair and what happens to it.
type Change struct {
	Action       Action   `json:"action"`
	SourceOrg    OrgRef   `json:"source_org"`
	SinkOrg      OrgRef   `json:"sink_org"`
	ConnectionID string   `json:"-"`
	Before       []string `json:"before"`
	After        []string `json:"after"`
	// CreatedBy is the user who made the live connection the change is
	// about, when the API said; it informs, and never decides anything.
	CreatedBy *User `json:"-"`
}

// Summary counts the changes by action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Noop      int `json:"noop"`
	Unmanaged int `json:"unmanaged"`
}

// Pending is the number of changes that would alter live state.
func (s Summary) Pending() int { return s.Create + s.Update + s.Delete }

// OrgRef names an org in a plan or report. Label is empty for an org the
// manifest does not declare (a raw UUID sink, or an undeclared live sink).
type OrgRef struct {
	Label string
	ID    string
}

// SourceOrg is what a saved plan keeps of a source org to reach its API.
type SourceOrg struct {
	Label     string `json:"label"`
	ID        string `json:"id"`
	Site      string `json:"site"`
	APIKeyEnv string `json:"api_key_env"`
	AppKeyEnv string `json:"app_key_env"`
	// KeySource is where the plan found the org's keys, one of the
	// KeysFrom values ("" in a plan that does not say).
	KeySource string `json:"key_source,omitempty"`
	Prune     bool   `json:"prune"`
}

// Where a plan found its keys. It is a record for whoever applies the
// plan: `apply PLAN.json` finds keys as its own command line says, and
// with env vars, it reads those that the plan names.
const (
	KeysFromEnv     = "env"          // the env vars api_key_env and app_key_env
	KeysFromFile    = "keys_file"    // --keys-file or ORGSYNC_KEYS_FILE
	KeysFromCommand = "keys_command" // --keys-command or ORGSYNC_KEYS_COMMAND
	KeysFromSandbox = "sandbox"      // the embedded emulator's own keys
)

// SetKeySource records in every org of p where the run found its keys.
func (p *Plan) SetKeySource(kind string) {
	for i := range p.Orgs {
		p.Orgs[i].KeySource = kind
	}
}

// MarshalJSON writes an unknown label as null rather than "" so that
// consumers can tell "not in the manifest" from a label.
func (r OrgRef) MarshalJSON() ([]byte, error) {
	var label *string
	if r.Label != "" {
		label = &r.Label
	}
	return json.Marshal(struct {
		Label *string `json:"label"`
		ID    string  `json:"id"`
	}{label, r.ID})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *OrgRef) UnmarshalJSON(b []byte) error {
	var v struct {
		Label *string `json:"label"`
		ID    string  `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.ID = v.ID
	r.Label = ""
	if v.Label != nil {
		r.Label = *v.Label
	}
	return nil
}

// changeJSON is the wire form of a Change: connection_id is null for a
// create, and before/after are null where they do not apply.
type changeJSON struct {
	Action       Action   `json:"action"`
	SourceOrg    OrgRef   `json:"source_org"`
	SinkOrg      OrgRef   `json:"sink_org"`
	ConnectionID *string  `json:"connection_id"`
	Before       []string `json:"before"`
	After        []string `json:"after"`
	CreatedBy    *User    `json:"created_by,omitempty"`
}

// MarshalJSON writes the contract's change object.
func (c Change) MarshalJSON() ([]byte, error) {
	j := changeJSON{Action: c.Action, SourceOrg: c.SourceOrg, SinkOrg: c.SinkOrg, Before: c.Before, After: c.After, CreatedBy: c.CreatedBy}
	if c.ConnectionID != "" {
		j.ConnectionID = &c.ConnectionID
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Change) UnmarshalJSON(b []byte) error {
	var j changeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Change{Action: j.Action, SourceOrg: j.SourceOrg, SinkOrg: j.SinkOrg, Before: j.Before, After: j.After, CreatedBy: j.CreatedBy}
	if j.ConnectionID != nil {
		c.ConnectionID = *j.ConnectionID
	}
	return nil
}

// Key is the identity of the pair a change is about.
func (c Change) Key() string { return c.SourceOrg.ID + "->" + c.SinkOrg.ID }

// SinkName is how output names the sink: its label, else its UUID.
func (c Change) SinkName() string {
	if c.SinkOrg.Label != "" {
		return c.SinkOrg.Label
	}
	return c.SinkOrg.ID
}

// Pending returns the changes that alter live state, in apply order.
func (p *Plan) Pending() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action.Pending() {
			out = append(out, c)
		}
	}
	return out
}

// Org returns the source org with the given label.
func (p *Plan) Org(label string) (SourceOrg, bool) {
	i := slices.IndexFunc(p.Orgs, func(o SourceOrg) bool { return o.Label == label })
	if i < 0 {
		return SourceOrg{}, false
	}
	return p.Orgs[i], true
}

// summarize counts changes by action.
func summarize(changes []Change) Summary {
	var s Summary
	for _, c := range changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		case Delete:
			s.Delete++
		case Noop:
			s.Noop++
		case Unmanaged:
			s.Unmanaged++
		}
	}
	return s
}

// WithoutOrgs returns p without the source orgs labels and their changes,
// its summary recounted: what is left of a saved plan once orgs that
// cannot be used are set aside.
func (p *Plan) WithoutOrgs(labels ...string) *Plan {
	if len(labels) == 0 {
		return p
	}
	out := *p
	out.Orgs = slices.DeleteFunc(slices.Clone(p.Orgs), func(o SourceOrg) bool { return slices.Contains(labels, o.Label) })
	out.Changes = slices.DeleteFunc(slices.Clone(p.Changes), func(c Change) bool { return slices.Contains(labels, c.SourceOrg.Label) })
	out.LiveState = maps.Clone(p.LiveState)
	for _, l := range labels {
		delete(out.LiveState, l)
	}
	out.Summary = summarize(out.Changes)
	return &out
}
