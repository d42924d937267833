// Package schemas embeds the JSON Schemas of orgsync's files: the
// manifest (input), the plan and the report (output). Editors use them
// through the `# yaml-language-server: $schema=` line of the examples.
package schemas

import "embed"

// FS holds manifest.schema.json, plan.schema.json and report.schema.json
// (JSON Schema draft 2020-12).
//
//go:embed *.json
var FS embed.FS
