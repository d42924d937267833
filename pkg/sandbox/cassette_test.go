package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/internal/cassette"
)

// TestCassettes replays every recorded exchange against a fresh sandbox and
// compares the answers byte for byte, except for values that cannot match
// (ids, timestamps, the user): those are replaced, on both sides, by
// placeholders numbered in order of appearance, so that consistency is still
// checked (the id a create returns is the one the next delete uses, a PATCH
// keeps created_at, and so on).
func TestCassettes(t *testing.T) {
	cs, err := cassette.LoadDir("../../testdata/cassettes")
	require.NoError(t, err)
	require.NotEmpty(t, cs)
	for _, c := range cs {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, recordedFixture(t), Options{})
			client := &http.Client{Transport: s.Transport()}
			recorded, actual := newNormalizer(), newNormalizer()
			for i, in := range c.Interactions {
				target := recorded.substitute(in.Request.URL, actual)
				body := recorded.substitute(in.Request.Body, actual)
				req, err := http.NewRequestWithContext(t.Context(), in.Request.Method, target, strings.NewReader(body))
				require.NoError(t, err)
				for k, vs := range in.Request.Headers {
					req.Header[k] = vs
				}
				req.Header.Set("DD-API-KEY", srcKeys.api)
				req.Header.Set("DD-APPLICATION-KEY", srcKeys.app)
				resp, err := client.Do(req)
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())

				what := fmt.Sprintf("interaction %d: %s %s", i, in.Request.Method, in.Request.URL)
				assert.Equal(t, in.Response.Code, resp.StatusCode, what)
				assert.Equal(t, in.Response.Headers["Content-Type"], resp.Header.Values("Content-Type"), what)
				want, err := recorded.normalize([]byte(in.Response.Body))
				require.NoError(t, err, what)
				have, err := actual.normalize(got)
				require.NoError(t, err, what)
				assert.Equal(t, want, have, what)
				if trimmed := bytes.TrimSuffix(got, []byte("\n")); json.Valid(trimmed) {
					var compact bytes.Buffer
					require.NoError(t, json.Compact(&compact, trimmed))
					assert.Equal(t, compact.String(), string(trimmed), "%s: not compact JSON", what)
				}
			}
		})
	}
}

// normalizer rewrites a JSON body into a canonical string: key order kept,
// volatile values replaced by placeholders, trailing bytes kept verbatim.
type normalizer struct {
	tokens map[string]map[string]string // category -> value -> placeholder
}

func newNormalizer() *normalizer { return &normalizer{tokens: map[string]map[string]string{}} }

func (n *normalizer) token(category, value string) string {
	m := n.tokens[category]
	if m == nil {
		m = map[string]string{}
		n.tokens[category] = m
	}
	p, ok := m[value]
	if !ok {
		p = fmt.Sprintf("<%s-%d>", category, len(m)+1)
		m[value] = p
	}
	return p
}

// substitute replaces, in a recorded request, every connection id seen in a
// recorded answer by the id the sandbox gave the same placeholder.
func (n *normalizer) substitute(s string, actual *normalizer) string {
	live := map[string]string{}
	for v, p := range actual.tokens["conn"] {
		live[p] = v
	}
	for v, p := range n.tokens["conn"] {
		if a, ok := live[p]; ok {
			s = strings.ReplaceAll(s, v, a)
		}
	}
	return s
}

func (n *normalizer) normalize(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := readOrdered(dec)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	n.render(&b, v, "")
	b.Write(body[dec.InputOffset():]) // the trailing newline, or nothing
	return b.String(), nil
}

// object is a JSON object with its key order.
type object struct {
	keys []string
	vals map[string]any
}

func readOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := object{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k.(string))
			o.vals[k.(string)] = v
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		var a []any
		for dec.More() {
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return append([]any{}, a...), err
	}
	return tok, nil
}

// render writes v; mode says whose attributes v is, since which values are
// volatile depends on it.
func (n *normalizer) render(b *strings.Builder, v any, mode string) {
	switch v := v.(type) {
	case object:
		typ, _ := v.vals["type"].(string)
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			val := v.vals[k]
			s, isString := val.(string)
			switch {
			case k == "attributes":
				n.render(b, val, typ)
			case typ == "org_connection" && k == "id":
				writeString(b, n.token("conn", s))
			case typ == "users" && k == "id":
				writeString(b, n.token("user", s))
			case typ == "users" && k == "name":
				writeString(b, n.token("user-name", s))
			case mode == "org_connection" && k == "created_at":
				writeString(b, n.token("created", s))
			case mode == "users" && k == "name":
				writeString(b, n.token("user-name", s))
			case mode == "users" && (k == "handle" || k == "email" || k == "icon" || k == "created_at" || k == "modified_at") && isString:
				writeString(b, "<user-"+k+">")
			case mode == "orgs" && (k == "public_id" || k == "created_at" || k == "modified_at"):
				writeString(b, "<org-"+k+">") // the sandbox's orgs have no real history
			default:
				n.render(b, val, "")
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			n.render(b, e, "")
		}
		b.WriteByte(']')
	case string:
		for id, p := range n.tokens["conn"] { // ids quoted in error messages
			v = strings.ReplaceAll(v, id, p)
		}
		writeString(b, v)
	case nil:
		b.WriteString("null")
	default:
		fmt.Fprint(b, v)
	}
}

func writeString(b *strings.Builder, s string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// TestCassetteCrossSiteNotFound replays the recorded create to an unknown
// sink with a sink that exists on another site: Datadog connects orgs of one
// site only, and answers exactly as for an org it does not know.
func TestCassetteCrossSiteNotFound(t *testing.T) {
	t.Parallel()
	c, err := cassette.Load("../../testdata/cassettes/Scenario_Create_Org_Connection_returns_Not_Found_response.yaml")
	require.NoError(t, err)
	require.Len(t, c.Interactions, 1)
	in := c.Interactions[0]
	const euID = "e0e0e0e0-0000-4000-8000-000000000001"
	f := recordedFixture(t)
	f.Orgs = append(f.Orgs, FixtureOrg{ID: euID, Name: "EU", Site: "datadoghq.eu"},
		FixtureOrg{ID: uuidN(7), Name: "EU source", Site: "datadoghq.eu", APIKey: "eu-api", AppKey: "eu-app"})
	f.Orgs[1].Site = "us5.datadoghq.com" // the recorded sink, now on another site too
	s := newServer(t, f, Options{})

	for _, sink := range []string{"nonexistent-org-id", euID, sinkID} {
		body := strings.Replace(in.Request.Body, "nonexistent-org-id", sink, 1)
		w := call(s, srcKeys, in.Request.Method, pathConnections, body)
		assert.Equal(t, in.Response.Code, w.Code, sink)
		assert.Equal(t, in.Response.Headers["Content-Type"], w.Header().Values("Content-Type"), sink)
		assert.Equal(t, in.Response.Body, w.Body.String(), sink)
	}
	assert.Empty(t, s.Connections())
	mustCreate(t, s, keys{"eu-api", "eu-app"}, euID, "logs") // same site: allowed
}
