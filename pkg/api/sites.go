package api

import (
	"errors"
	"fmt"
	"github.com/orgsync/orgsync/pkg/site"
	"net"
	"net/url"
	"strings"
)

// Sites lists the Datadog sites a manifest may name (see [site.Names]).
var Sites = site.Names

// BaseURL returns the base URL of a Datadog site's API, "https://api.<site>",
// for a site name or one of the UI aliases of [site.Canonical], in any case.
//
// Anything else, a URL included, is an error: where keys are sent is never
// read from a manifest or a saved plan. Other endpoints (an emulator, a
// proxy) are the operator's choice, checked with [CheckBaseURL].
func BaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if name, ok := site.Canonical(s); ok {
		return "https://api." + name, nil
	}
	switch {
	case s == "":
		return "", fmt.Errorf("empty site: use one of %s", strings.Join(Sites, ", "))
	case strings.Contains(s, "://"):
		// Not quoted: a careless URL may carry a key.
		return "", fmt.Errorf("a URL is not a Datadog site: use one of %s", strings.Join(Sites, ", "))
	}
	hint := ""
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "api."); ok {
		if name, ok := site.Canonical(rest); ok {
			hint = fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return "", fmt.Errorf("unknown site %q%s: use one of %s", s, hint, strings.Join(Sites, ", "))
}

// CheckBaseURL accepts the base URL of an endpoint that the operator
// chose: https on any host, or http on a loopback host only (127.0.0.0/8,
// ::1, localhost), because keys would otherwise cross the network in clear
// text. It refuses anything that could carry a secret in the URL itself
// (user info, query, fragment), and its errors quote the URL only once it is
// known to hold none.
func CheckBaseURL(raw string) error { return checkBaseURL(raw) }

// checkBaseURL is [CheckBaseURL].
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error would quote the whole input
		}
		return fmt.Errorf("invalid base URL: %w", err)
	}
	switch {
	case u.User != nil:
		return errors.New("invalid base URL: user info (user:password@) is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("invalid base URL: a query or fragment is not allowed")
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("invalid base URL %q: the scheme must be https (or http on a loopback address)", raw)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "" || strings.HasSuffix(u.Host, ":"):
		return fmt.Errorf("invalid base URL %q: no host", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Errorf("invalid base URL %q: http:// is allowed only on a loopback address (127.0.0.1, ::1, localhost); use https://", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
