package cassette

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadDir(t *testing.T) {
	cs, err := LoadDir("../../testdata/cassettes")
	require.NoError(t, err)
	require.Len(t, cs, 14)
	total := 0
	for _, c := range cs {
		for _, in := range c.Interactions {
			total++
			assert.NotEmpty(t, in.Request.Method, c.Name)
			assert.NotZero(t, in.Response.Code, c.Name)
			_, err := in.Request.PathAndQuery()
			assert.NoError(t, err, c.Name)
		}
	}
	// 11 Go scenarios hold 22 exchanges; the Terraform ones add 5 + 0 + 9.
	assert.Equal(t, 36, total)
}
