package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// idp talks to the identity provider: discovery once, then the flows.
type idp struct {
	set    Settings
	client *http.Client

	once sync.Once
	meta *metadata
	err  error
}

// metadata is the part of the discovery document (OIDC, or RFC 8414) the
// flows use.
type metadata struct {
	Issuer        string `json:"issuer"`
	AuthURL       string `json:"authorization_endpoint"`
	TokenURL      string `json:"token_endpoint"`
	DeviceAuthURL string `json:"device_authorization_endpoint"`
	JWKSURL       string `json:"jwks_uri"`
}

// baseClient is the HTTP client for the identity provider: the platform's
// proxy URL (else the environment's), its extra CAs, and a timeout.
func baseClient(s Settings) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.HTTPProxyURL != "" {
		u, err := url.Parse(s.HTTPProxyURL)
		if err != nil {
			return nil, &ConfigError{Msg: fmt.Sprintf("platform.http_proxy_url: %v", err)}
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if s.CACertFile != "" {
		pem, err := os.ReadFile(s.CACertFile)
		if err != nil {
			return nil, &ConfigError{Msg: fmt.Sprintf("platform.ca_cert_file_path: %v", err)}
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Msg: fmt.Sprintf("platform.ca_cert_file_path: no PEM certificate in %s", s.CACertFile)}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// withProxyToken returns a client that sends proxy-authorization: Bearer
// with proxy's token on every request, and on a 407 gets a new one and
// tries once more. Without proxy it returns base.
func withProxyToken(base *http.Client, proxy TokenSource) *http.Client {
	if proxy == nil {
		return base
	}
	c := *base
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &proxyTransport{next: next, proxy: proxy}
	return &c
}

type proxyTransport struct {
	next  http.RoundTripper
	proxy TokenSource
}

func (p *proxyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := p.proxy.Token(req.Context())
		if err != nil {
			return nil, err
		}
		r := req.Clone(req.Context())
		if attempt > 0 && req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		r.Header.Set("Proxy-Authorization", "Bearer "+tok)
		resp, err := p.next.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusProxyAuthRequired || attempt > 0 || (req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		resp.Body.Close()
		p.proxy.Invalidate(tok)
	}
}

func (p *idp) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.client)
}

// discover reads the issuer's discovery document once: OpenID Connect's,
// else RFC 8414's.
func (p *idp) discover(ctx context.Context) (*metadata, error) {
	p.once.Do(func() {
		base := strings.TrimSuffix(p.set.Issuer, "/")
		var errs []string
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			m, err := p.fetchMetadata(ctx, base+path)
			if err == nil {
				if strings.TrimSuffix(m.Issuer, "/") != base {
					p.err = fmt.Errorf("credentials.issuer is %s but its discovery document names the issuer %s: set credentials.issuer to the latter", p.set.Issuer, m.Issuer)
					return
				}
				p.meta = m
				return
			}
			errs = append(errs, err.Error())
		}
		p.err = fmt.Errorf("discover the endpoints of credentials.issuer %s: %s", p.set.Issuer, strings.Join(errs, "; "))
	})
	return p.meta, p.err
}

func (p *idp) fetchMetadata(ctx context.Context, u string) (*metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var m metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if m.TokenURL == "" {
		return nil, fmt.Errorf("GET %s: no token_endpoint", u)
	}
	return &m, nil
}

// authStyle is set explicitly: auto-detection breaks device polling
// against servers that accept only HTTP Basic.
func (p *idp) authStyle() oauth2.AuthStyle {
	if p.set.ClientSecret != "" {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}

// interactiveScopes are the scopes of the PKCE and device flows: as
// configured, or openid and offline_access (an ID token to check the
// nonce, and a refresh token) when none are.
func (p *idp) interactiveScopes() []string {
	if len(p.set.Scopes) > 0 {
		return p.set.Scopes
	}
	return []string{"openid", "offline_access"}
}

func (p *idp) config(ctx context.Context, redirect string) (*oauth2.Config, *metadata, error) {
	m, err := p.discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	return &oauth2.Config{
		ClientID:     p.set.ClientID,
		ClientSecret: p.set.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL: m.AuthURL, TokenURL: m.TokenURL, DeviceAuthURL: m.DeviceAuthURL,
			AuthStyle: p.authStyle(),
		},
		RedirectURL: redirect,
		Scopes:      p.interactiveScopes(),
	}, m, nil
}

