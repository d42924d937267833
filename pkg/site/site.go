// Package site names the Datadog sites. It is the one list that both the
// manifest (which may name only these) and the API client (which maps each
// to its base URL) read, so that neither has to know the other.
package site

// Names lists the Datadog sites a manifest may name. Each one is served at
// "https://api.<site>".
var Names = []string{
	"datadoghq.com",
	"us3.datadoghq.com",
	"us5.datadoghq.com",
	"datadoghq.eu",
	"ap1.datadoghq.com",
	"ap2.datadoghq.com",
	"uk1.datadoghq.com",
	"ddog-gov.com",
	"us2.ddog-gov.com",
}
