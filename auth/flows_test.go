package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/auth/oidctest"
)

const (
	svcID     = "goflyte-worker"
	svcSecret = "worker-SECRET-5f2a"
	cliID     = "goflyte-cli"
)

// helperEnv makes the test binary a credentials command (see TestMain).
const helperEnv = "GOFLYTE_AUTH_TEST_COMMAND"

// TestMain lets the test binary play credentials.command and
// proxy_command: it prints "<prefix>-<n>", n counting runs in a file, and
// fails when it can see the client secret.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperCommand(mode))
	}
	os.Exit(m.Run())
}

func helperCommand(mode string) int {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FLYTE_CREDENTIALS_") || strings.HasPrefix(kv, "MY_SECRET=") {
			fmt.Fprintf(os.Stderr, "the command can see %s\n", strings.SplitN(kv, "=", 2)[0])
			return 3
		}
	}
	prefix, counter, _ := strings.Cut(mode, ":")
	if prefix == "fail" {
		fmt.Println("leaked-TOKEN-on-stdout")
		fmt.Fprintln(os.Stderr, "cannot reach the vault")
		return 1
	}
	b, _ := os.ReadFile(counter)
	n, _ := strconv.Atoi(string(b))
	n++
	_ = os.WriteFile(counter, []byte(strconv.Itoa(n)), 0o600)
	fmt.Printf("  %s-%d\n", prefix, n)
	return 0
}

func commandArgv(t *testing.T, prefix string) ([]string, []string, string) {
	counter := filepath.Join(t.TempDir(), "n")
	return []string{os.Args[0], "-test.run=^$"}, append(os.Environ(), helperEnv+"="+prefix+":"+counter), counter
}

