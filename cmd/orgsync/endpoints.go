package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/orgsync/orgsync/internal/orgapi"
	"github.com/orgsync/orgsync/pkg/api"
	"github.com/orgsync/orgsync/pkg/plan"
	"github.com/orgsync/orgsync/pkg/site"
)

// apiURLFlag is the repeatable --api-url: "URL" sends every org's calls to
// URL, "SITE=URL" only those of the orgs on SITE. Endpoints are the
// operator's choice: a manifest names Datadog sites only, since it may come
// from a pull request whose author must not choose where keys go.
type apiURLFlag struct {
	all    string
	bySite map[string]string // canonical site name -> URL
	given  []string          // the values as given, to repeat them in hints
	err    error             // of the first bad value, for check
}

func (f *apiURLFlag) String() string { return strings.Join(f.given, " ") }

// Set records v. A bad value is reported by check, not here: the flag
// package would quote it, and a careless URL may carry a key.
func (f *apiURLFlag) Set(v string) error {
	if err := f.add(v); err != nil && f.err == nil {
		f.err = fmt.Errorf("--api-url: %w", err)
	}
	return nil
}

// check returns the problem with the first bad value given, if any.
func (f *apiURLFlag) check() error { return f.err }

func (f *apiURLFlag) add(v string) error {
	siteName, url, perSite := splitSiteURL(v)
	if err := api.CheckBaseURL(url); err != nil {
		return err
	}
	if !perSite {
		if f.all != "" {
			return errors.New("a URL for every org is given twice; give one, and SITE=URL for the orgs of one site")
		}
		f.all = url
	} else {
		name, ok := site.Canonical(siteName)
		if !ok {
			return fmt.Errorf("unknown site %q in SITE=URL (sites: %s)", siteName, strings.Join(site.Names, ", "))
		}
		if _, dup := f.bySite[name]; dup {
			return fmt.Errorf("site %s is given twice", name)
		}
		if f.bySite == nil {
			f.bySite = map[string]string{}
		}
		f.bySite[name] = url
	}
	f.given = append(f.given, v)
	return nil
}

// splitSiteURL splits "SITE=URL". A value whose first "=" comes after a
// "://" is a URL (one with "=" in its path).
func splitSiteURL(v string) (siteName, url string, perSite bool) {
	before, after, ok := strings.Cut(v, "=")
	if !ok || strings.Contains(before, "://") {
		return "", v, false
	}
	return before, after, true
}

func (f *apiURLFlag) empty() bool { return len(f.given) == 0 }

// hintFlags repeats the --api-url flags for a follow-up command.
func (f *apiURLFlag) hintFlags() string {
	var b strings.Builder
	for _, v := range f.given {
		b.WriteString(" --api-url " + v)
	}
	return b.String()
}

// endpoints returns where each org's calls go: the orgs of a site given
// with --api-url SITE=URL go there; the others go to --api-url URL, else to
// $ORGSYNC_API_URL, else to their site's API.
func (f *apiURLFlag) endpoints(getenv func(string) string) (orgapi.Endpoints, error) {
	var e orgapi.Endpoints
	switch env := getenv("ORGSYNC_API_URL"); {
	case f.all != "":
		e = orgapi.Everywhere(f.all, "set by --api-url")
	case env != "":
		if err := api.CheckBaseURL(env); err != nil {
			return e, withHint(fmt.Errorf("ORGSYNC_API_URL: %w", err), "ORGSYNC_API_URL holds one base URL for every org; give per-site endpoints with --api-url SITE=URL")
		}
		e = orgapi.Everywhere(env, "set by ORGSYNC_API_URL")
	}
	for name, url := range f.bySite {
		if e.BySite == nil {
			e.BySite = map[string]orgapi.Endpoint{}
		}
		e.BySite[name] = orgapi.Endpoint{URL: strings.TrimRight(url, "/"), From: "set by --api-url " + name + "=URL"}
	}
	return e, nil
}

// endpointLogger prints, for -v, where each org's calls go.
func endpointLogger(w io.Writer) func(plan.SourceOrg, orgapi.Endpoint) {
	return func(o plan.SourceOrg, e orgapi.Endpoint) {
		fmt.Fprintf(w, "orgsync: org %s: endpoint %s\n", o.Label, e)
	}
}
