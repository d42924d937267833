package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	pathConnections = "/api/v2/org_connections"
	pathCurrentUser = "/api/v2/current_user"
	pathManagedOrgs = "/api/v2/org"

	// Rate-limit names, sent in X-RateLimit-Name.
	limitConnections = "org_connections"
	limitUsers       = "users"
	limitOrgs        = "orgs"

	maxBody = 1 << 20
)

type endpoint int

const (
	epNone endpoint = iota
	epList
	epCreate
	epUpdate
	epDelete
	epCurrentUser
	epManagedOrgs
)

// reply is an answer built before anything is written, so that a
// drop-after fault can still decide not to send it.
type reply struct {
	status      int
	contentType string // application/json when empty
	header      http.Header
	body        []byte
}

// jsonError is an error the API's own handlers return; Datadog sends these
// without a final newline (see the Bad Request and Conflict recordings).
func jsonError(status int, msg string) reply {
	return reply{status: status, body: errorBody(msg, false)}
}

// gatewayError is an error from the layers in front of the handlers (routing,
// auth, rate limiting); these end with a newline like the recorded
// `{"errors":["Not found"]}`.
func gatewayError(status int, msg string) reply {
	return reply{status: status, body: errorBody(msg, true)}
}

var (
	errValidation = jsonError(http.StatusBadRequest, "Validation failed for input.")
	errBadID      = jsonError(http.StatusBadRequest, "connection id must be a valid uuid")
	errNotFound   = gatewayError(http.StatusNotFound, "Not found")
)

// ServeHTTP answers one API request. The order of the steps is part of the
// behaviour: a request is routed, authenticated and counted against the
// rate limit before any fault is injected, so faults and 429s use up the
// quota as they would behind Datadog's gateway.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.count(func(st *Stats) { st.Requests++ })
	if !s.delay(r) {
		return // the client is gone; nobody reads an answer
	}
	ep, id, rep := route(r.Method, r.URL.Path)
	caller := s.authenticate(r)
	rl, rep := s.rateLimit(ep, caller, rep)

	fate := s.rollFaults()
	if fate.dropBefore {
		s.count(func(st *Stats) { st.Faults.DropBefore++ })
		s.drop(r, "before")
	}
	if fate.fail != 0 {
		s.count(func(st *Stats) { st.Faults.Fail5xx++ })
		s.write(w, r, caller, rl, serverError(fate.fail), start)
		return
	}

	if rep == nil {
		rep = deny(ep, caller)
	}
	handled := rep == nil
	if handled {
		rep = ptr(s.handle(ep, id, caller, r))
	}
	if handled && fate.dropAfter && isWrite(ep) {
		s.count(func(st *Stats) { st.Faults.DropAfter++ })
		s.drop(r, "after")
	}
	s.write(w, r, caller, rl, *rep, start)
}

