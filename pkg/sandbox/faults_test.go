package sandbox

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip sends one request through the in-memory transport and returns
// the status, or 0 and the error when the connection was dropped.
func roundTrip(ctx context.Context, s *Server, k keys, method, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://sandbox"+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("DD-API-KEY", k.api)
	req.Header.Set("DD-APPLICATION-KEY", k.app)
	resp, err := s.Transport().RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, string(b), err
}

func TestFaultProbabilities(t *testing.T) {
	t.Parallel()
	const n = 4000
	tests := []struct {
		name        string
		faults      Faults
		write       bool
		wantFail    float64
		wantDropped float64
	}{
		{"no faults", Faults{Seed: 1}, false, 0, 0},
		{"5xx", Faults{Fail5xx: 0.25, Seed: 1}, false, 0.25, 0},
		{"drop before", Faults{DropBefore: 0.1, Seed: 2}, false, 0, 0.1},
		{"drop after spares reads", Faults{DropAfter: 0.5, Seed: 3}, false, 0, 0},
		{"drop after on writes", Faults{DropAfter: 0.2, Seed: 4}, true, 0, 0.2},
		{"all at once", Faults{Fail5xx: 0.1, DropBefore: 0.1, DropAfter: 0.1, Seed: 5}, true, 0.09, 0.1 + 0.9*0.9*0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := recordedFixture(t)
			f.Connections = []FixtureConnection{{Source: srcID, Sink: sinkID, Types: []string{"logs"}}}
			s := newServer(t, f, Options{Faults: tt.faults})
			id := s.Connections()[0].ID
			failed, dropped := 0, 0
			for range n {
				var code int
				var err error
				if tt.write {
					code, _, err = roundTrip(t.Context(), s, srcKeys, "PATCH", "/api/v2/org_connections/"+id, updateBody(id, "logs"))
				} else {
					code, _, err = roundTrip(t.Context(), s, srcKeys, "GET", "/api/v2/org_connections", "")
				}
				switch {
				case err != nil:
					require.ErrorIs(t, err, io.ErrUnexpectedEOF)
					dropped++
				case code >= 500:
					failed++
				default:
					require.Equal(t, http.StatusOK, code)
				}
			}
			// With a fixed seed the counts are fixed; the tolerance only
			// says what they are meant to approximate (about 4 sigma).
			tol := func(p float64) float64 { return 4*math.Sqrt(n*p*(1-p)) + 1 }
			assert.InDelta(t, tt.wantFail*n, failed, tol(tt.wantFail), "5xx answers")
			assert.InDelta(t, tt.wantDropped*n, dropped, tol(tt.wantDropped), "dropped connections")
			st := s.Stats()
			assert.Equal(t, int64(n), st.Requests)
			assert.Equal(t, int64(failed), st.Faults.Fail5xx)
			assert.Equal(t, int64(dropped), st.Faults.DropBefore+st.Faults.DropAfter)
			if tt.write {
				assert.Equal(t, int64(n-failed)-st.Faults.DropBefore, st.Writes, "a drop-after write is committed")
			}
		})
	}
}

func TestFaultsAreReproducible(t *testing.T) {
	t.Parallel()
	run := func(seed int64) (outcomes []string, ids []string) {
		s := newServer(t, apiFixture(t), Options{Faults: Faults{Fail5xx: 0.3, DropBefore: 0.1, Seed: seed}})
		for range 100 {
			code, _, err := roundTrip(t.Context(), s, srcKeys, "GET", "/api/v2/current_user", "")
			if err != nil {
				outcomes = append(outcomes, "drop")
			} else {
				outcomes = append(outcomes, http.StatusText(code))
			}
		}
		quiet := newServer(t, apiFixture(t), Options{Faults: Faults{Seed: seed}})
		for _, sink := range []string{sinkID, keylessID, otherID} {
			ids = append(ids, mustCreate(t, quiet, srcKeys, sink, "logs"))
		}
		return outcomes, ids
	}
	a, aIDs := run(7)
	b, bIDs := run(7)
	c, cIDs := run(8)
	assert.Equal(t, a, b, "same seed, same faults")
	assert.Equal(t, aIDs, bIDs, "same seed, same connection ids")
	assert.NotEqual(t, a, c)
	assert.NotEqual(t, aIDs, cIDs)
	for _, id := range aIDs {
		assert.True(t, isUUID(id))
		assert.Equal(t, byte('4'), id[14], "version 4")
	}
}

