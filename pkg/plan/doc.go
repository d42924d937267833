// Package plan makes and carries a plan: live state, the diff against a
// [manifest.Manifest], the plan type, its JSON file and its renderings. It
// never parses YAML manifests (package manifest does) and never writes.
//
// # Live state
//
// [ReadState] verifies each source org's keys and reads its outgoing
// connections through a [Reader], a small interface that the caller
// implements on top of the API client (and tests implement by hand). It
// records whom each org's keys belong to and who created each connection:
// Datadog deletes a user's connections when the user is deactivated, so
// [PersonalKeyWarnings] and [RequireServiceAccounts] point out keys of
// people rather than service accounts.
//
// # Diff and plan
//
// [Diff] is a pure function from a manifest and live state to a [Plan]:
// create, update, delete (only on orgs with prune), noop and unmanaged, in a
// deterministic order. A plan prints as text ([RenderText]), Markdown
// ([RenderMarkdown]) or the JSON of schemas/plan.schema.json ([WriteJSON]),
// and records per-org fingerprints of the live state it was computed from,
// so that a saved plan ([ReadJSON]) is refused once live state moved.
//
// # Saved plans
//
// A saved plan is untrusted input. [ReadJSON] checks that it holds
// together; [Mismatches] compares it with the plan the manifests give now,
// so that only that very plan is applied.
// [Export] writes live state back as a manifest.
package plan
