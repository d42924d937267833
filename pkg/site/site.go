// Package site names the Datadog sites. It is the one list that both the
// manifest (which may name only these) and the API client (which maps each
// to its base URL) read, so that neither has to know the other.
package site

import "strings"

// Names lists the Datadog sites a manifest may name. Each one is served at
// "https://api.<site>".
var Names = []string{
	"datadoghq.com",
	"us3.datadoghq.com",
	"us5.datadoghq.com",
	"datadoghq.eu",
	"ap1.datadoghq.com",
	"ap2.datadoghq.com",
	"uk1.datadoghq.com",
	"ddog-gov.com",
	"us2.ddog-gov.com",
}

// Aliases maps the host names of Datadog's web UI, which users copy from
// their browser's address bar, to the site they belong to. The UI of the
// other sites is served at the site's own name.
var Aliases = map[string]string{
	"app.datadoghq.com": "datadoghq.com",
	"app.datadoghq.eu":  "datadoghq.eu",
	"app.ddog-gov.com":  "ddog-gov.com",
}

// Canonical returns the site that s names, in the lower-case form of
// [Names]: s is a site name or a UI alias, in any case. It returns false
// for anything else, a URL included.
func Canonical(s string) (string, bool) {
	l := strings.ToLower(s)
	for _, n := range Names {
		if l == n {
			return n, true
		}
	}
	if n, ok := Aliases[l]; ok {
		return n, true
	}
	return "", false
}
