package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TokenSource gives bearer tokens for calls to a service. It is the seam
// remote dials with (Options.Token, Options.ProxyToken).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
	// Invalidate drops a token the service refused, so the next Token call
	// gets a new one.
	Invalidate(token string)
}

// Options configure a [Source]. Only Settings is required.
type Options struct {
	Settings Settings
	// Cache keeps tokens between processes (not in the command mode);
	// nil means memory only.
	Cache Cache
	// Learn is told every secret and token the source handles, so that the
	// caller's redactor can hide them (engine.Engine.Learn). May be nil.
	Learn func(secret string)
	// Logger gets the one warning about an unusable cache; nil: none.
	Logger hclog.Logger
	// Out is where interactive flows print the URL and the user code;
	// nil means os.Stderr.
	Out io.Writer
	// OpenBrowser opens a URL for the PKCE flow; nil means the system's
	// opener where there is a display ([OpenBrowser]). An error only
	// means the URL is printed for the user to open.
	OpenBrowser func(url string) error
	// LoginTimeout bounds the wait for the browser (PKCE) and the user
	// (device flow); 0 means 5 minutes.
	LoginTimeout time.Duration
	// HTTPClient is the base client for the identity provider; nil means
	// one built from Settings (http_proxy_url, ca_cert_file_path).
	HTTPClient *http.Client
	// Environ is the environment the commands inherit, minus the
	// credentials variables; nil means os.Environ().
	Environ []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NonInteractive never runs the interactive flows (Pkce, DeviceFlow):
	// their tokens come from the cache or a refresh only, and otherwise
	// Token fails with an error wrapping [ErrLoginRequired]. Client
	// credentials and the command run as usual. For goflyte doctor.
	NonInteractive bool
}

