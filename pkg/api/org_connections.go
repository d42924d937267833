package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Wire types of the Org Connections API, as in Datadog's OpenAPI spec and
// the recorded answers. Unknown fields are ignored; of the list's
// "included" items only the users are read, to name each connection's
// creator.

// connectionType is the JSON:API type of a connection.
const connectionType = "org_connection"

// Connection is one org connection: data flows from the source org (whose
// keys created it) to the sink org.
type Connection struct {
	ID            string                  `json:"id"`
	Type          string                  `json:"type"`
	Attributes    ConnectionAttributes    `json:"attributes"`
	Relationships ConnectionRelationships `json:"relationships"`
	// Creator is the user the created_by relationship names, with the handle
	// and service_account of the list's included users when it holds them;
	// nil when the answer names no creator.
	Creator *User `json:"-"`
}

// ConnectionAttributes holds a connection's types ("logs", "metrics",
// "audit"; a set, in the server's order) and creation time.
type ConnectionAttributes struct {
	ConnectionTypes []string `json:"connection_types"`
	CreatedAt       string   `json:"created_at,omitempty"`
}

// ConnectionRelationships links a connection to its orgs and creator. The
// PATCH answer carries them without names.
type ConnectionRelationships struct {
	SourceOrg *Relationship `json:"source_org,omitempty"`
	SinkOrg   *Relationship `json:"sink_org,omitempty"`
	CreatedBy *Relationship `json:"created_by,omitempty"`
}

// Relationship is a JSON:API relationship.
type Relationship struct {
	Data *RelationshipData `json:"data,omitempty"`
}

// RelationshipData names the related org ("orgs") or user ("users").
type RelationshipData struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type"`
}

// SourceOrgID returns the id of the org the connection comes from, or "".
func (c Connection) SourceOrgID() string { return c.Relationships.SourceOrg.id() }

// SinkOrgID returns the id of the org the connection goes to, or "".
func (c Connection) SinkOrgID() string { return c.Relationships.SinkOrg.id() }

func (r *Relationship) id() string {
	if r == nil || r.Data == nil {
		return ""
	}
	return r.Data.ID
}

// ListOptions filters [Client.ListConnections].
type ListOptions struct {
	SinkOrgID   string
	SourceOrgID string
	PageSize    int // default 1000, the API's own default
}

// defaultPageSize is the page size of [Client.ListConnections] by default.
const defaultPageSize = 1000

// maxListPages stops a server that pages forever, whatever totals it claims.
const maxListPages = 10_000

const connectionsPath = "/api/v2/org_connections"

// permission names the permission an endpoint needs (the spec's
// x-permission), for the message of a 403; "" when not known.
func permission(method, path string) string {
	if path != connectionsPath && !strings.HasPrefix(path, connectionsPath+"/") && !strings.HasPrefix(path, connectionsPath+"?") {
		return ""
	}
	if method == http.MethodGet {
		return "org_connections_read"
	}
	return "org_connections_write"
}

type connectionResponse struct {
	Data *Connection `json:"data"`
}

type listResponse struct {
	Data []Connection `json:"data"`
	// Included holds the orgs and users the connections refer to. Each item
	// is decoded on its own, so that one odd item costs only its creator's
	// details, never the list.
	Included []json.RawMessage `json:"included"`
	Meta     *struct {
		Page *struct {
			TotalCount         *int64 `json:"total_count"`
			TotalFilteredCount *int64 `json:"total_filtered_count"`
		} `json:"page"`
	} `json:"meta"`
}

// total returns the number of items the server says match, if it says.
func (r *listResponse) total() (int64, bool) {
	if r.Meta == nil || r.Meta.Page == nil {
		return 0, false
	}
	if t := r.Meta.Page.TotalFilteredCount; t != nil {
		return *t, true
	}
	if t := r.Meta.Page.TotalCount; t != nil {
		return *t, true
	}
	return 0, false
}

// nameCreators sets each connection's Creator from its created_by
// relationship and the included users.
func (r *listResponse) nameCreators() {
	users := make(map[string]userAttributes)
	for _, raw := range r.Included {
		var item struct {
			Type       string         `json:"type"`
			ID         string         `json:"id"`
			Attributes userAttributes `json:"attributes"`
		}
		if json.Unmarshal(raw, &item) == nil && item.Type == "users" && item.ID != "" {
			users[item.ID] = item.Attributes
		}
	}
	for i := range r.Data {
		c := &r.Data[i]
		id := c.Relationships.CreatedBy.id()
		if id == "" {
			continue
		}
		a := users[id]
		c.Creator = &User{ID: id, Handle: a.Handle, ServiceAccount: a.ServiceAccount}
	}
}

// errPagination is the cause of a failed list whose pages do not add up.
var errPagination = errors.New("inconsistent pagination")

