package schemas

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemasCompile: every embedded schema is a valid draft 2020-12
// schema whose $id matches the URL orgsync compiles it under.
func TestSchemasCompile(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"manifest.schema.json", "plan.schema.json", "report.schema.json", "fixture.schema.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := FS.ReadFile(name)
			require.NoError(t, err)
			url := "https://orgsync.invalid/schemas/" + name
			assert.Contains(t, string(raw), `"$id": "`+url+`"`)
			c := jsonschema.NewCompiler()
			c.Draft = jsonschema.Draft2020
			require.NoError(t, c.AddResource(url, bytes.NewReader(raw)))
			_, err = c.Compile(url)
			require.NoError(t, err)
		})
	}
}
