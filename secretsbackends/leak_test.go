package secretsbackends_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/secretsbackends"
)

// TestNoValueInErrors looks a secret up through chains whose earlier
// backends are broken while a later one holds the value, and checks that
// no error, Where string or Trace step shows the value, in any format.
func TestNoValueInErrors(t *testing.T) {
	const value = "hunter2-SECRET-value-do-not-print"
	ctx := context.Background()
	n := secretsbackends.Name{Group: "github", Key: "token"}

	// Holds the value: the environment and an encrypted file keyring.
	env := secretsbackends.Env{Prefix: "FLYTE_SECRETS_", Getenv: envMap(map[string]string{"FLYTE_SECRETS_GITHUB_TOKEN": value})}
	keyringDir := t.TempDir()
	right := &secretsbackends.Keyring{Backend: "file", Dir: keyringDir, Getenv: envMap(map[string]string{secretsbackends.DefaultPassphraseEnv: "right"})}
	if err := right.Set(ctx, n, []byte(value)); err != nil {
		t.Fatal(err)
	}

	// Broken: the same keyring with the wrong passphrase, a directory
	// where the secret's file should be, and a keyring without a
	// passphrase.
	wrong := &secretsbackends.Keyring{Backend: "file", Dir: keyringDir, Getenv: envMap(map[string]string{secretsbackends.DefaultPassphraseEnv: "wrong"})}
	noPass := secretsbackends.NoTerminal(&secretsbackends.Keyring{Backend: "file", Dir: keyringDir, Getenv: envMap(nil)})
	broken := secretsbackends.Dir{Path: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(broken.Path, "github", "token"), 0o700); err != nil {
		t.Fatal(err)
	}

	var shown []any // everything a user could see
	for _, c := range []secretsbackends.Chain{
		{wrong, env},
		{broken, env},
		{noPass, env},
		{secretsbackends.Env{Prefix: "NOPE_", Getenv: envMap(nil)}, secretsbackends.Dir{Path: t.TempDir()}}, // a plain miss
	} {
		_, err := c.Lookup(ctx, n)
		if err == nil || errors.Is(err, secretsbackends.ErrNotFound) != strings.HasPrefix(c.Where(n), "env NOPE_") {
			t.Errorf("Lookup through %s = %v, want the first backend's failure (or a miss)", c.Where(n), err)
		}
		shown = append(shown, err, c.Where(n))
	}
	trace := secretsbackends.Chain{env, broken, wrong, noPass, right}.Trace(ctx, n)
	if len(trace) != 5 || !trace[0].Found || !trace[4].Found || trace[1].Err == nil || trace[2].Err == nil || trace[3].Err == nil {
		t.Errorf("Trace = %+v, want found, three failures, found", trace)
	}
	for _, s := range trace {
		shown = append(shown, s, s.Err)
	}

	for _, x := range shown {
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			if text := fmt.Sprintf(format, x); strings.Contains(text, value) || strings.Contains(text, "hunter2") {
				t.Errorf("%s of a %T shows the value: %s", format, x, text)
			}
		}
	}
}
