package secretsbackends_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	zkeyring "github.com/zalando/go-keyring"

	"github.com/goflyte/goflyte/secretsbackends"
	"github.com/goflyte/goflyte/secretsbackends/backendtest"
)

// keychainEnv turns on the tests against the real OS keychain, like
// TF_ACC. .ci/run sets it after starting a Secret Service.
const keychainEnv = "GOFLYTE_TEST_KEYCHAIN"

// requireKeychain skips t unless GOFLYTE_TEST_KEYCHAIN=1. When it is set,
// a keychain that cannot be reached fails t: a test that was asked to use
// the real thing never skips silently.
func requireKeychain(t *testing.T) {
	t.Helper()
	if os.Getenv(keychainEnv) != "1" {
		t.Skipf("set %s=1 to run against the real OS keychain; on Linux: bash .ci/keyring-session.sh go test ./secretsbackends/", keychainEnv)
	}
	st := secretsbackends.Doctor(context.Background(), secretsbackends.Options{KeychainTimeout: 10 * time.Second})[0]
	if st.Backend != "keychain" || !st.Usable {
		t.Fatalf("%s=1, but the OS keychain is not usable: %s", keychainEnv, st.Detail)
	}
}

// uniqueService returns a keychain service name no other test or run
// uses.
func uniqueService(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "goflyte-test-" + name + "-" + hex.EncodeToString(b)
}

// testKeychain returns a Keychain with its own service, emptied when t
// ends.
func testKeychain(t *testing.T) secretsbackends.Keychain {
	t.Helper()
	k := secretsbackends.Keychain{Service: uniqueService(t), Timeout: 10 * time.Second}
	t.Cleanup(func() {
		if err := zkeyring.DeleteAll(k.Service); err != nil {
			t.Errorf("clean up keychain service %q: %v", k.Service, err)
		}
	})
	return k
}

func TestKeychainConformance(t *testing.T) {
	requireKeychain(t)
	backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
		return testKeychain(t), nil
	}, backendtest.Options{})
}

func TestKeychainSetLookupDeleteList(t *testing.T) {
	requireKeychain(t)
	ctx := context.Background()
	k := testKeychain(t)
	token := secretsbackends.Name{Group: "github", Key: "token"}
	versioned := secretsbackends.Name{Group: "github", Version: "v2", Key: "token"}
	value := []byte("ghp-keychain-value\n")

	if _, err := k.Lookup(ctx, token); !errors.Is(err, secretsbackends.ErrNotFound) {
		t.Fatalf("Lookup before Set = %v, want ErrNotFound", err)
	}
	if err := k.Set(ctx, token, value); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := k.Set(ctx, versioned, []byte("v2")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := k.Lookup(ctx, token); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("Lookup = %q, %v; want %q", got, err, value)
	}
	// Stored where the docs say: service and account "group/key".
	if got, err := zkeyring.Get(k.Service, "github/token"); err != nil || got != string(value) {
		t.Errorf("zalando Get(%q, github/token) = %q, %v", k.Service, got, err)
	}
	names, err := k.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(names) != 2 || names[0] != token || names[1] != versioned {
		t.Errorf("List = %v, want [github/token github/v2/token]", names)
	}
	if err := k.Delete(ctx, token); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := k.Lookup(ctx, token); !errors.Is(err, secretsbackends.ErrNotFound) {
		t.Errorf("Lookup after Delete = %v, want ErrNotFound", err)
	}
	if err := k.Delete(ctx, token); !errors.Is(err, secretsbackends.ErrNotFound) {
		t.Errorf("Delete of a missing secret = %v, want ErrNotFound", err)
	}
	if got, err := k.Lookup(ctx, versioned); err != nil || string(got) != "v2" {
		t.Errorf("Lookup(%s) = %q, %v", versioned, got, err)
	}
}

// TestChainEndsInKeychain resolves a secret through the chain New builds,
// from the keychain, and a miss that lists the keychain as a place tried.
func TestChainEndsInKeychain(t *testing.T) {
	requireKeychain(t)
	ctx := context.Background()
	k := testKeychain(t)
	token := secretsbackends.Name{Group: "github", Key: "token"}
	if err := k.Set(ctx, token, []byte("from-keychain")); err != nil {
		t.Fatal(err)
	}
	chain := secretsbackends.New(secretsbackends.Options{
		EnvPrefix: "FLYTE_SECRETS_", Local: true, DefaultDir: t.TempDir(),
		KeychainService: k.Service, Fallback: "file", FallbackDir: t.TempDir(),
		Getenv: envMap(nil),
	})
	if got, err := chain.Lookup(ctx, token); err != nil || string(got) != "from-keychain" {
		t.Fatalf("Lookup = %q, %v", got, err)
	}
	steps := chain.Trace(ctx, token)
	if last := steps[len(steps)-1]; last.Backend != "keychain" || !last.Found {
		t.Errorf("last step = %+v, want the keychain, found (the fallback is not used while the keychain is reachable)", last)
	}
	_, err := chain.Lookup(ctx, secretsbackends.Name{Group: "slack", Key: "hook"})
	var nf *secretsbackends.NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) != 4 || !strings.HasPrefix(nf.Tried[3], "keychain service") {
		t.Errorf("a miss = %v, want a NotFoundError ending in the keychain", err)
	}
}
