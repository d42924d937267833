// Package manifesttest writes manifests for tests and benchmarks of the
// packages that read them, so that each does not carry its own generator.
package manifesttest

import (
	"fmt"
	"strings"
)

// Big returns a manifest of orgs orgs and conns connections, each org
// sending to the next conns/orgs orgs, half of the connections through the
// types default; every third org names its site (all orgs are on one site,
// as Datadog connects orgs of one site only) and has its own key env vars
// and prune.
func Big(orgs, conns int) []byte {
	var s strings.Builder
	s.WriteString("version: 1\ndefaults:\n  connection_types: [logs]\norgs:\n")
	for i := range orgs {
		fmt.Fprintf(&s, "  org-%04d:\n    id: %08x-0000-4000-8000-%012x\n", i, i, i)
		if i%3 == 0 {
			fmt.Fprintf(&s, "    site: datadoghq.com\n    api_key_env: DD_API_KEY_%04d\n    app_key_env: DD_APP_KEY_%04d\n    prune: true\n", i, i)
		}
	}
	s.WriteString("connections:\n")
	per := conns / orgs
	for i := range conns {
		src, dst := i/per, (i/per+1+i%per)%orgs
		fmt.Fprintf(&s, "  - from: org-%04d\n    to: org-%04d\n", src, dst)
		if i%2 == 0 {
			s.WriteString("    types: [metrics, logs]\n")
		}
	}
	return []byte(s.String())
}
