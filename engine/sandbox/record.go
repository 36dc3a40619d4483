package sandbox

// Run records: what a run did, kept in its directory so that `goflyte runs`
// can show it and `goflyte run --resume` can continue it.
//
// Layout of a recorded run, beside the tasks/ directory of sandbox.go:
//
//	<run>/record.json          the Record; replaced atomically (temp file + rename)
//	<run>/events.jsonl         while the run is going: one TaskRecord per line
//	<run>/lock                 locked by the recording process for the whole run
//	<run>/outputs/<node>.json  task outputs larger than MaxInlineOutputs
//
// A Recorder writes record.json once at the start (status running, every
// task as the caller gave it) and once at the end. In between, each task
// update appends one line to events.jsonl, so a run of n tasks costs O(n)
// writes, not the O(n²) of rewriting the record on every event. A reader
// replays the lines over record.json. The lock (flock on unix) is how a
// reader tells a live run from one whose process died: the kernel releases
// it when the process exits, however it exits.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Run and task statuses as stored in a [Record] and a [TaskRecord].
const (
	StatusPending   = "pending"   // tasks only: not started yet
	StatusRunning   = "running"   // the run or task is going
	StatusSucceeded = "succeeded" //
	StatusFailed    = "failed"    //
	StatusSkipped   = "skipped"   // tasks only: not run because an upstream task failed
	StatusCancelled = "cancelled" //
	// StatusInterrupted is never written by a Recorder. [Sandbox.LoadRecord]
	// and [Sandbox.ListRecords] report it for a run whose record still says
	// running but whose process is gone (killed, crashed, or its Recorder
	// closed without Finish), and for the tasks that were running in it;
	// [Sandbox.Sweep] writes it into such a record for good.
	StatusInterrupted = "interrupted"
)

// Cache outcomes of a task, as stored in TaskRecord.Cache. "" means the task
// is not cacheable.
const (
	CacheHit       = "hit"
	CacheMiss      = "miss"
	CacheOverwrite = "overwrite" // ran and replaced the entry (local.cache_overwrite)
	CacheOff       = "off"       // cacheable, but the cache was disabled for the run
)

// MaxInlineOutputs is the largest task output, in bytes of JSON, that a
// record holds inline. Larger outputs are written to outputs/<node>.json in
// the run's directory and TaskRecord.OutputsFile points at them.
const MaxInlineOutputs = 64 << 10

// File names in a run's directory.
const (
	recordFile = "record.json"
	eventsFile = "events.jsonl"
	lockFile   = "lock"
	outputsDir = "outputs"
)

// Record is what a run did, as stored in <run dir>/record.json. It never
// holds a secret value: the engine redacts before it records.
//
// Tasks is the last field so that it is the last key in record.json:
// [Sandbox.ListRecords] stops reading there.
type Record struct {
	// ID is the execution id, "<project>:<domain>:<name>".
	ID string `json:"id"`
	// Name is the run's name, the name of its directory.
	Name string `json:"name"`
	// Workflow is the workflow's name, or "<plugin>.<task>" for a run of a
	// single task.
	Workflow string `json:"workflow"`
	// File is the absolute path of the workflow file, and FileDigest the
	// engine's digest of its content ("" for a single-task run).
	File       string `json:"file,omitempty"`
	FileDigest string `json:"file_digest,omitempty"`
	Mode       string `json:"mode"`
	// Inputs are the run's inputs as JSON, by name.
	Inputs       map[string]json.RawMessage `json:"inputs"`
	ConfigDigest string                     `json:"config_digest"`
	// Status is StatusRunning, StatusSucceeded, StatusFailed or
	// StatusCancelled; loading derives StatusInterrupted.
	Status string    `json:"status"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"` // zero while running and when interrupted
	// PID is the process that recorded the run (set by the Recorder when 0).
	PID     int                        `json:"pid"`
	Outputs map[string]json.RawMessage `json:"outputs,omitempty"`
	Error   string                     `json:"error,omitempty"`
	// ResumedFrom is the execution id of the run this one resumed.
	ResumedFrom string `json:"resumed_from,omitempty"`
	// Deck is the run's deck index page, relative to the run's directory
	// and slash-separated; "" when no task had decks.
	Deck string `json:"deck,omitempty"`
	// WholeRecord is set in a remote run's record that is too large to
	// travel through Temporal whole (thousands of tasks): its tasks then
	// keep only their name, task, status, attempts, times, cache outcome,
	// error and instances, and WholeRecord is the data-store URI of the
	// whole record (JSON).
	WholeRecord string `json:"whole_record,omitempty"`
	// OutputRefs are a remote run's outputs that are too large to travel
	// in its record, by name: where each one's JSON is in the data store
	// (remote.LoadWholeRecord reads them into Outputs).
	OutputRefs map[string]ValueRef `json:"output_refs,omitempty"`
	// TaskCounts counts Tasks by status. Writing a record sets it, so
	// that listing a finished run can show counts from the record's head;
	// loading with tasks counts them afresh, and ListRecords leaves it nil
	// for a running or interrupted run (its head has its start's counts).
	TaskCounts map[string]int `json:"task_counts,omitempty"`
	// Tasks are the workflow's tasks in declaration order. ListRecords
	// leaves it nil.
	Tasks []TaskRecord `json:"tasks"`
}

