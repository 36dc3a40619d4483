package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/auth/oidctest"
	"github.com/goflyte/goflyte/engine/config"
)

// TestPlatformTokensRedacted: the client secret and the tokens that
// platformOptions' token source gets from a real provider are redacted by
// every engine of the process, made before or after the token was got.
func TestPlatformTokensRedacted(t *testing.T) {
	const secret = "redact-me-SECRET-61f0"
	op := oidctest.Start(t, oidctest.Options{Clients: map[string]string{"ci": secret}})
	t.Setenv("FLYTE_CREDENTIALS_ISSUER", op.Issuer)
	t.Setenv("FLYTE_CREDENTIALS_CLIENT_ID", "ci")
	t.Setenv("FLYTE_CREDENTIALS_AUTH_MODE", "ClientSecret")
	t.Setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", secret)
	t.Setenv("FLYTE_SECRETS_FALLBACK", "file")
	t.Setenv("FLYTE_SECRETS_FALLBACK_DIR", t.TempDir())
	t.Setenv("GOFLYTE_KEYRING_PASSPHRASE", "test")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	c := &cli{stdout: &strings.Builder{}, stderr: &strings.Builder{}, parser: config.NewParser()}
	c.configPath = writeTemp(t, "flyte.hcl", "")
	cfg, err := c.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	before := c.newEngine(cfg)
	defer before.Close()
	o := platformOptions(cfg, hclog.NewNullLogger())
	if o.Token == nil || o.ProxyToken != nil {
		t.Fatalf("Token %v, ProxyToken %v: want a token source only", o.Token, o.ProxyToken)
	}
	tok, err := o.Token.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	after := c.newEngine(cfg)
	defer after.Close()
	for _, v := range []string{secret, tok} {
		for i, e := range []interface{ Redact(string) string }{before, after} {
			if got := e.Redact("x " + v + " y"); strings.Contains(got, v) {
				t.Errorf("engine %d does not redact a %d-byte credential", i, len(v))
			}
		}
	}
}

// TestPlatformOptionsNoCredentials: without a credentials block no token
// is sent; a proxy_command alone gives the proxy token only; a credentials
// problem comes out of the token source as a configuration error.
func TestPlatformOptionsNoCredentials(t *testing.T) {
	tests := []struct {
		name             string
		env              map[string]string
		token, proxy     bool
		tokenErrContains string
	}{
		{name: "none"},
		{name: "proxy only", env: map[string]string{"FLYTE_CREDENTIALS_PROXY_COMMAND": "echo,proxy-token"}, proxy: true},
		{name: "missing settings", env: map[string]string{"FLYTE_CREDENTIALS_AUTH_MODE": "ClientSecret", "FLYTE_CREDENTIALS_CLIENT_ID": "ci"},
			token: true, tokenErrContains: "credentials.issuer"},
		{name: "unreadable secret file", env: map[string]string{"FLYTE_CREDENTIALS_CLIENT_SECRET_LOCATION": "/nonexistent/secret"},
			token: true, tokenErrContains: "credentials.client_secret_location"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c := &cli{stdout: &strings.Builder{}, stderr: &strings.Builder{}, parser: config.NewParser()}
			c.configPath = writeTemp(t, "flyte.hcl", "")
			cfg, err := c.loadConfig()
			if err != nil {
				t.Fatal(err)
			}
			o := platformOptions(cfg, hclog.NewNullLogger())
			if (o.Token != nil) != tc.token || (o.ProxyToken != nil) != tc.proxy {
				t.Fatalf("Token %v, ProxyToken %v", o.Token, o.ProxyToken)
			}
			if tc.tokenErrContains != "" {
				_, err := o.Token.Token(t.Context())
				if err == nil || !strings.Contains(err.Error(), tc.tokenErrContains) {
					t.Errorf("Token error %v, want one naming %s", err, tc.tokenErrContains)
				}
				if code := c.report(err); code != exitUsage {
					t.Errorf("exit %d, want %d", code, exitUsage)
				}
			}
		})
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
