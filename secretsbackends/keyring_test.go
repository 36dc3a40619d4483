package secretsbackends

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// noTerminal makes k behave as on a machine without a terminal, whatever
// runs the test.
func noTerminal(k *Keyring) *Keyring {
	k.terminal = func() (*os.File, io.Writer, func(), error) { return nil, nil, nil, errors.New("no terminal (test)") }
	return k
}

func fileKeyring(t *testing.T, dir, passphrase string) *Keyring {
	t.Helper()
	env := map[string]string{}
	if passphrase != "" {
		env["TEST_PASSPHRASE"] = passphrase
	}
	return noTerminal(&Keyring{Backend: "file", Dir: dir, PassphraseEnv: "TEST_PASSPHRASE", Getenv: envMap(env)})
}

func TestKeyringFileWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if err := fileKeyring(t, dir, "right horse").Set(ctx, token, []byte("ghp-SECRET\n")); err != nil {
		t.Fatal(err)
	}

	wrong := fileKeyring(t, dir, "wrong horse")
	v, err := wrong.Lookup(ctx, token)
	if !errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrNotFound) || v != nil {
		t.Fatalf("Lookup with a wrong passphrase = %q, %v; want ErrWrongPassphrase", v, err)
	}
	// A second store must not be started under another passphrase.
	if err := wrong.Set(ctx, Name{Group: "slack", Key: "hook"}, []byte("x")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Set with a wrong passphrase = %v; want ErrWrongPassphrase", err)
	}
	if _, err := fileKeyring(t, dir, "right horse").Lookup(ctx, Name{Group: "slack", Key: "hook"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused Set left an entry behind: %v", err)
	}
	// The right passphrase still works.
	if v, err := fileKeyring(t, dir, "right horse").Lookup(ctx, token); err != nil || string(v) != "ghp-SECRET\n" {
		t.Errorf("Lookup with the right passphrase = %q, %v", v, err)
	}
}

func TestKeyringFileNoPassphrase(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	k := fileKeyring(t, dir, "")

	// A miss needs no passphrase.
	if _, err := k.Lookup(ctx, token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup of a missing secret without a passphrase = %v, want ErrNotFound", err)
	}
	// Storing does: without a terminal the error names the variable.
	err := k.Set(ctx, token, []byte("ghp-SECRET"))
	if !errors.Is(err, ErrNoPassphrase) || errors.Is(err, ErrNotFound) {
		t.Fatalf("Set without a passphrase = %v, want ErrNoPassphrase", err)
	}
	if !strings.Contains(err.Error(), "TEST_PASSPHRASE") {
		t.Errorf("the error %q does not name the variable TEST_PASSPHRASE", err)
	}
	// So does reading a secret that is there.
	if err := fileKeyring(t, dir, "pw").Set(ctx, token, []byte("ghp-SECRET")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Lookup(ctx, token); !errors.Is(err, ErrNoPassphrase) || !strings.Contains(err.Error(), "TEST_PASSPHRASE") {
		t.Errorf("Lookup without a passphrase = %v, want ErrNoPassphrase naming TEST_PASSPHRASE", err)
	}
	// An empty variable is no passphrase.
	empty := noTerminal(&Keyring{Backend: "file", Dir: dir, Getenv: envMap(map[string]string{DefaultPassphraseEnv: ""})})
	if _, err := empty.Lookup(ctx, token); !errors.Is(err, ErrNoPassphrase) || !strings.Contains(err.Error(), DefaultPassphraseEnv) {
		t.Errorf("Lookup with an empty %s = %v, want ErrNoPassphrase naming it", DefaultPassphraseEnv, err)
	}
}

func TestKeyringFilePromptOnce(t *testing.T) {
	var prompts []string
	k := &Keyring{Backend: "file", Dir: t.TempDir(), Getenv: envMap(nil), Prompt: func(p string) (string, error) {
		prompts = append(prompts, p)
		return "typed passphrase", nil
	}}
	ctx := context.Background()
	for _, n := range []Name{token, {Group: "slack", Key: "hook"}} {
		if err := k.Set(ctx, n, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Lookup(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if len(prompts) != 1 {
		t.Fatalf("asked %d times for the passphrase, want once: %q", len(prompts), prompts)
	}
	if !strings.Contains(prompts[0], DefaultPassphraseEnv) {
		t.Errorf("the prompt %q does not mention %s", prompts[0], DefaultPassphraseEnv)
	}
}

func TestKeyringWhere(t *testing.T) {
	tests := []struct {
		k    *Keyring
		want string
	}{
		{&Keyring{Backend: "file", Dir: "/k"}, `encrypted file keyring /k account "github/token"`},
		{&Keyring{Backend: "pass", Dir: "/p"}, `pass store /p entry "goflyte/github/token"`},
		{&Keyring{Backend: "pass", Dir: "/p", Service: "svc"}, `pass store /p entry "svc/github/token"`},
		{&Keyring{Backend: "keyctl"}, `kernel keyring "goflyte" key "github/token"`},
	}
	for _, tc := range tests {
		if got := tc.k.Where(token); got != tc.want {
			t.Errorf("%s: Where = %q, want %q", tc.k.Backend, got, tc.want)
		}
	}
	k := &Keyring{Backend: "pass", Getenv: envMap(map[string]string{"PASSWORD_STORE_DIR": "/store"})}
	if got, want := k.Where(token), `pass store /store entry "goflyte/github/token"`; got != want {
		t.Errorf("pass with PASSWORD_STORE_DIR: Where = %q, want %q", got, want)
	}
}

func TestKeyringUnknownBackend(t *testing.T) {
	_, err := (&Keyring{Backend: "kwallet"}).Lookup(context.Background(), token)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup in an unknown backend = %v, want a real error", err)
	}
}
