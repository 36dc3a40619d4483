// Package secretsbackends resolves the secrets a task declares, the way
// Flytekit's SecretsManager resolves them locally, through a chain of
// backends that ends in the OS keychain.
//
// The engine resolves a task's declared secrets with [Backend.Lookup]
// before the task starts and sends the plugin only those values. This
// package owns the backends, the chain and their errors. It does not parse
// flyte.hcl (engine/config does; cmd/goflyte turns its secrets block into
// [Options]), trim values for the text form (the SDK does), or redact
// values from logs (the engine does).
//
// # The chain
//
// [New] builds, from the secrets block of flyte.hcl:
//
//  1. [Env]{Prefix: env_prefix}: the variable FLYTE_SECRETS_GITHUB_TOKEN;
//  2. in local execution modes only ([Options.Local]), [Env] without the
//     prefix: GITHUB_TOKEN;
//  3. [Dir]: the file <default_dir>/github/<file_prefix>token;
//  4. a [Store]: the OS [Keychain] (service "goflyte", account
//     "github/token"), or, where that is unreachable and a fallback is
//     configured, a [Keyring]: an encrypted file, pass, or the kernel
//     keyring.
//
// A [Name] is a group (optional), a version (optional) and a key. Env
// upper-cases it, Dir lower-cases it, as Flytekit does; the keychains use
// [Name.String] as written. Every backend validates the name first
// ([Name.Validate]): no path separators, no "..", no NUL, no empty key.
//
// # Errors
//
// The first backend that has the secret wins. Only a miss, an error
// wrapping [ErrNotFound], moves on to the next backend; any other error
// stops the chain, so that a broken backend (a locked keychain, an
// unreadable file, a D-Bus failure) is never mistaken for a missing
// secret. When no backend has it, [Chain.Lookup] returns a
// [*NotFoundError] that lists every place tried. [ErrUnavailable] marks a
// backend that cannot be reached at all, [ErrInvalidName] a name that
// fails validation, and [ErrNoPassphrase] and [ErrWrongPassphrase] the
// encrypted file keyring's passphrase problems. Check them with
// errors.Is.
//
// Secret values never appear in errors, log lines, Where strings, a
// [Step] or a [Status]. Lookup returns the exact bytes stored, including
// a trailing newline; the caller owns them.
//
// # Keychain calls never hang
//
// zalando/go-keyring and godbus take no context, so each [Keychain] call
// runs in a goroutine and is abandoned after [Keychain.Timeout] (default
// 3s) or when ctx is done. A missing D-Bus session bus fails at once; a
// hung one fails at the timeout. Either way the error wraps
// [ErrUnavailable] and says what to do: start a session bus with
// dbus-run-session, or configure a fallback in the secrets block.
//
// # Fallback
//
// [Options.Fallback] chooses what replaces the OS keychain when it is
// unreachable ("", "file", "pass", "keyctl" or "auto"; see [Options]).
// The [Store] decides once, on first use, and announces a fallback once,
// as a warning on [Options.Logger] naming the backend and the reason.
// [Doctor] reports which of these backends work on this machine, and why
// not, for `goflyte doctor`.
//
// # Capabilities
//
// Besides [Backend], a backend may implement [Setter], [Deleter] and
// [Lister] (names only); callers find them by type assertion, as with
// io/fs. [Keychain], [Keyring] and [Store] implement all three.
// [Chain.Trace] asks every backend and reports each answer, for
// `goflyte secrets where`.
//
// # Concurrency
//
// Every backend, [Chain] and [Store] is safe for concurrent use.
//
// # Testing
//
// Package backendtest checks any Backend against this contract. Tests
// against the real OS keychain run when GOFLYTE_TEST_KEYCHAIN=1, and then
// fail, not skip, if it cannot be reached; `bash .ci/keyring-session.sh
// go test ./secretsbackends/` provides a throwaway gnome-keyring on Linux.
package secretsbackends
