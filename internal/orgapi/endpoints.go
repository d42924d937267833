package orgapi

import (
	"strings"

	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/site"
)

// Endpoint is the base URL that an org's calls go to, and who chose it, so
// that the verbose log and errors can say where a request went.
type Endpoint struct {
	URL  string // base URL, without a trailing slash
	From string // a phrase such as "set by --api-url" or "the API of site datadoghq.eu"
}

// String returns "URL, FROM".
func (e Endpoint) String() string { return e.URL + ", " + e.From }

// Endpoints says where each org's calls go. The zero value sends every org
// to the API of its Datadog site. Endpoints other than the sites' are the
// operator's (command line, environment), never a manifest's or a saved
// plan's: those name sites only.
type Endpoints struct {
	All    *Endpoint           // every org whose site BySite does not name
	BySite map[string]Endpoint // keyed by site name, as site.Canonical returns it
}

// Everywhere sends every org's calls to url.
func Everywhere(url, from string) Endpoints {
	return Endpoints{All: &Endpoint{URL: strings.TrimRight(url, "/"), From: from}}
}

// For returns the endpoint of an org on the site s: the operator's for that
// site, else the operator's for every site, else the site's own API. A site
// that is not a Datadog site is an error unless the operator sends every
// org elsewhere.
func (e Endpoints) For(s string) (Endpoint, error) {
	name, known := site.Canonical(strings.TrimSpace(s))
	if ep, ok := e.BySite[name]; known && ok {
		return ep, nil
	}
	if e.All != nil {
		return *e.All, nil
	}
	base, err := api.BaseURL(s)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{URL: base, From: "the API of site " + name}, nil
}
