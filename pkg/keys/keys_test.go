package keys_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgsync/orgsync/pkg/keys"
)

// marker starts every key of these tests, so that a test can check that no
// message holds one.
const marker = "k3ym4rk"

var teamA = keys.Org{Label: "team-a", ID: "4dee724d-00cc-11ea-a77b-570c9d03c6c5", Site: "datadoghq.eu",
	APIKeyEnv: "DD_API_KEY_TEAM_A", AppKeyEnv: "DD_APP_KEY_TEAM_A"}

var (
	apiKey = marker + "-api-0123456789abcdef0123"
	appKey = marker + "-app-0123456789abcdef0123456789abcd"
)

// assertNoKey checks that err exists, is a *keys.Error, and holds no key.
func assertNoKey(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var ke *keys.Error
	assert.ErrorAs(t, err, &ke)
	for _, f := range []string{"%v", "%+v", "%#v", "%q"} {
		assert.NotContains(t, fmt.Sprintf(f, err), marker)
	}
}

func TestPairNeverFormatsKeys(t *testing.T) {
	t.Parallel()
	p := keys.Pair{API: apiKey, App: appKey}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		got := fmt.Sprintf(f, p)
		assert.Equal(t, "keys.Pair{[redacted]}", got, f)
		assert.Equal(t, "keys.Pair{[redacted]}", fmt.Sprintf(f, &p), f)
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		missing bool
	}{
		{name: "both set", env: map[string]string{"DD_API_KEY_TEAM_A": apiKey, "DD_APP_KEY_TEAM_A": appKey}},
		{name: "app key unset", env: map[string]string{"DD_API_KEY_TEAM_A": apiKey}, missing: true,
			wantErr: "$DD_APP_KEY_TEAM_A: not set (the manifest names it for the org's application key); set it, or run with --org for the other orgs only"},
		{name: "both unset", env: map[string]string{}, missing: true,
			wantErr: "$DD_API_KEY_TEAM_A and $DD_APP_KEY_TEAM_A: not set (the manifest names them for the org's API and application keys); set them, or run with --org for the other orgs only"},
		{name: "trailing newline", env: map[string]string{"DD_API_KEY_TEAM_A": apiKey + "\n", "DD_APP_KEY_TEAM_A": appKey},
			wantErr: "$DD_API_KEY_TEAM_A: the API key ends with whitespace (a trailing newline in a stored secret?); remove it"},
		{name: "leading space", env: map[string]string{"DD_API_KEY_TEAM_A": apiKey, "DD_APP_KEY_TEAM_A": " " + appKey},
			wantErr: "$DD_APP_KEY_TEAM_A: the application key starts with whitespace; remove it"},
		{name: "two keys in one", env: map[string]string{"DD_API_KEY_TEAM_A": apiKey + " " + appKey, "DD_APP_KEY_TEAM_A": appKey},
			wantErr: "$DD_API_KEY_TEAM_A: the API key contains whitespace; it must be the key alone"},
		{name: "control character", env: map[string]string{"DD_API_KEY_TEAM_A": apiKey + "\x00", "DD_APP_KEY_TEAM_A": appKey},
			wantErr: "$DD_API_KEY_TEAM_A: the API key contains a control or non-ASCII character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := keys.Env{Getenv: func(k string) string { return tt.env[k] }}
			p, err := src.Keys(t.Context(), teamA)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, keys.Pair{API: apiKey, App: appKey}, p)
				return
			}
			assertNoKey(t, err)
			assert.EqualError(t, err, tt.wantErr)
			var ke *keys.Error
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, tt.missing, ke.Missing)
			assert.Equal(t, "team-a", ke.Org)
		})
	}
}

