package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Provider is what a plugin binary provides and what the engine calls.
// Implementations must be safe for concurrent use: the engine runs many
// tasks of one plugin at once over a single connection.
type Provider interface {
	// Describe reports the plugin's name, version and task schemas.
	Describe(ctx context.Context) (*Schema, error)
	// Execute runs one task. A task that ran and failed returns a
	// *TaskError; any other error is a transport or process failure.
	Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error)
}

// Schema describes a plugin binary and the tasks it serves.
type Schema struct {
	Name    string       `json:"name"`
	Version string       `json:"version"`
	Tasks   []TaskSchema `json:"tasks"`
	// LazyWorkingDirectory says the plugin makes an execution's working
	// directory itself when the engine asks it to
	// (Params.MakeWorkingDirectory): only when its task first uses it, so
	// that a task that never does costs no directory. The sdk sets it; a
	// plugin that does not gets the directory made by the engine.
	LazyWorkingDirectory bool `json:"lazy_working_directory,omitempty"`
}

// Task returns the schema of the named task.
func (s *Schema) Task(name string) (*TaskSchema, bool) {
	for i := range s.Tasks {
		if s.Tasks[i].Name == name {
			return &s.Tasks[i], true
		}
	}
	return nil, false
}

// TaskNames returns the names of all tasks in the order they were declared.
func (s *Schema) TaskNames() []string {
	names := make([]string, len(s.Tasks))
	for i, t := range s.Tasks {
		names[i] = t.Name
	}
	return names
}

// Kind says how the engine runs a task.
type Kind int32

// Task kinds. Plain tasks compute outputs from inputs; dynamic tasks return
// a sub-graph; eager tasks call other tasks through the host.
const (
	KindPlain Kind = iota
	KindDynamic
	KindEager
)

func (k Kind) String() string {
	switch k {
	case KindPlain:
		return "plain"
	case KindDynamic:
		return "dynamic"
	case KindEager:
		return "eager"
	}
	return fmt.Sprintf("Kind(%d)", int32(k))
}

// TaskSchema describes one task: its documentation and typed inputs and
// outputs.
type TaskSchema struct {
	Name    string  `json:"name"`
	Doc     string  `json:"doc,omitempty"`
	Kind    Kind    `json:"kind"`
	Inputs  []Field `json:"inputs"`
	Outputs []Field `json:"outputs"`
	// Secrets are secrets the task always needs; a workflow may declare
	// more for it.
	Secrets []SecretRequest `json:"secrets,omitempty"`
	// Cacheable marks a task whose results the engine may cache, keyed by
	// CacheVersion and the inputs. A workflow's cache settings win.
	Cacheable    bool   `json:"cacheable,omitempty"`
	CacheVersion string `json:"cache_version,omitempty"`
}

// SecretRequest names a secret. Group and Version may be empty.
type SecretRequest struct {
	Group   string `json:"group,omitempty"`
	Version string `json:"version,omitempty"`
	Key     string `json:"key"`
}

// String returns "group/key", "group/version/key" or "key".
func (r SecretRequest) String() string {
	var parts []string
	for _, p := range []string{r.Group, r.Version, r.Key} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// Secret is a resolved secret sent to a task: its name and exact bytes.
// Its String and GoString never show the value.
type Secret struct {
	SecretRequest
	Value []byte `json:"-"`
}

// GoString keeps the value out of %#v.
func (s Secret) GoString() string {
	return "plugin.Secret{" + s.SecretRequest.String() + " (value hidden)}"
}

// Format keeps the value out of every fmt verb.
func (s Secret) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "%s (value hidden)", s.SecretRequest.String())
}

// Input returns the named input field.
func (t *TaskSchema) Input(name string) (*Field, bool) { return findField(t.Inputs, name) }

// Output returns the named output field.
func (t *TaskSchema) Output(name string) (*Field, bool) { return findField(t.Outputs, name) }

func findField(fs []Field, name string) (*Field, bool) {
	for i := range fs {
		if fs[i].Name == name {
			return &fs[i], true
		}
	}
	return nil, false
}

// Field is one typed input or output. Type is an HCL type expression such
// as "string", "list(number)" or "object({name=string,size=number})".
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Doc  string `json:"doc,omitempty"`
	// Optional inputs may be left out; the task then sees its zero value.
	Optional bool `json:"optional,omitempty"`
}

// Mode is the execution mode a task runs in. The numbers are Flytekit's
// ExecutionState.Mode values.
type Mode int32

