package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// errDropped is what a client sees when a fault drops the connection: like
// a server that hangs up mid-exchange, it is io.ErrUnexpectedEOF underneath.
var errDropped = fmt.Errorf("sandbox: server closed the connection without answering: %w", io.ErrUnexpectedEOF)

// Transport returns an http.RoundTripper that hands each request straight
// to ServeHTTP, with no socket. That is what the in-process `--sandbox`
// mode uses, and it works inside a testing/synctest bubble, where network
// I/O does not. The URL's scheme and host are ignored. A dropped connection
// (a DropBefore or DropAfter fault) becomes a transport error, after the
// write has been committed in the DropAfter case, exactly as over TCP.
func (s *Server) Transport() http.RoundTripper { return transport{s} }

type transport struct{ s *Server }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close() // RoundTrip must close it, even on errors
		if err != nil {
			return nil, err
		}
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := req.Clone(ctx)
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "sandbox:0"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	rec := &recorder{header: http.Header{}}
	if t.serve(rec, in) {
		return nil, errDropped
	}
	if rec.status == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err // the handler gave up waiting (latency) on a cancelled request
		}
		rec.WriteHeader(http.StatusOK)
	}
	return &http.Response{
		Status:        strconv.Itoa(rec.status) + " " + http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// serve runs the handler and reports whether it aborted the connection the
// way net/http handlers do, with panic(http.ErrAbortHandler).
func (t transport) serve(w http.ResponseWriter, r *http.Request) (dropped bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			dropped = true
		}
	}()
	t.s.ServeHTTP(w, r)
	return false
}

// recorder is a minimal ResponseWriter; net/http/httptest is not used
// outside tests.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.header = r.header.Clone() // later Header() changes must not leak into the response
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
