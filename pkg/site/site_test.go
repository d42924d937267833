package site

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"datadoghq.com", "datadoghq.com", true},
		{"DatadogHQ.EU", "datadoghq.eu", true},
		{"US5.datadoghq.com", "us5.datadoghq.com", true},
		{"app.datadoghq.com", "datadoghq.com", true},
		{"APP.datadoghq.eu", "datadoghq.eu", true},
		{"app.ddog-gov.com", "ddog-gov.com", true},
		{"us2.ddog-gov.com", "us2.ddog-gov.com", true},
		{"api.datadoghq.com", "", false},
		{"app.us5.datadoghq.com", "", false},
		{"https://api.datadoghq.com", "", false},
		{"http://127.0.0.1:8080", "", false},
		{" datadoghq.com", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Canonical(tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
	}
	for _, n := range Names {
		got, ok := Canonical(n)
		assert.True(t, ok, n)
		assert.Equal(t, n, got)
	}
	for alias, n := range Aliases {
		assert.Contains(t, Names, n, "alias %s", alias)
	}
}