// TaskRecord is one task (node) of a recorded run.
type TaskRecord struct {
	// Name is the node's name, unique in the run.
	Name string `json:"name"`
	// Task is the plugin task it runs, "<plugin>.<task>".
	Task string `json:"task"`
	// Status is StatusPending, StatusRunning, StatusSucceeded,
	// StatusFailed, StatusSkipped or StatusCancelled; loading derives
	// StatusInterrupted.
	Status   string    `json:"status"`
	Attempts int       `json:"attempts,omitempty"`
	Start    time.Time `json:"start,omitzero"` // zero: not started
	End      time.Time `json:"end,omitzero"`   // zero: not ended
	// Cache is CacheHit, CacheMiss, CacheOverwrite, CacheOff, or "" for a
	// task that is not cacheable.
	Cache    string `json:"cache,omitempty"`
	CacheKey string `json:"cache_key,omitempty"`
	// Outputs are the task's outputs as JSON. Outputs larger than
	// MaxInlineOutputs are moved by the Recorder to a file whose path,
	// relative to the run's directory and slash-separated, is OutputsFile.
	// Use [Record.TaskOutputs] to read either.
	Outputs     json.RawMessage `json:"outputs,omitempty"`
	OutputsFile string          `json:"outputs_file,omitempty"`
	// OutputsRef, in a remote run's record, is the data-store URI of the
	// task's outputs (JSON) when its run's workflow held them by
	// reference, never reading them (they are larger than the inline
	// limit and only passed on): Outputs is then empty.
	OutputsRef string `json:"outputs_ref,omitempty"`
	// OutputsRedacted says that secret values in Outputs were replaced
	// with "***": the outputs are for reading, and a resume runs the task
	// again rather than reuse them.
	OutputsRedacted bool   `json:"outputs_redacted,omitempty"`
	Error           string `json:"error,omitempty"`
	// Stderr is the tail of the plugin's stderr when the plugin crashed.
	Stderr  string `json:"stderr,omitempty"`
	WorkDir string `json:"work_dir,omitempty"`
	// InputsDigest is the engine's digest of the task's evaluated inputs;
	// resume compares it.
	InputsDigest string `json:"inputs_digest,omitempty"`
	// Deps are the tasks this one waits for (for `runs show`'s tree).
	Deps []string `json:"deps,omitempty"`
	// Digest is the digest of the task's definition in the workflow file;
	// resume refuses to reuse the outputs of a task whose definition
	// changed.
	Digest string `json:"digest,omitempty"`
	// CacheReason says why a cached task missed (goflyte run --explain).
	CacheReason string `json:"cache_reason,omitempty"`
	// Resumed marks a task whose outputs were kept from the run this one
	// resumed; it did not run again.
	Resumed bool `json:"resumed,omitempty"`
	// AttemptErrors are the errors of the attempts that were retried, in
	// order (the last attempt's error, if it failed, is Error).
	AttemptErrors []string `json:"attempt_errors,omitempty"`
	// AttemptTimes are when each attempt that ran started and ended, in
	// order: attempt i (from 0) failed with AttemptErrors[i] when i <
	// len(AttemptErrors), and the last one has the task's outcome. Empty
	// for a task that did not call its plugin (a cache hit, a resumed
	// task, a for_each or sub-workflow node) and in records written
	// before it existed; [TaskRecord.AttemptSpans] falls back to Start
	// and End then.
	AttemptTimes []AttemptTime `json:"attempt_times,omitempty"`
	// Instances counts the instances of a task with for_each;
	// FailedInstances lists those that failed, as "<key>: <error>".
	Instances       int      `json:"instances,omitempty"`
	FailedInstances []string `json:"failed_instances,omitempty"`
	// Children are the tasks an eager task ran through the engine:
	// "<n> <plugin.task> <status>".
	Children []string `json:"children,omitempty"`
	// LogFile is the file that holds the task's log lines, relative to
	// the run's directory and slash-separated: the run's [TaskLogFile]
	// ("logs.jsonl"; in records written before it, the latest attempt's
	// own file, "logs/<node>[.<n>].log"); "" when it logged nothing. The
	// logs of every attempt, instance and child are listed by
	// [ListTaskLogs].
	LogFile string `json:"log_file,omitempty"`
	// LogURIs are, in a remote run's record, the data-store URIs of the
	// task's logs (remote.TaskOutput.Logs, and the logs of failed
	// attempts): every attempt of the task, in the order they ran; those
	// of its for_each instances and of the tasks run below it are in
	// their Nested records. Each holds JSON lines, one [LogLine] each, as
	// a local task log does. `goflyte runs logs --remote` reads them.
	LogURIs []string `json:"log_uris,omitempty"`
	// Deck is the task's deck page, relative to the run's directory and
	// slash-separated; "" when it has none.
	Deck string `json:"deck,omitempty"`
	// Nested are, in a remote run's record, the calls made below the task,
	// in the order they started: its for_each instances ("t@2"), the
	// tasks of the sub-workflow or dynamic workflow it ran ("t+split",
	// "t@2+split") and an eager task's children ("t+1+upper"), each with
	// its name, task, status, attempts, times, cache outcome, error and
	// log URIs (no outputs). They are what a local run shows as progress
	// lines and keeps as task logs. A record holds at most a bounded
	// number of ended nested calls (the latest ones); NestedOmitted
	// counts those it left out.
	Nested        []TaskRecord `json:"nested,omitempty"`
	NestedOmitted int          `json:"nested_omitted,omitempty"`
	// Metrics are the task's counters, gauges and timers and the engine's
	// metrics of it (names starting "engine."), sorted by name and tags.
	Metrics []Metric `json:"metrics,omitempty"`
}

