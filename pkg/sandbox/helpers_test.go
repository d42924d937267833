package sandbox

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The orgs of the recordings, as in testdata/sandbox/recorded.yaml.
const (
	srcID   = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
	srcName = "DD Integration Tests (321813)"
	sinkID  = "83999dcd-7f97-11f0-8de1-1ecf66f1aa85"
)

// keys is the pair of headers an org authenticates with.
type keys struct{ api, app string }

var (
	srcKeys  = keys{"sandbox-api-key-source", "sandbox-app-key-source"}
	sinkKeys = keys{"sandbox-api-key-sink", "sandbox-app-key-sink"}
	noKeys   = keys{}
)

func recordedFixture(t *testing.T) *Fixture {
	t.Helper()
	f, err := LoadFixture("../../testdata/sandbox/recorded.yaml")
	require.NoError(t, err)
	return f
}

func newServer(t *testing.T, f *Fixture, opt Options) *Server {
	t.Helper()
	s, err := New(f, opt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// call sends one request through ServeHTTP. It uses no testing.T, so that
// goroutines may call it.
func call(s *Server, k keys, method, target, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if k.api != "" {
		r.Header.Set("DD-API-KEY", k.api)
	}
	if k.app != "" {
		r.Header.Set("DD-APPLICATION-KEY", k.app)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func createBody(sink string, types ...string) string {
	return fmt.Sprintf(`{"data":{"attributes":{"connection_types":[%s]},"relationships":{"sink_org":{"data":{"id":%q,"type":"orgs"}}},"type":"org_connection"}}`,
		quoteAll(types), sink)
}

func updateBody(id string, types ...string) string {
	return fmt.Sprintf(`{"data":{"attributes":{"connection_types":[%s]},"id":%q,"type":"org_connection"}}`, quoteAll(types), id)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ",")
}

// mustCreate creates a connection and returns its id.
func mustCreate(t *testing.T, s *Server, k keys, sink string, types ...string) string {
	t.Helper()
	w := call(s, k, http.MethodPost, "/api/v2/org_connections", createBody(sink, types...))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	for _, c := range s.Connections() {
		if c.Sink == sink && strings.Contains(w.Body.String(), c.ID) {
			return c.ID
		}
	}
	t.Fatalf("created connection not found in %s", w.Body)
	return ""
}

// uuidN makes a distinct, valid org id for generated fixtures.
func uuidN(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
}

// fixedClock is a clock stopped at an RFC 3339 time.
func fixedClock(rfc3339 string) func() time.Time {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}
