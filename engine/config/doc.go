// Package config reads goflyte's configuration files into Go values: the
// engine configuration (flyte.hcl plus FLYTE_* environment variables and
// command-line flags, as a [Config]) and, in workflow.go, workflow files.
//
// It owns the source form only: parsing, typing, static validation and
// the diagnostics that point at the user's files. It does not evaluate
// workflow expressions (the engine package does), talk to plugins, resolve
// secrets or render diagnostics (cmd/goflyte does, with the files from
// [Parser.Files]). It imports hcl and cty, and nothing else of goflyte.
//
// # The engine configuration
//
// [Parser.LoadConfig] looks for the file in this order and uses the first
// it finds: LoadOptions.ExplicitPath (--config), the file named by
// FLYTE_CONFIG, flyte.hcl in the working directory,
// <os.UserConfigDir()>/goflyte/flyte.hcl. Without a file only defaults and
// the environment apply. The file has one block per section (sdk, local,
// secrets, platform, credentials, aws, azure, gcp), each at most once and
// without labels, holding name = value settings. The sample flyte.hcl at
// the root of the repository documents every setting and its default.
//
// Precedence, from lowest to highest: default, file, environment, flag.
// [Config.Settings] reports each value with its [Source].
//
// # Environment variables
//
// Each setting is overridden by FLYTE_<SECTION>_<KEY> in upper case, for
// example FLYTE_SDK_LOGGING_LEVEL or FLYTE_AWS_RETRIES. Values are parsed
// as Flytekit does:
//
//   - Booleans are false for "", "false", "0", "off" and "no" in any case,
//     and true for anything else (so "truee" is true).
//   - Lists are comma-separated; spaces around items and empty items are
//     dropped: FLYTE_CREDENTIALS_COMMAND="gcloud, auth,print-access-token".
//   - Numbers are whole numbers, at least 0.
//   - An empty variable for anything but a boolean counts as unset, so it
//     neither overrides the file nor is an error.
//
// Other FLYTE_* variables, such as FLYTE_CONFIG and secrets like
// FLYTE_SECRETS_GITHUB_TOKEN, are ignored here. [Config.Override] parses
// flag values the same way.
//
// # Paths
//
// The path settings are sdk.workflow_packages, sdk.local_sandbox,
// sdk.plugin_dirs, secrets.default_dir, secrets.fallback_dir,
// secrets.pass_dir, platform.ca_cert_file_path and
// credentials.client_secret_location. Their values are always absolute
// after loading: a leading "~/" (or a lone "~") expands to the home
// directory; other relative paths written in the file resolve against the
// directory of that file, while relative paths from the environment or a
// flag resolve against the working directory. Empty paths stay empty.
//
// # Diagnostics and secrets
//
// Problems are returned as [hcl.Diagnostics], all at once, each with
// severity error. Those about the file have a Subject range; those about an
// environment variable or a missing --config/FLYTE_CONFIG file have none
// and say which variable or file is at fault. The secret-bearing settings
// (credentials.client_secret, aws.secret_access_key,
// azure.storage_account_key, azure.client_secret) are never echoed in a
// diagnostic or error, and [Config.Settings] shows them as [Mask].
package config
