package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/goflyte/goflyte/auth/oidctest"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
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

// spyToken passes a token source through, recording the distinct tokens
// sent and the tokens the service refused.
type spyToken struct {
	next remote.TokenSource

	mu          sync.Mutex
	tokens      []string
	invalidated int
}

func (s *spyToken) Token(ctx context.Context) (string, error) {
	tok, err := s.next.Token(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && (len(s.tokens) == 0 || s.tokens[len(s.tokens)-1] != tok) {
		s.tokens = append(s.tokens, tok)
	}
	return tok, err
}

func (s *spyToken) Invalidate(tok string) {
	s.mu.Lock()
	s.invalidated++
	s.mu.Unlock()
	s.next.Invalidate(tok)
}

// TestPlatformDialRefreshes is the connection goflyte worker makes,
// remote.Dial(ctx, platformOptions(cfg, logger)), kept calling an
// authorized API across several lifetimes of a short-lived client
// credentials token, with the token cache in the encrypted file keyring:
// every call succeeds, no call is refused (each token is replaced ahead
// of its expiry), and the cache holds the newest token.
func TestPlatformDialRefreshes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an OIDC provider and a Temporal server")
	}
	const secret = "dial-refresh-SECRET-2d8e"
	op := oidctest.Start(t, oidctest.Options{Clients: map[string]string{"worker": secret}, TokenLifetime: 3 * time.Second})
	srv := remotetest.Start(t, remotetest.Options{JWKSURL: op.Issuer + "keys", Audience: "temporal"})
	for k, v := range map[string]string{
		"FLYTE_PLATFORM_URL":                      srv.Addr,
		"FLYTE_PLATFORM_INSECURE":                 "true",
		"FLYTE_CREDENTIALS_ISSUER":                op.Issuer,
		"FLYTE_CREDENTIALS_CLIENT_ID":             "worker",
		"FLYTE_CREDENTIALS_AUDIENCE":              "temporal",
		"FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR": "WORKER_SECRET",
		"WORKER_SECRET":                           secret,
		"FLYTE_SECRETS_FALLBACK":                  "file",
		"FLYTE_SECRETS_FALLBACK_DIR":              filepath.Join(t.TempDir(), "keyring"),
		"GOFLYTE_KEYRING_PASSPHRASE":              "test",
		"DBUS_SESSION_BUS_ADDRESS":                "unix:path=/nonexistent",
	} {
		t.Setenv(k, v)
	}
	c := &cli{stdout: &strings.Builder{}, stderr: &strings.Builder{}, parser: config.NewParser()}
	c.configPath = writeTemp(t, "flyte.hcl", "")
	cfg, err := c.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	o := platformOptions(cfg, hclog.NewNullLogger())
	spy := &spyToken{next: o.Token}
	o.Token = spy
	ctx := t.Context()
	client, err := remote.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := client.WorkflowService().DescribeNamespace(cctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if spy.invalidated != 0 || len(spy.tokens) < 3 {
		t.Errorf("%d tokens used, %d refused; want at least 3 and none refused", len(spy.tokens), spy.invalidated)
	}
	src, err := c.tokenSource(cfg, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cached, err := src.Cached(ctx); err != nil || cached == nil || cached.AccessToken != spy.tokens[len(spy.tokens)-1] {
		t.Errorf("the cache does not hold the newest token (%v)", err)
	}
}