// claims decodes a JWT's payload (the server signed it; the tests look).
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newSource(t *testing.T, o Options) *Source {
	t.Helper()
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.OpenBrowser == nil {
		o.OpenBrowser = func(string) error { return errors.New("no browser in tests") }
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClientCredentials gets a JWT with the permissions claim and the
// configured audience and scopes, keeps it while fresh, and gets a new
// one after Invalidate.
func TestClientCredentials(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{Clients: map[string]string{svcID: svcSecret}})
	ctx := ctxT(t)
	var learned []string
	cache := &MemoryCache{}
	s := newSource(t, Options{
		Settings: Settings{Mode: ModeClientCredentials, Issuer: srv.Issuer, ClientID: svcID, ClientSecret: svcSecret,
			SecretFrom: "test", Audience: "temporal", Scopes: []string{"openid"}},
		Cache: cache,
		Learn: func(v string) { learned = append(learned, v) },
	})
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := claims(t, tok)
	if c["sub"] != svcID || fmt.Sprint(c["permissions"]) != "[default:admin]" || !strings.Contains(fmt.Sprint(c["aud"]), "temporal") {
		t.Errorf("claims %v: want sub %s, permissions [default:admin], aud with temporal", c, svcID)
	}
	again, err := s.Token(ctx)
	if err != nil || again != tok {
		t.Fatalf("a fresh token is reused: %v", err)
	}
	s.Invalidate(tok)
	third, err := s.Token(ctx)
	if err != nil || third == tok {
		t.Fatalf("Invalidate gets a new token (same: %v): %v", third == tok, err)
	}
	if logins, _ := s.counts(); logins != 2 {
		t.Errorf("%d flows, want 2", logins)
	}
	if !contains(learned, svcSecret) || !contains(learned, third) {
		t.Error("the redactor was not told the secret and the token")
	}
	if cached, _ := cache.Load(ctx, s.key); cached == nil || cached.AccessToken != third {
		t.Error("the token is not in the cache")
	}
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// TestClientCredentialsWrongSecret: a refused secret is a clear error
// that names the client and where the secret came from, never the secret.
func TestClientCredentialsWrongSecret(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{Clients: map[string]string{svcID: svcSecret}})
	s := newSource(t, Options{Settings: Settings{Mode: ModeClientCredentials, Issuer: srv.Issuer, ClientID: svcID,
		ClientSecret: "wrong-SECRET-9", SecretFrom: "env MY_SECRET"}})
	_, err := s.Token(ctxT(t))
	if err == nil {
		t.Fatal("a wrong secret got a token")
	}
	if strings.Contains(err.Error(), "wrong-SECRET-9") || !strings.Contains(err.Error(), "env MY_SECRET") || !strings.Contains(err.Error(), svcID) {
		t.Errorf("error %q: want the client and the secret's source, never the secret", err)
	}
}

// pkceUser returns an OpenBrowser that logs in like a user would, with
// an HTTP client submitting the login page; the answer of the loopback
// redirect is kept.
func pkceUser(t *testing.T, srv *oidctest.Server, client *http.Client) (func(string) error, func() string) {
	var mu sync.Mutex
	var page string
	return func(authURL string) error {
			go func() {
				resp, err := srv.Login(context.Background(), client, authURL)
				if err != nil {
					t.Errorf("login: %v", err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				page = resp.Status + " " + string(b)
				mu.Unlock()
			}()
			return nil
		}, func() string {
			mu.Lock()
			defer mu.Unlock()
			return page
		}
}

// TestPKCE drives the authorization code flow with PKCE end to end: the
// login page is submitted by an HTTP client, the loopback server gets the
// code, the ID token's nonce is checked.
func TestPKCE(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{PublicClients: []string{cliID}})
	open, page := pkceUser(t, srv, nil)
	var out bytes.Buffer
	s := newSource(t, Options{
		Settings:    Settings{Mode: ModePKCE, Issuer: srv.Issuer, ClientID: cliID, Audience: "temporal"},
		OpenBrowser: open, Out: &out,
	})
	tok, err := s.Login(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token (offline_access is asked for by default)")
	}
	c := claims(t, tok.AccessToken)
	if c["sub"] != srv.User || fmt.Sprint(c["permissions"]) != "[default:admin]" || !strings.Contains(fmt.Sprint(c["aud"]), "temporal") {
		t.Errorf("claims %v", c)
	}
	if !strings.Contains(out.String(), srv.Issuer+"authorize?") || !strings.Contains(out.String(), "code_challenge_method=S256") {
		t.Errorf("the URL to open was not printed:\n%s", out.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for page() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(page(), "You are logged in") {
		t.Errorf("the browser was shown %q", page())
	}
}

// TestPKCEForgedRedirect: a redirect with another state is refused.
func TestPKCEForgedRedirect(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{PublicClients: []string{cliID}})
	s := newSource(t, Options{
		Settings: Settings{Mode: ModePKCE, Issuer: srv.Issuer, ClientID: cliID},
		OpenBrowser: func(authURL string) error {
			u, _ := url.Parse(authURL)
			go func() {
				resp, err := http.Get(u.Query().Get("redirect_uri") + "?state=forged&code=stolen")
				if err == nil {
					resp.Body.Close()
				}
			}()
			return nil
		},
	})
	_, err := s.Token(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "state does not match") {
		t.Fatalf("got %v, want a state mismatch", err)
	}
}

// TestPKCETimeout: nobody logs in; the error says what to do.
func TestPKCETimeout(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{PublicClients: []string{cliID}})
	s := newSource(t, Options{Settings: Settings{Mode: ModePKCE, Issuer: srv.Issuer, ClientID: cliID}, LoginTimeout: 300 * time.Millisecond})
	_, err := s.Token(ctxT(t))
	if !errors.Is(err, errLoginTimeout) || !strings.Contains(err.Error(), "DeviceFlow") {
		t.Fatalf("got %v, want a login timeout suggesting DeviceFlow", err)
	}
}

// lineWriter calls fn with everything written so far.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string) bool
	hit bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.hit {
		w.hit = w.fn(w.buf.String())
	}
	return len(p), nil
}

// TestDeviceFlowSlowDown: the server answers the first poll with
// slow_down; the client polls 5 s slower from then on (RFC 8628 §3.5)
// and gets its token once the user approves.
func TestDeviceFlowSlowDown(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{PublicClients: []string{cliID}, SlowDown: 1})
	ctx := ctxT(t)
	re := regexp.MustCompile(`open (\S+) in a browser \(on any device\) and enter the code (\S+)`)
	out := &lineWriter{fn: func(s string) bool {
		m := re.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		go func() {
			if err := srv.ApproveDevice(ctx, nil, m[1], m[2]); err != nil {
				t.Errorf("approve: %v", err)
			}
		}()
		return true
	}}
	s := newSource(t, Options{Settings: Settings{Mode: ModeDeviceFlow, Issuer: srv.Issuer, ClientID: cliID}, Out: out})
	start := time.Now()
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Not a speed check: a client that ignored slow_down would poll again
	// 1 s after the first poll (at 2 s), one that honours it at 1+6 s.
	if d := time.Since(start); d < 6*time.Second {
		t.Errorf("token after %s: slow_down was not honoured", d)
	}
	if claims(t, tok)["sub"] != srv.User {
		t.Errorf("claims %v", claims(t, tok))
	}
}

