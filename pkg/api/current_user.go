package api

import (
	"context"
	"errors"
	"net/http"
)

const currentUserPath = "/api/v2/current_user"

// CurrentOrg calls GET /api/v2/current_user and returns the id of the org
// that the client's keys belong to (data.relationships.org.data.id), so
// that keys of the wrong org never create connections.
func (c *Client) CurrentOrg(ctx context.Context) (string, error) {
	var resp struct {
		Data struct {
			Relationships struct {
				Org Relationship `json:"org"`
			} `json:"relationships"`
		} `json:"data"`
	}
	r := request{method: http.MethodGet, key: "GET " + currentUserPath, path: currentUserPath, out: &resp}
	if err := c.do(ctx, r); err != nil {
		return "", err
	}
	id := resp.Data.Relationships.Org.id()
	if id == "" {
		return "", &DecodeError{Method: r.method, URL: r.path, StatusCode: http.StatusOK,
			ContentType: "application/json", Err: errors.New("the answer holds no data.relationships.org.data.id")}
	}
	return id, nil
}
