package api_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/api"
)

func TestBaseURLSites(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"datadoghq.com":     "https://api.datadoghq.com",
		"us3.datadoghq.com": "https://api.us3.datadoghq.com",
		"us5.datadoghq.com": "https://api.us5.datadoghq.com",
		"datadoghq.eu":      "https://api.datadoghq.eu",
		"ap1.datadoghq.com": "https://api.ap1.datadoghq.com",
		"ap2.datadoghq.com": "https://api.ap2.datadoghq.com",
		"uk1.datadoghq.com": "https://api.uk1.datadoghq.com",
		"ddog-gov.com":      "https://api.ddog-gov.com",
		"us2.ddog-gov.com":  "https://api.us2.ddog-gov.com",
	}
	require.Len(t, api.Sites, len(want))
	for _, site := range api.Sites {
		t.Run(site, func(t *testing.T) {
			got, err := api.BaseURL(site)
			require.NoError(t, err)
			assert.Equal(t, want[site], got)
		})
	}
}

func TestBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		site    string
		want    string
		wantErr string // substring; "" = no error
	}{
		{name: "site with spaces", site: " datadoghq.eu ", want: "https://api.datadoghq.eu"},
		{name: "site in capitals", site: "DatadogHQ.com", want: "https://api.datadoghq.com"},
		{name: "https host", site: "https://api.datadoghq.com", want: "https://api.datadoghq.com"},
		{name: "https trailing slash", site: "https://api.datadoghq.com/", want: "https://api.datadoghq.com"},
		{name: "https port and path", site: "https://proxy.example.com:8443/dd/", want: "https://proxy.example.com:8443/dd"},
		{name: "http 127.0.0.1", site: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "http 127.x loopback", site: "http://127.1.2.3/x", want: "http://127.1.2.3/x"},
		{name: "http ::1", site: "http://[::1]:9000/", want: "http://[::1]:9000"},
		{name: "http localhost", site: "http://localhost:8126", want: "http://localhost:8126"},
		{name: "http LOCALHOST", site: "http://LOCALHOST", want: "http://LOCALHOST"},

		{name: "http other host", site: "http://api.datadoghq.com", wantErr: "only on a loopback"},
		{name: "http private ip", site: "http://10.0.0.1:8080", wantErr: "only on a loopback"},
		{name: "http unspecified", site: "http://0.0.0.0:8080", wantErr: "only on a loopback"},
		{name: "http localhost lookalike", site: "http://localhost.example.com", wantErr: "only on a loopback"},
		{name: "http loopback lookalike", site: "http://127.0.0.1.nip.io", wantErr: "only on a loopback"},
		{name: "ftp", site: "ftp://example.com", wantErr: "scheme must be https"},
		{name: "no host", site: "https://", wantErr: "no host"},
		{name: "empty port", site: "https://example.com:", wantErr: "no host"},
		{name: "bad port", site: "https://example.com:port", wantErr: "invalid base URL"},
		{name: "no scheme", site: "://example.com", wantErr: "invalid base URL"},
		{name: "user info", site: "https://user:secret@example.com", wantErr: "user info"},
		{name: "query", site: "https://example.com/?api_key=secret", wantErr: "query"},
		{name: "fragment", site: "https://example.com/#x", wantErr: "fragment"},
		{name: "bad escape", site: "https://example.com/%zz", wantErr: "invalid base URL"},
		{name: "empty", site: "", wantErr: "empty site"},
		{name: "unknown site", site: "datadoghq", wantErr: "use one of datadoghq.com, us3.datadoghq.com"},
		{name: "app host", site: "app.datadoghq.com", wantErr: "unknown site"},
		{name: "api host", site: "api.datadoghq.eu", wantErr: `did you mean "datadoghq.eu"?`},
		{name: "garbage", site: "\x00\x7f%%%", wantErr: "unknown site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := api.BaseURL(tt.site)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "secret")
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