// AttemptTime is when one attempt of a task ran. End is zero while it runs.
type AttemptTime struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// AttemptSpan is one attempt of a task as [TaskRecord.AttemptSpans] reads
// it from the record: its number (from 1), when it ran, and how it ended.
type AttemptSpan struct {
	Attempt    int
	Start, End time.Time // End is zero while the attempt runs
	// Status is StatusFailed for an attempt that was retried, and the
	// task's status for its last attempt.
	Status string
	// Error is a retried attempt's error, or the task's for the last.
	Error string
}

// AttemptSpans returns the attempts of the task that ran, in order: one
// per AttemptTimes, or, for a record without them (an older record, a
// cache hit, a for_each node), one span from Start to End numbered
// Attempts (at least 1). While the task runs after a retry, a last span
// from the previous attempt's end stands for the attempt under way (the
// backoff wait included). It returns nil for a task that never started.
func (t *TaskRecord) AttemptSpans() []AttemptSpan {
	if len(t.AttemptTimes) == 0 {
		if t.Start.IsZero() {
			return nil
		}
		return []AttemptSpan{{Attempt: max(t.Attempts, 1), Start: t.Start, End: t.End, Status: t.Status, Error: t.Error}}
	}
	spans := make([]AttemptSpan, len(t.AttemptTimes))
	last := len(t.AttemptTimes) - 1
	for i, at := range t.AttemptTimes {
		sp := AttemptSpan{Attempt: i + 1, Start: at.Start, End: at.End}
		switch {
		case i < len(t.AttemptErrors):
			sp.Status, sp.Error = StatusFailed, t.AttemptErrors[i]
		case i == last:
			sp.Status, sp.Error = t.Status, t.Error
		default: // a retried attempt whose error is missing: still failed
			sp.Status = StatusFailed
		}
		spans[i] = sp
	}
	if t.Status == StatusRunning && len(t.AttemptErrors) >= len(t.AttemptTimes) {
		// Every recorded attempt was retried and the task goes on: the
		// next attempt is waiting out its backoff or running, and is
		// recorded when it ends. It is shown from the previous end.
		spans = append(spans, AttemptSpan{Attempt: len(spans) + 1, Start: t.AttemptTimes[last].End, Status: StatusRunning})
	}
	return spans
}

