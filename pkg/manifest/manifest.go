package manifest

// Manifest is the merged, validated desired state read from one or more
// manifest files. Orgs are sorted by label and Connections are expanded to
// one entry per (source, sink) pair, so consumers never see `from`/`to`
// lists and never need to re-resolve labels.
type Manifest struct {
	Orgs        []Org
	Connections []Connection
	// Warnings are what [Load] found worth saying that does not make the
	// manifest invalid (an org with more than 5 sinks), in file, line and
	// column order.
	Warnings []*ValidationError
}

// Org is one org of the manifest, with defaults already applied.
type Org struct {
	Label     string
	ID        string // org UUID, lower-case
	Site      string // a Datadog site name such as "datadoghq.eu", in the form of site.Names
	APIKeyEnv string // name of the env var holding the API key
	AppKeyEnv string // name of the env var holding the application key
	Prune     bool
	Pos       Position
}

// Connection is one desired connection from a source org (always a manifest
// label) to a sink org (a manifest label, or a raw org UUID in SinkID with an
// empty SinkLabel).
type Connection struct {
	SourceLabel string
	SinkLabel   string // "" when the manifest names the sink by raw UUID
	SinkID      string // org UUID of the sink, lower-case
	Types       []string
	Pos         Position
}

// Position is where a manifest element was written.
type Position struct {
	File   string
	Line   int
	Column int
}

// Org returns the org with the given label, or false.
func (m *Manifest) Org(label string) (Org, bool) {
	for _, o := range m.Orgs {
		if o.Label == label {
			return o, true
		}
	}
	return Org{}, false
}

// Defaults applied to orgs that leave these fields out.
const (
	DefaultSite      = "datadoghq.com"
	DefaultAPIKeyEnv = "DD_API_KEY"
	DefaultAppKeyEnv = "DD_APP_KEY"
)

// SourceOrgs returns the orgs whose outgoing connections the manifest
// manages: those that appear in a `from`, and those with prune set.
func SourceOrgs(m *Manifest) []Org {
	from := make(map[string]bool)
	for _, c := range m.Connections {
		from[c.SourceLabel] = true
	}
	var out []Org
	for _, o := range m.Orgs {
		if from[o.Label] || o.Prune {
			out = append(out, o)
		}
	}
	return out
}