func (p *idp) audience() []oauth2.AuthCodeOption {
	if p.set.Audience == "" {
		return nil
	}
	return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("audience", p.set.Audience)}
}

func fromOAuth2(t *oauth2.Token, now time.Time) *Token {
	return &Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry, Obtained: now}
}

// clientCredentials runs the client credentials grant.
func (p *idp) clientCredentials(ctx context.Context) (*Token, error) {
	m, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{
		ClientID: p.set.ClientID, ClientSecret: p.set.ClientSecret, TokenURL: m.TokenURL,
		Scopes: p.set.Scopes, AuthStyle: oauth2.AuthStyleInHeader,
	}
	if p.set.Audience != "" {
		cc.EndpointParams = url.Values{"audience": {p.set.Audience}}
	}
	now := time.Now()
	t, err := cc.Token(p.ctx(ctx))
	if err != nil {
		return nil, fmt.Errorf("client credentials for client %q (secret from %s) at %s: %w", p.set.ClientID, p.set.SecretFrom, m.TokenURL, err)
	}
	return fromOAuth2(t, now), nil
}

// refresh uses t's refresh token.
func (p *idp) refresh(ctx context.Context, t *Token) (*Token, error) {
	conf, m, err := p.config(ctx, "")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	nt, err := conf.TokenSource(p.ctx(ctx), &oauth2.Token{RefreshToken: t.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh at %s: %w", m.TokenURL, err)
	}
	out := fromOAuth2(nt, now)
	if out.RefreshToken == "" {
		out.RefreshToken = t.RefreshToken
	}
	return out, nil
}

// random returns n random bytes, base64url.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkce runs the authorization code flow with PKCE (S256): a loopback
// server on 127.0.0.1 receives the redirect; state and nonce are checked.
func (p *idp) pkce(ctx context.Context, o Options) (*Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the loopback server for the login redirect: %w", err)
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://%s/callback", ln.Addr())
	conf, m, err := p.config(ctx, redirect)
	if err != nil {
		return nil, err
	}
	if m.AuthURL == "" {
		return nil, fmt.Errorf("credentials.issuer %s has no authorization_endpoint: use auth_mode ClientSecret or DeviceFlow", p.set.Issuer)
	}
	verifier, state, nonce := oauth2.GenerateVerifier(), random(24), random(24)
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)}, p.audience()...)
	authURL := conf.AuthCodeURL(state, opts...)

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			res.err = errors.New("the login redirect's state does not match the request's (a stale or forged redirect); run goflyte login again")
		case q.Get("error") != "":
			res.err = fmt.Errorf("the identity provider refused the login: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the login redirect has no code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><title>goflyte login failed</title><p>goflyte login failed: %s</p>", html.EscapeString(res.err.Error()))
		} else {
			fmt.Fprint(w, "<!doctype html><title>goflyte login</title><p>You are logged in to goflyte. You can close this window.</p>")
		}
		select {
		case got <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(o.Out, "To log in, open this URL in a browser on this machine:\n\n  %s\n\n", authURL)
	open := o.OpenBrowser
	if open == nil {
		open = OpenBrowser
	}
	if err := open(authURL); err == nil {
		fmt.Fprintln(o.Out, "(a browser was opened; waiting for the login to finish)")
	}

	wait, cancel := context.WithTimeout(ctx, o.LoginTimeout)
	defer cancel()
	var res result
	select {
	case res = <-got:
	case <-wait.Done():
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: no login redirect reached %s within %s; open the URL above in a browser on this machine, or use auth_mode = \"DeviceFlow\" where no browser can reach 127.0.0.1", errLoginTimeout, redirect, o.LoginTimeout)
	}
	if res.err != nil {
		return nil, res.err
	}
	now := time.Now()
	t, err := conf.Exchange(p.ctx(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the login code at %s: %w", m.TokenURL, err)
	}
	if raw, _ := t.Extra("id_token").(string); raw != "" {
		if err := p.checkIDToken(ctx, m, raw, nonce); err != nil {
			return nil, err
		}
	}
	return fromOAuth2(t, now), nil
}

