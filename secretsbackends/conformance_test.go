package secretsbackends_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/goflyte/goflyte/secretsbackends"
	"github.com/goflyte/goflyte/secretsbackends/backendtest"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestEnvConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		vars := map[string]string{}
		e := secretsbackends.Env{Prefix: "FLYTE_SECRETS_", Getenv: envMap(vars)}
		return e, func(t *testing.T, n secretsbackends.Name, value []byte) { vars[e.Var(n)] = string(value) }
	}, backendtest.Options{})
}

// TestEnvConformanceProcess runs the suite against the process
// environment, which holds text only.
func TestEnvConformanceProcess(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		e := secretsbackends.Env{Prefix: "GOFLYTE_TEST_SECRETS_"}
		return e, func(t *testing.T, n secretsbackends.Name, value []byte) { t.Setenv(e.Var(n), string(value)) }
	}, backendtest.Options{Text: true})
}

func TestDirConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		d := secretsbackends.Dir{Path: t.TempDir(), FilePrefix: "secret-"}
		return d, func(t *testing.T, n secretsbackends.Name, value []byte) {
			path := d.File(n)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, value, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}, backendtest.Options{})
}

func TestChainConformance(t *testing.T) {
	// A chain seeded at its end: every miss before it falls through.
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		d := secretsbackends.Dir{Path: t.TempDir()}
		c := secretsbackends.Chain{secretsbackends.Env{Prefix: "FLYTE_SECRETS_", Getenv: envMap(nil)}, d}
		return c, func(t *testing.T, n secretsbackends.Name, value []byte) {
			path := d.File(n)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, value, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}, backendtest.Options{})
}

// TestKeyringFileConformance needs no daemon, so it always runs.
func TestKeyringFileConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		k := secretsbackends.NoTerminal(&secretsbackends.Keyring{
			Backend: "file",
			Dir:     t.TempDir(),
			Getenv:  envMap(map[string]string{secretsbackends.DefaultPassphraseEnv: "correct horse battery staple"}),
		})
		return k, nil
	}, backendtest.Options{})
}

func TestKeyringKeyctlConformance(t *testing.T) {
	if err := secretsbackends.KeyctlCheck(); err != nil {
		t.Skipf("the kernel does not allow keyctl here: %v", err)
	}
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		service := uniqueService(t)
		k := &secretsbackends.Keyring{Backend: "keyctl", Service: service}
		t.Cleanup(func() { removeKeyctlKeyring(t, k, service) })
		return k, nil
	}, backendtest.Options{})
}

// TestKeyringPassConformance runs where pass is installed, in a throwaway
// GnuPG home and password store.
func TestKeyringPassConformance(t *testing.T) {
	if _, err := exec.LookPath("pass"); err != nil {
		t.Skip("pass is not installed (apt-get install pass)")
	}
	gnupg := shortTempDir(t) // gpg-agent's socket path must be short
	t.Setenv("GNUPGHOME", gnupg)
	t.Cleanup(func() { _ = exec.Command("gpgconf", "--kill", "gpg-agent").Run() })
	const id = "goflyte-test@example.invalid"
	run(t, "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", id, "default", "default", "never")
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		store := t.TempDir()
		cmd := exec.Command("pass", "init", id)
		cmd.Env = append(os.Environ(), "PASSWORD_STORE_DIR="+store)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pass init: %v\n%s", err, out)
		}
		return &secretsbackends.Keyring{Backend: "pass", Dir: store}, nil
	}, backendtest.Options{})
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gfy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
