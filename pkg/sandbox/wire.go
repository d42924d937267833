package sandbox

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// The wire structs below are this package's own, not pkg/api's (see the
// package doc). Field order is the order Datadog sends, because the
// recordings are compared byte for byte.

type connWire struct {
	Type          string        `json:"type"`
	ID            string        `json:"id"`
	Attributes    connAttrsWire `json:"attributes"`
	Relationships connRelsWire  `json:"relationships"`
}

type connAttrsWire struct {
	CreatedAt       string   `json:"created_at"`
	ConnectionTypes []string `json:"connection_types"`
}

type connRelsWire struct {
	SourceOrg relWire `json:"source_org"`
	SinkOrg   relWire `json:"sink_org"`
	CreatedBy relWire `json:"created_by"`
}

type relWire struct {
	Data relDataWire `json:"data"`
}

// relDataWire has a pointer Name because PATCH answers leave the name out
// while create and list answers send it, possibly empty.
type relDataWire struct {
	Type string  `json:"type"`
	ID   string  `json:"id"`
	Name *string `json:"name,omitempty"`
}

type oneWire struct {
	Data any `json:"data"`
}

type listWire struct {
	Data     []connWire `json:"data"`
	Included []any      `json:"included,omitempty"`
	Meta     metaWire   `json:"meta"`
}

type metaWire struct {
	Page pageWire `json:"page"`
}

type pageWire struct {
	TotalCount         int `json:"total_count"`
	TotalFilteredCount int `json:"total_filtered_count"`
}

// includedOrgWire and includedUserWire mirror the undocumented `included`
// entries of the recorded list answers (TestAccDatadogOrgConnection_Basic).
type includedOrgWire struct {
	Type       string       `json:"type"`
	ID         string       `json:"id"`
	Attributes orgAttrsWire `json:"attributes"`
}