func TestOnceAsksOncePerOrg(t *testing.T) {
	t.Parallel()
	var calls sync.Map
	src := keys.Once(keys.Func(func(_ context.Context, o keys.Org) (keys.Pair, error) {
		n, _ := calls.LoadOrStore(o.Label, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if o.Label == "bad" {
			return keys.Pair{}, &keys.Error{Org: o.Label, Where: "test", Msg: "refused"}
		}
		return keys.Pair{API: "api-" + o.Label, App: "app-" + o.Label}, nil
	}))
	var wg sync.WaitGroup
	for i := range 50 {
		for _, label := range []string{"a", "b", "bad"} {
			wg.Go(func() {
				p, err := src.Keys(context.Background(), keys.Org{Label: label, ID: fmt.Sprintf("id-%s", label)})
				if label == "bad" {
					assert.EqualError(t, err, "test: refused", "call %d", i)
					return
				}
				assert.NoError(t, err)
				assert.Equal(t, "api-"+label, p.API)
			})
		}
	}
	wg.Wait()
	for _, label := range []string{"a", "b", "bad"} {
		n, ok := calls.Load(label)
		require.True(t, ok, label)
		assert.Equal(t, int32(1), n.(*atomic.Int32).Load(), "calls for %s, failure included", label)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		keys     []string
		want     string
	}{
		{"one-letter key leaves words alone", "Unauthorized", []string{"a", "U"}, "Unauthorized"},
		{"seven characters are not a key", "key abcdefg here", []string{"abcdefg"}, "key abcdefg here"},
		{"a real key is hidden everywhere", "k=" + apiKey + " again " + apiKey, []string{apiKey}, "k=[redacted] again [redacted]"},
		{"both keys", apiKey + appKey, []string{apiKey, appKey}, "[redacted][redacted]"},
		{"empty key", "text", []string{""}, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, keys.Redact(tt.in, tt.keys...))
		})
	}
}

