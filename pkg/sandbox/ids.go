package sandbox

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	mrand "math/rand/v2"
	"time"
)

// isUUID accepts the canonical 8-4-4-4-12 hex form in either case, which is
// what the API prints and what its "must be a valid uuid" check is about.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func formatUUID(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// newUUID returns a random version 4 UUID, from r when it is set (a seeded
// run, so that ids repeat from run to run) or else from crypto/rand.
func newUUID(r *mrand.Rand) string {
	var b [16]byte
	if r != nil {
		binary.LittleEndian.PutUint64(b[:8], r.Uint64())
		binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	} else {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand docs)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// userID is the id of an org's one synthetic user. It is derived from the
// org id (a name-based, version 5 style UUID) so that created_by stays the
// same across restarts without storing users.
func userID(orgID string) string {
	sum := sha1.Sum([]byte("orgsync-sandbox-user:" + orgID))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// formatTime prints a time the way the API does: UTC, microseconds and a
// "+00:00" offset (2025-08-26T20:19:35.554634+00:00).
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}
