package orgapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/manifest"
	"github.com/orgsync/orgsync/pkg/plan"
)

func TestEndpointsFor(t *testing.T) {
	t.Parallel()
	eu := orgapi.Endpoint{URL: "http://127.0.0.1:9001", From: "set by --api-url datadoghq.eu=URL"}
	all := orgapi.Endpoint{URL: "https://proxy.example.com/dd", From: "set by --api-url"}
	bySite := orgapi.Endpoints{BySite: map[string]orgapi.Endpoint{"datadoghq.eu": eu}}
	both := orgapi.Endpoints{All: &all, BySite: bySite.BySite}
	tests := []struct {
		name    string
		e       orgapi.Endpoints
		site    string
		want    orgapi.Endpoint
		wantErr string
	}{
		{name: "the site's own API", site: "us5.datadoghq.com",
			want: orgapi.Endpoint{URL: "https://api.us5.datadoghq.com", From: "the API of site us5.datadoghq.com"}},
		{name: "an alias in capitals", site: "App.DatadogHQ.eu",
			want: orgapi.Endpoint{URL: "https://api.datadoghq.eu", From: "the API of site datadoghq.eu"}},
		{name: "a URL is no site", site: "http://127.0.0.1:8080", wantErr: "a URL is not a Datadog site"},
		{name: "the operator's for the site", e: bySite, site: "DATADOGHQ.EU", want: eu},
		{name: "another site keeps its API", e: bySite, site: "datadoghq.com",
			want: orgapi.Endpoint{URL: "https://api.datadoghq.com", From: "the API of site datadoghq.com"}},
		{name: "the site's wins over every org's", e: both, site: "datadoghq.eu", want: eu},
		{name: "every org's", e: both, site: "datadoghq.com", want: all},
		{name: "every org's even for an unknown site", e: both, site: "nowhere", want: all},
		{name: "trailing slash", e: orgapi.Everywhere("http://127.0.0.1:1/", "x"), site: "datadoghq.com",
			want: orgapi.Endpoint{URL: "http://127.0.0.1:1", From: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.e.For(tt.site)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestErrorsNameTheEndpoint: when a call of an org fails, the error says
// where its calls went and who chose that.
func TestErrorsNameTheEndpoint(t *testing.T) {
	t.Parallel()
	org := plan.SourceOrg{Label: "team-a", ID: orgID(1, 1), Site: "datadoghq.eu", APIKeyEnv: "A_API", AppKeyEnv: "A_APP"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errors":["Forbidden"]}`, http.StatusForbidden)
	})
	var told []string
	ep := orgapi.Endpoints{BySite: map[string]orgapi.Endpoint{"datadoghq.eu": {URL: "http://127.0.0.1:9", From: "set by --api-url datadoghq.eu=URL"}}}
	c, err := orgapi.New(orgapi.Config{Endpoints: ep, Transport: handlerTransport{h},
		Keys:       keys.Env{Getenv: getenv(map[string]string{"A_API": "a1", "A_APP": "a2"})},
		OnEndpoint: func(o plan.SourceOrg, e orgapi.Endpoint) { told = append(told, o.Label+": "+e.String()) },
	}, []plan.SourceOrg{org})
	require.NoError(t, err)
	assert.Equal(t, []string{"team-a: http://127.0.0.1:9, set by --api-url datadoghq.eu=URL"}, told)
	mo := manifest.Org{Label: org.Label, ID: org.ID, Site: org.Site}
	_, err = c.CurrentUser(t.Context(), mo)
	assert.ErrorContains(t, err, "403")
	assert.ErrorContains(t, err, "(endpoint http://127.0.0.1:9, set by --api-url datadoghq.eu=URL)")
	_, err = c.ListConnections(t.Context(), mo)
	assert.ErrorContains(t, err, "(endpoint http://127.0.0.1:9, set by --api-url datadoghq.eu=URL)")
	_, _, err = c.CreateConnection(t.Context(), org, orgID(2, 1), []string{"logs"})
	assert.ErrorContains(t, err, "(endpoint http://127.0.0.1:9, set by --api-url datadoghq.eu=URL)")
	assert.True(t, api.IsForbidden(err), "the API error is still reachable: %v", err)
}
