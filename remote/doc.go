// Package remote connects goflyte to Temporal, the service that runs
// workflows on many machines (`goflyte worker`, `run --remote`).
//
// It owns the connection: [Dial] turns the `platform` block of flyte.hcl
// ([OptionsFromConfig]) into a Temporal client, with TLS by default,
// plaintext for `insecure = true`, extra CAs, an HTTP CONNECT proxy and
// bearer tokens from a [TokenSource]. [Check] is what `goflyte doctor` runs.
// It will also be the home of the Temporal driver (the interpreter workflow
// and the worker's activities).
//
// The engine never imports this package: the CLI wires it, as it wires the
// data store.
//
// Errors: a connection that cannot be made within [Options.DialTimeout]
// (10 s by default) returns a [*DialError] that names the setting to look
// at (platform.url, platform.insecure, platform.ca_cert_file_path, ...);
// Dial never hangs. Errors never carry a token or a proxy password.
//
// Credentials: Dial gets the tokens first (bounded by the caller's context
// only, so an interactive login can finish), sends them with every call
// (authorization, and proxy-authorization for a proxy token), and retries
// a call refused for its token once with a new one. Its namespace check is
// an authorized call: a refused token, or none where the service wants
// one, is a DialError with Refused set (goflyte exits 2) whose message
// names the credentials settings and describes the refused token's claims
// (exp, aud, permissions), never the token.
package remote
