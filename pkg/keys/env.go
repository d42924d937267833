package keys

import (
	"context"
	"strings"
)

// Env reads an org's keys from the env vars the manifest names for it
// (api_key_env and app_key_env), with Getenv (os.Getenv in production).
type Env struct {
	Getenv func(string) string
}

// Keys implements [Source].
func (e Env) Keys(_ context.Context, org Org) (Pair, error) {
	p := Pair{API: e.Getenv(org.APIKeyEnv), App: e.Getenv(org.AppKeyEnv)}
	var unset, what []string
	if p.API == "" {
		unset, what = append(unset, "$"+org.APIKeyEnv), append(what, "API")
	}
	if p.App == "" {
		unset, what = append(unset, "$"+org.AppKeyEnv), append(what, "application")
	}
	switch len(unset) {
	case 1:
		return Pair{}, &Error{Org: org.Label, Where: unset[0], Missing: true, LeaveOut: true,
			Msg: "not set (the manifest names it for the org's " + what[0] + " key); set it"}
	case 2:
		return Pair{}, &Error{Org: org.Label, Where: strings.Join(unset, " and "), Missing: true, LeaveOut: true,
			Msg: "not set (the manifest names them for the org's API and application keys); set them"}
	}
	if msg := checkKey(p.API); msg != "" {
		return Pair{}, &Error{Org: org.Label, Where: "$" + org.APIKeyEnv, Msg: "the API key " + msg}
	}
	if msg := checkKey(p.App); msg != "" {
		return Pair{}, &Error{Org: org.Label, Where: "$" + org.AppKeyEnv, Msg: "the application key " + msg}
	}
	return p, nil
}