// Metric is one series of a task's metrics (a name and a set of tags),
// aggregated over the task's execution: plugin.Metric as recorded.
type Metric struct {
	Name string `json:"name"`
	// Kind is "counter", "gauge" or "timer".
	Kind string            `json:"kind"`
	Tags map[string]string `json:"tags,omitempty"`
	// Value is a counter's sum, a gauge's last value or a timer's total in
	// milliseconds; Count is the number of samples.
	Value float64 `json:"value"`
	Count int64   `json:"count"`
	// Min and Max are a timer's extremes in milliseconds.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
}

// RunDir returns the directory of the run with the given name. It does not
// check the name: use it only with names that came from this package.
func (s Sandbox) RunDir(name string) string {
	return filepath.Join(s.Root, "runs", name)
}

// A Recorder writes a run's record as the run goes. Its methods are safe for
// concurrent use. Updates of one task must not be concurrent with each
// other (the last line appended wins).
type Recorder struct {
	dir   string
	name  string
	nodes map[string]bool

	mu     sync.Mutex
	events *os.File
	size   int64 // of events.jsonl up to the last whole line
	lock   io.Closer
	done   bool
	outDir sync.Once
	outErr error
}

// errRecorderClosed is returned by a Recorder used after Finish or Close.
var errRecorderClosed = errors.New("recorder is closed")

