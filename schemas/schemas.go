// Package schemas embeds the JSON Schemas of orgsync's input files.
package schemas

import "embed"

// FS holds manifest.schema.json, the JSON Schema (draft 2020-12) of a manifest file.
//
//go:embed *.json
var FS embed.FS