// TestRefreshBeforeExpiry: with short-lived tokens, a token within its
// refresh margin is replaced by one refresh, shared by every concurrent
// caller, before it expires.
func TestRefreshBeforeExpiry(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{PublicClients: []string{cliID}, TokenLifetime: 20 * time.Second})
	open, _ := pkceUser(t, srv, nil)
	var skew atomic.Int64
	s := newSource(t, Options{
		Settings:    Settings{Mode: ModePKCE, Issuer: srv.Issuer, ClientID: cliID},
		OpenBrowser: open,
		Now:         func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
	})
	ctx := ctxT(t)
	first, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 20 s tokens (19 s after rounding) are refreshed about 2 s ahead:
	// 16 s on is still fresh, 18.5 s on is within the margin but not expired.
	skew.Store(int64(16 * time.Second))
	if tok, _ := s.Token(ctx); tok != first {
		t.Fatal("a token outside its refresh margin was replaced")
	}
	skew.Store(int64(18500 * time.Millisecond))
	const callers = 50
	got := make([]string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			tok, err := s.Token(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	for _, tok := range got {
		if tok == first || tok != got[0] {
			t.Fatal("the callers did not all get the one refreshed token")
		}
	}
	if logins, refreshes := s.counts(); logins != 1 || refreshes != 1 {
		t.Errorf("%d logins and %d refreshes, want 1 and 1", logins, refreshes)
	}
	if exp := claims(t, got[0])["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now().Add(10 * time.Second)) {
		t.Error("the refreshed token is not a new one")
	}
}

// TestCommand: the command's trimmed stdout is the token; it runs again
// only when the token is refused; it never sees the client secret.
func TestCommand(t *testing.T) {
	argv, environ, counter := commandArgv(t, "cmd-TOKEN")
	environ = append(environ, "FLYTE_CREDENTIALS_CLIENT_SECRET=x", "MY_SECRET=y")
	s := newSource(t, Options{Settings: Settings{Mode: ModeCommand, Command: argv, SecretEnvVar: "MY_SECRET"}, Environ: environ, Cache: &MemoryCache{}})
	ctx := ctxT(t)
	for range 3 {
		if tok, err := s.Token(ctx); err != nil || tok != "cmd-TOKEN-1" {
			t.Fatalf("got %q, %v", tok, err)
		}
	}
	s.Invalidate("cmd-TOKEN-1")
	if tok, err := s.Token(ctx); err != nil || tok != "cmd-TOKEN-2" {
		t.Fatalf("after Invalidate: %q, %v", tok, err)
	}
	if b, _ := os.ReadFile(counter); string(b) != "2" {
		t.Errorf("ran %s times, want 2", b)
	}
	if s.Where() != "" {
		t.Error("command tokens are never cached")
	}
}

func TestCommandFails(t *testing.T) {
	argv, environ, _ := commandArgv(t, "fail")
	s := newSource(t, Options{Settings: Settings{Mode: ModeCommand, Command: argv}, Environ: environ})
	_, err := s.Token(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "credentials.command") || !strings.Contains(err.Error(), "cannot reach the vault") {
		t.Fatalf("got %v, want the setting and the command's stderr", err)
	}
	if strings.Contains(err.Error(), "leaked-TOKEN") {
		t.Errorf("the command's stdout is in the error: %v", err)
	}
}

// TestProxyCommand: an identity-aware proxy in front of the identity
// provider requires proxy-authorization: Bearer with the proxy_command's
// token; every call to the provider carries it, the proxy token is fetched
// once, and a refused proxy token is replaced.
func TestProxyCommand(t *testing.T) {
	argv, environ, counter := commandArgv(t, "proxy-TOKEN")
	var accepted atomic.Int32
	var target *url.URL
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host }}
	var refuseFirst atomic.Bool
	refuseFirst.Store(true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Proxy-Authorization")
		if !strings.HasPrefix(got, "Bearer proxy-TOKEN-") || refuseFirst.CompareAndSwap(true, false) {
			http.Error(w, "proxy authorization required", http.StatusProxyAuthRequired)
			return
		}
		accepted.Add(1)
		r.Header.Del("Proxy-Authorization")
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	srv := oidctest.Start(t, oidctest.Options{Clients: map[string]string{svcID: svcSecret}, Issuer: proxy.URL + "/"})
	target, _ = url.Parse("http://" + srv.Addr)

	resp, err := http.Get(proxy.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusProxyAuthRequired {
		t.Fatalf("the proxy let a request without the header through: %s", resp.Status)
	}
	s := newSource(t, Options{
		Settings: Settings{Mode: ModeClientCredentials, Issuer: proxy.URL + "/", ClientID: svcID, ClientSecret: svcSecret, ProxyCommand: argv},
		Environ:  environ,
	})
	tok, err := s.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if claims(t, tok)["sub"] != svcID || accepted.Load() < 2 {
		t.Errorf("token through the proxy: %d requests accepted, want discovery and token", accepted.Load())
	}
	if b, _ := os.ReadFile(counter); string(b) != "2" {
		t.Errorf("proxy_command ran %s times, want 2 (once, and again after the refusal)", b)
	}
	if p, err := s.Proxy().Token(ctxT(t)); err != nil || p != "proxy-TOKEN-2" {
		t.Errorf("Proxy().Token() = %q, %v", p, err)
	}
}

// failingCache is a keychain that is locked.
type failingCache struct{ calls atomic.Int32 }

func (c *failingCache) Load(context.Context, string) (*Token, error) {
	c.calls.Add(1)
	return nil, errors.New("the login keyring is locked")
}
func (c *failingCache) Store(context.Context, string, *Token) error {
	c.calls.Add(1)
	return errors.New("the login keyring is locked")
}
func (c *failingCache) Delete(context.Context, string) (bool, error) { return false, nil }
func (c *failingCache) Where(string) string                          { return "keychain (locked)" }

// TestLockedCache: a cache that fails is reported once and the tokens
// still come.
func TestLockedCache(t *testing.T) {
	srv := oidctest.Start(t, oidctest.Options{Clients: map[string]string{svcID: svcSecret}})
	var logs bytes.Buffer
	cache := &failingCache{}
	s := newSource(t, Options{
		Settings: Settings{Mode: ModeClientCredentials, Issuer: srv.Issuer, ClientID: svcID, ClientSecret: svcSecret},
		Cache:    cache,
		Logger:   hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn}),
	})
	ctx := ctxT(t)
	for range 3 {
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Invalidate(tok)
	}
	if n := strings.Count(logs.String(), "log in again"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	if cache.calls.Load() != 1 {
		t.Errorf("the failing cache was used %d times after failing", cache.calls.Load()-1)
	}
	if strings.Contains(logs.String(), svcSecret) {
		t.Error("the secret is in the log")
	}
}
