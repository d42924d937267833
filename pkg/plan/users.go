package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/orgsync/orgsync/pkg/manifest"
)

// User is a Datadog user: the owner of an org's keys, or the creator of a
// live connection. Datadog deletes the connections a user created when that
// user is deactivated, so connections made with a person's keys vanish when
// that person leaves; Datadog recommends service accounts.
type User struct {
	ID     string `json:"id"`
	Handle string `json:"handle,omitempty"`
	// ServiceAccount is nil when the API did not say.
	ServiceAccount *bool `json:"service_account,omitempty"`
}

// Personal reports whether u is known to be a person's account rather than
// a service account.
func (u *User) Personal() bool { return u != nil && u.ServiceAccount != nil && !*u.ServiceAccount }

// name is how messages name the user: the handle, else the id.
func (u *User) name() string {
	if u.Handle != "" {
		return u.Handle
	}
	return "user " + u.ID
}

// KeyOwner is what GET /api/v2/current_user says about an org's keys.
type KeyOwner struct {
	OrgID string // the org the keys belong to
	User  User
}

// ErrNotServiceAccount is wrapped by the error for an org whose keys do not
// belong to a service account when one is required.
var ErrNotServiceAccount = errors.New("keys do not belong to a service account")

// whyServiceAccount says why the owner of the keys matters, for warnings
// and errors.
const whyServiceAccount = "Datadog deletes the connections a user created when that user is deactivated; use the keys of a service account"

// PersonalKeyWarnings returns one warning per org of orgs (in that order)
// that was read with the keys of a personal user.
func PersonalKeyWarnings(st State, orgs []manifest.Org) []string {
	var out []string
	for _, o := range orgs {
		u, ok := st.Owners[o.Label]
		if _, read := st.Orgs[o.Label]; !read || !ok || !u.Personal() {
			continue
		}
		out = append(out, fmt.Sprintf("org %s: its keys belong to %s, a personal user, not a service account: %s (--require-service-account makes this an error)",
			o.Label, u.name(), whyServiceAccount))
	}
	return out
}

// RequireServiceAccounts takes out of st every org of orgs whose keys are
// not known to belong to a service account, and returns one *OrgError
// (wrapping ErrNotServiceAccount) for each, so that no write is made with
// those keys.
func RequireServiceAccounts(st *State, orgs []manifest.Org) []*OrgError {
	var out []*OrgError
	for _, o := range orgs {
		if _, read := st.Orgs[o.Label]; !read {
			continue
		}
		u := st.Owners[o.Label]
		var err error
		switch {
		case u.Personal():
			err = fmt.Errorf("%w: they belong to %s, a personal user, and --require-service-account is set: %s", ErrNotServiceAccount, u.name(), whyServiceAccount)
		case u.ServiceAccount == nil:
			err = fmt.Errorf("%w: the API did not say whether %s is a service account, and --require-service-account is set", ErrNotServiceAccount, u.name())
		default:
			continue
		}
		delete(st.Orgs, o.Label)
		out = append(out, &OrgError{Org: o, Err: err})
	}
	return out
}

// creatorCount is, for one source org, how many of its live connections
// were made by personal users.
type creatorCount struct {
	Label          string
	Personal, Live int
}

// personalCreators counts, per source org that has any, the live
// connections of the plan made by personal users, in label order.
func personalCreators(changes []Change) []creatorCount {
	byLabel := make(map[string]*creatorCount)
	for _, c := range changes {
		if c.ConnectionID == "" {
			continue
		}
		n := byLabel[c.SourceOrg.Label]
		if n == nil {
			n = &creatorCount{Label: c.SourceOrg.Label}
			byLabel[c.SourceOrg.Label] = n
		}
		n.Live++
		if c.CreatedBy.Personal() {
			n.Personal++
		}
	}
	var out []creatorCount
	for _, n := range byLabel {
		if n.Personal > 0 {
			out = append(out, *n)
		}
	}
	slices.SortFunc(out, func(a, b creatorCount) int { return cmp.Compare(a.Label, b.Label) })
	return out
}