// Execution modes. goflyte runs the local ones.
const (
	ModeUnspecified               Mode = 0
	ModeTaskExecution             Mode = 1
	ModeLocalWorkflowExecution    Mode = 2
	ModeLocalTaskExecution        Mode = 3
	ModeDynamicTaskExecution      Mode = 4
	ModeEagerExecution            Mode = 5
	ModeEagerLocalExecution       Mode = 6
	ModeLocalDynamicTaskExecution Mode = 7
)

var modeNames = map[Mode]string{
	ModeUnspecified:               "UNSPECIFIED",
	ModeTaskExecution:             "TASK_EXECUTION",
	ModeLocalWorkflowExecution:    "LOCAL_WORKFLOW_EXECUTION",
	ModeLocalTaskExecution:        "LOCAL_TASK_EXECUTION",
	ModeDynamicTaskExecution:      "DYNAMIC_TASK_EXECUTION",
	ModeEagerExecution:            "EAGER_EXECUTION",
	ModeEagerLocalExecution:       "EAGER_LOCAL_EXECUTION",
	ModeLocalDynamicTaskExecution: "LOCAL_DYNAMIC_TASK_EXECUTION",
}

// String returns Flytekit's name for the mode, e.g. LOCAL_TASK_EXECUTION.
func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", int32(m))
}

// IsLocal reports whether m is one of the local execution modes, in which
// (as in Flytekit) secrets may also come from unprefixed env vars.
func (m Mode) IsLocal() bool {
	switch m {
	case ModeLocalWorkflowExecution, ModeLocalTaskExecution, ModeEagerLocalExecution, ModeLocalDynamicTaskExecution:
		return true
	}
	return false
}

// Params are the execution parameters of one task execution, Flytekit's
// current_context().
type Params struct {
	// ExecutionID is "<project>:<domain>:<name>", the same for every task
	// of a run.
	ExecutionID string
	// ExecutionDate is when the run started, the same for every task.
	ExecutionDate time.Time
	// WorkingDirectory is a fresh directory for this task execution.
	WorkingDirectory string
	Mode             Mode
	// TaskID is "<plugin>.<task>".
	TaskID string
	// Node is the task's name in the workflow ("" for a single-task run).
	Node string
	// Attempt counts from 1.
	Attempt int
	// LogLevel is the hclog level the plugin logs at ("debug", "info", ...).
	LogLevel string
	// CheckpointDir is where this attempt saves its checkpoint; "" when
	// checkpoints are off.
	CheckpointDir string
	// PrevCheckpointDir holds the checkpoint of the previous attempt (or of
	// the run this one resumes); "" when there is none.
	PrevCheckpointDir string
	// EnableDeck says whether the engine renders the task's decks.
	EnableDeck bool
	// TmpDir is a sandbox directory under which the task may make fresh
	// directories.
	TmpDir string
	// RawOutputPrefix is the URI of the run's data store.
	RawOutputPrefix string
	// StatsD is where the task sends metrics as they happen; nil when no
	// endpoint is configured.
	StatsD *StatsD
	// MakeWorkingDirectory says WorkingDirectory does not exist yet: the
	// plugin makes it (os.Mkdir, mode 0700, failing if it exists) before
	// its task first uses it. The engine sets it only for plugins whose
	// schema says LazyWorkingDirectory.
	MakeWorkingDirectory bool
}

// StatsD is a StatsD endpoint reached over UDP.
type StatsD struct {
	Host string
	Port int
	// DisableTags sends metrics without tags.
	DisableTags bool
	// Prefix is put before every metric name.
	Prefix string
}

// ExecuteRequest asks a plugin to run one task with evaluated inputs.
type ExecuteRequest struct {
	Task   string
	Inputs json.RawMessage // a JSON object keyed by input name
	Params Params
	// Secrets are the task's declared secrets, resolved by the engine.
	Secrets []Secret
	// CallID identifies the call for Tracker.Running; "" if not tracked.
	CallID string
	// Host, on the plugin side, runs other tasks for an eager task; nil
	// when the engine offers none. The engine sets it for in-process
	// providers; over gRPC it travels as a broker connection.
	Host Host `json:"-"`
}

// Host runs tasks for an eager task: the engine implements it, and a
// plugin reaches it through ExecuteRequest.Host. RunTask returns the
// task's outputs (a JSON object), or a *TaskError when the task failed.
type Host interface {
	RunTask(ctx context.Context, parentCallID, task string, inputs json.RawMessage) (json.RawMessage, error)
}

