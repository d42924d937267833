package manifest

import (
	"fmt"
	"strings"
)

// labelPlaceholder stands for each org's label in defaults.api_key_env and
// defaults.app_key_env, so that one line names the key variables of many
// orgs (DD_API_KEY_{LABEL} -> DD_API_KEY_TEAM_A for team-a).
const labelPlaceholder = "{LABEL}"

// envTemplateProblem returns what is wrong with an env var name template,
// or "": braces that do not pair, a placeholder other than {LABEL}, or
// text that no label can make a valid name of.
func envTemplateProblem(s string) string {
	rest := s
	for {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			break
		}
		if rest[open] == '}' {
			return "unbalanced braces: a } without its {; the only placeholder is " + labelPlaceholder
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] == '{' {
			return "unbalanced braces: a { without its }; the only placeholder is " + labelPlaceholder
		}
		if name := rest[open : open+end+2]; name != labelPlaceholder {
			return fmt.Sprintf("unknown placeholder %s; the only one is %s", quoteValue(name), labelPlaceholder)
		}
		rest = rest[open+end+2:]
	}
	// A label makes [A-Z0-9][A-Z0-9_]*: check the rest with a stand-in.
	if !envRE.MatchString(expandEnvTemplate(s, "A")) {
		return "not a valid environment variable name, with " + labelPlaceholder + " for an org's label (want " + envSyntax + ")"
	}
	return ""
}

// expandEnvTemplate returns the template with {LABEL} replaced by the
// label's form in an env var name: upper case, with "-" and "." as "_".
func expandEnvTemplate(s, label string) string {
	if !strings.Contains(s, labelPlaceholder) {
		return s
	}
	return strings.ReplaceAll(s, labelPlaceholder, labelEnvForm(label))
}

func labelEnvForm(label string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(label))
}