// StartRecord starts recording the run: it locks the run for this process,
// then writes record.json with rec, which must have Status StatusRunning
// (or "", taken as running) and list every task of the run, in
// declaration order, usually StatusPending. For a resumed run the tasks
// that keep their recorded outputs can be given as succeeded, with their
// outputs inline (read them with [Record.TaskOutputs] from the old run).
// rec.Name must be "" or r.Name; PID 0 becomes this process's. rec is not
// modified and may be reused by the caller.
//
// It fails with an error wrapping fs.ErrExist if the run already has a
// record. The caller must end the Recorder with Finish or Close; a process
// that exits without either leaves a record that loads as interrupted.
func (r *Run) StartRecord(rec *Record) (*Recorder, error) {
	cp := *rec
	if cp.Name == "" {
		cp.Name = r.Name
	}
	if cp.Name != r.Name {
		return nil, fmt.Errorf("start record of run %q: record names run %q", r.Name, cp.Name)
	}
	if cp.Status == "" {
		cp.Status = StatusRunning
	}
	if cp.Status != StatusRunning {
		return nil, fmt.Errorf("start record of run %q: status is %q, want %q", r.Name, cp.Status, StatusRunning)
	}
	if cp.PID == 0 {
		cp.PID = os.Getpid()
	}
	rc := &Recorder{dir: r.Dir, name: r.Name, nodes: make(map[string]bool, len(cp.Tasks))}
	for _, t := range cp.Tasks {
		if err := checkName(t.Name); err != nil {
			return nil, fmt.Errorf("start record of run %q: task: %w", r.Name, err)
		}
		if rc.nodes[t.Name] {
			return nil, fmt.Errorf("start record of run %q: task %q is listed twice", r.Name, t.Name)
		}
		rc.nodes[t.Name] = true
	}

	lock, err := lockRun(filepath.Join(r.Dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("start record of run %q: %w", r.Name, err)
	}
	fail := func(err error) (*Recorder, error) {
		lock.Close()
		return nil, fmt.Errorf("start record of run %q: %w", r.Name, err)
	}
	if _, err := os.Lstat(filepath.Join(r.Dir, recordFile)); err == nil {
		return fail(fmt.Errorf("record: %w", fs.ErrExist))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if cp.Tasks, err = rc.spillAll(cp.Tasks); err != nil {
		return fail(err)
	}
	// The events file exists before record.json says running, so a reader
	// that sees running finds it.
	events, err := os.OpenFile(filepath.Join(r.Dir, eventsFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	if err := writeRecordAtomic(r.Dir, &cp, false); err != nil {
		events.Close()
		os.Remove(events.Name())
		return fail(err)
	}
	rc.events = events
	rc.lock = lock
	return rc, nil
}

// Task records the current state of one task. t is the task's whole state,
// not a change: on load it replaces what was recorded for t.Name before.
// t.Name must be one of the tasks given to StartRecord. Outputs larger than
// MaxInlineOutputs are written to outputs/<node>.json and t.OutputsFile
// set in the record (t itself is a copy and is not changed).
//
// Task appends one line to events.jsonl with a single write and no fsync:
// it survives the process being killed, not the machine losing power. If
// the write fails, Task truncates the partial line away and returns the
// error; the record stays readable.
func (rc *Recorder) Task(t TaskRecord) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := rc.appendLine(buf, &t); err != nil {
		return err
	}
	return rc.writeLines(buf, t.Name)
}

// Tasks records the current states of several tasks, in order, as Task
// records each, but in a single write: the engine records a task that
// finished and the one it lets start in one line pair. If a state cannot
// be recorded (not a task of the run, or its outputs cannot be spilled)
// nothing is written.
func (rc *Recorder) Tasks(ts []TaskRecord) error {
	if len(ts) == 0 {
		return nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	for i := range ts {
		if err := rc.appendLine(buf, &ts[i]); err != nil {
			return err
		}
	}
	return rc.writeLines(buf, ts[0].Name)
}

// appendLine appends t's events line to buf, spilling large outputs
// (from a copy of t: t is not changed).
func (rc *Recorder) appendLine(buf *bytes.Buffer, t *TaskRecord) error {
	if !rc.nodes[t.Name] {
		return fmt.Errorf("record task %q of run %q: not a task of the run", t.Name, rc.name)
	}
	if len(t.Outputs) > MaxInlineOutputs {
		cp := *t
		if err := rc.spill(&cp); err != nil {
			return fmt.Errorf("record task %q of run %q: %w", t.Name, rc.name, err)
		}
		t = &cp
	}
	if err := encodeTaskLine(buf, t); err != nil {
		return fmt.Errorf("record task %q of run %q: %w", t.Name, rc.name, err)
	}
	return nil
}

// writeLines appends buf's whole lines to events.jsonl in one write; task
// names the (first) task in errors.
func (rc *Recorder) writeLines(buf *bytes.Buffer, task string) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.done {
		return fmt.Errorf("record task %q of run %q: %w", task, rc.name, errRecorderClosed)
	}
	n, err := rc.events.Write(buf.Bytes())
	if err != nil {
		// Keep the file a sequence of whole lines: a fragment would glue
		// onto the next line and corrupt it.
		if n > 0 {
			if terr := rc.events.Truncate(rc.size); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		return fmt.Errorf("record task %q of run %q: %w", task, rc.name, err)
	}
	rc.size += int64(n)
	return nil
}

// Finish writes rec as the run's final record, replacing record.json
// atomically and durably (fsync before rename), then removes events.jsonl
// and releases the run. rec.Status must be StatusSucceeded, StatusFailed or
// StatusCancelled, and rec.Tasks must hold every task's final state (the
// events are not merged in). Large inline outputs are spilled as in Task.
// rec is not modified.
//
// If Finish fails, the Recorder stays open and the record keeps its running
// state: call Close (the run will load as interrupted) or Finish again.
func (rc *Recorder) Finish(rec *Record) error {
	cp := *rec
	if cp.Name == "" {
		cp.Name = rc.name
	}
	if cp.Name != rc.name {
		return fmt.Errorf("finish record of run %q: record names run %q", rc.name, cp.Name)
	}
	switch cp.Status {
	case StatusSucceeded, StatusFailed, StatusCancelled:
	default:
		return fmt.Errorf("finish record of run %q: status %q is not final", rc.name, cp.Status)
	}
	if cp.PID == 0 {
		cp.PID = os.Getpid()
	}
	for _, t := range cp.Tasks {
		if err := checkName(t.Name); err != nil {
			return fmt.Errorf("finish record of run %q: task: %w", rc.name, err)
		}
	}
	tasks, err := rc.spillAll(cp.Tasks)
	if err != nil {
		return fmt.Errorf("finish record of run %q: %w", rc.name, err)
	}
	cp.Tasks = tasks

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.done {
		return fmt.Errorf("finish record of run %q: %w", rc.name, errRecorderClosed)
	}
	if err := writeRecordAtomic(rc.dir, &cp, true); err != nil {
		return fmt.Errorf("finish record of run %q: %w", rc.name, err)
	}
	// The record is final: from here on, errors only leave files that no
	// reader looks at (events are replayed only over a running record), so
	// they are ignored.
	rc.release()
	_ = os.Remove(filepath.Join(rc.dir, eventsFile))
	return nil
}

// Close releases the run without finishing its record, which then loads
// as interrupted. It is for errors and tests; after Finish it does nothing.
func (rc *Recorder) Close() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.done {
		return nil
	}
	return rc.release()
}

// release closes the events file and unlocks the run. rc.mu is held.
func (rc *Recorder) release() error {
	rc.done = true
	err := rc.events.Close()
	if lerr := rc.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close record of run %q: %w", rc.name, err)
	}
	return nil
}

// spill moves t's outputs to a file if they are too large to keep inline.
func (rc *Recorder) spill(t *TaskRecord) error {
	if len(t.Outputs) <= MaxInlineOutputs {
		return nil
	}
	rc.outDir.Do(func() { rc.outErr = os.Mkdir(filepath.Join(rc.dir, outputsDir), 0o700) })
	if rc.outErr != nil && !errors.Is(rc.outErr, fs.ErrExist) {
		return rc.outErr
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, t.Outputs); err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	name := t.Name + ".json"
	if err := writeFileAtomic(filepath.Join(rc.dir, outputsDir), name, buf.Bytes(), false); err != nil {
		return err
	}
	t.Outputs = nil
	t.OutputsFile = outputsDir + "/" + name
	return nil
}

// spillAll returns tasks with large outputs spilled, copying the slice only
// if something changes.
func (rc *Recorder) spillAll(tasks []TaskRecord) ([]TaskRecord, error) {
	copied := false
	for i := range tasks {
		if len(tasks[i].Outputs) <= MaxInlineOutputs {
			continue
		}
		if !copied {
			tasks = slices.Clone(tasks)
			copied = true
		}
		if err := rc.spill(&tasks[i]); err != nil {
			return nil, fmt.Errorf("task %q: %w", tasks[i].Name, err)
		}
	}
	return tasks, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encodeLine appends v as one line of JSON, with its newline.
func encodeLine(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // keep "<" and "&" in errors readable
	return enc.Encode(v)
}

// encodeRecord encodes rec with one task per line, so that record.json can
// be read with grep and diff while staying one JSON value.
func encodeRecord(rec *Record) ([]byte, error) {
	var buf bytes.Buffer
	err := encodeRecordTo(&buf, rec)
	return buf.Bytes(), err
}

// recordChunk is how much of a record encodeRecordTo encodes before it
// writes it out.
const recordChunk = 32 << 10

// encodeRecordTo writes rec to w as encodeRecord encodes it, a chunk at a
// time: a record of 10,000 tasks is megabytes, and holding it whole
// meant fresh memory for each record written (issue 17).
func encodeRecordTo(w io.Writer, rec *Record) error {
	head := *rec
	head.TaskCounts = countTasks(rec.Tasks)
	head.Tasks = []TaskRecord{}
	var buf bytes.Buffer
	if err := encodeLine(&buf, &head); err != nil {
		return err
	}
	const tail = `"tasks":[]}` + "\n"
	if !bytes.HasSuffix(buf.Bytes(), []byte(tail)) {
		// Cannot happen while Tasks is the last field; be correct anyway.
		buf.Reset()
		if err := encodeLine(&buf, rec); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	buf.Truncate(buf.Len() - len(tail))
	buf.WriteString(`"tasks":[`)
	for i := range rec.Tasks {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
		if err := encodeTaskLine(&buf, &rec.Tasks[i]); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // the newline
		if buf.Len() >= recordChunk {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	buf.WriteString("\n]}\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// writeRecordAtomic replaces dir/record.json with rec as writeFileAtomic
// replaces a file, encoding it on the way (encodeRecordTo).
func writeRecordAtomic(dir string, rec *Record, sync bool) error {
	return writeAtomic(dir, recordFile, sync, func(w io.Writer) error { return encodeRecordTo(w, rec) })
}

// writeFileAtomic replaces dir/name with data: readers see the old content
// or the new, never a part. With sync, the data is on disk before the
// rename.
func writeFileAtomic(dir, name string, data []byte, sync bool) error {
	return writeAtomic(dir, name, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic is writeFileAtomic with the content written by write.
func writeAtomic(dir, name string, sync bool, write func(io.Writer) error) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// LoadRecord loads the record of a run, given its name or its execution id
// ("<project>:<domain>:<name>", which must match the record's). If the run
// is going, the record holds every task update so far. If the record says
// running but no process holds the run (it was killed or crashed), Status
// is StatusInterrupted and so is every task that was running.
//
// A run without a record gives an error wrapping fs.ErrNotExist, as does an
// execution id whose project or domain differ from the record's. The
// returned Record belongs to the caller.
func (s Sandbox) LoadRecord(nameOrID string) (*Record, error) {
	name := nameOrID
	if strings.Contains(nameOrID, ":") {
		parts := strings.Split(nameOrID, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("load record: execution id %q is not <project>:<domain>:<name>", nameOrID)
		}
		name = parts[2]
	}
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("load record: %w", err)
	}
	rec, err := loadRecord(s.RunDir(name), true)
	if err != nil {
		return nil, fmt.Errorf("load record of run %q: %w", name, err)
	}
	if name != nameOrID && rec.ID != nameOrID {
		return nil, fmt.Errorf("load record: no run with execution id %q (run %q is %q): %w", nameOrID, name, rec.ID, fs.ErrNotExist)
	}
	return rec, nil
}

// HasRun reports whether the sandbox holds a run named name that has a
// record, as a run listed by ListRecords does. It is false for a name
// that is not a valid run name (it never looks outside the sandbox's
// runs) and for a run being deleted. It reads nothing but one stat.
func (s Sandbox) HasRun(name string) bool {
	if checkName(name) != nil || strings.HasPrefix(name, ".") {
		return false
	}
	_, err := os.Stat(filepath.Join(s.RunDir(name), recordFile))
	return err == nil
}

// ListRecords returns the records of all runs in the sandbox, newest
// (latest Start) first, without their tasks (Tasks is nil; use LoadRecord
// for one run's tasks), so that it reads only the head of each record.
// Status is derived as in LoadRecord.
//
// Run directories without a readable record (runs from before records, a
// run in the instant before its record is written, a damaged record) are
// left out; skipped has one error per such directory, naming it. err is
// non-nil only if the sandbox's runs cannot be listed at all; a sandbox
// without runs gives no records and no error.
func (s Sandbox) ListRecords() (recs []*Record, skipped []error, err error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list records: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || checkName(e.Name()) != nil || strings.HasPrefix(e.Name(), ".") {
			continue // "." names: runs being deleted
		}
		rec, err := loadRecord(s.RunDir(e.Name()), false)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("run %q: %w", e.Name(), err))
			continue
		}
		recs = append(recs, rec)
	}
	slices.SortFunc(recs, func(a, b *Record) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	return recs, skipped, nil
}

// loadRecord reads the record in dir, with its tasks (replaying the events
// of a running record) or only its head.
func loadRecord(dir string, withTasks bool) (*Record, error) {
	rec, err := loadRecordCounts(dir, withTasks)
	return withCounts(rec, withTasks), err
}

func loadRecordCounts(dir string, withTasks bool) (*Record, error) {
	// A Recorder that finishes while we read removes events.jsonl and the
	// lock after writing the final record.json; reading again then finds
	// the final record. Three tries are plenty: a record finishes once.
	var err error
	for range 3 {
		var rec *Record
		rec, err = readRecord(dir, withTasks)
		if err != nil || rec.Status != StatusRunning {
			return rec, err
		}
		held, release, perr := probeRun(filepath.Join(dir, lockFile))
		if perr != nil {
			return nil, perr
		}
		if !held {
			// Nobody records the run, and while we hold the lock nobody
			// can start to. Read again: it may have finished since.
			rec, err = readRecord(dir, withTasks)
			if err == nil && rec.Status == StatusRunning {
				if withTasks {
					err = replayEvents(dir, rec, true)
				}
				interrupt(rec)
			}
			release()
			return rec, err
		}
		if !withTasks {
			return rec, nil
		}
		err = replayEvents(dir, rec, false)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		// The events are gone: the run has just finished.
	}
	return nil, err
}

// withCounts sets rec's TaskCounts from its tasks when they are loaded; a
// head of a run that is going or was interrupted has the counts of its
// start, which are dropped.
func withCounts(rec *Record, withTasks bool) *Record {
	switch {
	case rec == nil:
	case withTasks:
		rec.TaskCounts = countTasks(rec.Tasks)
	case rec.Status == StatusRunning || rec.Status == StatusInterrupted:
		rec.TaskCounts = nil
	}
	return rec
}

// interrupt marks a dead run, and its running tasks, interrupted.
func interrupt(rec *Record) {
	rec.Status = StatusInterrupted
	for i := range rec.Tasks {
		if rec.Tasks[i].Status == StatusRunning {
			rec.Tasks[i].Status = StatusInterrupted
		}
	}
}

// readRecord reads record.json, all of it or up to its tasks.
func readRecord(dir string, withTasks bool) (*Record, error) {
	path := filepath.Join(dir, recordFile)
	var rec Record
	if withTasks {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		head, err := readHead(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := json.Unmarshal(head, &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rec.Tasks = nil
	}
	if rec.Name == "" || rec.Status == "" {
		return nil, fmt.Errorf("%s: not a run record", path)
	}
	return &rec, nil
}

// readHead returns the members of the JSON object in r that come before
// "tasks", as an object, reading no further than that.
func readHead(r io.Reader) ([]byte, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if key == "tasks" {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, v...)
	}
	return append(out, '}'), nil
}

// replayEvents applies the lines of events.jsonl to rec's tasks. A last
// line without its newline is a write cut short by the process dying and
// is ignored; any other line that does not decode is an error. With
// missingOK, a missing events file means no events.
func replayEvents(dir string, rec *Record, missingOK bool) error {
	path := filepath.Join(dir, eventsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if missingOK && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	index := make(map[string]int, len(rec.Tasks))
	for i, t := range rec.Tasks {
		index[t.Name] = i
	}
	_, _, err = decodeEvents(data, path, 1, func(t TaskRecord) {
		if j, ok := index[t.Name]; ok {
			rec.Tasks[j] = t
		} else {
			index[t.Name] = len(rec.Tasks)
			rec.Tasks = append(rec.Tasks, t)
		}
	})
	return err
}

// decodeEvents decodes the whole lines of events.jsonl in data, whose
// first line is line number first of the file at path, and passes each
// task update to apply. It returns how many bytes and lines it used: a
// last line without its newline (cut short, or still being written) is
// left for later. A line that does not decode is an error.
func decodeEvents(data []byte, path string, first int, apply func(TaskRecord)) (used, lines int, err error) {
	for len(data[used:]) > 0 {
		rest := data[used:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break // torn or unfinished last line
		}
		var t TaskRecord
		if err := json.Unmarshal(rest[:i], &t); err != nil {
			return used, lines, fmt.Errorf("%s:%d: %w", path, first+lines, err)
		}
		used += i + 1
		lines++
		apply(t)
	}
	return used, lines, nil
}

// TaskOutputs returns the outputs of the task named node, from the record
// or from the file they were spilled to; runDir is the run's directory
// ([Sandbox.RunDir] of rec.Name). A task without outputs gives nil.
func (rec *Record) TaskOutputs(runDir, node string) (json.RawMessage, error) {
	for i := range rec.Tasks {
		t := &rec.Tasks[i]
		if t.Name != node {
			continue
		}
		if t.OutputsFile == "" {
			return t.Outputs, nil
		}
		rel := filepath.FromSlash(t.OutputsFile)
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("outputs of task %q: file %q is outside the run directory", node, t.OutputsFile)
		}
		data, err := os.ReadFile(filepath.Join(runDir, rel))
		if err != nil {
			return nil, fmt.Errorf("outputs of task %q: %w", node, err)
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("outputs of task %q: %s is not valid JSON", node, t.OutputsFile)
		}
		return data, nil
	}
	return nil, fmt.Errorf("outputs of task %q: no such task in run %q", node, rec.Name)
}

// ValueRef is a value in a data store: the JSON at URI, or with Field
// the named attribute of the JSON object there.
type ValueRef struct {
	URI   string `json:"uri"`
	Field string `json:"field,omitempty"`
}