// ListConnections calls GET /api/v2/org_connections, page after page
// (limit/offset), and returns every connection in which the org takes part,
// as source or as sink. It stops when offset reaches
// meta.page.total_filtered_count or a page comes back empty. When the pages
// do not add up (more pages than the totals allow, a full page without
// totals, a page of items already listed) it fails rather than loop or
// return a partial list, which must not drive a prune.
func (c *Client) ListConnections(ctx context.Context, opt ListOptions) ([]Connection, error) {
	pageSize := opt.PageSize
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	var (
		out      []Connection
		seen     = map[string]bool{}
		offset   int64
		maxPages = int64(maxListPages)
	)
	// The caller's CallInfo describes the whole list: each page is a call
	// of its own, and the list cost the sum of their attempts.
	var sum, pageInfo CallInfo
	if outer, ok := ctx.Value(callInfoKey{}).(*CallInfo); ok && outer != nil {
		defer func() { *outer = sum }()
	}
	ctx = WithCallInfo(ctx, &pageInfo)
	for page := int64(1); ; page++ {
		q := url.Values{}
		if opt.SinkOrgID != "" {
			q.Set("sink_org_id", opt.SinkOrgID)
		}
		if opt.SourceOrgID != "" {
			q.Set("source_org_id", opt.SourceOrgID)
		}
		q.Set("limit", strconv.Itoa(pageSize))
		q.Set("offset", strconv.FormatInt(offset, 10))
		var resp listResponse
		err := c.do(ctx, request{method: http.MethodGet, key: "GET " + connectionsPath,
			path: connectionsPath, query: q, out: &resp})
		sum.Attempts += pageInfo.Attempts
		sum.Throttled += pageInfo.Throttled
		sum.StatusCode = pageInfo.StatusCode
		if err != nil {
			return nil, err
		}
		if len(resp.Data) == 0 {
			return out, nil
		}
		resp.nameCreators()
		fresh := 0
		for i, conn := range resp.Data {
			if conn.ID == "" {
				return nil, fmt.Errorf("list connections: item %d at offset %d has no id: %w", i, offset, errPagination)
			}
			if !seen[conn.ID] {
				seen[conn.ID] = true
				fresh++
				out = append(out, conn)
			}
		}
		if fresh == 0 {
			return nil, fmt.Errorf("list connections: the page at offset %d repeats items already listed: %w", offset, errPagination)
		}
		offset += int64(len(resp.Data))
		total, ok := resp.total()
		switch {
		case ok && offset >= total:
			return out, nil
		case !ok && len(resp.Data) < pageSize:
			return out, nil // a short page is the last one
		case !ok:
			return nil, fmt.Errorf("list connections: a full page at offset %d has no meta.page totals: %w", offset-int64(len(resp.Data)), errPagination)
		}
		if page == 1 {
			// Per the first page's length: a server may cap the page size.
			maxPages = min(maxPages, total/int64(len(resp.Data))+2)
		}
		if page >= maxPages {
			return nil, fmt.Errorf("list connections: %d pages read and the server still claims more (total %d): %w", page, total, errPagination)
		}
	}
}

// CreateConnection calls POST /api/v2/org_connections to connect the
// client's org (the source) to sinkOrgID. A connection that already exists
// for that pair gives an error for which [IsConflict] is true.
func (c *Client) CreateConnection(ctx context.Context, sinkOrgID string, types []string) (*Connection, error) {
	if sinkOrgID == "" {
		return nil, errors.New("create connection: empty sink org id")
	}
	body := struct {
		Data struct {
			Attributes    ConnectionAttributes    `json:"attributes"`
			Relationships ConnectionRelationships `json:"relationships"`
			Type          string                  `json:"type"`
		} `json:"data"`
	}{}
	body.Data.Attributes.ConnectionTypes = nonNil(types)
	body.Data.Relationships.SinkOrg = &Relationship{Data: &RelationshipData{ID: sinkOrgID, Type: "orgs"}}
	body.Data.Type = connectionType
	return c.writeConnection(ctx, request{method: http.MethodPost, key: "POST " + connectionsPath,
		path: connectionsPath, body: body})
}

// UpdateConnection calls PATCH /api/v2/org_connections/{id} to set the
// connection's types.
func (c *Client) UpdateConnection(ctx context.Context, id string, types []string) (*Connection, error) {
	if id == "" {
		return nil, errors.New("update connection: empty connection id")
	}
	body := struct {
		Data struct {
			Attributes ConnectionAttributes `json:"attributes"`
			ID         string               `json:"id"`
			Type       string               `json:"type"`
		} `json:"data"`
	}{}
	body.Data.Attributes.ConnectionTypes = nonNil(types)
	body.Data.ID = id
	body.Data.Type = connectionType
	return c.writeConnection(ctx, request{method: http.MethodPatch, key: "PATCH " + connectionsPath + "/{id}",
		path: connectionsPath + "/" + url.PathEscape(id), body: body})
}

// DeleteConnection calls DELETE /api/v2/org_connections/{id}. The API
// answers 404 for a connection that is already gone.
func (c *Client) DeleteConnection(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("delete connection: empty connection id")
	}
	return c.do(ctx, request{method: http.MethodDelete, key: "DELETE " + connectionsPath + "/{id}",
		path: connectionsPath + "/" + url.PathEscape(id)})
}

// writeConnection runs a create or update and checks that the answer is a
// connection.
func (c *Client) writeConnection(ctx context.Context, r request) (*Connection, error) {
	var resp connectionResponse
	r.out = &resp
	if err := c.do(ctx, r); err != nil {
		return nil, err
	}
	if resp.Data == nil || resp.Data.ID == "" {
		return nil, &DecodeError{Method: r.method, URL: r.path, StatusCode: http.StatusOK,
			ContentType: "application/json", Err: errors.New("the answer holds no connection id")}
	}
	return resp.Data, nil
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
