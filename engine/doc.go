// Package engine compiles HCL workflows against the schemas their plugins
// declare and runs them on the local machine.
//
// # How a run flows
//
//  1. cmd/goflyte loads the configuration (engine/config: flyte.hcl, then
//     FLYTE_<SECTION>_<KEY> env overrides, then flags) and creates an
//     [Engine] with [New].
//  2. engine/config parses the workflow file into its source form
//     (config.Workflow): blocks, unevaluated expressions, and the checks
//     that need no plugin (names, references to inputs and tasks,
//     depends_on, cycles). Every problem is an hcl.Diagnostic.
//  3. [Engine.Compile] starts every plugin the workflow uses (in parallel,
//     once each, through [Plugins]), asks it to Describe itself, resolves
//     each task to a plugin task, and type-checks the graph: every input
//     expression is evaluated over unknown values of the declared types, so
//     HCL derives each expression's type and the engine converts it to the
//     type the plugin declares. The result is an immutable [Graph].
//  4. [Graph.ParseInputs] turns --input text and JSON into typed values.
//  5. [Engine.Run] creates the run's directory in the sandbox
//     (engine/sandbox), starts its record (record.json, then one appended
//     line per task event), and schedules the graph: a task starts as soon
//     as the tasks it refers to have succeeded, up to the parallelism. Its
//     inputs are evaluated in the scheduling goroutine (the only one that
//     touches results) into canonical JSON with a digest per input. Then,
//     in the task's goroutine: a cached task looks its key up in
//     engine/cache (a hit ends there); its declared secrets are resolved
//     through [Engine.Secrets] (a miss fails the task before the plugin is
//     called); it gets a fresh working directory (made ahead of time by a
//     background goroutine for tasks that will surely run); the plugin is
//     called with the inputs, secrets and execution parameters; the JSON
//     outputs are checked against the declared types and stored in the
//     cache. After the first failure no new task starts; cancelling the
//     context cancels running calls.
//  6. The record is finished and the [Result] (status, outputs, per-task
//     status, cache use, timings, working directories, errors) goes back
//     to the CLI, which renders it. With [RunOptions.Resume], tasks that
//     succeeded in an earlier run keep their recorded outputs.
//
// # Secrets
//
// Secret values travel only in the Execute request of the task that
// declared them. The engine remembers every value it resolves and replaces
// it with "***" in plugin log and stderr lines, task errors and records
// ([Engine.Redact] does the same for the CLI); [Engine.Learn] adds values
// the CLI holds, such as the credentials' client secret and tokens.
// Plugin processes do not inherit the FLYTE_SECRETS_* or
// FLYTE_CREDENTIALS_* variables. Secrets are not part of cache
// keys: a changed secret does not invalidate a cached result.
//
// # Task logs
//
// Every log line about a task execution, the plugin's (forwarded by
// go-plugin with the task's node and attempt) and the engine's (started,
// retried, cached, succeeded, failed), is also kept in the run's
// directory as JSON lines, one file per attempt (engine/sandbox
// TaskLogs), at the configured level and redacted like the live log. See
// tasklog.go for how lines find their run.
//
// # Files, checkpoints, decks and metrics
//
// file and dir values are config.FileRef capsules: a URI and, when the
// data is on this machine, a local path. Plugins see only local paths.
// After a call the engine checks that each returned path stays in the
// task's working directory or the run's tmp/ (files.go) and puts it in
// the run's data store through [Engine.Storage] (engine/datastore, set by
// the CLI, so that this package links no cloud SDK); before a call it
// fetches remote inputs, once per URI and run. Cached tasks key files by
// content hash. Each attempt gets a checkpoint directory of its own and
// the latest earlier one (or the resumed run's) to restore from
// (checkpoint.go). Tasks with enable_deck return decks that decks.go
// renders when the run ends; metrics from the plugin and the engine's own
// (metrics.go) go to the record and, when configured, to StatsD.
//
// # Ownership
//
// The engine owns evaluation: plugins receive plain JSON and never see HCL.
// It talks to plugins only through the plugin.Provider interface, so a
// registered in-process provider ([Plugins.Register], used by tests) and a
// subprocess over gRPC (plugin.Client) are the same to it. It does not
// render anything: diagnostics and errors go back to the caller.
//
// # Errors
//
// Problems in files are hcl.Diagnostics. A task that fails is a
// [*TaskError] in Result.Err, wrapping the plugin's *plugin.TaskError or a
// *plugin.ProcessError that carries the plugin's stderr tail. Problems with
// the run's inputs are an [*InputError].
package engine
