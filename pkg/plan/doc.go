// Package plan owns what a user edits and reviews: the manifest and the
// plan that says exactly what will change.
//
// # Manifest
//
// [Load] reads one or more manifest files through yaml.v3 nodes, so that
// every problem (YAML syntax, the embedded JSON Schema, semantic checks)
// comes back as a positioned [ValidationError], all of them, in file order.
// The result is a [Manifest] with defaults applied and every `from`/`to`
// list expanded to one [Connection] per (source, sink) pair.
//
// # Live state
//
// [ReadState] verifies each source org's keys and reads its outgoing
// connections through a [Reader], a small interface that the caller
// implements on top of the API client (and tests implement by hand).
//
// # Diff and plan
//
// [Diff] is a pure function from a manifest and live state to a [Plan]:
// create, update, delete (only on orgs with prune), noop and unmanaged, in a
// deterministic order. A plan prints as text ([RenderText]), Markdown
// ([RenderMarkdown]) or the JSON of schemas/plan.schema.json ([WriteJSON]),
// and records per-org fingerprints of the live state it was computed from,
// so that a saved plan ([ReadJSON]) is refused once live state moved.
// [Export] writes live state back as a manifest.
package plan