// writeKeysFile writes a keys file readable by its owner only.
func writeKeysFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestFile(t *testing.T) {
	t.Parallel()
	jsonByID := fmt.Sprintf(`{
	"4DEE724D-00CC-11EA-A77B-570C9D03C6C5": {"api_key": %q, "app_key": %q},
	"other": {"api_key": "x"}
}`, apiKey, appKey)
	yamlByLabel := fmt.Sprintf("# keys of the fleet\nteam-b:\n  api_key: bad\nteam-a:\n  api_key: %s\n  app_key: %s\n", apiKey, appKey)
	entry := func(api, app string) string {
		return fmt.Sprintf("team-a:\n  api_key: %s\n  app_key: %s\n", api, app)
	}
	tests := []struct {
		name, file, content string
		wantErr             string
		missing             bool
	}{
		{name: "JSON by id, ids in any case", file: "keys.json", content: jsonByID},
		{name: "YAML by label", file: "keys.yaml", content: yamlByLabel},
		{name: "JSON by label", file: "keys.json", content: fmt.Sprintf(`{"team-a": {"app_key": %q, "api_key": %q}}`, appKey, apiKey)},
		{name: "no entry", file: "keys.yaml", content: "team-b: {api_key: x, app_key: y}\n", missing: true,
			wantErr: "keys file KEYS: no entry for org team-a (by its id 4dee724d-00cc-11ea-a77b-570c9d03c6c5 or its label); add one, or run with --org for the other orgs only"},
		{name: "no app key", file: "keys.yaml", content: "team-a:\n  api_key: " + apiKey + "\n",
			wantErr: `keys file KEYS, entry "team-a" (line 1): has no app_key`},
		{name: "entry is not a map", file: "keys.json", content: `{"team-a": "` + apiKey + `"}`,
			wantErr: `keys file KEYS, entry "team-a" (line 1): want {api_key: ..., app_key: ...}`},
		{name: "unknown field is not named", file: "keys.yaml", content: entry(apiKey, appKey) + "  " + marker + "x: 1\n",
			wantErr: `keys file KEYS, entry "team-a" (line 1): has a field other than api_key and app_key at line 4`},
		{name: "null key", file: "keys.yaml", content: "team-a:\n  api_key:\n  app_key: " + appKey + "\n",
			wantErr: `keys file KEYS, entry "team-a" (line 1): api_key must be a string (line 2)`},
		{name: "empty key", file: "keys.json", content: `{"team-a": {"api_key": "", "app_key": "` + appKey + `"}}`,
			wantErr: `keys file KEYS, entry "team-a" (line 1): api_key is empty`},
		{name: "trailing newline in JSON", file: "keys.json", content: `{"team-a": {"api_key": "` + apiKey + `", "app_key": "` + appKey + `\n"}}`,
			wantErr: `keys file KEYS, entry "team-a" (line 1): app_key ends with whitespace (a trailing newline in a stored secret?); remove it`},
		{name: "trailing newline of a YAML block", file: "keys.yaml", content: "team-a:\n  api_key: |\n    " + apiKey + "\n  app_key: " + appKey + "\n",
			wantErr: `keys file KEYS, entry "team-a" (line 1): api_key ends with whitespace (a trailing newline in a stored secret?); remove it`},
		{name: "entry twice", file: "keys.yaml", content: entry(apiKey, appKey) + entry(apiKey, appKey),
			wantErr: `keys file KEYS, entry "team-a" (line 1): appears twice (lines 1 and 4); keep one`},
		{name: "same id in two cases", file: "keys.yaml", content: strings.Replace(entry(apiKey, appKey), "team-a", teamA.ID, 1) + strings.Replace(entry(apiKey, appKey), "team-a", strings.ToUpper(teamA.ID), 1),
			wantErr: `keys file KEYS, entry "4DEE724D-00CC-11EA-A77B-570C9D03C6C5" (line 4): appears twice (lines 1 and 4); keep one`},
		{name: "by id and by label", file: "keys.yaml", content: entry(apiKey, appKey) + strings.Replace(entry(apiKey, appKey), "team-a", teamA.ID, 1),
			wantErr: "keys file KEYS: org team-a has an entry by id (line 4) and one by label (line 1); keep one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeKeysFile(t, tt.file, tt.content)
			kf, err := keys.ReadFile(path, func(w string) { t.Errorf("unexpected warning %s", w) })
			require.NoError(t, err)
			p, err := kf.Keys(t.Context(), teamA)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, keys.Pair{API: apiKey, App: appKey}, p)
				return
			}
			assertNoKey(t, err)
			assert.EqualError(t, err, strings.ReplaceAll(tt.wantErr, "KEYS", path))
			var ke *keys.Error
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, tt.missing, ke.Missing)
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, want string
	}{
		{"empty", "\n", "keys file KEYS is empty"},
		{"a list", "- " + apiKey + "\n", "keys file KEYS: want a map from org id or label to {api_key, app_key} (line 1)"},
		{"broken JSON", `{"team-a": {"api_key": "` + apiKey + `", }`, "keys file KEYS is not valid YAML or JSON (at line 1)"},
		{"broken YAML", "team-a:\n  api_key: \"" + apiKey + "\n  app_key: x\n", "keys file KEYS is not valid YAML or JSON (at line 2)"},
		{"two documents", "a: {}\n---\nb: {}\n", "keys file KEYS holds more than one YAML document"},
		{"entry name is a list", "[" + apiKey + "]: {}\n", "keys file KEYS: line 1: an entry's name must be an org id or label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeKeysFile(t, "keys.yaml", tt.content)
			_, err := keys.ReadFile(path, nil)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), marker)
			assert.EqualError(t, err, strings.ReplaceAll(tt.want, "KEYS", path))
		})
	}
	_, err := keys.ReadFile(filepath.Join(t.TempDir(), "missing.json"), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "keys file: open ")
}

func TestReadFileWarnsWhenOthersCanRead(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}, {0o644, true}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			t.Parallel()
			path := writeKeysFile(t, "keys.json", `{}`)
			require.NoError(t, os.Chmod(path, tt.mode))
			var warnings []string
			_, err := keys.ReadFile(path, func(w string) { warnings = append(warnings, w) })
			require.NoError(t, err)
			if !tt.warn {
				assert.Empty(t, warnings)
				return
			}
			assert.Equal(t, []string{fmt.Sprintf("keys file %s can be read by group or others (mode %04o); run chmod 600 %s", path, tt.mode, path)}, warnings)
		})
	}
}
