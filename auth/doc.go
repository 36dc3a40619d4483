// Package auth gets the bearer tokens goflyte sends to the remote engine
// (Temporal), from the credentials block of flyte.hcl, in every mode
// Flytekit knows.
//
// [FromConfig] resolves the block with Flytekit's precedence into
// [Settings] (the client secret from client_secret, then the file at
// client_secret_location, then the variable client_secret_env_var names;
// a secret from the file or the variable forces the ClientSecret mode; a
// command with no auth_mode selects the command mode). [New] makes a
// [Source], a [TokenSource] for Options.Token of remote.Dial;
// [Source.Proxy] is the one for Options.ProxyToken (proxy_command).
//
// # Modes
//
//   - ClientSecret (client_credentials, basic): the client credentials
//     grant with client_id and the secret. For workers and CI.
//   - Pkce (standard, the default): authorization code with PKCE S256. A
//     server on 127.0.0.1 (a free port, path /callback) receives the
//     redirect; the browser is opened where there is a display
//     ([OpenBrowser]), and the URL is printed either way; the state and
//     the ID token's nonce are checked; Options.LoginTimeout (5 min)
//     bounds the wait.
//   - DeviceFlow: RFC 8628; the verification URL and user code are
//     printed, and polling follows the server's interval, 5 s slower after
//     each slow_down.
//   - ExternalCommand (external_process, or a command and no auth_mode):
//     credentials.command runs without a shell; its trimmed stdout is the
//     token, kept until it is refused ([Source.Invalidate]) or, for a JWT,
//     until its exp.
//
// proxy_command works the same way and gives the token sent as
// proxy-authorization: Bearer to the service and, by this package, to
// every endpoint of the identity provider. scopes and audience are sent
// as configured (the interactive modes ask for openid and offline_access
// when no scopes are set). The endpoints come from the discovery document
// of credentials.issuer (OpenID Connect, else RFC 8414), goflyte's own
// setting because Temporal serves no metadata. Client authentication is
// HTTP Basic with a secret and the client_id parameter without one; the
// style is always set explicitly.
//
// # Caching and refresh
//
// Tokens of every mode but the command mode are kept in a [Cache]:
// [NewKeychainCache] is the OS keychain through secretsbackends, with the
// same backends and headless fallbacks as secrets, under the service
// "<keychain_service>-tokens" (and, for the encrypted file fallback, the
// directory "<fallback_dir>-tokens"), which the secrets chain never reads:
// a task cannot be handed a user's token. A cache that fails (locked,
// missing, no passphrase) is reported once as a warning saying the user
// will have to log in again, and the process goes on with tokens in
// memory. Options.NonInteractive (goflyte doctor) never runs the Pkce or
// device flow: without a usable cached token, Token fails with
// [ErrLoginRequired]. A token is replaced when less than the lesser of 60 s and a
// tenth of its lifetime is left ([Token.RefreshMargin]): by its refresh
// token first, then by the mode's flow. Concurrent callers share one
// request.
//
// # Secrets
//
// Options.Learn is told the client secret and every token, so that the
// caller's redactor hides them. Errors name settings, clients, endpoints
// and where a secret came from, never a secret or a token. The commands
// run without the FLYTE_CREDENTIALS_* variables and without the variable
// client_secret_env_var names ([Settings.ChildEnv]).
//
// # Testing
//
// auth/oidctest runs a real OpenID Connect provider (testservers/oidc,
// built into .tools by make test); GOFLYTE_TEST_OIDC=1 makes a missing
// one a failure. The keychain test runs with GOFLYTE_TEST_KEYCHAIN=1
// (bash .ci/keyring-session.sh go test ./auth/), the Chromium login test
// with GOFLYTE_TEST_BROWSER=1.
package auth
