// Package cassette reads the HTTP recordings (go-vcr cassettes) that
// Datadog's own client tests made against api.datadoghq.com. They are the
// ground truth that the client and the emulator are tested against.
//
// Both cassette layouts in testdata/cassettes parse with the same types: the
// older go-vcr one (datadog-api-client-go) and go-vcr v2 (the Terraform
// provider), which only adds fields that are ignored here.
package cassette

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Cassette is one recorded scenario.
type Cassette struct {
	Name         string
	Interactions []Interaction `yaml:"interactions"`
}

// Interaction is one request and the answer it got.
type Interaction struct {
	Request  Request  `yaml:"request"`
	Response Response `yaml:"response"`
}

// Request is a recorded request.
type Request struct {
	Body    string              `yaml:"body"`
	Headers map[string][]string `yaml:"headers"`
	Method  string              `yaml:"method"`
	URL     string              `yaml:"url"`
}

// Response is a recorded response.
type Response struct {
	Body    string              `yaml:"body"`
	Headers map[string][]string `yaml:"headers"`
	Code    int                 `yaml:"code"`
}

// PathAndQuery returns the request URL without scheme and host, as a server
// sees it ("/api/v2/org_connections?sink_org_id=...").
func (r Request) PathAndQuery() (string, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return "", err
	}
	return u.RequestURI(), nil
}

// Load reads one cassette file.
func Load(path string) (*Cassette, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Cassette
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse cassette %s: %w", path, err)
	}
	c.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return &c, nil
}

// LoadDir reads every *.yaml cassette in dir, sorted by name.
func LoadDir(dir string) ([]*Cassette, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Cassette
	for _, p := range paths {
		c, err := Load(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
