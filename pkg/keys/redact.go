package keys

import "strings"

// MinRedactLen is the length under which [Redact] leaves a value alone.
// Datadog's API and application keys have 32 and 40 characters; a value of
// a few characters is no secret, and hiding it would mangle ordinary words
// (a one-letter key would turn "Unauthorized" into "Un[redacted]uthorized").
const MinRedactLen = 8

// Redact replaces every occurrence of each key of at least [MinRedactLen]
// characters in s with "[redacted]". It is the last line of defence for
// text that orgsync does not write itself (a server or a command echoing
// what it was given): orgsync's own messages never hold a key.
func Redact(s string, keys ...string) string {
	for _, k := range keys {
		if len(k) >= MinRedactLen {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}
