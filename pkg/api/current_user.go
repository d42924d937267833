package api

import (
	"context"
	"errors"
	"net/http"
)

const currentUserPath = "/api/v2/current_user"

// User is a Datadog user: the owner of a client's keys, or the creator of a
// connection. Datadog deletes the connections a user created when that user
// is deactivated, which is why it recommends service accounts.
type User struct {
	ID     string
	Handle string // "" when the answer does not say
	// ServiceAccount is nil when the answer does not say.
	ServiceAccount *bool
}

// Me is what GET /api/v2/current_user says about a client's keys: the user
// they belong to and that user's org.
type Me struct {
	User
	OrgID string
}

// userAttributes are the parts of a user's attributes orgsync reads; both
// may be absent.
type userAttributes struct {
	Handle         string `json:"handle"`
	ServiceAccount *bool  `json:"service_account"`
}

// CurrentUser calls GET /api/v2/current_user and returns the user the
// client's keys belong to (data.attributes.handle and service_account, both
// optional) and that user's org (data.relationships.org.data.id, required:
// keys of the wrong org must never create connections).
func (c *Client) CurrentUser(ctx context.Context) (Me, error) {
	var resp struct {
		Data struct {
			ID            string         `json:"id"`
			Attributes    userAttributes `json:"attributes"`
			Relationships struct {
				Org Relationship `json:"org"`
			} `json:"relationships"`
		} `json:"data"`
	}
	r := request{method: http.MethodGet, key: "GET " + currentUserPath, path: currentUserPath, out: &resp}
	if err := c.do(ctx, r); err != nil {
		return Me{}, err
	}
	me := Me{
		User:  User{ID: resp.Data.ID, Handle: resp.Data.Attributes.Handle, ServiceAccount: resp.Data.Attributes.ServiceAccount},
		OrgID: resp.Data.Relationships.Org.id(),
	}
	if me.OrgID == "" {
		return Me{}, &DecodeError{Method: r.method, URL: r.path, StatusCode: http.StatusOK,
			ContentType: "application/json", Err: errors.New("the answer holds no data.relationships.org.data.id")}
	}
	return me, nil
}

// CurrentOrg calls GET /api/v2/current_user and returns the id of the org
// that the client's keys belong to.
func (c *Client) CurrentOrg(ctx context.Context) (string, error) {
	me, err := c.CurrentUser(ctx)
	return me.OrgID, err
}
