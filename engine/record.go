package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// The engine writes a record of every run in the run's directory
// (engine/sandbox does the storage): what ran, how it ended, the outputs,
// the errors. Everything recorded passes through the redactor, so no
// secret value is ever stored.

// startRecord writes the run's record before any task starts.
func (x *execution) startRecord() error {
	e := x.engine
	rec := &sandbox.Record{
		ID:           x.res.ExecutionID,
		Name:         x.run.Name,
		Workflow:     x.graph.Name,
		FileDigest:   x.graph.FileDigest,
		Mode:         x.graph.Mode.String(),
		Inputs:       map[string]json.RawMessage{},
		ConfigDigest: e.configDigest(),
		Status:       sandbox.StatusRunning,
		Start:        x.res.Start,
		PID:          os.Getpid(),
		ResumedFrom:  x.resumedFrom,
	}
	if x.graph.File != "" {
		rec.File, _ = filepath.Abs(x.graph.File)
	}
	for name, v := range x.opts.Inputs {
		if data, err := ToJSON(v); err == nil {
			rec.Inputs[name] = json.RawMessage(e.Redact(string(data)))
		}
	}
	nodes := x.recordedNodes()
	rec.Tasks = make([]sandbox.TaskRecord, 0, len(nodes))
	for _, n := range nodes {
		rec.Tasks = append(rec.Tasks, x.taskRecord(n, x.tasks[n.Name]))
	}
	rc, err := x.run.StartRecord(rec)
	if err != nil {
		return err
	}
	x.record, x.recorder = rec, rc
	if x.opts.Started != nil {
		x.opts.Started(x.run.Name)
	}
	return nil
}

// recordTask records the current state of one task.
func (x *execution) recordTask(n *Node, tr *TaskRun) {
	if x.recorder == nil {
		return
	}
	t := x.taskRecord(n, tr)
	x.lineMu.Lock()
	defer x.lineMu.Unlock()
	if err := x.recorder.Task(t); err != nil {
		x.engine.warnOnce("record-task", "could not update the run record", "error", err)
	}
}

// recordTasks records the states of several tasks in one write.
func (x *execution) recordTasks(ts []sandbox.TaskRecord) {
	if x.recorder == nil {
		return
	}
	if err := x.recorder.Tasks(ts); err != nil {
		x.engine.warnOnce("record-task", "could not update the run record", "error", err)
	}
}

// finishRecord writes the final record.
func (x *execution) finishRecord() {
	if x.recorder == nil {
		return
	}
	e := x.engine
	rec := *x.record
	rec.Status = string(x.res.Status)
	rec.End = x.res.End
	nodes := x.recordedNodes()
	rec.Tasks = make([]sandbox.TaskRecord, 0, len(nodes))
	for _, n := range nodes {
		rec.Tasks = append(rec.Tasks, x.taskRecord(n, x.tasks[n.Name]))
	}
	if x.res.Err != nil {
		rec.Error = e.Redact(x.res.Err.Error())
	}
	rec.Deck = x.relRunPath(x.res.Deck)
	if len(x.res.Outputs) > 0 {
		rec.Outputs = map[string]json.RawMessage{}
		for name, v := range x.res.Outputs {
			if data, err := ToJSON(v); err == nil {
				rec.Outputs[name] = json.RawMessage(e.Redact(string(data)))
			}
		}
	}
	if err := x.recorder.Finish(&rec); err != nil {
		e.Logger.Warn("could not write the final run record; the run will show as interrupted", "error", err)
		_ = x.recorder.Close()
	}
}

