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
		{name: "UI alias", site: "app.datadoghq.eu", want: "https://api.datadoghq.eu"},
		{name: "UI alias in capitals", site: "APP.ddog-gov.com", want: "https://api.ddog-gov.com"},

		{name: "https URL", site: "https://api.datadoghq.com", wantErr: "a URL is not a Datadog site"},
		{name: "loopback URL", site: "http://127.0.0.1:8080", wantErr: "a URL is not a Datadog site"},
		{name: "URL with a key", site: "https://x.example/?api_key=secret", wantErr: "a URL is not a Datadog site"},
		{name: "empty", site: "", wantErr: "empty site"},
		{name: "unknown site", site: "datadoghq", wantErr: "use one of datadoghq.com, us3.datadoghq.com"},
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

func TestCheckBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantErr string // substring; "" = no error
	}{
		{name: "https host", url: "https://api.datadoghq.com"},
		{name: "https trailing slash", url: "https://api.datadoghq.com/"},
		{name: "https port and path", url: "https://proxy.example.com:8443/dd/"},
		{name: "http 127.0.0.1", url: "http://127.0.0.1:8080"},
		{name: "http 127.x loopback", url: "http://127.1.2.3/x"},
		{name: "http ::1", url: "http://[::1]:9000/"},
		{name: "http localhost", url: "http://localhost:8126"},
		{name: "http LOCALHOST", url: "http://LOCALHOST"},

		{name: "site name", url: "datadoghq.com", wantErr: "scheme must be https"},
		{name: "http other host", url: "http://api.datadoghq.com", wantErr: "only on a loopback"},
		{name: "http private ip", url: "http://10.0.0.1:8080", wantErr: "only on a loopback"},
		{name: "http unspecified", url: "http://0.0.0.0:8080", wantErr: "only on a loopback"},
		{name: "http localhost lookalike", url: "http://localhost.example.com", wantErr: "only on a loopback"},
		{name: "http loopback lookalike", url: "http://127.0.0.1.nip.io", wantErr: "only on a loopback"},
		{name: "ftp", url: "ftp://example.com", wantErr: "scheme must be https"},
		{name: "no host", url: "https://", wantErr: "no host"},
		{name: "empty port", url: "https://example.com:", wantErr: "no host"},
		{name: "bad port", url: "https://example.com:port", wantErr: "invalid base URL"},
		{name: "no scheme", url: "://example.com", wantErr: "invalid base URL"},
		{name: "user info", url: "https://user:secret@example.com", wantErr: "user info"},
		{name: "query", url: "https://example.com/?api_key=secret", wantErr: "query"},
		{name: "fragment", url: "https://example.com/#x", wantErr: "fragment"},
		{name: "bad escape", url: "https://example.com/%zz", wantErr: "invalid base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := api.CheckBaseURL(tt.url)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}