// Tracker is implemented by providers that can say whether a call is still
// running on the plugin's side after the host stopped waiting for it (a
// cancelled gRPC call returns at once, while the task may go on).
type Tracker interface {
	Running(ctx context.Context, callID string) (bool, error)
}

// ExecuteResult carries a task's outputs. Execute may return a result
// together with a *TaskError: its Decks and Metrics then still count, its
// Outputs and Workflow do not.
type ExecuteResult struct {
	Outputs json.RawMessage // a JSON object keyed by output name
	// Workflow is what a dynamic task returns instead of outputs: the HCL
	// source of a workflow whose outputs are the task's.
	Workflow string
	// Decks are the task's own report pages.
	Decks []Deck
	// Metrics are the task's counters, gauges and timers.
	Metrics []Metric
	// Workdir answers a request with Params.MakeWorkingDirectory: whether
	// the call made its working directory. The engine names the directory
	// in the run's record only if it exists; with WorkdirUnreported it
	// looks (a stat per call).
	Workdir WorkdirReport
}

// WorkdirReport is what a plugin says of a working directory the engine
// left it to make (Params.MakeWorkingDirectory).
type WorkdirReport int8

const (
	// WorkdirUnreported: the plugin does not say (a plugin built before
	// the report, a request that left it nothing to make, or a failed
	// mkdir).
	WorkdirUnreported WorkdirReport = iota
	// WorkdirNotMade: the task never used its working directory, which
	// does not exist.
	WorkdirNotMade
	// WorkdirMade: the call made the working directory.
	WorkdirMade
)

// String returns "unreported", "not made" or "made".
func (w WorkdirReport) String() string {
	switch w {
	case WorkdirNotMade:
		return "not made"
	case WorkdirMade:
		return "made"
	}
	return "unreported"
}

// Deck is a named page of a task's report, its blocks shown in order.
type Deck struct {
	Name   string      `json:"name"`
	Blocks []DeckBlock `json:"blocks"`
}

// DeckBlock is one block of a deck: exactly one field is set.
type DeckBlock struct {
	Markdown string     `json:"markdown,omitempty"`
	HTML     string     `json:"html,omitempty"`
	Table    *DeckTable `json:"table,omitempty"`
	Image    *DeckImage `json:"image,omitempty"`
}

// DeckTable is a table of text cells.
type DeckTable struct {
	Header []string   `json:"header,omitempty"`
	Rows   [][]string `json:"rows"`
}

// DeckImage is a PNG or SVG image.
type DeckImage struct {
	MIMEType string `json:"mime_type"` // image/png or image/svg+xml
	Data     []byte `json:"data"`
	Alt      string `json:"alt,omitempty"`
}

// MetricKind says how a metric's samples combine.
type MetricKind int32

// Metric kinds.
const (
	Counter MetricKind = iota
	Gauge
	Timer
)

func (k MetricKind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Timer:
		return "timer"
	}
	return fmt.Sprintf("MetricKind(%d)", int32(k))
}

// MarshalText writes the kind's name.
func (k MetricKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *MetricKind) UnmarshalText(b []byte) error {
	for _, c := range []MetricKind{Counter, Gauge, Timer} {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown metric kind %q", b)
}

// Metric is one series (a name and a set of tags) aggregated over a task
// execution.
type Metric struct {
	Name string            `json:"name"`
	Kind MetricKind        `json:"kind"`
	Tags map[string]string `json:"tags,omitempty"`
	// Value is a counter's sum, a gauge's last value or a timer's total in
	// milliseconds.
	Value float64 `json:"value"`
	// Count is the number of samples.
	Count int64 `json:"count"`
	// Min and Max are a timer's extremes in milliseconds.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
}

// Severity of a Diagnostic.
type Severity int32

// Diagnostic severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is a problem with one of a task's inputs, reported by the
// plugin. The engine points it at the input's source range.
type Diagnostic struct {
	Severity  Severity
	Summary   string
	Detail    string
	Attribute string
}

// TaskError is a task that ran and failed. It travels as data in the
// Execute response, so the engine can tell it from a broken plugin.
type TaskError struct {
	Message     string
	Retryable   bool
	Diagnostics []Diagnostic
}

func (e *TaskError) Error() string {
	if e.Message != "" || len(e.Diagnostics) == 0 {
		return e.Message
	}
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteString("; ")
		}
		if d.Attribute != "" {
			fmt.Fprintf(&b, "input %q: ", d.Attribute)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": " + d.Detail)
		}
	}
	return b.String()
}