type orgAttrsWire struct {
	PublicID    string  `json:"public_id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Sharing     string  `json:"sharing"`
	URL         *string `json:"url"`
	Disabled    bool    `json:"disabled"`
	CreatedAt   string  `json:"created_at"`
	ModifiedAt  *string `json:"modified_at"`
}

type includedUserWire struct {
	Type       string        `json:"type"`
	ID         string        `json:"id"`
	Attributes userAttrsWire `json:"attributes"`
}

type userAttrsWire struct {
	Name                string   `json:"name"`
	Handle              string   `json:"handle"`
	CreatedAt           string   `json:"created_at"`
	ModifiedAt          string   `json:"modified_at"`
	Email               string   `json:"email"`
	Icon                string   `json:"icon"`
	Title               *string  `json:"title"`
	Verified            bool     `json:"verified"`
	ServiceAccount      bool     `json:"service_account"`
	Disabled            bool     `json:"disabled"`
	AllowedLoginMethods []string `json:"allowed_login_methods"`
	Status              string   `json:"status"`
}

// currentUserWire is GET /api/v2/current_user: the User schema, with the
// relationship that names the caller's org (API-NOTES.md section 10).
type currentUserWire struct {
	Type          string            `json:"type"`
	ID            string            `json:"id"`
	Attributes    userAttrsWire     `json:"attributes"`
	Relationships currentUserRelsWr `json:"relationships"`
}

type currentUserRelsWr struct {
	Org relWire `json:"org"`
}

// sandboxEpoch is when every synthetic org and user was "created": a fixed
// time, so that answers do not change from run to run.
var sandboxEpoch = formatTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))

// userName is the name of every org's synthetic user.
const userName = "orgsync sandbox"

// user is the one user behind an org's keys: the fixture's, or a personal
// user with a made-up handle. Its id is derived from the org id, so that
// created_by stays the same across restarts without storing users.
type user struct {
	id, handle     string
	serviceAccount bool
}

func orgUser(orgID string, fu *FixtureUser) user {
	u := user{id: userID(orgID), handle: "sandbox-" + orgID[:min(8, len(orgID))] + "@orgsync.invalid"}
	if fu != nil {
		u.handle, u.serviceAccount = strings.TrimSpace(fu.Handle), fu.ServiceAccount
	}
	return u
}

func (u user) attrs() userAttrsWire {
	return userAttrsWire{
		Name:                userName,
		Handle:              u.handle,
		CreatedAt:           sandboxEpoch,
		ModifiedAt:          sandboxEpoch,
		Email:               u.handle,
		Icon:                userIcon(u.handle),
		Verified:            true,
		ServiceAccount:      u.serviceAccount,
		AllowedLoginMethods: []string{},
		Status:              "Active",
	}
}

func userIcon(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return "https://secure.gravatar.com/avatar/" + hex.EncodeToString(sum[:]) + "?s=48&d=retro"
}

func includedOrg(id, name string) includedOrgWire {
	return includedOrgWire{Type: "orgs", ID: id, Attributes: orgAttrsWire{
		PublicID:  publicID(id),
		Name:      name,
		Sharing:   "all_private",
		CreatedAt: sandboxEpoch,
	}}
}

func includedUser(u user) includedUserWire {
	return includedUserWire{Type: "users", ID: u.id, Attributes: u.attrs()}
}

// managedOrgsWire is ManagedOrgsResponse (GET /api/v2/org) as the official
// Go client models it; no recording of it exists. Unlike the `included`
// orgs of a connection list, every attribute is a non-null value there.
type managedOrgsWire struct {
	Data     managedOrgsData  `json:"data"`
	Included []managedOrgWire `json:"included"`
}

type managedOrgsData struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Relationships managedOrgsRels `json:"relationships"`
}

type managedOrgsRels struct {
	CurrentOrg  orgRelWire     `json:"current_org"`
	ManagedOrgs orgRelManyWire `json:"managed_orgs"`
}

// orgRelWire and orgRelManyWire are OrgRelationshipData, id first as
// contract 8.7 writes it.
type orgRelWire struct {
	Data orgRelData `json:"data"`
}

type orgRelManyWire struct {
	Data []orgRelData `json:"data"`
}

type orgRelData struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type managedOrgWire struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Attributes managedOrgAttrs `json:"attributes"`
}

type managedOrgAttrs struct {
	Name        string `json:"name"`
	PublicID    string `json:"public_id"`
	CreatedAt   string `json:"created_at"`
	ModifiedAt  string `json:"modified_at"`
	Description string `json:"description"`
	Disabled    bool   `json:"disabled"`
	Sharing     string `json:"sharing"`
	URL         string `json:"url"`
}

func managedOrg(o *org) managedOrgWire {
	return managedOrgWire{ID: o.id, Type: "orgs", Attributes: managedOrgAttrs{
		Name:       o.name,
		PublicID:   publicID(o.id),
		CreatedAt:  sandboxEpoch,
		ModifiedAt: sandboxEpoch,
		Sharing:    "all_private",
		URL:        siteURL(o.site),
	}}
}

// publicID is an org's short public id, like the recorded "fasjyydbcgwwc2uc"
// of an older org: never a UUID, so a client that takes it for the org id
// fails in the sandbox as it would at Datadog.
func publicID(orgID string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	sum := md5.Sum([]byte("orgsync-sandbox-public-id:" + orgID))
	out := make([]byte, 16)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(out)
}

// siteURL is the web address of a site: app.<site> for the sites without a
// region prefix, <site> for the others.
func siteURL(site string) string {
	if strings.Count(site, ".") == 1 {
		return "https://app." + site
	}
	return "https://" + site
}

// encodeJSON encodes v like Datadog: compact, "&" and "<" left as they are
// (the recorded gravatar URLs hold a raw "&"), and a final newline.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the wire structs above are encoded; they cannot fail.
		panic("sandbox: encode answer: " + err.Error())
	}
	return buf.Bytes()
}

// errorBody is the APIErrorResponse `{"errors":[msg]}`. Datadog ends some of
// these bodies with a newline and some without (the recordings show both),
// so the caller says which.
func errorBody(msg string, newline bool) []byte {
	b := encodeJSON(struct {
		Errors []string `json:"errors"`
	}{[]string{msg}})
	if !newline {
		b = b[:len(b)-1]
	}
	return b
}
