package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/orgsync/orgsync/pkg/keys"
	"github.com/orgsync/orgsync/pkg/plan"
)

// keysFlags choose where the source orgs' keys come from (contract 8.3):
// the env vars the manifest names, a keys file, or a keys command. plan,
// apply, export and discover share them.
type keysFlags struct {
	file    string
	command string
}

func (k *keysFlags) register(fs *flag.FlagSet) {
	fs.Func("keys-file", "read the source orgs' keys from `FILE`: YAML or JSON, org id or label -> {api_key, app_key} (env ORGSYNC_KEYS_FILE)", nonEmpty(&k.file))
	fs.Func("keys-command", "run `CMD` with sh -c once per source org; it prints {\"api_key\": ..., \"app_key\": ...} (env ORGSYNC_KEYS_COMMAND)", nonEmpty(&k.command))
}

// check refuses two sources given as flags; source also sees the env.
func (k *keysFlags) check() error {
	if k.file != "" && k.command != "" {
		return errors.New("--keys-file and --keys-command exclude each other: give one source of keys")
	}
	return nil
}

// keySource is the run's source of keys, and how a saved plan records it.
type keySource struct {
	keys.Source
	kind string // plan.KeysFrom*
}

// source resolves the flags, then ORGSYNC_KEYS_FILE and
// ORGSYNC_KEYS_COMMAND, into the run's source of keys. It reads a keys file
// at once, so that a file that cannot be used stops the run before any
// request. Every org's keys are asked for once at most.
func (k *keysFlags) source(s streams) (keySource, error) {
	file, fileFrom := k.file, "--keys-file"
	if file == "" {
		file, fileFrom = s.getenv("ORGSYNC_KEYS_FILE"), "ORGSYNC_KEYS_FILE"
	}
	command, commandFrom := k.command, "--keys-command"
	if command == "" {
		command, commandFrom = s.getenv("ORGSYNC_KEYS_COMMAND"), "ORGSYNC_KEYS_COMMAND"
	}
	switch {
	case file != "" && command != "":
		return keySource{}, withHint(fmt.Errorf("%s and %s both give keys: give one source of keys", fileFrom, commandFrom),
			"unset the one you do not mean to use")
	case file != "":
		kf, err := keys.ReadFile(file, func(w string) { fmt.Fprintf(s.stderr, "orgsync: warning: %s\n", w) })
		if err != nil {
			return keySource{}, err
		}
		return keySource{keys.Once(kf), plan.KeysFromFile}, nil
	case command != "":
		return keySource{keys.Once(keys.NewCommand(command, keys.CommandOptions{Stderr: s.stderr})), plan.KeysFromCommand}, nil
	}
	return keySource{keys.Env{Getenv: s.getenv}, plan.KeysFromEnv}, nil
}

// flags repeats the keys flags given on the command line, for a hint that
// names a follow-up command; the env vars carry over by themselves.
func (k *keysFlags) flags() string {
	switch {
	case k.file != "":
		return " --keys-file " + shellQuote(k.file)
	case k.command != "":
		return " --keys-command " + shellQuote(k.command)
	}
	return ""
}

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// describeKeySource says in words where keys come from, for notes.
func describeKeySource(kind string) string {
	switch kind {
	case plan.KeysFromFile:
		return "a keys file"
	case plan.KeysFromCommand:
		return "a keys command"
	case plan.KeysFromSandbox:
		return "the sandbox"
	}
	return "env vars (api_key_env and app_key_env)"
}

// noteKeySource tells, when a saved plan found its keys elsewhere than this
// apply will, where this apply looks: keys come from apply's own command
// line, and a missing key is easier to understand with that said.
func noteKeySource(s streams, p *plan.Plan, kind string) {
	for _, o := range p.Orgs {
		if o.KeySource != "" && o.KeySource != kind {
			fmt.Fprintf(s.stderr, "orgsync: note: the plan found its keys in %s; this apply reads them from %s\n",
				describeKeySource(o.KeySource), describeKeySource(kind))
			return
		}
	}
}
