package auth

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/auth/oidctest"
	"github.com/goflyte/goflyte/secretsbackends"
)

// TestKeychainCache keeps a client credentials token in the real OS
// keychain (the Secret Service), where a second process finds it, under a
// service the secrets chain never reads. It runs with
// GOFLYTE_TEST_KEYCHAIN=1 (bash .ci/keyring-session.sh go test ./auth/),
// and fails then if the keychain cannot be reached.
func TestKeychainCache(t *testing.T) {
	if os.Getenv("GOFLYTE_TEST_KEYCHAIN") != "1" {
		t.Skip("needs a Secret Service: bash .ci/keyring-session.sh go test ./auth/")
	}
	srv := oidctest.Start(t, oidctest.Options{Clients: map[string]string{svcID: svcSecret}})
	ctx := ctxT(t)
	opts := secretsbackends.Options{KeychainService: "goflyte-authtest-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	set := Settings{Mode: ModeClientCredentials, Issuer: srv.Issuer, ClientID: svcID, ClientSecret: svcSecret}

	first := newSource(t, Options{Settings: set, Cache: NewKeychainCache(opts)})
	tok, err := first.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.Where(), `"`+opts.KeychainService+`-tokens"`) {
		t.Errorf("cached at %s, want the tokens service", first.Where())
	}
	// Another process: the same settings find the token in the keychain.
	second := newSource(t, Options{Settings: set, Cache: NewKeychainCache(opts)})
	if got, err := second.Token(ctx); err != nil || got != tok {
		t.Fatalf("a new source did not use the cached token: %v", err)
	}
	if logins, _ := second.counts(); logins != 0 {
		t.Errorf("the second source ran %d flows", logins)
	}
	cached, err := second.Cached(ctx)
	if err != nil || cached == nil || cached.Expiry.IsZero() || cached.Mode != ModeClientCredentials {
		t.Fatalf("Cached = %+v, %v", cached != nil, err)
	}
	// The secrets chain reads the secrets service only.
	if _, err := secretsbackends.NewStore(opts).Lookup(ctx, cacheName(first.key)); !isNotFound(err) {
		t.Errorf("the secrets store sees the token entry: %v", err)
	}
	if had, err := second.Logout(ctx); !had || err != nil {
		t.Fatalf("logout: %v, %v", had, err)
	}
	if had, err := newSource(t, Options{Settings: set, Cache: NewKeychainCache(opts)}).Logout(ctx); had || err != nil {
		t.Errorf("a second logout found a token: %v, %v", had, err)
	}
}

func isNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not found")
}

const noBusChild = "GOFLYTE_AUTH_TEST_NO_BUS"

// TestFileFallbackCache: where there is no keychain (no D-Bus session
// bus), tokens go to the encrypted file fallback, in a directory of their
// own beside the secrets' one. It runs in a child process without a bus.
func TestFileFallbackCache(t *testing.T) {
	if os.Getenv(noBusChild) == "" {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileFallbackCache$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), noBusChild+"="+dir,
			"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-such-bus"),
			"GOFLYTE_AUTHTEST_PASSPHRASE=correct horse battery")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestFileFallbackCache")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "keyring-tokens")); err != nil {
			t.Errorf("no token directory: %v", err)
		}
		entries, _ := os.ReadDir(filepath.Join(dir, "keyring"))
		if len(entries) != 0 {
			t.Errorf("the secrets' keyring directory holds %d entries", len(entries))
		}
		return
	}
	dir := os.Getenv(noBusChild)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := secretsbackends.Options{Fallback: "file", FallbackDir: filepath.Join(dir, "keyring"), PassphraseEnv: "GOFLYTE_AUTHTEST_PASSPHRASE"}
	c := NewKeychainCache(opts)
	tok := &Token{AccessToken: "file-TOKEN", RefreshToken: "file-REFRESH", Expiry: time.Now().Add(time.Hour).Round(0), Obtained: time.Now().Round(0), Mode: ModePKCE}
	if err := c.Store(ctx, "k1", tok); err != nil {
		t.Fatal(err)
	}
	got, err := NewKeychainCache(opts).Load(ctx, "k1")
	if err != nil || got == nil || got.RefreshToken != "file-REFRESH" || !got.Expiry.Equal(tok.Expiry) {
		t.Fatalf("load: %+v, %v", got != nil, err)
	}
	if !strings.Contains(c.Where("k1"), "keyring-tokens") {
		t.Errorf("where %s", c.Where("k1"))
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "keyring-tokens"))
	for _, e := range entries {
		if raw, _ := os.ReadFile(filepath.Join(dir, "keyring-tokens", e.Name())); bytes.Contains(raw, []byte("file-TOKEN")) {
			t.Errorf("%s holds the token in clear text", e.Name())
		}
	}
	if had, err := c.Delete(ctx, "k1"); !had || err != nil {
		t.Fatalf("delete: %v %v", had, err)
	}
	if got, err := c.Load(ctx, "k1"); got != nil || err != nil {
		t.Fatalf("after delete: %v %v", got != nil, err)
	}
}