func (x *execution) taskRecord(n *Node, tr *TaskRun) sandbox.TaskRecord {
	e := x.engine
	t := sandbox.TaskRecord{
		Name:        n.Name,
		Task:        n.TaskID(),
		Status:      string(tr.Status),
		Attempts:    tr.Attempts,
		Start:       tr.Start,
		End:         tr.End,
		Cache:       tr.Cache,
		CacheKey:    tr.CacheKey,
		CacheReason: tr.CacheReason,
		WorkDir:     tr.WorkDir,
		Deps:        n.Deps,
		Digest:      n.Digest,
		Resumed:     tr.Resumed,
		Deck:        x.relRunPath(tr.Deck),
	}
	t.Instances = tr.Instances
	if x.logs != nil {
		t.LogFile = x.logs.logs.File(x.prefix + n.Name)
	}
	t.Children = tr.Children
	if len(tr.FailedInstances) > 0 {
		t.FailedInstances = append([]string(nil), tr.FailedInstances...)
	}
	if len(tr.AttemptErrors) > 0 {
		t.AttemptErrors = append([]string(nil), tr.AttemptErrors...)
	}
	if len(tr.AttemptTimes) > 0 {
		t.AttemptTimes = slices.Clone(tr.AttemptTimes)
	}
	if e.cacheUsed(n) && tr.Cache == "" && tr.Status != StatusPending {
		t.Cache = sandbox.CacheOff
	}
	if len(tr.OutputsJSON) > 0 {
		out := e.Redact(string(tr.OutputsJSON))
		t.Outputs, t.OutputsRedacted = json.RawMessage(out), out != string(tr.OutputsJSON)
	}
	if tr.Err != nil {
		var te *TaskError
		if errors.As(tr.Err, &te) {
			t.Error = e.Redact(te.Err.Error())
		} else {
			t.Error = e.Redact(tr.Err.Error())
		}
		var pe *plugin.ProcessError
		if errors.As(tr.Err, &pe) {
			t.Stderr = e.Redact(pe.Stderr)
			t.Error = e.Redact(pe.Err.Error())
		}
	}
	if tr.inputsDigest != "" {
		t.InputsDigest = tr.inputsDigest
	}
	t.Metrics = x.recordedMetrics(tr)
	return t
}

// metricsMemo is a task's metrics as last recorded, and what they were
// made from: the version of its stats and the secrets known.
type metricsMemo struct {
	made    bool
	version uint64
	secrets *strings.Replacer
	ms      []sandbox.Metric
}

// recordedMetrics returns tr's metrics for its record: the last ones
// made, while its stats and the secrets known are the same. A task is
// recorded at least twice (its events line and record.json), and making
// them copies every series and its tags (issue 17). The result is shared:
// records only read it.
func (x *execution) recordedMetrics(tr *TaskRun) []sandbox.Metric {
	if tr.stats == nil {
		return nil
	}
	e := x.engine
	version, secrets := tr.stats.Version(), e.redactor.generation()
	if m := tr.recorded; m.made && m.version == version && m.secrets == secrets {
		return m.ms
	}
	ms := e.recordMetrics(tr.stats.Metrics())
	tr.recorded = metricsMemo{made: true, version: version, secrets: secrets, ms: ms}
	return ms
}

// recordMetrics converts metrics for the record. A plugin's metric names
// and tag values are its own text, so they are redacted like the rest.
// The result shares ms's tag maps where redacting changes none of their
// keys and values (the caller owns ms: TaskRun.Metrics copies them):
// every task record of a run copied them again (issue 17).
func (e *Engine) recordMetrics(ms []plugin.Metric) []sandbox.Metric {
	if len(ms) == 0 {
		return nil
	}
	out := make([]sandbox.Metric, len(ms))
	for i, m := range ms {
		out[i] = sandbox.Metric{Name: e.Redact(m.Name), Kind: m.Kind.String(), Value: m.Value, Count: m.Count, Min: m.Min, Max: m.Max}
		if len(m.Tags) > 0 {
			out[i].Tags = e.redactTags(m.Tags)
		}
	}
	return out
}

// redactTags returns tags with secret values redacted: tags itself when
// there is nothing to redact, else a redacted copy.
func (e *Engine) redactTags(tags map[string]string) map[string]string {
	clean := true
	for k, v := range tags {
		if e.Redact(k) != k || e.Redact(v) != v {
			clean = false
			break
		}
	}
	if clean {
		return tags
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[e.Redact(k)] = e.Redact(v)
	}
	return out
}

// configDigest identifies the effective configuration (secret-bearing
// settings masked), so that a record shows whether two runs had the same.
func (e *Engine) configDigest() string {
	var parts []string
	for _, s := range e.Config.Settings() {
		parts = append(parts, s.Name()+"="+s.Display)
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:])
}

// inputsDigest combines the digests of a task's inputs.
func inputsDigest(digests map[string]string) string {
	h := sha256.New()
	for _, name := range sortedKeys(digests) {
		h.Write([]byte(name + "=" + digests[name] + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// recordedNodes are the graph's nodes and its failure handler, if any.
func (x *execution) recordedNodes() []*Node {
	if x.graph.OnFailure == nil {
		return x.graph.Nodes
	}
	return append(append([]*Node(nil), x.graph.Nodes...), x.graph.OnFailure)
}
