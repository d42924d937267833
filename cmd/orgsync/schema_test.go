package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/schemas"
)

// validateAgainstSchema checks a JSON document against one of the
// published schemas, so the schemas stay true to what orgsync writes.
func validateAgainstSchema(t *testing.T, name, doc string) {
	t.Helper()
	b, err := schemas.FS.ReadFile(name)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	url := "https://orgsync.invalid/schemas/" + name
	require.NoError(t, c.AddResource(url, strings.NewReader(string(b))))
	sch, err := c.Compile(url)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal([]byte(doc), &v))
	require.NoError(t, sch.Validate(v), "%s does not match %s", doc, name)
}
