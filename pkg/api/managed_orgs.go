package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Wire types of GET /api/v2/org ("List your managed organizations"). They
// follow the model of Datadog's official Go client (ManagedOrgsResponse,
// ManagedOrgsData, OrgData, OrgAttributes in api/datadogV2), since no
// recorded exchange of this endpoint exists. That model marks every part
// as required, but nothing recorded shows that the server always sends
// them all, so decoding is tolerant: only the ids are needed, and an org
// missing from "included" (the current org, say) is an org without a name.

// ManagedOrgsResponse is the answer of GET /api/v2/org: the caller's org and
// the orgs it manages, their details in Included.
type ManagedOrgsResponse struct {
	Data     ManagedOrgsData `json:"data"`
	Included []OrgData       `json:"included"`
}

// ManagedOrgsData is the "managed_orgs" resource: its id is the caller's org.
type ManagedOrgsData struct {
	ID            string                   `json:"id"`
	Type          string                   `json:"type"`
	Relationships ManagedOrgsRelationships `json:"relationships"`
}

// ManagedOrgsRelationships names the current org and the managed orgs by id.
type ManagedOrgsRelationships struct {
	CurrentOrg  *Relationship  `json:"current_org,omitempty"`
	ManagedOrgs *Relationships `json:"managed_orgs,omitempty"`
}

// Relationships is a JSON:API to-many relationship.
type Relationships struct {
	Data []RelationshipData `json:"data"`
}

// OrgData is an org resource of "included".
type OrgData struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	Attributes OrgAttributes `json:"attributes"`
}

// OrgAttributes describe an org. PublicID is not the org's UUID: for older
// orgs it is a short id (UUID 4dee724d-00cc-11ea-a77b-570c9d03c6c5 has the
// public id fasjyydbcgwwc2uc), so it must never stand for the org. The
// times are kept as sent.
type OrgAttributes struct {
	Name        string `json:"name"`
	PublicID    string `json:"public_id,omitempty"`
	CreatedAt   string `json:"created_at,omitempty"`
	ModifiedAt  string `json:"modified_at,omitempty"`
	Description string `json:"description,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	Sharing     string `json:"sharing,omitempty"`
	URL         string `json:"url,omitempty"`
}

// orgType is the JSON:API type of an org.
const orgType = "orgs"

// CurrentOrgID returns the id of the caller's org: the current_org
// relationship, or the resource's own id when that is absent.
func (r *ManagedOrgsResponse) CurrentOrgID() string {
	if id := r.Data.Relationships.CurrentOrg.id(); id != "" {
		return id
	}
	return r.Data.ID
}

// Orgs returns the current org and the managed orgs, in the server's order,
// with their attributes from Included when it has them (an org it leaves
// out has only its id). The current org is never among the managed ones,
// and an org listed twice comes once. Included orgs that neither
// relationship names are not returned: they are not the account's.
func (r *ManagedOrgsResponse) Orgs() (current OrgData, managed []OrgData) {
	byID := make(map[string]OrgData, len(r.Included))
	for _, o := range r.Included {
		if o.Type == orgType || o.Type == "" {
			byID[strings.ToLower(o.ID)] = o
		}
	}
	resolve := func(id string) OrgData {
		if o, ok := byID[strings.ToLower(id)]; ok {
			o.ID = id
			return o
		}
		return OrgData{ID: id, Type: orgType}
	}
	current = resolve(r.CurrentOrgID())
	seen := map[string]bool{strings.ToLower(current.ID): true}
	if r.Data.Relationships.ManagedOrgs != nil {
		for _, d := range r.Data.Relationships.ManagedOrgs.Data {
			k := strings.ToLower(d.ID)
			if d.ID == "" || seen[k] {
				continue
			}
			seen[k] = true
			managed = append(managed, resolve(d.ID))
		}
	}
	return current, managed
}

const managedOrgsPath = "/api/v2/org"

// ListManagedOrgs calls GET /api/v2/org: the caller's org and the orgs it
// manages (permission org_management or org_connections_write). A non-empty
// nameFilter is sent as filter[name]. The answer has no pages.
func (c *Client) ListManagedOrgs(ctx context.Context, nameFilter string) (*ManagedOrgsResponse, error) {
	q := url.Values{}
	if nameFilter != "" {
		q.Set("filter[name]", nameFilter)
	}
	var resp ManagedOrgsResponse
	r := request{method: http.MethodGet, key: "GET " + managedOrgsPath, path: managedOrgsPath, query: q, out: &resp}
	if err := c.do(ctx, r); err != nil {
		return nil, err
	}
	bad := func(msg string) error {
		display := r.path
		if len(q) > 0 {
			display += "?" + q.Encode()
		}
		return &DecodeError{Method: r.method, URL: display, StatusCode: http.StatusOK,
			ContentType: "application/json", Err: errors.New(msg)}
	}
	if resp.CurrentOrgID() == "" {
		return nil, bad("the answer names no current org (data.id)")
	}
	if mo := resp.Data.Relationships.ManagedOrgs; mo != nil {
		for i, d := range mo.Data {
			if d.ID == "" {
				return nil, bad(fmt.Sprintf("managed org %d has no id", i))
			}
		}
	}
	return &resp, nil
}
