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

// BaseURL resolves a manifest `site` to the base URL of its API.
//
// A known site gives "https://api.<site>". An "https://" URL is returned as
// is, without its trailing slash. An "http://" URL is accepted only on a
// loopback host (127.0.0.0/8, ::1, localhost), because keys would otherwise
// cross the network in clear text. Anything else is an error that lists the
// allowed sites.
func BaseURL(site string) (string, error) {
	s := strings.TrimSpace(site)
	if s == "" {
		return "", fmt.Errorf("empty site: use one of %s, or an https:// URL", strings.Join(Sites, ", "))
	}
	if strings.Contains(s, "://") {
		if err := checkBaseURL(s); err != nil {
			return "", err
		}
		return strings.TrimRight(s, "/"), nil
	}
	for _, known := range Sites {
		if strings.EqualFold(s, known) {
			return "https://api." + known, nil
		}
	}
	hint := ""
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "api."); ok {
		for _, known := range Sites {
			if rest == known {
				hint = fmt.Sprintf(" (did you mean %q?)", known)
			}
		}
	}
	return "", fmt.Errorf("unknown site %q%s: use one of %s, or an https:// URL", s, hint, strings.Join(Sites, ", "))
}

// checkBaseURL accepts https URLs and loopback http URLs, and nothing that
// could carry a secret in the URL itself (user info, query, fragment). Its
// errors quote the URL only once it is known to hold none.
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