// checkIDToken verifies the ID token's signature, issuer, audience and
// expiry, and that its nonce is the request's.
func (p *idp) checkIDToken(ctx context.Context, m *metadata, raw, nonce string) error {
	if m.JWKSURL == "" {
		return errors.New("the identity provider returned an ID token but publishes no jwks_uri to check it")
	}
	ctx = oidc.ClientContext(ctx, p.client)
	v := oidc.NewVerifier(m.Issuer, oidc.NewRemoteKeySet(ctx, m.JWKSURL), &oidc.Config{ClientID: p.set.ClientID})
	id, err := v.Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("the ID token from the login is not valid: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
		return errors.New("the ID token's nonce does not match the login request's (a replayed token?); run goflyte login again")
	}
	return nil
}

// device runs the device authorization grant (RFC 8628): it prints the
// verification URL and the user code, then polls at the interval the
// server gives, 5 s slower after each slow_down.
func (p *idp) device(ctx context.Context, o Options) (*Token, error) {
	conf, m, err := p.config(ctx, "")
	if err != nil {
		return nil, err
	}
	if m.DeviceAuthURL == "" {
		return nil, fmt.Errorf("credentials.issuer %s has no device_authorization_endpoint: use auth_mode Pkce or ClientSecret", p.set.Issuer)
	}
	ctx = p.ctx(ctx)
	da, err := conf.DeviceAuth(ctx, p.audience()...)
	if err != nil {
		return nil, fmt.Errorf("start the device login at %s: %w", m.DeviceAuthURL, err)
	}
	fmt.Fprintf(o.Out, "To log in, open %s in a browser (on any device) and enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(o.Out, "or open %s\n", da.VerificationURIComplete)
	}
	wait, cancel := context.WithTimeout(ctx, o.LoginTimeout)
	defer cancel()
	now := time.Now()
	t, err := conf.DeviceAccessToken(wait, da, p.audience()...)
	if err != nil {
		if ctx.Err() == nil && wait.Err() != nil {
			return nil, fmt.Errorf("%w: the device login was not finished within %s; run goflyte login again", errLoginTimeout, o.LoginTimeout)
		}
		return nil, fmt.Errorf("device login at %s: %w", m.TokenURL, err)
	}
	return fromOAuth2(t, now), nil
}

// OpenBrowser opens url in the system's browser where there is one: on
// macOS and Windows always, elsewhere when $DISPLAY or $WAYLAND_DISPLAY is
// set and xdg-open exists. An error means nothing was opened.
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no display")
		}
		path, err := exec.LookPath("xdg-open")
		if err != nil {
			return err
		}
		cmd = exec.Command(path, url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// runCommand runs argv (no shell) with environ; its stdout, trimmed, is
// the token. A JWT's exp, when it has one, is the token's expiry.
func runCommand(ctx context.Context, argv, environ []string, setting string) (*Token, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = environ
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	now := time.Now()
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + lastLines(msg, 5)
		}
		return nil, fmt.Errorf("%s %q failed: %w%s", setting, argv[0], err, msg)
	}
	tok := strings.TrimSpace(string(out))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("%s %q printed no token: its stdout must be one token, and nothing else", setting, argv[0])
	}
	return &Token{AccessToken: tok, Expiry: jwtExpiry(tok), Obtained: now}, nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p[:min(len(p), l.n)]
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// jwtExpiry reads a JWT's exp claim without checking the signature (the
// service checks it); zero when tok is not a JWT or has none.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return time.Time{}
	}
	if n, err := claims.Exp.Int64(); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}
