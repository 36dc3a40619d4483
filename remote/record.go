package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// Records of runs with thousands of tasks: a run's record travels
// through Temporal as a payload (its workflow's result, the details of
// its failure, the answer to QueryRecord), at most about 2 MB, and a
// task's entry takes several hundred bytes (digests, its working
// directory, log URIs, outputs). A record of more than RecordInlineTasks
// tasks, or larger than RecordInlineLimit, travels short: its tasks keep only what progress lines and `--json`
// show (name, task, status, attempts, times, cache outcome, error,
// instances). At the end of the run the workflow stores the whole
// record in the data store (ActivitySaveState) and its short record
// names it (sandbox.Record.WholeRecord); [LoadWholeRecord] reads it.

// RecordInlineLimit is the largest record, in bytes of JSON, that
// travels whole, and RecordInlineTasks the most tasks it may have (the
// bound saves encoding a large record to learn its size at every query).
const (
	RecordInlineLimit = 1 << 20
	RecordInlineTasks = 1000
)

// shortRecord returns rec as it may travel: rec itself when it is small
// enough, a copy with short task entries otherwise.
func shortRecord(rec *sandbox.Record) *sandbox.Record {
	if len(rec.Tasks) <= RecordInlineTasks {
		data, err := json.Marshal(rec)
		if err != nil || len(data) <= RecordInlineLimit {
			return rec
		}
	}
	short := *rec
	short.Tasks = make([]sandbox.TaskRecord, len(rec.Tasks))
	for i, t := range rec.Tasks {
		short.Tasks[i] = sandbox.TaskRecord{Name: t.Name, Task: t.Task, Status: t.Status, Attempts: t.Attempts, Start: t.Start, End: t.End,
			Cache: t.Cache, Error: t.Error, Resumed: t.Resumed, Instances: t.Instances}
	}
	return &short
}

// fitRecord returns the record the workflow ends with: short, naming
// the whole record it stored in the data store, when it is too large.
func (d *driver) fitRecord(rec *sandbox.Record) *sandbox.Record {
	short := shortRecord(rec)
	if short == rec {
		return rec
	}
	whole, err := json.Marshal(rec)
	if err != nil {
		return short
	}
	lctx := workflow.WithLocalActivityOptions(d.root, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var uris []string
	save := SaveState{DataPrefix: d.in.DataPrefix, Key: "_record", Data: whole, Whole: true}
	if err := workflow.ExecuteLocalActivity(lctx, ActivitySaveState, save).Get(d.root, &uris); err == nil && len(uris) == 1 {
		short.WholeRecord = uris[0]
	} else if err != nil {
		workflow.GetLogger(d.root).Warn("the run's whole record could not be stored; its record stays short", "error", err)
	}
	return short
}

// LoadWholeRecord returns the whole record of a short one
// (sandbox.Record.WholeRecord), read through fetch; rec itself when it
// is whole.
//
// It also reads the outputs that travel by reference (OutputRefs: large
// values) into Outputs.
func LoadWholeRecord(ctx context.Context, rec *sandbox.Record, fetch func(ctx context.Context, uri string) ([]byte, error)) (*sandbox.Record, error) {
	if rec != nil && len(rec.OutputRefs) > 0 {
		outs, err := resolveOutputRefs(ctx, maps.Clone(rec.Outputs), rec.OutputRefs, fetch)
		if err != nil {
			return nil, fmt.Errorf("the outputs of %s: %w", rec.ID, err)
		}
		c := *rec
		c.Outputs, c.OutputRefs = outs, nil
		rec = &c
	}
	if rec == nil || rec.WholeRecord == "" {
		return rec, nil
	}
	data, err := fetch(ctx, rec.WholeRecord)
	if err != nil {
		return nil, fmt.Errorf("the record of %s: %w", rec.ID, err)
	}
	var whole sandbox.Record
	if err := json.Unmarshal(data, &whole); err != nil {
		return nil, fmt.Errorf("the record of %s at %s: %w", rec.ID, rec.WholeRecord, err)
	}
	fillRecord(&whole, rec.ID)
	if len(whole.OutputRefs) > 0 || len(whole.Outputs) == 0 {
		whole.Outputs, whole.OutputRefs = rec.Outputs, nil
	}
	return &whole, nil
}

// ResolveTaskOutputs returns rec with the outputs of its tasks that the
// workflow held by reference (sandbox.TaskRecord.OutputsRef) read
// through fetch into their Outputs, as a local record has them; rec
// itself when it has none. `runs show --remote` and `run --remote` show
// the values, not where they are.
func ResolveTaskOutputs(ctx context.Context, rec *sandbox.Record, fetch func(ctx context.Context, uri string) ([]byte, error)) (*sandbox.Record, error) {
	if rec == nil || !slices.ContainsFunc(rec.Tasks, func(t sandbox.TaskRecord) bool { return t.OutputsRef != "" }) {
		return rec, nil
	}
	c := *rec
	c.Tasks = slices.Clone(rec.Tasks)
	for i := range c.Tasks {
		t := &c.Tasks[i]
		if t.OutputsRef == "" {
			continue
		}
		data, err := fetch(ctx, t.OutputsRef)
		if err != nil {
			return nil, fmt.Errorf("the outputs of task %q of %s: %w", t.Name, rec.ID, err)
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("the outputs of task %q of %s at %s are not JSON", t.Name, rec.ID, t.OutputsRef)
		}
		t.Outputs, t.OutputsRef = data, ""
	}
	return &c, nil
}
