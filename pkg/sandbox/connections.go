package sandbox

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultLimit = 1000
	// maxLimit caps a page. The API documents no maximum; capping rather
	// than refusing keeps clients that page by len(data) working.
	maxLimit = 1000
)

// currentUser answers GET /api/v2/current_user with the user behind the
// caller's keys (its handle, and whether it is a service account) and the
// caller's org id.
func (s *Server) currentUser(caller *org) reply {
	return reply{status: http.StatusOK, body: encodeJSON(oneWire{Data: currentUserWire{
		Type:          "users",
		ID:            caller.user.id,
		Attributes:    caller.user.attrs(),
		Relationships: currentUserRelsWr{Org: relWire{Data: relDataWire{Type: "orgs", ID: caller.id}}},
	}})}
}

// managedOrgs answers GET /api/v2/org ("List your managed organizations"):
// the caller's org and the orgs whose parent it is, optionally only those
// whose name contains filter[name] (case-insensitively). The caller's own
// org is in `included` whatever the filter, as current_org names it.
func (s *Server) managedOrgs(caller *org, r *http.Request) reply {
	filter := strings.ToLower(r.URL.Query().Get("filter[name]"))
	s.mu.Lock()
	var managed []*org
	for _, o := range s.orgs {
		if o.parent == caller.id && o.id != caller.id && strings.Contains(strings.ToLower(o.name), filter) {
			managed = append(managed, o)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(managed, func(a, b *org) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id))
	})
	out := managedOrgsWire{
		Data: managedOrgsData{ID: caller.id, Type: "managed_orgs", Relationships: managedOrgsRels{
			CurrentOrg:  orgRelWire{Data: orgRelData{ID: caller.id, Type: "orgs"}},
			ManagedOrgs: orgRelManyWire{Data: make([]orgRelData, 0, len(managed))},
		}},
		Included: []managedOrgWire{managedOrg(caller)},
	}
	for _, o := range managed {
		out.Data.Relationships.ManagedOrgs.Data = append(out.Data.Relationships.ManagedOrgs.Data, orgRelData{ID: o.id, Type: "orgs"})
		out.Included = append(out.Included, managedOrg(o))
	}
	return reply{status: http.StatusOK, body: encodeJSON(out)}
}

// listConnections answers GET /api/v2/org_connections: the connections where the
// caller is the source or the sink, optionally filtered, one page of them.
func (s *Server) listConnections(caller *org, r *http.Request) reply {
	q := r.URL.Query()
	limit, ok := intParam(q.Get("limit"), defaultLimit, 1)
	if !ok {
		return errValidation
	}
	offset, ok := intParam(q.Get("offset"), 0, 0)
	if !ok {
		return errValidation
	}
	limit = min(limit, maxLimit)
	// An empty filter is no filter: Terraform sends `sink_org_id=` after an
	// import and gets every connection back.
	sinkF, sourceF := strings.ToLower(q.Get("sink_org_id")), strings.ToLower(q.Get("source_org_id"))

	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.visibleLocked(caller.id)
	matching := all
	if sinkF != "" || sourceF != "" {
		matching = nil
		for _, c := range all {
			if (sinkF == "" || c.sink == sinkF) && (sourceF == "" || c.source == sourceF) {
				matching = append(matching, c)
			}
		}
	}
	var page []*conn
	if offset < len(matching) {
		page = matching[offset:min(offset+limit, len(matching))]
	}

	out := listWire{
		Data: make([]connWire, 0, len(page)),
		Meta: metaWire{Page: pageWire{TotalCount: len(all), TotalFilteredCount: len(matching)}},
	}
	seenOrg, seenUser := map[string]bool{}, map[string]bool{}
	var orgs, users []any
	for _, c := range page {
		out.Data = append(out.Data, s.wireLocked(c, true))
		for _, id := range []string{c.source, c.sink} {
			if o := s.orgs[id]; o != nil && !seenOrg[id] {
				seenOrg[id] = true
				orgs = append(orgs, includedOrg(o.id, o.name))
			}
		}
		if !seenUser[c.source] {
			seenUser[c.source] = true
			users = append(users, includedUser(s.userLocked(c.source)))
		}
	}
	out.Included = append(orgs, users...)
	return reply{status: http.StatusOK, body: encodeJSON(out)}
}

// intParam parses an optional non-negative integer query parameter.
func intParam(v string, def, least int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return 0, false
	}
	return n, true
}

// createRequest is OrgConnectionCreateRequest. Pointers tell a missing
// member from an empty one.
type createRequest struct {
	Data *struct {
		Type       string `json:"type"`
		Attributes *struct {
			ConnectionTypes []string `json:"connection_types"`
		} `json:"attributes"`
		Relationships *struct {
			SinkOrg *struct {
				Data *struct {
					ID   *string `json:"id"`
					Type *string `json:"type"`
				} `json:"data"`
			} `json:"sink_org"`
		} `json:"relationships"`
	} `json:"data"`
}

// userLocked is the user behind an org's keys, who creates its
// connections; an org no longer declared gets its default user.
func (s *Server) userLocked(orgID string) user {
	if o := s.orgs[orgID]; o != nil {
		return o.user
	}
	return orgUser(orgID, nil)
}

