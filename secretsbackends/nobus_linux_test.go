package secretsbackends_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/secretsbackends"
)

// The tests in this file need no keychain: they check what happens
// without one, so they always run. godbus keeps one shared session bus
// connection per process, so each runs in a child process (the
// TestHelperProcess trick) whose DBUS_SESSION_BUS_ADDRESS points at a
// socket that does not exist.

const noBusChild = "GOFLYTE_TEST_NO_BUS_CHILD"

// withoutBus returns true in the child, where the test goes on. In the
// parent it runs the test in the child, reports its result and returns
// false.
func withoutBus(t *testing.T) bool {
	t.Helper()
	if os.Getenv(noBusChild) == "1" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(),
		noBusChild+"=1",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-such-bus"),
	)
	if os.Getenv("GORACE") == "" {
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0") // a -race child would wait 1 s at exit
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("without a D-Bus session bus: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the child did not run %s:\n%s", t.Name(), out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(strings.TrimSpace(line), "nobus_linux_test.go") {
			t.Log("child: " + strings.TrimSpace(line))
		}
	}
	return false
}

// TestKeychainWithoutBus: a missing D-Bus fails fast, as ErrUnavailable
// (not ErrNotFound), with a hint.
func TestKeychainWithoutBus(t *testing.T) {
	if !withoutBus(t) {
		return
	}
	ctx := context.Background()
	k := secretsbackends.Keychain{Service: "goflyte-test-no-bus", Timeout: time.Minute}
	n := secretsbackends.Name{Group: "github", Key: "token"}
	start := time.Now()
	_, err := k.Lookup(ctx, n)
	t.Logf("Lookup failed after %v: %v", time.Since(start).Round(time.Microsecond), err)
	errs := map[string]error{"Lookup": err, "Set": k.Set(ctx, n, []byte("v")), "Delete": k.Delete(ctx, n)}
	_, errs["List"] = k.List(ctx)
	for op, err := range errs {
		if !errors.Is(err, secretsbackends.ErrUnavailable) || errors.Is(err, secretsbackends.ErrNotFound) {
			t.Errorf("%s without a bus = %v, want ErrUnavailable and not ErrNotFound", op, err)
		}
		// The hint is the point of the message, so check it is there.
		if err != nil && !strings.Contains(err.Error(), "dbus-run-session") {
			t.Errorf("%s without a bus = %q, want a hint to start dbus-run-session", op, err)
		}
	}
}

// TestChainWithoutBus: without a fallback, a miss that reaches the
// keychain is a failure that stops the chain, not "not found".
func TestChainWithoutBus(t *testing.T) {
	if !withoutBus(t) {
		return
	}
	ctx := context.Background()
	chain := secretsbackends.New(secretsbackends.Options{EnvPrefix: "FLYTE_SECRETS_", Local: true, Getenv: envMap(nil)})
	n := secretsbackends.Name{Group: "github", Key: "token"}
	_, err := chain.Lookup(ctx, n)
	if !errors.Is(err, secretsbackends.ErrUnavailable) || errors.Is(err, secretsbackends.ErrNotFound) {
		t.Fatalf("Lookup = %v, want ErrUnavailable", err)
	}
	steps := chain.Trace(ctx, n)
	if last := steps[len(steps)-1]; last.Backend != "keychain" || !errors.Is(last.Err, secretsbackends.ErrUnavailable) {
		t.Errorf("last step = %+v, want the keychain failing with ErrUnavailable", last)
	}
}

// TestStoreFallbackWithoutBus: with a fallback configured, the store uses
// it, and says so once.
func TestStoreFallbackWithoutBus(t *testing.T) {
	if !withoutBus(t) {
		return
	}
	tests := []struct {
		fallback string
		want     string // Store.String after the choice
		keyctl   bool
	}{
		{fallback: "file", want: "encrypted file"},
		{fallback: "auto", want: "encrypted file"}, // pass is not set up in PassDir
		{fallback: "keyctl", want: "keyctl", keyctl: true},
	}
	for _, tc := range tests {
		t.Run(tc.fallback, func(t *testing.T) {
			if tc.keyctl && secretsbackends.KeyctlCheck() != nil {
				t.Skipf("the kernel does not allow keyctl here: %v", secretsbackends.KeyctlCheck())
			}
			var log bytes.Buffer
			dir := t.TempDir()
			service := uniqueService(t)
			opts := secretsbackends.Options{
				KeychainService: service,
				Fallback:        tc.fallback,
				FallbackDir:     dir,
				PassDir:         t.TempDir(),
				Getenv:          envMap(map[string]string{secretsbackends.DefaultPassphraseEnv: "pw"}),
				Logger:          hclog.New(&hclog.LoggerOptions{Output: &log}),
			}
			store := secretsbackends.NewStore(opts)
			if tc.keyctl {
				t.Cleanup(func() {
					removeKeyctlKeyring(t, &secretsbackends.Keyring{Backend: "keyctl", Service: service}, service)
				})
			}
			ctx := context.Background()
			n := secretsbackends.Name{Group: "github", Key: "token"}
			if err := store.Set(ctx, n, []byte("from-fallback")); err != nil {
				t.Fatalf("Set: %v", err)
			}
			for range 3 {
				if v, err := store.Lookup(ctx, n); err != nil || string(v) != "from-fallback" {
					t.Fatalf("Lookup = %q, %v", v, err)
				}
			}
			if got := store.String(); got != tc.want {
				t.Errorf("the store chose %q, want %q", got, tc.want)
			}
			if c := strings.Count(log.String(), "OS keychain unreachable: no D-Bus session bus; using "); c != 1 {
				t.Errorf("the fallback was announced %d times, want once:\n%s", c, log.String())
			}
			t.Logf("announced: %s", strings.TrimSpace(log.String()))
		})
	}
}

// TestDoctorWithoutBus: doctor says why the keychain is not usable and
// which fallbacks are.
func TestDoctorWithoutBus(t *testing.T) {
	if !withoutBus(t) {
		return
	}
	const passphrase = "doctor-SECRET-passphrase"
	st := secretsbackends.Doctor(context.Background(), secretsbackends.Options{
		FallbackDir: t.TempDir(),
		Fallback:    "file",
		Getenv:      envMap(map[string]string{secretsbackends.DefaultPassphraseEnv: passphrase}),
	})
	got := map[string]secretsbackends.Status{}
	for _, s := range st {
		got[s.Backend] = s
		t.Logf("doctor: %-14s usable=%-5v %s", s.Backend, s.Usable, s.Detail)
		if strings.Contains(s.Detail, passphrase) {
			t.Errorf("%s: the detail shows the passphrase", s.Backend)
		}
	}
	if k := got["keychain"]; k.Usable || !strings.Contains(k.Detail, "no D-Bus session bus") {
		t.Errorf("keychain = %+v, want not usable: no D-Bus session bus", k)
	}
	if f := got["encrypted file"]; !f.Usable {
		t.Errorf("encrypted file = %+v, want usable (the passphrase is set)", f)
	}
	if len(st) != 4 {
		t.Errorf("Doctor returned %d statuses, want 4", len(st))
	}
}
