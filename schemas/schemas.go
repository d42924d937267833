// Package schemas embeds the JSON Schemas of orgsync's files: the
// manifest (input), the plan and the report (output), and the sandbox's
// fixture. Editors use them through the `# yaml-language-server: $schema=`
// line of the examples.
package schemas

import "embed"

// FS holds manifest.schema.json, plan.schema.json, report.schema.json and
// fixture.schema.json (JSON Schema draft 2020-12).
//
//go:embed *.json
var FS embed.FS
