// Package remote connects goflyte to Temporal, the service that runs
// workflows on many machines (`goflyte worker`, `run --remote`).
//
// It owns the connection: [Dial] turns the `platform` block of flyte.hcl
// ([OptionsFromConfig]) into a Temporal client, with TLS by default,
// plaintext for `insecure = true`, extra CAs, an HTTP CONNECT proxy and
// bearer tokens from a [TokenSource]. [Check] is what `goflyte doctor` runs.
//
// protocol.go is the contract between the submitter, the interpreter
// workflow and the workers. [RunWorkflow] (workflow.go) is the interpreter
// workflow, the Temporal driver of engine.Plan, as engine's
// execution.schedule is the local one: it compiles the run inside the
// workflow from [RunInput] (purely), then drives the plan from one
// selector loop over the futures in flight: each task attempt an activity
// [ActivityName] on the plugin's queue [PluginQueue]; the task's retries as
// workflow timers with engine.RetryWait's backoff (Temporal itself retries
// only worker losses, up to [MaxWorkerLosses]); sub-workflow calls and
// dynamic tasks' workflows as nested plans in the same loop; at most
// [MaxInFlight] activities in flight; the for_each nodes wider than
// [BatchAbove] in child workflows of [BatchWorkflowType] (batch.go), so that
// a 10,000-element for_each fits a history; and a run of many distinct
// tasks continues as new (continue.go) after [ContinueAsNewAt] events,
// its plan held and its state carried through the data store, so that a
// workflow of 10,000 task blocks does too. It keeps the run's record, in
// a local run's shape, for [QueryRecord] (short above [RecordInlineTasks]
// tasks, the whole one in the data store at the end: record.go), with the
// calls nested below each task (for_each instances, sub-workflow and
// dynamic tasks, eager children: TaskRecord.Nested, nested.go), bounded
// by [MaxNestedRecords] so that the record fits a payload however big the
// run. Everything in it must stay
// deterministic (no goroutines, clocks, randomness, map order or I/O but
// the SDK's): the replay tests over testdata/replay fail otherwise, and a
// deliberate change of behaviour must be guarded by workflow.GetVersion.
//
// [Worker] is `goflyte worker`'s
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