func TestDropAfterCommits(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{Faults: Faults{DropAfter: 1}})
	_, _, err := roundTrip(t.Context(), s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Len(t, s.Connections(), 1, "the write happened although the answer was lost")

	code, body, err := roundTrip(t.Context(), s, srcKeys, "GET", "/api/v2/org_connections", "")
	require.NoError(t, err, "reads are never dropped after")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, s.Connections()[0].ID)

	_, _, err = roundTrip(t.Context(), s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the retry meets a 409 that is dropped too")
	st := s.Stats()
	assert.Equal(t, int64(1), st.Writes)
	assert.Equal(t, int64(2), st.Faults.DropAfter)
	assert.Equal(t, map[int]int64{200: 1}, st.ByStatus, "dropped answers are not counted as sent")
}

func TestDropBeforeDoesNothing(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{Faults: Faults{DropBefore: 1}})
	_, _, err := roundTrip(t.Context(), s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Empty(t, s.Connections())
	assert.Equal(t, int64(1), s.Stats().Faults.DropBefore)
}

func TestFail5xx(t *testing.T) {
	t.Parallel()
	s := newServer(t, recordedFixture(t), Options{Faults: Faults{Fail5xx: 1, Seed: 3}})
	seen := map[int]string{}
	for i := 0; i < 200 && len(seen) < 4; i++ {
		req := httptest.NewRequest("POST", "/api/v2/org_connections", strings.NewReader(createBody(sinkID, "logs")))
		req.Header.Set("DD-API-KEY", srcKeys.api)
		req.Header.Set("DD-APPLICATION-KEY", srcKeys.app)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		seen[w.Code] = w.Header().Get("Content-Type") + " " + w.Body.String()
	}
	require.Len(t, seen, 4)
	assert.Equal(t, `application/json {"errors":["Internal Server Error"]}`+"\n", seen[500])
	assert.Equal(t, `application/json {"errors":["Service Unavailable"]}`+"\n", seen[503])
	assert.True(t, strings.HasPrefix(seen[502], "text/html <html>"), seen[502])
	assert.Contains(t, seen[502], "502 Bad Gateway")
	assert.Contains(t, seen[504], "504 Gateway Timeout")
	assert.Empty(t, s.Connections(), "a 5xx fault does not do the work")
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(recordedFixture(t), Options{Faults: Faults{Latency: 3 * time.Second}})
		require.NoError(t, err)
		start := time.Now()
		code, _, err := roundTrip(t.Context(), s, srcKeys, "GET", "/api/v2/org_connections", "")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, 3*time.Second, time.Since(start))

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, _, err = roundTrip(ctx, s, srcKeys, "POST", "/api/v2/org_connections", createBody(sinkID, "logs"))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 4*time.Second, time.Since(start), "the wait ends with the request")
		assert.Empty(t, s.Connections())
	})
}

// TestDropOverTCP checks that the drop faults also work under net/http,
// where panic(http.ErrAbortHandler) closes the connection.
func TestDropOverTCP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		faults     Faults
		wantStored int
	}{
		{"before", Faults{DropBefore: 1}, 0},
		{"after", Faults{DropAfter: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, recordedFixture(t), Options{Faults: tt.faults})
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/v2/org_connections", strings.NewReader(createBody(sinkID, "logs")))
			require.NoError(t, err)
			req.Header.Set("DD-API-KEY", srcKeys.api)
			req.Header.Set("DD-APPLICATION-KEY", srcKeys.app)
			resp, err := srv.Client().Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
			assert.Len(t, s.Connections(), tt.wantStored)
		})
	}
}

func TestFaultsValidation(t *testing.T) {
	t.Parallel()
	for _, f := range []Faults{{Fail5xx: 1.5}, {DropBefore: -0.1}, {DropAfter: math.NaN()}, {Latency: -time.Second}} {
		_, err := New(nil, Options{Faults: f})
		assert.Error(t, err, "%+v", f)
	}
}
