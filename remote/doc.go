// Package remote connects goflyte to Temporal, the service that runs
// workflows on many machines (`goflyte worker`, `run --remote`).
//
// It owns the connection: [Dial] turns the `platform` block of flyte.hcl
// ([OptionsFromConfig]) into a Temporal client, with TLS by default,
// plaintext for `insecure = true`, extra CAs, an HTTP CONNECT proxy and
// bearer tokens from a [TokenSource]. [Check] is what `goflyte doctor` runs.
// protocol.go is the contract of a remote run between the submitter, the
// interpreter workflow and the workers. [Worker] is `goflyte worker`'s
// side: one Temporal worker per served plugin on its queue
// ([PluginQueue]), one activity per task ([ActivityName]) that makes one
// attempt through engine.Engine.ExecuteTask, with heartbeats that carry
// the latest checkpoint, the plugin digest check and a drain on Stop.
//
// The engine never imports this package: the CLI wires it, as it wires the
// data store.
//
// Errors: a connection that cannot be made within [Options.DialTimeout]
// (10 s by default) returns a [*DialError] that names the setting to look
// at (platform.url, platform.insecure, platform.ca_cert_file_path, ...);
// Dial never hangs. Errors never carry a token or a proxy password.
package remote
