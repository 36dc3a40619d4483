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

	dbus "github.com/godbus/dbus/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/secretsbackends"
)

// The tests in this file need a D-Bus session of their own, so each runs
// in a child process (the TestHelperProcess trick) under a wrapper that
// makes one. They run with GOFLYTE_TEST_KEYCHAIN=1, which promises that
// dbus-run-session and gnome-keyring are installed.

const sessionChild = "GOFLYTE_TEST_SESSION_CHILD"

// inOwnSession returns true in the child, where the test goes on. In the
// parent it runs the test again under wrapper, reports the child's result
// and returns false.
func inOwnSession(t *testing.T, wrapper ...string) bool {
	t.Helper()
	if os.Getenv(sessionChild) == t.Name() {
		return true
	}
	requireKeychain(t)
	args := append(wrapper[1:], os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd := exec.Command(wrapper[0], args...)
	for _, kv := range os.Environ() {
		// A session of its own, not this one.
		if !strings.HasPrefix(kv, "GOFLYTE_KEYRING_SESSION=") && !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, sessionChild+"="+t.Name())
	if os.Getenv("GORACE") == "" {
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0") // a -race child would wait 1 s at exit
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("in a D-Bus session of its own: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(strings.TrimSpace(line), "session_linux_test.go") {
			t.Log("child: " + strings.TrimSpace(line))
		}
	}
	return false
}

// TestKeychainLocked locks the login keyring and checks that a lookup
// fails with a hint, as a failure: neither "not found" nor "unavailable"
// (which would let a fallback take over). The session is a fresh one from
// .ci/keyring-session.sh.
func TestKeychainLocked(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", ".ci", "keyring-session.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !inOwnSession(t, "bash", script) {
		return
	}

	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err = conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").
		Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"}).
		Store(&locked, &prompt)
	if err != nil || len(locked) != 1 {
		t.Fatalf("lock the login keyring: %v (locked %v, prompt %v)", err, locked, prompt)
	}

	k := secretsbackends.Keychain{Service: "goflyte-test-locked", Timeout: 10 * time.Second}
	n := secretsbackends.Name{Group: "github", Key: "token"}
	start := time.Now()
	_, err = k.Lookup(context.Background(), n)
	t.Logf("Lookup in a locked keyring failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || errors.Is(err, secretsbackends.ErrNotFound) || errors.Is(err, secretsbackends.ErrUnavailable) {
		t.Fatalf("Lookup in a locked keyring = %v, want a failure that is neither ErrNotFound nor ErrUnavailable", err)
	}
	// The hint is the point of the message, so check it is there.
	if !strings.Contains(err.Error(), "locked") {
		t.Errorf("Lookup in a locked keyring = %q, want it to say the keyring is locked", err)
	}
	st := secretsbackends.Doctor(context.Background(), secretsbackends.Options{})[0]
	t.Logf("doctor: %s usable=%v %s", st.Backend, st.Usable, st.Detail)
	if st.Usable || !strings.Contains(st.Detail, "locked") {
		t.Errorf("Doctor keychain = %+v, want not usable: locked", st)
	}

	// A locked keychain is reachable: a configured fallback does not take
	// over, and the lookup reports the lock.
	store := secretsbackends.NewStore(secretsbackends.Options{KeychainService: k.Service, Fallback: "file", FallbackDir: t.TempDir(), Logger: hclog.NewNullLogger()})
	if _, err := store.Lookup(context.Background(), n); err == nil || errors.Is(err, secretsbackends.ErrNotFound) || store.String() != "keychain" {
		t.Errorf("Store.Lookup in a locked keyring = %v (store %s), want the keychain's failure", err, store)
	}
}

// busConfig is a session bus with no service directories: nothing can be
// activated on it, so it has no Secret Service.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// TestKeychainNoProvider: a session bus without a Secret Service (a
// container with D-Bus but no keyring) is unavailable, with a hint, and a
// configured fallback takes over.
func TestKeychainNoProvider(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "session.conf")
	if os.Getenv(sessionChild) == "" {
		if err := os.WriteFile(conf, []byte(busConfig), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !inOwnSession(t, "dbus-run-session", "--config-file="+conf, "--") {
		return
	}
	ctx := context.Background()
	n := secretsbackends.Name{Group: "github", Key: "token"}
	_, err := secretsbackends.Keychain{Service: "goflyte-test-no-provider"}.Lookup(ctx, n)
	t.Logf("Lookup without a Secret Service: %v", err)
	if !errors.Is(err, secretsbackends.ErrUnavailable) || errors.Is(err, secretsbackends.ErrNotFound) {
		t.Fatalf("Lookup without a Secret Service = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "gnome-keyring") {
		t.Errorf("Lookup without a Secret Service = %q, want a hint to install gnome-keyring", err)
	}

	var log bytes.Buffer
	store := secretsbackends.NewStore(secretsbackends.Options{
		KeychainService: "goflyte-test-no-provider",
		Fallback:        "file",
		FallbackDir:     t.TempDir(),
		Getenv:          envMap(map[string]string{secretsbackends.DefaultPassphraseEnv: "pw"}),
		Logger:          hclog.New(&hclog.LoggerOptions{Output: &log}),
	})
	if err := store.Set(ctx, n, []byte("v")); err != nil {
		t.Fatal(err)
	}
	t.Logf("announced: %s", strings.TrimSpace(log.String()))
	if store.String() != "encrypted file" || !strings.Contains(log.String(), "no Secret Service provider") {
		t.Errorf("store = %s, log %q; want the encrypted file, announced with the reason", store, log.String())
	}
}
