package sandbox

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadFixture checks that no input panics and that every error points
// into the file.
func FuzzLoadFixture(f *testing.F) {
	for _, p := range []string{"../../testdata/sandbox/demo.yaml", "../../testdata/sandbox/recorded.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("orgs: [{id: x, api_key: k}]\nconnections: [{source: a}]\nrate_limit: {limit: -1}\n")
	f.Add("orgs: &a [*a]\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "f.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		fx, err := LoadFixture(path)
		if err == nil {
			if _, err := New(fx, Options{}); err != nil {
				t.Errorf("LoadFixture accepted a fixture that New refuses: %v", err)
			}
			return
		}
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			var fe *FixtureError
			if !errors.As(e, &fe) || fe.File != path {
				t.Errorf("error without a position: %v", e)
			}
		}
	})
}

// FuzzWriteBodies sends arbitrary bodies to the two endpoints that read
// one: the answer is always one the API documents, never a 5xx or a panic.
func FuzzWriteBodies(f *testing.F) {
	f.Add("POST", createBody(sinkID, "logs"))
	f.Add("POST", createBody("nonexistent-org-id", "logs", "logs"))
	f.Add("PATCH", updateBody(zeroID, "logs", "metrics"))
	f.Add("PATCH", `{"data":null}`)
	fx, err := LoadFixture("../../testdata/sandbox/recorded.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, body string) {
		s, err := New(fx, Options{})
		if err != nil {
			t.Fatal(err)
		}
		path := "/api/v2/org_connections"
		if method != "POST" {
			method, path = "PATCH", path+"/"+zeroID
		}
		switch w := call(s, srcKeys, method, path, body); w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		default:
			t.Errorf("%s %q: status %d", method, body, w.Code)
		}
	})
}
