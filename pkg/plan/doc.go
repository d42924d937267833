// Package plan makes and carries a plan: live state, the diff against a
// [manifest.Manifest], the plan type, its JSON file and its renderings. It
// never parses YAML manifests (package manifest does) and never writes.
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
