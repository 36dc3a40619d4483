package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/auth/oidctest"
)

// TestLoginLogoutDoctor runs goflyte login, doctor and logout against the
// real OIDC test server with client credentials (the secret in a variable
// named by client_secret_env_var), caching the token in the encrypted file
// fallback (the session has no D-Bus here, on purpose). The secret and the
// token never appear in any output.
func TestLoginLogoutDoctor(t *testing.T) {
	x := newE2E(t)
	const secret = "e2e-client-SECRET-77f1"
	srv := oidctest.Start(t, oidctest.Options{Clients: map[string]string{"ci-worker": secret}})
	dir := t.TempDir()
	x.writeFile("flyte.hcl", fmt.Sprintf(`
secrets {
  keychain_service = "goflyte-e2e-%d"
  fallback         = "file"
  fallback_dir     = %q
}
credentials {
  issuer                = %q
  client_id             = "ci-worker"
  client_secret_env_var = "CI_OIDC_SECRET"
  audience              = "temporal"
}
`, time.Now().UnixNano(), filepath.Join(dir, "keyring"), srv.Issuer))
	env := []string{"CI_OIDC_SECRET=" + secret, "GOFLYTE_KEYRING_PASSPHRASE=e2e passphrase",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(dir, "no-bus")}
	var outputs []string
	run := func(args ...string) result {
		t.Helper()
		r := x.runEnv(env, args...)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	type status struct {
		AuthMode    string     `json:"auth_mode"`
		TokenCached bool       `json:"token_cached"`
		ExpiresAt   *time.Time `json:"expires_at"`
		CachedIn    string     `json:"cached_in"`
		Error       string     `json:"error"`
	}
	doctor := func() status {
		t.Helper()
		r := run("doctor", "--json")
		var st status
		if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r)
		}
		return st
	}

	if st := doctor(); st.AuthMode != "ClientSecret" || st.TokenCached || st.ExpiresAt != nil {
		t.Errorf("before login: %+v", st)
	}
	r := run("logout")
	if r.code != 0 || !strings.Contains(r.stdout, "No token cached") {
		t.Errorf("logout with nothing cached: want exit 0 and a note\n%s", r)
	}
	r = run("login", "--json")
	var st status
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || !st.TokenCached {
		t.Fatalf("login --json: %v\n%s", err, r)
	}
	if st.ExpiresAt == nil || time.Until(*st.ExpiresAt) < time.Minute || !strings.Contains(st.CachedIn, "keyring-tokens") {
		t.Errorf("login: %+v", st)
	}
	if st := doctor(); !st.TokenCached || st.ExpiresAt == nil {
		t.Errorf("doctor after login: %+v", st)
	}
	r = run("doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "auth mode     ClientSecret") || !strings.Contains(r.stdout, st.ExpiresAt.UTC().Format(time.RFC3339)+" (in ") {
		t.Errorf("doctor: want the mode and the expiry with the time left\n%s", r)
	}
	r = run("logout")
	if r.code != 0 || !strings.Contains(r.stdout, "Logged out") {
		t.Errorf("logout\n%s", r)
	}
	if st := doctor(); st.TokenCached {
		t.Errorf("doctor after logout: %+v", st)
	}
	r = run("config", "show")
	if r.code != 0 {
		t.Errorf("config show\n%s", r)
	}

	// A refused secret: exit 1, the client and where the secret came from.
	bad := append(append([]string{}, env...), "CI_OIDC_SECRET=wrong-SECRET-3")
	r = x.runEnv(bad, "login")
	outputs = append(outputs, r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "env CI_OIDC_SECRET") || strings.Contains(r.stderr, "wrong-SECRET-3") {
		t.Errorf("login with a wrong secret\n%s", r)
	}
	for _, o := range outputs {
		if strings.Contains(o, secret) || strings.Contains(o, "eyJ") {
			t.Fatalf("a secret or a token in the output:\n%s", o)
		}
	}
}

// TestLoginNeedsSettings: a mode whose settings are missing is exit 2 and
// names them.
func TestLoginNeedsSettings(t *testing.T) {
	x := newE2E(t)
	r := x.runEnv([]string{"FLYTE_CREDENTIALS_AUTH_MODE=ClientSecret"}, "login")
	if r.code != 2 || !strings.Contains(r.stderr, "credentials.issuer") || !strings.Contains(r.stderr, "credentials.client_id") {
		t.Errorf("want exit 2 naming credentials.issuer and client_id\n%s", r)
	}
}
