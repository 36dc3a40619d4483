package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/engine/config"
)

// tokenSource builds the credentials' token source from flyte.hcl, with
// the token cache in the keychain beside the secrets (under a service of
// its own). learn, when set, is told every secret and token.
func (c *cli) tokenSource(cfg *config.Config, logger hclog.Logger, learn func(string)) (*auth.Source, error) {
	set, err := auth.FromConfig(cfg, nil)
	if err != nil {
		return nil, err
	}
	return auth.New(auth.Options{
		Settings: set,
		Cache:    auth.NewKeychainCache(secretsOptions(cfg, logger)),
		Logger:   logger,
		Out:      c.stderr,
		Learn:    learn,
	})
}

func loginCommand() *command {
	return &command{
		name:    "login",
		args:    "[--json]",
		summary: "Log in to the remote engine and cache the token",
		help: `
Runs the flow the credentials block of flyte.hcl configures and caches the
token in the OS keychain (service "<keychain_service>-tokens"), even when a
valid one is cached already:
  Pkce (standard, the default)  a browser login; the URL is printed too
  DeviceFlow                    prints a URL and a code to enter anywhere
  ClientSecret                  client credentials (client_id and secret)
  ExternalCommand               runs credentials.command once to check it
                                (its tokens are never cached)
See "Authentication" in the README.

Flags:
  --json   print {"auth_mode", "token_cached", "expires_at", "cached_in"}`,
		run: runLogin,
	}
}

func logoutCommand() *command {
	return &command{
		name:    "logout",
		args:    "[--json]",
		summary: "Forget the cached token of the remote engine",
		help: `
Removes the token goflyte login (or any remote command) cached for the
credentials block of flyte.hcl. With nothing cached it says so and exits 0.

Flags:
  --json   print {"auth_mode", "removed", "cached_in"}`,
		run: runLogout,
	}
}

// tokenStatus is what login and doctor say about a token, never the
// token itself.
type tokenStatus struct {
	AuthMode    string     `json:"auth_mode"`
	TokenCached bool       `json:"token_cached"`
	ExpiresAt   *time.Time `json:"expires_at"`
	CachedIn    string     `json:"cached_in,omitempty"`
	Error       string     `json:"error,omitempty"`
}

func statusOf(src *auth.Source, t *auth.Token) tokenStatus {
	st := tokenStatus{AuthMode: string(src.Mode()), CachedIn: src.Where()}
	if t != nil && src.Where() != "" {
		st.TokenCached = true
		if !t.Expiry.IsZero() {
			exp := t.Expiry.UTC()
			st.ExpiresAt = &exp
		}
	}
	return st
}

// expiryText is "2026-12-02T06:00:00Z (in 59m0s)", or "(expired 3m ago)".
func expiryText(exp *time.Time) string {
	if exp == nil {
		return "unknown (used until refused)"
	}
	left := time.Until(*exp).Round(time.Second)
	if left <= 0 {
		return fmt.Sprintf("%s (expired %s ago)", exp.Format(time.RFC3339), -left)
	}
	return fmt.Sprintf("%s (in %s)", exp.Format(time.RFC3339), left)
}

// authCommand parses the flags of login or logout (--json) and builds
// the token source of the configured credentials.
func (c *cli) authCommand(name string, args []string) (src *auth.Source, asJSON bool, err error) {
	fs := newFlagSet(name)
	jsonFlag := fs.Bool("json", false, "")
	if err := c.parseFlags(fs, args, 0); err != nil {
		return nil, false, err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, false, err
	}
	src, err = c.tokenSource(cfg, c.logger(cfg), nil)
	return src, *jsonFlag, err
}

func runLogin(ctx context.Context, c *cli, args []string) error {
	src, asJSON, err := c.authCommand("login", args)
	if err != nil {
		return err
	}
	if _, err := src.Login(ctx); err != nil {
		return fmt.Errorf("login (auth_mode %s): %w", src.Mode(), err)
	}
	if src.Mode() == auth.ModeCommand {
		if asJSON {
			return writeJSON(c.stdout, statusOf(src, nil))
		}
		fmt.Fprintln(c.stdout, "credentials.command works: it printed a token. Command tokens are not cached; the command runs again when the service refuses one.")
		return nil
	}
	// Read it back: logging in is for the cache.
	cached, err := src.Cached(ctx)
	st := statusOf(src, cached)
	if err != nil || cached == nil {
		why := "it is not there after storing it"
		if err != nil {
			why = err.Error()
		}
		st.Error = fmt.Sprintf("logged in, but the token could not be cached in %s: %s; set secrets.fallback in flyte.hcl where there is no OS keychain", src.Where(), why)
	}
	if asJSON {
		if err := writeJSON(c.stdout, st); err != nil {
			return err
		}
	} else if st.Error == "" {
		fmt.Fprintf(c.stdout, "Logged in (auth_mode %s). The token expires %s and is cached in %s.\n", src.Mode(), expiryText(st.ExpiresAt), st.CachedIn)
	}
	if st.Error != "" {
		return fmt.Errorf("%s", st.Error)
	}
	return nil
}

func runLogout(ctx context.Context, c *cli, args []string) error {
	src, asJSON, err := c.authCommand("logout", args)
	if err != nil {
		return err
	}
	removed, err := src.Logout(ctx)
	if err != nil {
		return fmt.Errorf("logout: %s: %w", src.Where(), err)
	}
	if asJSON {
		return writeJSON(c.stdout, map[string]any{"auth_mode": src.Mode(), "removed": removed, "cached_in": src.Where()})
	}
	switch {
	case src.Mode() == auth.ModeCommand:
		fmt.Fprintln(c.stdout, "Nothing to forget: auth_mode ExternalCommand caches no token.")
	case removed:
		fmt.Fprintf(c.stdout, "Logged out: removed the token from %s.\n", src.Where())
	default:
		fmt.Fprintf(c.stdout, "No token cached (looked in %s); nothing to do.\n", src.Where())
	}
	return nil
}

// credentialsStatus is doctor's view of the credentials: the mode, and
// whether a token is cached until when. It never prints the token and
// never runs a flow.
func (c *cli) credentialsStatus(ctx context.Context, cfg *config.Config, logger hclog.Logger) tokenStatus {
	set, err := auth.FromConfig(cfg, nil)
	if err != nil {
		return tokenStatus{Error: err.Error()}
	}
	src, err := c.tokenSource(cfg, logger, nil)
	if err != nil {
		return tokenStatus{AuthMode: string(set.Mode), Error: err.Error()}
	}
	t, err := src.Cached(ctx)
	st := statusOf(src, t)
	if err != nil {
		st.Error = fmt.Sprintf("the token cache cannot be read (%v): goflyte login will ask again", err)
	}
	return st
}
