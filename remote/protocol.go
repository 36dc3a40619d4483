package remote

import (
	"encoding/json"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// This file is the protocol between the three parties of a remote run:
// the submitter (`goflyte run --remote`), the interpreter workflow (the
// Temporal driver of engine.Plan) and the workers (`goflyte worker`),
// which may run different builds of goflyte. Every type here travels
// through Temporal as JSON and is kept in histories for as long as the
// namespace keeps them: add fields, never rename or repurpose one, and
// guard a change of the workflow's behaviour with workflow.GetVersion.
//
// No type here ever holds a secret value: secrets travel as names
// (plugin.SecretRequest) and are resolved by the worker that runs the
// task, through its own chain.

// WorkflowType is the Temporal workflow type of a goflyte run: the
// interpreter that compiles the run's sources and drives its plan. A
// sub-workflow call runs as a nested plan inside its caller's workflow
// (see workflow.go); the instances of a big for_each run in child
// workflows of BatchWorkflowType.
const WorkflowType = "goflyte.run"

// QueryRecord is the query a run's workflow answers with its record so
// far (a sandbox.Record with its Tasks, the shape of a local run's
// record, and each task's Nested calls, at most MaxNestedRecords of them
// ended), for progress, `runs show --remote` and the console. The
// answer stays well under Temporal's payload limit for a for_each of
// any size (about 270-350 KB for 10,000 instances).
const QueryRecord = "goflyte.record"

// ActivityName is the name of the activity that runs a plugin task:
// its task id, "<plugin>.<task>".
func ActivityName(plugin, task string) string { return plugin + "." + task }

// PluginQueue is the task queue of a plugin's activities: workers poll
// only the queues of the plugins they serve.
func PluginQueue(prefix, plugin string) string { return prefix + "." + plugin }

// Heartbeats: a worker heartbeats a running task every HeartbeatEvery;
// a task whose worker sent none for HeartbeatTimeout is lost and runs
// again elsewhere, up to MaxWorkerLosses times, without using up the
// task's own retries.
const (
	HeartbeatTimeout = 5 * time.Second
	HeartbeatEvery   = time.Second
	MaxWorkerLosses  = 3
)

// InlineLimit is the largest value (a run's input or output, a task's
// inputs or outputs) that travels inline; larger ones go to the data
// store and travel as a reference: TaskOutput.OutputsRef,
// TaskInput.InputsRef and InputRefs, RunInput.InputRefs and the
// record's OutputRefs (values.go). A value of any size works this way;
// the workflow reads one only when it must evaluate it (a branch
// condition, an expression, a for_each over it), in parts of at most
// ValuePartBytes, and passes a plain reference (`task.a.text`)
// to the worker that needs it without reading it at all.
const InlineLimit = 256 << 10

// ValueRef is a value in the data store: the JSON at URI (a task's
// outputs object, a run's input, a task's inputs), or with Field the
// named attribute of that JSON object.
type ValueRef = sandbox.ValueRef

// Error types of the failures an activity returns, as
// temporal.ApplicationError types. Every one but ErrWorkerShutdown is
// non-retryable at the Temporal level: the workflow applies the task's
// retry policy itself, so that only worker losses (a heartbeat timeout,
// a worker's shutdown) are retried by Temporal.
const (
	// ErrTaskFailed: the task ran and failed, or its plugin crashed, or
	// it timed out; the details are a TaskFailure, whose Retryable says
	// whether another attempt may succeed.
	ErrTaskFailed = "goflyte.TaskFailed"
	// ErrDigestMismatch: the worker's plugin binary is not the one the
	// run was validated against; the details are a TaskFailure naming
	// the plugin and both digests.
	ErrDigestMismatch = "goflyte.DigestMismatch"
	// ErrWorkerShutdown: the worker stopped (SIGTERM, Ctrl-C) and the
	// task did not finish within its grace period, so it was cancelled;
	// or the worker could not make the attempt at all (its sandbox
	// failed, say), so the task did not run there.
	// Unlike the others it is retryable at the Temporal level: the task
	// runs again elsewhere under the worker-loss retry policy, without
	// using up the task's own retries (Attempt stays the same).
	ErrWorkerShutdown = "goflyte.WorkerShutdown"
)

// TaskHeartbeat is the details of a running task's heartbeats. When a
// task runs again after its worker was lost, the new worker restores
// Checkpoint (the latest checkpoint the lost one put in the data store)
// instead of TaskInput.PrevCheckpoint.
type TaskHeartbeat struct {
	Checkpoint string `json:"checkpoint,omitempty"`
}

// RunInput is the input of a run's workflow: everything the workflow
// needs to compile the run and drive it, as plain data.
type RunInput struct {
	// ExecutionID is "<project>:<domain>:<name>", also the Temporal
	// workflow id of the run (a child workflow's id extends its
	// parent's).
	ExecutionID   string    `json:"execution_id"`
	ExecutionDate time.Time `json:"execution_date"`
	// Main is the path of the workflow file in Sources, and Workflow the
	// name of the workflow to run from it.
	Main     string `json:"main"`
	Workflow string `json:"workflow"`
	// Task, when set, makes the run a single task's ("plugin.task", `run
	// --remote --task`): its graph is engine.TaskGraphOf the plugin's
	// schema in Plugins, and Main, Workflow and Sources are empty.
	Task string `json:"task,omitempty"`
	// Sources are the workflow files, by path as the submitter named
	// them (diagnostics use these paths): Main and every file whose
	// workflows it calls, at any depth.
	Sources map[string]string `json:"sources"`
	// Inputs are the run's inputs as JSON, every input set (defaults
	// applied); files are data-store URIs.
	Inputs map[string]json.RawMessage `json:"inputs"`
	// InputRefs are the run's inputs larger than InlineLimit, by name:
	// the data-store URI of each one's JSON (the submitter stored it),
	// in place of an entry in Inputs.
	InputRefs map[string]string `json:"input_refs,omitempty"`
	// Plugins are the plugins the run uses, by name: the schema and the
	// binary's digest that the submitter validated the run against.
	Plugins map[string]PluginRef `json:"plugins"`
	// TaskQueue is the prefix of the plugins' task queues
	// (platform.task_queue).
	TaskQueue string `json:"task_queue"`
	// DataPrefix is the run's directory in the data store (under
	// raw_output_data_prefix): files, large values, logs, decks and
	// checkpoints of its tasks.
	DataPrefix string `json:"data_prefix"`
	// CachePrefix is where cache entries live in the data store; ""
	// when the cache is disabled (--no-cache or local.cache_enabled).
	CachePrefix    string `json:"cache_prefix,omitempty"`
	CacheOverwrite bool   `json:"cache_overwrite,omitempty"`
	Parallelism    int    `json:"parallelism"`
	// Timeout bounds the whole run; 0 means none.
	Timeout time.Duration `json:"timeout,omitempty"`
	// ScheduleToStart bounds how long a task waits for a worker that
	// serves its plugin before it fails naming the plugin; 0 means
	// DefaultScheduleToStart.
	ScheduleToStart time.Duration `json:"schedule_to_start,omitempty"`
	// Polled are the plugins whose queues the submitter saw a worker
	// polling just before it submitted the run (WaitForWorkers). Their
	// tasks go without the ScheduleToStart bound from the start, as a
	// plugin's do once a worker answered for it in the run: the bound is
	// a timer of every waiting task, which the server sorts again at
	// every event of the run (a 1,000-task fan-out's tasks all wait at
	// once). A workflow of an earlier build ignores it and bounds them.
	Polled []string `json:"polled,omitempty"`
	// Resume, when set, keeps the outputs of tasks that succeeded in an
	// earlier run: by node name, their outputs as JSON.
	Resume      map[string]json.RawMessage `json:"resume,omitempty"`
	ResumedFrom string                     `json:"resumed_from,omitempty"`
	// ResumeRefs keeps, like Resume, the outputs of tasks that succeeded
	// in an earlier run when they are larger than InlineLimit: by node
	// name, the data-store URI of their JSON (the earlier run's
	// TaskOutput.OutputsRef, or where the submitter stored them). The
	// workflow holds or reads them as it does a task's outputs that came
	// by reference. A workflow of an earlier build ignores it and runs
	// those tasks again.
	ResumeRefs map[string]string `json:"resume_refs,omitempty"`
	// Prefix names the sub-workflow call a child workflow runs for
	// ("<call>+"), "" for the run itself: it starts the names of its
	// tasks (Params.Node). The interpreter runs sub-workflow calls as
	// nested plans, so it is "" today (BatchInput.Prefix serves batches).
	Prefix string `json:"prefix,omitempty"`
	// ContinueAfter is the number of events in its history after which
	// the run's workflow continues as new (a fresh history, the same
	// workflow id); 0 means ContinueAsNewAt.
	ContinueAfter int `json:"continue_after,omitempty"`
	// Continued is set when the workflow continues an earlier Temporal
	// run of the same run: where that run left its state.
	Continued *Continued `json:"continued,omitempty"`
}

// Continued is what a run's workflow carries into its next Temporal run
// when it continues as new: small, because the input of a run is a
// payload (at most about 2 MB); the bulk (the task records and the
// outputs of the tasks that succeeded) is in the data store, in Parts.
type Continued struct {
	// Parts are the data-store URIs of the carried state, in order: each
	// a JSON string of base64 (ActivityLoadOutputs reads them), together
	// the JSON of the state.
	Parts []string `json:"parts"`
	// Runs counts the Temporal runs before this one.
	Runs int `json:"runs"`
	// Start is when the run started (its first Temporal run).
	Start time.Time `json:"start"`
	// Batches counts the batches started so far (their workflow ids).
	Batches int `json:"batches,omitempty"`
	// Served are the plugins a worker answered for so far.
	Served []string `json:"served,omitempty"`
}

// SaveState is the input of ActivitySaveState: the state to store under
// "<DataPrefix>/<Key>/part-<n>.json", in parts of at most
// StatePartBytes; or, with Whole, as is in "<DataPrefix>/<Key>.json".
type SaveState struct {
	DataPrefix string `json:"data_prefix"`
	Key        string `json:"key"`
	Data       []byte `json:"data"`
	Whole      bool   `json:"whole,omitempty"`
}

// PluginRef is a plugin as the submitter validated a run against it.
type PluginRef struct {
	Schema *plugin.Schema `json:"schema"`
	// SHA256 is the hex digest of the plugin's binary. A worker whose
	// binary differs refuses the run's tasks (ErrDigestMismatch).
	SHA256 string `json:"sha256"`
}

// TaskInput is the input of a task's activity: one attempt of one call
// (a task, a for_each instance or the failure handler), described as
// data so that the worker makes it exactly as the local engine does
// (cache lookup, secret resolution, working directory, file staging,
// checkpoints, decks, logs, redaction).
type TaskInput struct {
	ExecutionID   string    `json:"execution_id"`
	ExecutionDate time.Time `json:"execution_date"`
	// Node is the call's name in the run (Params.Node): "t", "t@3",
	// "<call>+t". Plugin and Task are no longer sent by the workflow
	// (histories of earlier builds have them): the activity's name,
	// ActivityName(plugin, task), says them, and the worker fills them in.
	Node   string `json:"node"`
	Plugin string `json:"plugin,omitempty"`
	Task   string `json:"task,omitempty"`
	// PluginSHA256 is the digest the run was validated against.
	PluginSHA256 string `json:"plugin_sha256"`
	// Attempt counts the task's attempts from 1 (worker losses do not
	// count). Retries, how many the task may make after the first, is no
	// longer sent (the workflow decides on retries; no worker read it).
	Attempt int `json:"attempt"`
	Retries int `json:"retries,omitempty"`
	// Inputs are the evaluated inputs as canonical JSON (files as
	// data-store URIs). Digests, each input's hex SHA-256, is no longer
	// sent (histories of earlier builds have it): no worker reads it, the
	// worker computes the cache key from Inputs.
	Inputs  json.RawMessage   `json:"inputs"`
	Digests map[string]string `json:"digests,omitempty"`
	// InputsRef, when set, is the data-store URI of Inputs, which were
	// larger than InlineLimit (Inputs is then empty). InputRefs are
	// inputs that the workflow passes by reference, by name: each one's
	// value is the referenced value (a plain `task.a.text`, or
	// a run input held by reference), not in Inputs. The worker reads
	// both and merges them into Inputs before anything else, so that the
	// cache key is computed from the values, as locally.
	InputsRef string              `json:"inputs_ref,omitempty"`
	InputRefs map[string]ValueRef `json:"input_refs,omitempty"`
	// Timeout bounds the attempt (the worker enforces it); 0: none.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Cache is the task's cache policy, nil when its results are not
	// cached in this run.
	Cache          *CachePolicy `json:"cache,omitempty"`
	CachePrefix    string       `json:"cache_prefix,omitempty"`
	CacheOverwrite bool         `json:"cache_overwrite,omitempty"`
	// Secrets are the names the task declared; the worker resolves them.
	Secrets    []plugin.SecretRequest `json:"secrets,omitempty"`
	EnableDeck bool                   `json:"enable_deck,omitempty"`
	DeckFields []string               `json:"deck_fields,omitempty"`
	// DataPrefix is the run's directory in the data store;
	// PrevCheckpoint the checkpoint of the task's latest earlier attempt
	// ("" for none).
	DataPrefix     string      `json:"data_prefix"`
	PrevCheckpoint string      `json:"prev_checkpoint,omitempty"`
	Mode           plugin.Mode `json:"mode"`
	// PluginDigests, for an eager task, are the digests of the run's
	// plugins (RunInput.Plugins) by name: the worker refuses a task the
	// eager task runs whose plugin binary differs (ErrDigestMismatch).
	// A plugin not in it is not checked. Workflows of earlier builds do
	// not send it (nothing is checked then).
	PluginDigests map[string]string `json:"plugin_digests,omitempty"`
}

// CachePolicy is a task's cache policy (engine.CachePolicy as data).
type CachePolicy struct {
	Version string   `json:"version"`
	Ignore  []string `json:"ignore,omitempty"`
}

// TaskOutput is what a task's activity returns when the attempt
// succeeded.
type TaskOutput struct {
	// Outputs are the task's outputs as JSON (files as data-store URIs),
	// checked against the task's schema; OutputsRef is their data-store
	// URI instead when they are larger than InlineLimit. The workflow
	// reads such outputs (ActivityLoadPart, in parts) only when an
	// expression of the run evaluates them; a plain reference passes the
	// URI on (TaskInput.InputRefs, the record's OutputRefs).
	Outputs    json.RawMessage `json:"outputs,omitempty"`
	OutputsRef string          `json:"outputs_ref,omitempty"`
	// Cache is "hit", "miss", "overwrite" or "" as in a local record.
	Cache    string `json:"cache,omitempty"`
	CacheKey string `json:"cache_key,omitempty"`
	// Worker is the identity of the worker that ran the attempt and
	// WorkDir the working directory it used there.
	Worker  string `json:"worker"`
	WorkDir string `json:"work_dir,omitempty"`
	// Checkpoint is the data-store URI of the checkpoint the attempt
	// wrote, "" for none.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Deck is the data-store URI of the task's deck page, Logs of its
	// task log.
	Deck string `json:"deck,omitempty"`
	Logs string `json:"logs,omitempty"`
	// Dynamic is set for a dynamic task: the workflow source it
	// returned and the schemas of the plugins it uses, which the
	// workflow compiles (engine.DynamicGraph) and runs.
	Dynamic *DynamicWorkflow `json:"dynamic,omitempty"`
	// Children are the calls an eager task made ("<n> <plugin.task>
	// <status>"), in the order they ended.
	Children []string `json:"children,omitempty"`
	// Nested are the records of those calls (engine.TaskCallResult.Nested).
	Nested []sandbox.TaskRecord `json:"nested,omitempty"`
	Start  time.Time            `json:"start"`
	End    time.Time            `json:"end"`
	// Metrics are the task's own metrics for this attempt. The engine's
	// (the engine.Metric* constants) are no longer sent (outputs of
	// earlier builds have them): they say again what Start, End and Cache
	// say, and no workflow reads them.
	Metrics []plugin.Metric `json:"metrics,omitempty"`
}

// DynamicWorkflow is a dynamic task's workflow, with what compiling it
// needs.
type DynamicWorkflow struct {
	Source  string               `json:"source"`
	Plugins map[string]PluginRef `json:"plugins"`
}

// TaskFailure is the details of an activity's ErrTaskFailed or
// ErrDigestMismatch failure. Message is redacted by the worker.
type TaskFailure struct {
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
	// Kind is "task" (the task's own error), "process" (its plugin
	// crashed), "timeout", "secret" (a secret could not be resolved),
	// "outputs" (invalid outputs) or "digest".
	Kind        string              `json:"kind"`
	Diagnostics []plugin.Diagnostic `json:"diagnostics,omitempty"`
	// Stderr is the tail of the plugin's stderr when it crashed.
	Stderr     string    `json:"stderr,omitempty"`
	Worker     string    `json:"worker"`
	WorkDir    string    `json:"work_dir,omitempty"`
	Checkpoint string    `json:"checkpoint,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	// Deck and Logs are the data-store URIs of the attempt's deck page
	// and task log, as in TaskOutput; Metrics its metrics.
	Deck    string          `json:"deck,omitempty"`
	Logs    string          `json:"logs,omitempty"`
	Metrics []plugin.Metric `json:"metrics,omitempty"`
	// Nested are the records of the calls an eager task made before it
	// failed.
	Nested []sandbox.TaskRecord `json:"nested,omitempty"`
}
