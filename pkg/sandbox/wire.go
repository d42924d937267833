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

// currentUserWire is GET /api/v2/current_user: the parts of the User schema
// that name the caller's org (API-NOTES.md section 10).
type currentUserWire struct {
	Type          string            `json:"type"`
	ID            string            `json:"id"`
	Attributes    currentUserAttrs  `json:"attributes"`
	Relationships currentUserRelsWr `json:"relationships"`
}

type currentUserAttrs struct {
	Name   string `json:"name"`
	Handle string `json:"handle"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

type currentUserRelsWr struct {
	Org relWire `json:"org"`
}

// sandboxEpoch is when every synthetic org and user was "created": a fixed
// time, so that answers do not change from run to run.
var sandboxEpoch = formatTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))

// userName is the name of every org's synthetic user.
const userName = "orgsync sandbox"

func userHandle(orgID string) string {
	return "sandbox-" + orgID[:min(8, len(orgID))] + "@orgsync.invalid"
}

func userIcon(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return "https://secure.gravatar.com/avatar/" + hex.EncodeToString(sum[:]) + "?s=48&d=retro"
}

func includedOrg(id, name string) includedOrgWire {
	return includedOrgWire{Type: "orgs", ID: id, Attributes: orgAttrsWire{
		PublicID:  id,
		Name:      name,
		Sharing:   "all_private",
		CreatedAt: sandboxEpoch,
	}}
}

func includedUser(orgID string) includedUserWire {
	h := userHandle(orgID)
	return includedUserWire{Type: "users", ID: userID(orgID), Attributes: userAttrsWire{
		Name:                userName,
		Handle:              h,
		CreatedAt:           sandboxEpoch,
		ModifiedAt:          sandboxEpoch,
		Email:               h,
		Icon:                userIcon(h),
		Verified:            true,
		AllowedLoginMethods: []string{},
		Status:              "Active",
	}}
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