// Source gets, caches and refreshes the tokens of one configuration.
// Token and Invalidate are safe for concurrent use; concurrent callers
// that need a new token share one request (single flight).
//
// A token is replaced when less than [Token.RefreshMargin] of its life is
// left: with its refresh token first, then with the mode's flow. Tokens of
// every mode but the command mode are kept in Options.Cache; a cache that
// fails (a locked or missing keychain) is reported once and then left
// alone, so the process goes on with tokens in memory.
type Source struct {
	opts  Options
	set   Settings
	key   string
	proxy *Source // proxy_command, nil without one
	idp   *idp    // the identity provider, nil in the command mode

	mu       sync.Mutex
	tok      *Token
	loaded   bool // the cache was read
	flight   *flight
	cacheOff bool
	logins   int // flows run, for tests
	refreshs int // refreshes done, for tests
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// New returns the source for opts.Settings, after [Settings.Check].
// It does no I/O.
func New(opts Options) (*Source, error) {
	if err := opts.Settings.Check(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Out == nil {
		opts.Out = os.Stderr
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = 5 * time.Minute
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	opts.Environ = opts.Settings.ChildEnv(opts.Environ)
	s := &Source{opts: opts, set: opts.Settings, key: cacheKey(opts.Settings)}
	s.learn(s.set.ClientSecret)
	if len(s.set.ProxyCommand) > 0 {
		ps := opts
		ps.Settings = Settings{Mode: ModeCommand, Command: s.set.ProxyCommand, SecretEnvVar: s.set.SecretEnvVar}
		ps.Cache = nil
		s.proxy = &Source{opts: ps, set: ps.Settings, key: "proxy"}
	}
	if s.set.Mode != ModeCommand {
		base := opts.HTTPClient
		if base == nil {
			var err error
			if base, err = baseClient(s.set); err != nil {
				return nil, err
			}
		}
		if s.proxy != nil {
			base = withProxyToken(base, s.proxy)
		}
		s.idp = &idp{set: s.set, client: base}
	}
	if s.set.Mode == ModeCommand {
		s.opts.Cache = nil // command tokens are never cached
	}
	return s, nil
}

// NewProxy returns the token source of proxy_command alone, for a
// service behind an identity-aware proxy that needs no token of its own;
// nil when proxy_command is not set.
func NewProxy(opts Options) TokenSource {
	if len(opts.Settings.ProxyCommand) == 0 {
		return nil
	}
	set := opts.Settings
	opts.Settings = Settings{Mode: ModeCommand, Command: set.ProxyCommand, SecretEnvVar: set.SecretEnvVar}
	opts.Cache = nil
	s, err := New(opts)
	if err != nil {
		return nil // a command is set: Check cannot fail
	}
	return s
}

// Mode returns the mode in use.
func (s *Source) Mode() Mode { return s.set.Mode }

// Proxy returns the proxy_command's token source, for
// proxy-authorization on calls to the service; nil when none is set.
func (s *Source) Proxy() TokenSource {
	if s.proxy == nil {
		return nil
	}
	return s.proxy
}

// Where says where the token is cached, "" in the command mode.
func (s *Source) Where() string {
	if s.opts.Cache == nil {
		return ""
	}
	return s.opts.Cache.Where(s.key)
}

func (s *Source) learn(v string) {
	if v != "" && s.opts.Learn != nil {
		s.opts.Learn(v)
	}
}

func (s *Source) learnToken(t *Token) {
	if t != nil {
		s.learn(t.AccessToken)
		s.learn(t.RefreshToken)
	}
}

// Token returns a token that is not about to expire, getting a new one
// when needed.
func (s *Source) Token(ctx context.Context) (string, error) {
	t, err := s.get(ctx, false)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// Invalidate forgets token, if it is the current one; its refresh token
// is kept, so the next Token call refreshes (in the command mode, runs the
// command again).
func (s *Source) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == token {
		t := *s.tok
		t.AccessToken = ""
		s.tok = &t
	}
}

// Login runs the mode's flow now, even with a valid token cached, and
// caches the result (in the command mode: runs the command once).
func (s *Source) Login(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	s.tok, s.loaded = nil, true
	s.mu.Unlock()
	return s.get(ctx, true)
}

// Logout forgets the cached token; it reports whether there was one.
func (s *Source) Logout(ctx context.Context) (bool, error) {
	s.mu.Lock()
	had := s.tok != nil && s.tok.AccessToken != ""
	s.tok, s.loaded = nil, true
	s.mu.Unlock()
	if s.opts.Cache == nil {
		return had, nil
	}
	cached, err := s.opts.Cache.Delete(ctx, s.key)
	return had || cached, err
}

// Cached returns the cached token without getting one: nil when there is
// none. For goflyte doctor; the caller must not print the token.
func (s *Source) Cached(ctx context.Context) (*Token, error) {
	if s.opts.Cache == nil {
		return nil, nil
	}
	t, err := s.opts.Cache.Load(ctx, s.key)
	s.learnToken(t)
	return t, err
}

// get returns the current token, or starts (or joins) the one flight that
// gets a new one. With login, the flow runs even if a refresh token is
// known.
func (s *Source) get(ctx context.Context, login bool) (*Token, error) {
	s.mu.Lock()
	if t := s.tok; !login && t.fresh(s.opts.Now()) {
		s.mu.Unlock()
		return t, nil
	}
	f := s.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flight = f
		go s.obtain(context.WithoutCancel(ctx), f, login)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// obtain gets a token for flight f: from the cache (once per process),
// by refresh, or by the mode's flow; then keeps it.
func (s *Source) obtain(ctx context.Context, f *flight, login bool) {
	defer func() {
		s.mu.Lock()
		if f.err == nil {
			s.tok = f.tok
		}
		s.flight = nil
		s.mu.Unlock()
		close(f.done)
	}()
	s.mu.Lock()
	cur, loaded := s.tok, s.loaded
	s.loaded = true
	s.mu.Unlock()
	if !loaded && !login {
		if t := s.load(ctx); t != nil {
			if t.fresh(s.opts.Now()) {
				f.tok = t
				return
			}
			cur = t
		}
	}
	if !login && cur != nil && cur.RefreshToken != "" && s.idp != nil {
		t, err := s.idp.refresh(ctx, cur)
		if err == nil {
			s.rebase(t)
			s.mu.Lock()
			s.refreshs++
			s.mu.Unlock()
			s.keep(ctx, t)
			f.tok = t
			return
		}
		if s.opts.Logger != nil {
			s.opts.Logger.Debug("token refresh failed; getting a new token", "mode", s.set.Mode, "error", err)
		}
	}
	t, err := s.flow(ctx)
	if err != nil {
		f.err = err
		return
	}
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	s.keep(ctx, t)
	f.tok = t
}

// flow runs the mode's flow.
func (s *Source) flow(ctx context.Context) (*Token, error) {
	var t *Token
	var err error
	switch s.set.Mode {
	case ModeCommand:
		t, err = runCommand(ctx, s.set.Command, s.opts.Environ, "credentials.command")
	case ModeClientCredentials:
		t, err = s.idp.clientCredentials(ctx)
	case ModePKCE, ModeDeviceFlow:
		if s.opts.NonInteractive {
			return nil, fmt.Errorf("%w: no usable token is cached for auth_mode %s (credentials.client_id %q); run goflyte login", ErrLoginRequired, s.set.Mode, s.set.ClientID)
		}
		if s.set.Mode == ModePKCE {
			t, err = s.idp.pkce(ctx, s.opts)
		} else {
			t, err = s.idp.device(ctx, s.opts)
		}
	default:
		err = fmt.Errorf("auth: unknown mode %q", s.set.Mode)
	}
	if err != nil {
		return nil, err
	}
	t.Mode, t.Issuer, t.ClientID = s.set.Mode, s.set.Issuer, s.set.ClientID
	if s.set.Mode != ModeCommand {
		s.rebase(t)
	}
	return t, nil
}

// rebase puts a token from the identity provider on the source's clock:
// obtained now, expiring after the lifetime the provider gave (expires_in).
func (s *Source) rebase(t *Token) {
	now := s.opts.Now()
	if !t.Expiry.IsZero() {
		t.Expiry = now.Add(t.Expiry.Sub(t.Obtained))
	}
	t.Obtained = now
	t.Mode, t.Issuer, t.ClientID = s.set.Mode, s.set.Issuer, s.set.ClientID
}

// keep learns t and stores it in the cache.
func (s *Source) keep(ctx context.Context, t *Token) {
	s.learnToken(t)
	if s.opts.Cache == nil || s.cacheDisabled() {
		return
	}
	if err := s.opts.Cache.Store(ctx, s.key, t); err != nil {
		s.disableCache(err)
	}
}

// load reads the cached token; a failing cache is reported once.
func (s *Source) load(ctx context.Context) *Token {
	if s.opts.Cache == nil || s.cacheDisabled() {
		return nil
	}
	t, err := s.opts.Cache.Load(ctx, s.key)
	if err != nil {
		s.disableCache(err)
		return nil
	}
	s.learnToken(t)
	return t
}

func (s *Source) cacheDisabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cacheOff
}

func (s *Source) disableCache(err error) {
	s.mu.Lock()
	first := !s.cacheOff
	s.cacheOff = true
	s.mu.Unlock()
	if first && s.opts.Logger != nil {
		s.opts.Logger.Warn("the token cache cannot be used; tokens are kept in memory only, so you will be asked to log in again next time",
			"where", s.opts.Cache.Where(s.key), "error", err)
	}
}

// counts returns how many flows and refreshes ran, for tests.
func (s *Source) counts() (logins, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins, s.refreshs
}

// ErrLoginRequired is wrapped by the error of a [Source] with
// Options.NonInteractive that would have to run an interactive flow.
var ErrLoginRequired = errors.New("login required")

// errLoginTimeout is wrapped by the error of an interactive flow the user
// did not finish in time.
var errLoginTimeout = errors.New("login timed out")
