package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/orgsync/orgsync/pkg/api"
)

func TestNewClient(t *testing.T) {
	t.Parallel()
	valid := api.Config{BaseURL: "https://api.datadoghq.com", APIKey: testAPIKey, AppKey: testAppKey}
	tests := []struct {
		name    string
		edit    func(*api.Config)
		wantErr string
	}{
		{name: "minimal", edit: func(*api.Config) {}},
		{name: "base path", edit: func(c *api.Config) { c.BaseURL = "https://proxy.example.com/dd/" }},
		{name: "loopback http", edit: func(c *api.Config) { c.BaseURL = "http://127.0.0.1:8080" }},
		{name: "rate and burst", edit: func(c *api.Config) { c.Rate, c.Burst = 5, 1 }},
		{name: "infinite rate needs no burst", edit: func(c *api.Config) { c.Rate = rate.Inf }},
		{name: "everything", edit: func(c *api.Config) {
			c.UserAgent, c.Timeout, c.MaxRetries, c.MaxRetryWait = "orgsync/1.2.3", time.Second, 5, time.Minute
			c.Rate, c.Burst, c.RateIsCap, c.HTTPClient = 2, 3, true, &http.Client{}
		}},
		{name: "no base URL", edit: func(c *api.Config) { c.BaseURL = "" }, wantErr: "no base URL"},
		{name: "site instead of URL", edit: func(c *api.Config) { c.BaseURL = "datadoghq.com" }, wantErr: "scheme must be https"},
		{name: "plain http", edit: func(c *api.Config) { c.BaseURL = "http://api.datadoghq.com" }, wantErr: "only on a loopback"},
		{name: "no API key", edit: func(c *api.Config) { c.APIKey = "" }, wantErr: "no API key"},
		{name: "no app key", edit: func(c *api.Config) { c.AppKey = "" }, wantErr: "no application key"},
		{name: "key with newline", edit: func(c *api.Config) { c.APIKey = testAPIKey + "\n" }, wantErr: "API key contains whitespace"},
		{name: "key with space", edit: func(c *api.Config) { c.AppKey = "a " + testAppKey }, wantErr: "application key contains whitespace"},
		{name: "negative rate", edit: func(c *api.Config) { c.Rate = -1 }, wantErr: "invalid rate"},
		{name: "rate without burst", edit: func(c *api.Config) { c.Rate = 5 }, wantErr: "invalid burst 0"},
		{name: "negative retries", edit: func(c *api.Config) { c.MaxRetries = -1 }, wantErr: "invalid max retries"},
		{name: "negative timeout", edit: func(c *api.Config) { c.Timeout = -time.Second }, wantErr: "invalid timeout"},
		{name: "negative max wait", edit: func(c *api.Config) { c.MaxRetryWait = -time.Second }, wantErr: "invalid max retry wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.edit(&cfg)
			c, err := api.NewClient(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assertNoKeys(t, err.Error())
		})
	}
}

func TestNewClientKeepsCallerHTTPClient(t *testing.T) {
	t.Parallel()
	hc := &http.Client{}
	_, err := api.NewClient(api.Config{BaseURL: "https://api.datadoghq.com", APIKey: testAPIKey, AppKey: testAppKey, HTTPClient: hc})
	require.NoError(t, err)
	assert.Nil(t, hc.CheckRedirect, "the caller's client is not modified")
}

func TestDefaultUserAgent(t *testing.T) {
	t.Parallel()
	c, mux := newTestClient(t, func(cfg *api.Config) { cfg.UserAgent = "" })
	mux.HandleFunc("/api/v2/current_user", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "orgsync/dev", r.Header.Get("User-Agent"))
		writeJSON(w, 200, `{"data":{"relationships":{"org":{"data":{"type":"orgs","id":"`+sourceOrg+`"}}}}}`)
	})
	_, err := c.CurrentOrg(t.Context())
	require.NoError(t, err)
}

func TestStringHidesKeys(t *testing.T) {
	t.Parallel()
	cfg := api.Config{BaseURL: "https://api.datadoghq.com", APIKey: testAPIKey, AppKey: testAppKey, Rate: 5, Burst: 2}
	c, err := api.NewClient(cfg)
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg, &cfg, c, *c} {
			s := fmt.Sprintf(format, v)
			assertNoKeys(t, s)
		}
	}
	assert.Contains(t, cfg.String(), "https://api.datadoghq.com")
	assert.Contains(t, cfg.String(), "APIKey: [redacted]")
	assert.Equal(t, "api.Client(https://api.datadoghq.com)", c.String())
}
