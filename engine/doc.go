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
//  3. [Engine.Compile] lists the plugins the workflow and the workflows
//     it calls use ([PluginsUsed]), starts each (in parallel, once each,
//     through [Plugins]) and asks it to Describe itself, then calls
//     [CompileWorkflow], a pure function of the sources and those schemas
//     (no plugin, no I/O; the same inputs give the same graph): it
//     resolves each task to a plugin task and type-checks the graph:
//     every input expression is evaluated over unknown values of the
//     declared types, so HCL derives each expression's type and the
//     engine converts it to the type the plugin declares. The result is
//     an immutable [Graph]. `goflyte run FILE` keeps a graph that
//     compiled cleanly in the sandbox ([Engine.KeepGraph], compiled.go)
//     and, for the same file, workflow, goflyte binary and plugin
//     schemas, takes it from there next time ([Engine.CachedGraph])
//     without parsing or compiling.
//  4. [Graph.ParseInputs] turns --input text and JSON into typed values.
//  5. [Engine.Run] creates the run's directory in the sandbox
//     (engine/sandbox), starts its record (record.json, then one appended
//     line per task event), and drives a [Plan] (plan.go): the run's
//     semantics as a deterministic state machine that, given the inputs
//     and the results so far, says which nodes start, which [Call]s to
//     make and which nodes succeeded, failed or were skipped ([Op]). The
//     plan owns readiness (dependencies, the parallelism, max_parallel),
//     evaluating inputs into canonical JSON with a digest per input,
//     branch decisions and fail, for_each expansion into one call per
//     element and their collection (min_success_ratio), what a failure
//     does (no node starts after one), the failure handler's call and the
//     outputs. It has no goroutines, clocks or I/O, so that a Temporal
//     workflow can drive it too. The local driver (execution.schedule in
//     run.go) carries out the ops from one loop (task runs, records,
//     events) and makes each call in a goroutine of its own, feeding the
//     result back: a cached task looks its key up in engine/cache (a hit
//     ends there); its declared secrets are resolved through
//     [Engine.Secrets] (a miss fails the task before the plugin is
//     called); it gets a fresh working directory (made ahead of time by a
//     background goroutine for tasks that will surely run); the plugin is
//     called with the inputs, secrets and execution parameters, retried
//     and bounded as the call's [CallPolicy] says; the JSON outputs are
//     checked against the declared types and stored in the cache.
//     Cancelling the context cancels running calls and the plan starts
//     nothing more. A sub-workflow call is one call, which the driver
//     makes by running the called graph with a plan of its own (in this
//     run, its tasks named "<call>+<task>"); so are a dynamic task's
//     workflow (compiled purely by [DynamicGraph] with the schemas the
//     driver gathered) and each child of an eager task (a one-task graph
//     from [Engine.TaskGraph], run through the same code while the eager
//     call runs, in the driver).
//  6. The record is finished and the [Result] (status, outputs, per-task
//     status, cache use, timings, working directories, errors) goes back
//     to the CLI, which renders it. With [RunOptions.Resume], tasks that
//     succeeded in an earlier run keep their recorded outputs.
//
// # What the Plan does not do yet (issue 13)
//
// The shape is there for a second driver; these parts are still the
// local driver's, or not yet data:
//   - Nested graphs are driven by nested loops: a sub-workflow call, a
//     dynamic task's workflow and an eager task's children each run
//     through execution.runGraph with a Plan of their own, inside the
//     call's goroutine (a dynamic workflow even inside the attempt, so a
//     retryable failure of it retries the dynamic task). The plan does
//     not flatten them into its own stream of calls; a Temporal driver
//     would run them as child workflows or nest plans the same way.
//   - A dynamic task's result is not fed to the plan: the driver parses
//     the source ([ParseDynamic]), gathers the schemas, and calls the
//     pure [DynamicGraph] and [DynamicOutputs].
//   - [CallResult] carries Go values (cty outputs, an error that
//     errors.As can inspect); a Temporal driver feeds it a
//     [RemoteError], the failure a worker reported as data, which
//     errors.As sees as a *plugin.TaskError (remote.go).
//   - [Call] points at its compiled [Node] and keeps the evaluated
//     inputs' file values unexported; the inputs' JSON and digests are
//     exported.
//   - Evaluating a file input given as a relative local path makes it
//     absolute against the process's working directory (resolveInput):
//     the one place evaluation reads the environment.
//
// # One task attempt for a remote driver
//
// [Engine.ExecuteTask] makes one attempt of one task described as data
// ([TaskCall]: plugin, task, JSON inputs with files as URIs, node,
// attempt, timeout, cache policy and store, secret names, decks, the data
// prefix, the previous checkpoint) through the same code as a local run:
// an execution of a one-node graph ([Engine.TaskGraph]) without a Plan,
// whose working directories live in <sdk.local_sandbox>/worker and whose
// checkpoints, task logs, decks and file outputs go to the data store. A
// failure is a [*TaskCallError] classified as the driver's TaskFailure
// (task, process, timeout, secret, outputs; retryable as locally). The
// cache is a [ResultCache]: the local directory or a data store shared by
// many machines ([Engine.StoreCache]). `goflyte worker` (package remote)
// calls it from its activities.
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
