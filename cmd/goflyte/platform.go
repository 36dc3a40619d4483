package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
)

// platformOptions are the connection options of the platform block, with
// the tokens of the credentials block: every connection to the remote
// engine (goflyte worker, run --remote, runs --remote) dials with them,
// as remote.Dial(ctx, platformOptions(cfg, logger)).
//
// When the credentials block asks for a token (an issuer, a client id, a
// client secret or a command), Options.Token is an auth.Source: tokens
// cached in the keychain under "<keychain_service>-tokens", refreshed
// ahead of expiry, one request at a time, an interactive login (Pkce,
// DeviceFlow) printed on stderr when there is no token. A proxy_command
// gives Options.ProxyToken. A credentials problem (a missing setting, an
// unreadable secret file) comes out of remote.Dial as a *remote.DialError
// wrapping an *auth.ConfigError (exit 2); a token the service refuses, or
// none where the service wants one, as a *remote.DialError with Refused
// set (exit 2 too, see cli.report).
//
// The client secret and every token are told to learnedSecrets, which
// every engine of the process redacts (cli.newEngine).
func platformOptions(cfg *config.Config, logger hclog.Logger) remote.Options {
	return platformOptionsWith(cfg, logger, false)
}

// platformOptionsWith is platformOptions; nonInteractive never runs a
// browser or device login (goflyte doctor).
func platformOptionsWith(cfg *config.Config, logger hclog.Logger, nonInteractive bool) remote.Options {
	o := remote.OptionsFromConfig(cfg.Platform)
	o.Logger = logger.Named("temporal")
	o.Token, o.ProxyToken = platformTokens(cfg, logger, nonInteractive)
	return o
}

// platformTokens returns the token sources of the credentials block: nil
// for what it does not configure. A configuration error is returned by
// the token source, so that it surfaces where the connection is made.
func platformTokens(cfg *config.Config, logger hclog.Logger, nonInteractive bool) (token, proxy remote.TokenSource) {
	set, err := auth.FromConfig(cfg, nil)
	if err != nil {
		return failedToken{err}, nil
	}
	opts := auth.Options{
		Settings:       set,
		Cache:          auth.NewKeychainCache(secretsOptions(cfg, logger)),
		Logger:         logger,
		Learn:          learnedSecrets.learn,
		NonInteractive: nonInteractive,
	}
	if !set.Configured() {
		if p := auth.NewProxy(opts); p != nil {
			return nil, p
		}
		return nil, nil
	}
	src, err := auth.New(opts)
	if err != nil {
		return failedToken{err}, nil
	}
	if p := src.Proxy(); p != nil {
		return src, p
	}
	return src, nil
}

// failedToken is the token source of credentials that cannot give one:
// Token returns why.
type failedToken struct{ err error }

func (f failedToken) Token(context.Context) (string, error) { return "", f.err }
func (failedToken) Invalidate(string)                       {}

// learnedSecrets collects the credentials' secrets and tokens this process
// handles, and hands them to every engine's redactor (cli.newEngine
// subscribes each engine).
var learnedSecrets = &secretLearner{}

// secretLearner remembers values and tells them to its subscribers, past
// values first. Safe for concurrent use.
type secretLearner struct {
	mu     sync.Mutex
	values []string
	seen   map[string]bool
	subs   []func(string)
}

func (l *secretLearner) learn(v string) {
	if v == "" {
		return
	}
	l.mu.Lock()
	if l.seen[v] {
		l.mu.Unlock()
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[v] = true
	l.values = append(l.values, v)
	subs := append([]func(string){}, l.subs...)
	l.mu.Unlock()
	for _, f := range subs {
		f(v)
	}
}

// subscribe tells f every value learned so far and every later one.
func (l *secretLearner) subscribe(f func(string)) {
	l.mu.Lock()
	past := append([]string{}, l.values...)
	l.subs = append(l.subs, f)
	l.mu.Unlock()
	for _, v := range past {
		f(v)
	}
}

// subscribeEngine makes e redact the credentials' secrets and tokens.
func subscribeEngine(e *engine.Engine) { learnedSecrets.subscribe(e.Learn) }

// platformSet reports whether platform.url was given (file, env or flag)
// rather than left at its default.
func platformSet(cfg *config.Config) bool {
	src, _ := cfg.Source("platform.url")
	return src.Kind != config.SourceDefault
}

// doctorPlatformTimeout bounds doctor's platform check.
const doctorPlatformTimeout = 5 * time.Second

// platformRow is doctor's row for the platform, in the shape of the
// secret stores' rows (Backend, Usable, Detail) plus the check's findings.
type platformRow struct {
	Backend  string         `json:"Backend"`
	Usable   bool           `json:"Usable"`
	Detail   string         `json:"Detail"`
	Platform *remote.Status `json:"platform"`
	// TokenSent: the check sent a token (credentials are configured).
	TokenSent bool `json:"-"`
}

// checkPlatform runs doctor's platform check: a dial with the
// credentials (never an interactive login), whose namespace check is an
// authorized call.
func checkPlatform(ctx context.Context, cfg *config.Config, logger hclog.Logger) platformRow {
	o := platformOptionsWith(cfg, logger, true)
	o.DialTimeout = doctorPlatformTimeout
	st := remote.Check(ctx, o)
	row := platformRow{Backend: "platform", Usable: st.Reachable, Platform: &st, TokenSent: o.Token != nil}
	via := ""
	if st.Proxy != "" {
		via = " via " + st.Proxy
	}
	if st.Reachable {
		row.Detail = fmt.Sprintf("Temporal %s at %s%s, namespace %s, TLS %s, %.0f ms", st.Server, st.URL, via, st.Namespace, st.TLS, st.TookMS)
	} else {
		row.Detail = fmt.Sprintf("%s (after %.0f ms)", st.Error, st.TookMS)
	}
	return row
}

// tokenAccepted is doctor's verdict on the token from the platform check:
// true when the authorized call succeeded with it, false when the service
// refused the credentials or no token could be had, nil when it was not
// checked (no platform.url, no credentials and none wanted, or the
// platform could not be reached for another reason).
func (row *platformRow) tokenAccepted() *bool {
	if row == nil {
		return nil
	}
	st := row.Platform
	var v bool
	switch {
	case st.Reachable && row.TokenSent:
		v = true
	case st.Refused, !st.Reachable && row.TokenSent && st.Setting != "" && (st.Setting == "credentials" || st.Setting == "credentials.proxy_command"):
		v = false
	default:
		return nil
	}
	return &v
}
