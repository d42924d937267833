// Package manifest owns the desired state: the manifest's types, loading
// through yaml.v3 nodes, schema and semantic validation with positioned
// errors, and the selection of source orgs (--org, --shard). It knows
// nothing of live state, plans or the API.
//
// # Loading
//
// [Load] reads one or more manifest files, so that every problem (YAML
// syntax, the embedded JSON Schema, semantic checks) comes back as a
// positioned [ValidationError], all of them, in file order. The result is a
// [Manifest] with defaults applied (key env var names from the `{LABEL}`
// templates of the defaults, sites in their canonical form) and every
// `from`/`to` list expanded to one [Connection] per (source, sink) pair.
// What is worth saying but does not make a manifest invalid (a source org
// with more than 5 sinks) comes back as positioned [Manifest.Warnings].
//
// # Sites
//
// A manifest names Datadog sites only (see package site), never a URL: it
// may come from a pull request, and must not choose where keys are sent.
// Connections join orgs of one site, as Datadog does.
//
// # Selection
//
// [SourceOrgs] lists the orgs whose outgoing connections the manifest
// manages; [Select] narrows them by label and by a stable shard.
package manifest
