package remote_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/auth/oidctest"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

const (
	oidcClient   = "goflyte-worker"
	oidcSecret   = "remote-test-SECRET-5e1d"
	oidcAudience = "temporal"
)

// authorizing starts a real OpenID Connect provider (tokens live for
// lifetime) and a Temporal server that checks its tokens: signed by its
// JWKS, unexpired, for oidcAudience, with a permission on the namespace.
func authorizing(t *testing.T, lifetime time.Duration) (*oidctest.Server, *remotetest.Server) {
	t.Helper()
	op := oidctest.Start(t, oidctest.Options{Clients: map[string]string{oidcClient: oidcSecret}, TokenLifetime: lifetime})
	srv := remotetest.Start(t, remotetest.Options{JWKSURL: op.Issuer + "keys", Audience: oidcAudience})
	return op, srv
}

// clientCredentials is the auth.Source of a worker: client credentials,
// tokens in memory.
func clientCredentials(t *testing.T, op *oidctest.Server, audience string, learn func(string)) *auth.Source {
	t.Helper()
	src, err := auth.New(auth.Options{
		Settings: auth.Settings{Mode: auth.ModeClientCredentials, Issuer: op.Issuer, ClientID: oidcClient,
			ClientSecret: oidcSecret, SecretFrom: "test", Audience: audience},
		Cache: &auth.MemoryCache{},
		Learn: learn,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// spyToken passes an auth.Source through and records what the connection
// did with it: the distinct tokens sent and the tokens refused.
type spyToken struct {
	src *auth.Source

	mu          sync.Mutex
	tokens      []string
	invalidated []string
}

func (s *spyToken) Token(ctx context.Context) (string, error) {
	tok, err := s.src.Token(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && (len(s.tokens) == 0 || s.tokens[len(s.tokens)-1] != tok) {
		s.tokens = append(s.tokens, tok)
	}
	return tok, err
}

func (s *spyToken) Invalidate(tok string) {
	s.mu.Lock()
	s.invalidated = append(s.invalidated, tok)
	s.mu.Unlock()
	s.src.Invalidate(tok)
}

// TestOIDCTokensRefreshedAcrossLifetimes keeps one connection, as a worker
// does, calling an authorized API for several lifetimes of a short-lived
// client credentials token from a real provider, with Temporal checking
// every token: each token is replaced before it expires (no call is ever
// refused, so the retry after a refusal is never needed) and every call
// succeeds.
func TestOIDCTokensRefreshedAcrossLifetimes(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	const lifetime = 3 * time.Second
	op, srv := authorizing(t, lifetime)
	spy := &spyToken{src: clientCredentials(t, op, oidcAudience, nil)}
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true, Token: spy})

	ctx := t.Context()
	calls := 0
	// Two lifetimes and a bit: the provider's tokens say expires_in 2 or
	// 3 s (whole seconds), so at least two replacements.
	for end := time.Now().Add(2*lifetime + time.Second); time.Now().Before(end); calls++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.WorkflowService().DescribeNamespace(cctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		cancel()
		if err != nil {
			t.Fatalf("call %d: %v", calls, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if len(spy.invalidated) != 0 {
		t.Errorf("%d tokens were refused: a token was used past its expiry instead of being refreshed ahead of it", len(spy.invalidated))
	}
	if len(spy.tokens) < 3 {
		t.Errorf("%d distinct tokens over %d calls and %s; want at least 3 (one per lifetime)", len(spy.tokens), calls, 2*lifetime+time.Second)
	}
	t.Logf("%d calls with %d tokens", calls, len(spy.tokens))
}

// TestOIDCTokensRefused: the tokens Temporal refuses (none, expired,
// altered, for another audience) fail Dial with DialError.Refused, naming
// the settings and describing the token's claims, never showing it.
func TestOIDCTokensRefused(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	op, srv := authorizing(t, 2*time.Second)
	ctx := t.Context()
	good, err := clientCredentials(t, op, oidcAudience, nil).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same token is accepted while it lasts.
	describe(t, dial(t, remote.Options{URL: srv.Addr, Insecure: true, Token: remote.StaticToken(good)}))
	otherAud, err := clientCredentials(t, op, "not-temporal", nil).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Alter the payload (more permissions), keeping the signature, which
	// no longer matches.
	parts := strings.Split(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["permissions"] = []string{"default:admin", "system:admin"}
	payload, _ = json.Marshal(claims)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	exp := time.Unix(int64(claims["exp"].(float64)), 0)

	tests := []struct {
		name  string
		token remote.TokenSource
		want  []string // in the message
	}{
		{"none", nil, []string{"none is configured", "credentials.issuer", "credentials.client_id"}},
		{"tampered", remote.StaticToken(tampered), []string{"cannot verify", `"system:admin"`, "credentials.issuer"}},
		{"wrong audience", remote.StaticToken(otherAud), []string{`"not-temporal"`, "another audience", "credentials.audience"}},
		{"expired", nil, []string{"it expired at", "credentials.issuer"}}, // the good token, once expired
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token
			if tc.name == "expired" {
				// The provider's tokens live 2 s: wait out the good one
				// (Temporal compares whole seconds).
				time.Sleep(time.Until(exp.Add(time.Second)))
				tok = remote.StaticToken(good)
			}
			de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, Token: tok, DialTimeout: 5 * time.Second}, "credentials")
			if !de.Refused {
				t.Errorf("Refused not set: %v", de)
			}
			msg := de.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the message does not say %q: %s", w, msg)
				}
			}
			for _, secret := range []string{good, tampered, otherAud, parts[2], oidcSecret} {
				if strings.Contains(msg, secret) {
					t.Fatalf("the message shows a token or the secret: %s", msg)
				}
			}
		})
	}
}

// TestOIDCTokenUnobtainable: a token source that cannot give a token
// fails Dial before any connection, naming credentials and keeping the
// cause's type (a configuration error stays one).
func TestOIDCTokenUnobtainable(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	op, srv := authorizing(t, time.Minute)
	src, err := auth.New(auth.Options{
		Settings: auth.Settings{Mode: auth.ModeClientCredentials, Issuer: op.Issuer, ClientID: oidcClient,
			ClientSecret: "wrong-SECRET-0b7c", SecretFrom: "env CI_SECRET"},
	})
	if err != nil {
		t.Fatal(err)
	}
	de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, Token: src}, "credentials")
	if de.Refused || !strings.Contains(de.Error(), "env CI_SECRET") || strings.Contains(de.Error(), "wrong-SECRET-0b7c") {
		t.Errorf("want the client and where its secret came from, not refused by the service, no secret: %v", de)
	}
	// A Pkce source that may not log in (goflyte doctor) says so.
	pk, err := auth.New(auth.Options{Settings: auth.Settings{Mode: auth.ModePKCE, Issuer: op.Issuer, ClientID: "goflyte-cli"}, NonInteractive: true})
	if err != nil {
		t.Fatal(err)
	}
	de = dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, Token: pk}, "credentials")
	if !errors.Is(de, auth.ErrLoginRequired) || !strings.Contains(de.Error(), "goflyte login") {
		t.Errorf("want ErrLoginRequired and goflyte login: %v", de)
	}
}