// delay waits for the latency fault; false means the client went away.
func (s *Server) delay(r *http.Request) bool {
	d := s.faults.Latency
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

// rateLimit counts a routed, authenticated request against its org's
// limit. It returns the X-RateLimit-* headers, and the 429 answer when the
// request is over the limit and has no other answer yet.
func (s *Server) rateLimit(ep endpoint, caller *org, rep *reply) (http.Header, *reply) {
	if ep == epNone || caller == nil || s.limiter == nil {
		return nil, rep
	}
	name := limitConnections
	switch ep {
	case epCurrentUser:
		name = limitUsers
	case epManagedOrgs:
		name = limitOrgs
	}
	rl, ok := s.limiter.take(caller.id, name, s.now())
	if !ok && rep == nil {
		rep = &reply{status: http.StatusTooManyRequests, body: errorBody("Too many requests", true),
			header: http.Header{"Retry-After": {rl.Get("X-RateLimit-Reset")}}}
		s.count(func(st *Stats) { incr(&st.RateLimited, caller.id) })
	}
	return rl, rep
}

// drop closes the connection without an answer (a fault).
func (s *Server) drop(r *http.Request, when string) {
	s.log("%s %s dropped %s handling (fault)", r.Method, r.URL.RequestURI(), when)
	panic(http.ErrAbortHandler)
}

// deny is the 401 for a request without valid keys and the 403 for one
// whose org lacks the endpoint's permission, or nil.
func deny(ep endpoint, caller *org) *reply {
	if caller == nil {
		return ptr(gatewayError(http.StatusUnauthorized, "Unauthorized"))
	}
	allowed := true
	switch ep {
	case epList:
		allowed = caller.read
	case epCreate, epUpdate, epDelete:
		allowed = caller.write
	case epManagedOrgs:
		allowed = caller.manage || caller.write
	}
	if !allowed {
		return ptr(gatewayError(http.StatusForbidden, "Forbidden"))
	}
	return nil
}

func isWrite(ep endpoint) bool { return ep == epCreate || ep == epUpdate || ep == epDelete }

// handle runs an endpoint for an authorised caller. A write is answered
// only once the state file holds it.
func (s *Server) handle(ep endpoint, id string, caller *org, r *http.Request) reply {
	var out reply
	var written string
	switch ep {
	case epCurrentUser:
		out = s.currentUser(caller)
	case epManagedOrgs:
		out = s.managedOrgs(caller, r)
	case epList:
		out = s.listConnections(caller, r)
	case epCreate:
		out, written = s.createConnection(caller, r)
	case epUpdate:
		out, written = s.updateConnection(caller, id, r)
	case epDelete:
		out, written = s.deleteConnection(caller, id)
	}
	if written == "" {
		return out
	}
	s.count(func(st *Stats) { st.Writes++ })
	if s.store != nil {
		if err := s.store.save(written); err != nil {
			// Not on disk, so not acknowledged (and undone in memory).
			s.log("%v", err)
			return serverError(http.StatusInternalServerError)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func incr[K comparable](m *map[K]int64, k K) {
	if *m == nil {
		*m = map[K]int64{}
	}
	(*m)[k]++
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, caller *org, rl http.Header, rep reply, start time.Time) {
	h := w.Header()
	for k, v := range rl {
		h[k] = v
	}
	for k, v := range rep.header {
		h[k] = v
	}
	ct := rep.contentType
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)

	s.count(func(st *Stats) { incr(&st.ByStatus, rep.status) })
	if s.logf != nil {
		who := "-"
		if caller != nil {
			who = caller.id
		}
		s.logf("%s %s %d org=%s %s", r.Method, r.URL.RequestURI(), rep.status, who, time.Since(start).Round(time.Microsecond))
	}
}

// route maps a request to an endpoint, or to the 404/405 answer for it.
func route(method, path string) (endpoint, string, *reply) {
	notAllowed := func(allow string) (endpoint, string, *reply) {
		rep := gatewayError(http.StatusMethodNotAllowed, "Method Not Allowed")
		rep.header = http.Header{"Allow": {allow}}
		return epNone, "", &rep
	}
	switch {
	case path == pathCurrentUser:
		if method == http.MethodGet {
			return epCurrentUser, "", nil
		}
		return notAllowed("GET")
	case path == pathManagedOrgs:
		if method == http.MethodGet {
			return epManagedOrgs, "", nil
		}
		return notAllowed("GET")
	case path == pathConnections:
		switch method {
		case http.MethodGet:
			return epList, "", nil
		case http.MethodPost:
			return epCreate, "", nil
		}
		return notAllowed("GET, POST")
	case strings.HasPrefix(path, pathConnections+"/"):
		id := path[len(pathConnections)+1:]
		if id == "" || strings.Contains(id, "/") {
			break
		}
		switch method {
		case http.MethodPatch:
			return epUpdate, id, nil
		case http.MethodDelete:
			return epDelete, id, nil
		}
		return notAllowed("PATCH, DELETE")
	}
	return epNone, "", ptr(errNotFound)
}

// noOrgKey is compared against when the API key matches no org, so that a
// miss costs the same as a hit with a wrong application key.
var noOrgKey = sha256.Sum256([]byte("orgsync sandbox: no such org"))

// authenticate returns the org whose keys the request carries, or nil. Keys
// are looked up by their SHA-256 and the application key is compared in
// constant time, so timing reveals nothing useful about either.
func (s *Server) authenticate(r *http.Request) *org {
	api, app := r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY")
	if api == "" || app == "" {
		return nil
	}
	apiSum, appSum := sha256.Sum256([]byte(api)), sha256.Sum256([]byte(app))
	s.mu.Lock()
	o := s.byAPIKey[apiSum]
	s.mu.Unlock()
	want := noOrgKey
	if o != nil {
		want = o.appKey
	}
	if subtle.ConstantTimeCompare(appSum[:], want[:]) != 1 || o == nil {
		return nil
	}
	return o
}

// fate is what the fault generator decided for one request.
type fate struct {
	dropBefore bool
	fail       int // 0, or the 5xx status to answer
	dropAfter  bool
}

var failCodes = [...]int{http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// rollFaults draws the same number of values for every request, so that the
// fate of request n depends only on the seed and n, not on what earlier
// requests were.
func (s *Server) rollFaults() fate {
	f := s.faults
	if f.DropBefore == 0 && f.Fail5xx == 0 && f.DropAfter == 0 {
		return fate{}
	}
	s.faultMu.Lock()
	a, b, c, code := s.faultRand.Float64(), s.faultRand.Float64(), s.faultRand.Float64(), s.faultRand.IntN(len(failCodes))
	s.faultMu.Unlock()
	out := fate{dropBefore: a < f.DropBefore, dropAfter: c < f.DropAfter}
	if b < f.Fail5xx {
		out.fail = failCodes[code]
	}
	return out
}

// serverError imitates where each 5xx comes from: 500 and 503 from the API
// (JSON), 502 and 504 from a proxy in front of it (HTML).
func serverError(status int) reply {
	switch status {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		text := strconv.Itoa(status) + " " + http.StatusText(status)
		return reply{status: status, contentType: "text/html",
			body: []byte("<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text + "</h1></center>\r\n</body>\r\n</html>\r\n")}
	case http.StatusServiceUnavailable:
		return gatewayError(status, "Service Unavailable")
	}
	return gatewayError(http.StatusInternalServerError, "Internal Server Error")
}

func readBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	return b, err == nil && len(b) <= maxBody
}