// createConnection answers POST /api/v2/org_connections. The checks run in the order
// the recordings imply: a malformed body is 400 before an unknown sink is
// 404, which comes before the "not allowed" 400 (duplicate types, or a
// connection to itself), then the 409 for an existing pair. A sink on
// another site is not found either: Datadog connects orgs of one site only.
// The id it returns is that of the connection written, or "".
func (s *Server) createConnection(caller *org, r *http.Request) (reply, string) {
	body, ok := readBody(r)
	if !ok {
		return errValidation, ""
	}
	var req createRequest
	if json.Unmarshal(body, &req) != nil {
		return errValidation, ""
	}
	d := req.Data
	if d == nil || d.Type != "org_connection" || d.Attributes == nil || d.Relationships == nil ||
		d.Relationships.SinkOrg == nil || d.Relationships.SinkOrg.Data == nil ||
		d.Relationships.SinkOrg.Data.ID == nil ||
		(d.Relationships.SinkOrg.Data.Type != nil && *d.Relationships.SinkOrg.Data.Type != "orgs") {
		return errValidation, ""
	}
	types := d.Attributes.ConnectionTypes
	if !validTypes(types) {
		return errValidation, ""
	}
	sinkID := strings.ToLower(*d.Relationships.SinkOrg.Data.ID)

	s.mu.Lock()
	defer s.mu.Unlock()
	if sink := s.orgs[sinkID]; sink == nil || sink.site != caller.site {
		return errNotFound, ""
	}
	if hasDuplicate(types) || sinkID == caller.id {
		return jsonError(http.StatusBadRequest,
			fmt.Sprintf("connection between orgs %s and %s is not allowed", caller.id, sinkID)), ""
	}
	if s.bySource[caller.id][sinkID] != nil {
		return jsonError(http.StatusConflict,
			fmt.Sprintf("connection between orgs %s and %s already exists", caller.id, sinkID)), ""
	}
	c := &conn{
		id:        s.newIDLocked(),
		source:    caller.id,
		sink:      sinkID,
		types:     slices.Clone(types),
		createdAt: s.now().UTC().Truncate(time.Microsecond),
	}
	s.insertLocked(c)
	return reply{status: http.StatusOK, body: encodeJSON(oneWire{Data: s.wireLocked(c, true)})}, c.id
}

// updateRequest is OrgConnectionUpdateRequest.
type updateRequest struct {
	Data *struct {
		Type       string  `json:"type"`
		ID         *string `json:"id"`
		Attributes *struct {
			ConnectionTypes []string `json:"connection_types"`
		} `json:"attributes"`
	} `json:"data"`
}

// updateConnection answers PATCH /api/v2/org_connections/{id}. Unlike create, a
// duplicate type here is a plain validation error (recorded), and only the
// source org may change a connection.
func (s *Server) updateConnection(caller *org, id string, r *http.Request) (reply, string) {
	if !isUUID(id) {
		return errBadID, ""
	}
	id = strings.ToLower(id)
	body, ok := readBody(r)
	if !ok {
		return errValidation, ""
	}
	var req updateRequest
	if json.Unmarshal(body, &req) != nil {
		return errValidation, ""
	}
	d := req.Data
	if d == nil || d.Type != "org_connection" || d.ID == nil || strings.ToLower(*d.ID) != id ||
		d.Attributes == nil || !validTypes(d.Attributes.ConnectionTypes) || hasDuplicate(d.Attributes.ConnectionTypes) {
		return errValidation, ""
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[id]
	if c == nil || c.source != caller.id {
		return jsonError(http.StatusNotFound, fmt.Sprintf("Org connection with id:%s not found not found", id)), ""
	}
	c.types = slices.Clone(d.Attributes.ConnectionTypes)
	return reply{status: http.StatusOK, body: encodeJSON(oneWire{Data: s.wireLocked(c, false)})}, id
}

// deleteConnection answers DELETE /api/v2/org_connections/{id}. Either end of a
// connection may delete it (Datadog's docs).
func (s *Server) deleteConnection(caller *org, id string) (reply, string) {
	if !isUUID(id) {
		return errBadID, ""
	}
	id = strings.ToLower(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[id]
	if c == nil || (c.source != caller.id && c.sink != caller.id) {
		return jsonError(http.StatusNotFound, fmt.Sprintf("org connection with id:%s not found not found", id)), ""
	}
	s.removeLocked(c)
	return reply{status: http.StatusOK, body: []byte("{}\n")}, id
}

// wireLocked renders a connection. withNames is false for PATCH answers,
// which Datadog sends without the relationship names.
func (s *Server) wireLocked(c *conn, withNames bool) connWire {
	rel := func(typ, id, name string) relWire {
		d := relDataWire{Type: typ, ID: id}
		if withNames {
			d.Name = &name
		}
		return relWire{Data: d}
	}
	orgName := func(id string) string {
		if o := s.orgs[id]; o != nil {
			return o.name
		}
		return "" // a saved connection to an org no longer declared
	}
	return connWire{
		Type: "org_connection",
		ID:   c.id,
		Attributes: connAttrsWire{
			CreatedAt:       formatTime(c.createdAt),
			ConnectionTypes: slices.Clone(c.types),
		},
		Relationships: connRelsWire{
			SourceOrg: rel("orgs", c.source, orgName(c.source)),
			SinkOrg:   rel("orgs", c.sink, orgName(c.sink)),
			CreatedBy: rel("users", s.userLocked(c.source).id, userName),
		},
	}
}

// validTypes reports whether types is a non-empty list of known types;
// duplicates are checked apart because create and update answer them
// differently.
func validTypes(types []string) bool {
	if len(types) == 0 {
		return false
	}
	for _, t := range types {
		if !connectionTypes[t] {
			return false
		}
	}
	return true
}

func hasDuplicate(types []string) bool {
	for i, t := range types {
		if slices.Index(types, t) < i {
			return true
		}
	}
	return false
}
