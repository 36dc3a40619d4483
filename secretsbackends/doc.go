// Package secretsbackends resolves the secrets a task declares, the way
// Flytekit resolves them locally, through a chain of backends that ends in
// the OS keychain:
//
//  1. the env var <env_prefix><GROUP>_[<VERSION>_]<KEY> (default prefix FLYTE_SECRETS_),
//  2. in local execution modes only, the same name without the prefix,
//  3. the file <default_dir>/<group>/[<version>/]<file_prefix><key>,
//  4. the OS keychain (zalando/go-keyring), or on a headless machine a
//     configured fallback (99designs/keyring: encrypted file, pass, kernel
//     keyring).
//
// The first backend that has the secret wins; only "not found" falls
// through, so a broken backend (a locked keychain, an unreadable file) stops
// the chain with its error instead of being mistaken for a missing secret.
// Secret values never appear in errors, logs or cache keys.
//
// The engine resolves a task's secrets before the task starts and sends the
// plugin only the ones it declared. This package owns the backends and the
// chain; the secrets block of flyte.hcl is parsed by engine/config.
//
// Status: the chain is being built (see the project's issue on secrets);
// this package holds its documentation so that its place in the layout is
// fixed.
package secretsbackends
