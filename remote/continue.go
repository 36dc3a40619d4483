package remote

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/zclconf/go-cty/cty"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// Long runs: a Temporal history holds about 50,000 events, and a task
// activity costs about three to six in its workflow's. Big for_each
// fan-outs run in batches (batch.go); a run of many distinct tasks
// continues as new instead. When the history of a run's workflow passes
// RunInput.ContinueAfter events (ContinueAsNewAt) or grows by
// ContinueAsNewBytes from where its state was restored,
// its plan is held (engine.Plan.Hold: no node starts, the calls in
// flight and the for_each nodes running finish), and once nothing is in
// flight the workflow stores its state in the data store and continues
// as new: the same workflow id, a fresh history, an input that points at
// the state (RunInput.Continued). The next run loads the state, gives
// its plan the outputs of the nodes that succeeded as kept (as a resumed
// run's), and goes on; its record holds every task of the run, its query
// answers for the whole run.
//
// Nested graphs (sub-workflow calls, dynamic tasks' workflows) are held
// and carried too (continue_nested.go), so that one of thousands of
// distinct tasks of its own goes on as the run's graph does, and so are
// those of a for_each's instances, the for_each carried with the
// instances that ended; a batch of a big for_each's instances (batch.go)
// continues as new by itself the same way.

// errRestoring is QueryRecord's answer while a run that continued as new
// loads its state; remote.Record asks again.
var errRestoring = errors.New(ErrRestoring)

// ErrRestoring is the message of QueryRecord's failure while a run that
// continued as new restores its state: ask again in a moment.
const ErrRestoring = "the run continued as new and is restoring its state; ask again"

// ActivitySaveState is the local activity that stores a run's state in
// the data store when its workflow continues as new: its input a
// SaveState, its result the URIs of the parts (Continued.Parts), which
// ActivityLoadOutputs reads back.
const ActivitySaveState = "goflyte.save_state"

// ContinueAsNewAt is the default number of events in its history after
// which a run's workflow continues as new; ContinueAsNewBytes how much
// its history may grow after its state was restored before it does,
// whatever the count.
const (
	ContinueAsNewAt    = 10_000
	ContinueAsNewBytes = 10 << 20
)

// StatePartBytes is the most bytes of state in one part: a part comes
// back through a local activity, whose result is a payload.
const StatePartBytes = 512 << 10

// carriedState is the state in Continued.Parts.
type carriedState struct {
	// Tasks are the run's task records so far.
	Tasks []sandbox.TaskRecord `json:"tasks"`
	// Kept are the outputs of the run's nodes that succeeded, typed; a
	// task whose outputs came as a reference is in Refs instead (its
	// record without them).
	Kept map[string]map[string]typedValue `json:"kept,omitempty"`
	Refs map[string]string                `json:"refs,omitempty"`
	// Kept and Refs also hold the nodes of held nested graphs, keyed
	// "<prefix><node>"; Dynamic are the held dynamic tasks' workflows,
	// by their graphs' prefixes (continue_nested.go).
	Dynamic map[string]carriedDynamic `json:"dynamic,omitempty"`
	// Instances are the ended instances of the for_each nodes running
	// in held graphs, by "<prefix><node>" (continue_nested.go).
	Instances map[string][]carriedInstance `json:"instances,omitempty"`
	// Batch are the calls of a batch that ended, by index in the batch
	// (continue_nested.go); Tasks then hold, for each call, its nested
	// records, named after the call.
	Batch []carriedInstance `json:"batch,omitempty"`
}

// typedValue is a cty value as JSON with its type (a for_each's or a
// sub-workflow's outputs have types that only their values tell).
type typedValue struct {
	Type  string          `json:"t"`
	Value json.RawMessage `json:"v"`
}

// continueAt is the event count after which the run continues as new.
func (d *driver) continueAt() int {
	if d.in.ContinueAfter > 0 {
		return d.in.ContinueAfter
	}
	return ContinueAsNewAt
}

// maybeHold holds the run's plan once its history is long enough: the
// workflow continues as new when what is in flight has finished.
func (d *driver) maybeHold() {
	if d.inBatch {
		d.maybeHoldBatch()
		return
	}
	if d.continuing || d.cause != nil || d.top == nil || d.top.ended || d.top.firstErr != nil {
		return
	}
	// The bytes counted from where the run's state was restored, so that
	// a big state does not make every Temporal run continue at once (the
	// state takes a few events, but megabytes).
	info := workflow.GetInfo(d.root)
	if info.GetCurrentHistoryLength() < d.continueAt() && info.GetCurrentHistorySize()-d.baseBytes < ContinueAsNewBytes {
		return
	}
	d.continuing = true
	d.top.held = true
	d.top.plan.Hold()
	d.holdNested()
	d.top.maybeFinish()
}

// held reports whether the run stopped to continue as new: its plan was
// held and it has ended neither with a failure nor cancelled.
func (d *driver) held() bool {
	return d.continuing && d.top != nil && !d.top.ended
}

// continueAsNew stores the run's state and returns the error that
// continues the workflow as new with it.
func (d *driver) continueAsNew() error {
	// The records as the query answers them (all that a record shows).
	st := carriedState{Tasks: d.snapshot().Tasks, Kept: map[string]map[string]typedValue{}}
	if err := d.saveKept(&st, "", d.top.plan.Succeeded()); err != nil {
		return err
	}
	if err := d.saveNested(&st); err != nil {
		return err
	}
	runs := 0
	if d.in.Continued != nil {
		runs = d.in.Continued.Runs
	}
	parts, err := d.storeState(st, fmt.Sprintf("_continue/%d", runs+1))
	if err != nil {
		return err
	}
	if runs == 0 {
		// Listing shows the run's start, not its latest Temporal run's.
		if err := workflow.UpsertMemo(d.root, map[string]any{MemoStart: d.start}); err != nil {
			return err
		}
	}
	next := d.in
	next.Resume, next.ResumeRefs = nil, nil // kept in the state, with everything else that succeeded
	next.Continued = &Continued{Parts: parts, Runs: runs + 1, Start: d.start, Batches: d.batches, Served: sortedKeys(d.served)}
	return workflow.NewContinueAsNewError(d.root, WorkflowType, next)
}

// storeState stores st, compressed, under the run's data prefix at key
// (ActivitySaveState) and returns the URIs of its parts.
func (d *driver) storeState(st carriedState, key string) ([]string, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	// Compressed: the next run reads it back through its history (a
	// marker per part), and task records compress well.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	data = z.Bytes()
	lctx := workflow.WithLocalActivityOptions(d.root, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var parts []string
	save := SaveState{DataPrefix: d.in.DataPrefix, Key: key, Data: data}
	if err := workflow.ExecuteLocalActivity(lctx, ActivitySaveState, save).Get(d.root, &parts); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("continue the run as new: store its state: %v", unwrapActivity(err)), ErrRunFailed, nil)
	}
	return parts, nil
}

// saveKept adds to st the outputs of a held graph's nodes that
// succeeded, keyed "<prefix><node>": typed, or by reference when they
// came as one.
func (d *driver) saveKept(st *carriedState, prefix string, succeeded map[string]map[string]cty.Value) error {
	for name, outs := range succeeded {
		key := prefix + name
		if ref, ok := d.refs[key]; ok {
			if st.Refs == nil {
				st.Refs = map[string]string{}
			}
			st.Refs[key] = ref
			if prefix == "" {
				i := slices.IndexFunc(st.Tasks, func(t sandbox.TaskRecord) bool { return t.Name == name })
				st.Tasks[i].Outputs = nil // loaded again with the reference
			}
			continue
		}
		tv := make(map[string]typedValue, len(outs))
		for k, v := range outs {
			data, err := engine.ToJSON(v)
			if err != nil {
				return temporal.NewNonRetryableApplicationError(fmt.Sprintf("continue the run as new: output %q of %q: %v", k, key, err), ErrRunFailed, nil)
			}
			tv[k] = typedValue{Type: engine.TypeString(v.Type()), Value: data}
		}
		st.Kept[key] = tv
	}
	return nil
}

// typedOutputs decodes a kept node's outputs (key names it in errors).
func typedOutputs(key string, kept map[string]typedValue) (map[string]cty.Value, error) {
	outs := map[string]cty.Value{}
	for _, k := range sortedKeys(kept) {
		tv := kept[k]
		ty, err := engine.ParseType(tv.Type)
		if err == nil {
			outs[k], err = engine.FromJSON(tv.Value, ty)
		}
		if err != nil {
			return nil, fmt.Errorf("the run's state: output %q of %q: %v", k, key, err)
		}
	}
	return outs, nil
}

// restore loads the state an earlier Temporal run of the run left
// (in.Continued): the task records, and the outputs of the nodes that
// succeeded, which it returns as kept.
func (d *driver) restore(g *engine.Graph) (map[string]map[string]cty.Value, error) {
	c := d.in.Continued
	d.start, d.batches = c.Start, c.Batches
	for _, p := range c.Served {
		if d.served == nil {
			d.served = map[string]bool{}
		}
		d.served[p] = true
	}
	st, load, err := d.loadState(c.Parts)
	if err != nil {
		return nil, err
	}
	d.restored = map[string]bool{}
	// The nested calls' records live in d.nested, which snapshot reads.
	d.nested.restore(st.Tasks)
	for _, t := range st.Tasks {
		if rec := d.byName[t.Name]; rec != nil {
			*rec = t
			rec.Nested, rec.NestedOmitted = nil, 0
			if t.Status != sandbox.StatusPending && t.Status != sandbox.StatusRunning {
				d.restored[t.Name] = true
			}
		}
	}
	kept := map[string]map[string]cty.Value{}
	for _, name := range sortedKeys(st.Kept) {
		if prefix, _ := carriedKey(name); prefix != "" {
			continue // a nested graph's (restoreNested)
		}
		outs, err := typedOutputs(name, st.Kept[name])
		if err != nil {
			return nil, err
		}
		kept[name] = outs
	}
	defer func() { d.baseBytes = workflow.GetInfo(d.root).GetCurrentHistorySize() }()
	for _, name := range sortedKeys(st.Refs) {
		if prefix, _ := carriedKey(name); prefix != "" {
			continue
		}
		n := g.Node(name)
		if n == nil {
			return nil, fmt.Errorf("the run's state: no task %q", name)
		}
		if outs, ok := d.restoreRef(n, st.Refs[name]); ok {
			kept[name] = outs
			continue
		}
		raw, err := load(st.Refs[name])
		if err != nil {
			return nil, err
		}
		outs, err := engine.DecodeOutputs(n, raw)
		if err != nil {
			return nil, fmt.Errorf("the run's state: the outputs of %q: %v", name, err)
		}
		kept[name] = outs
		d.refs[name] = st.Refs[name]
		if t := d.byName[name]; t != nil {
			t.Outputs = raw
		}
	}
	if err := d.restoreNested(st, load); err != nil {
		return nil, err
	}
	return kept, nil
}

// loadState reads the state an earlier Temporal run stored in parts,
// and returns it with the function that reads a reference.
func (d *driver) loadState(parts []string) (*carriedState, func(string) (json.RawMessage, error), error) {
	// Disconnected: a cancel request that comes now cancels the run once
	// it is restored, with its whole record.
	lctx, _ := workflow.NewDisconnectedContext(d.root)
	lctx = workflow.WithLocalActivityOptions(lctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	load := func(uri string) (json.RawMessage, error) {
		var raw json.RawMessage
		if err := workflow.ExecuteLocalActivity(lctx, ActivityLoadOutputs, uri).Get(lctx, &raw); err != nil {
			return nil, fmt.Errorf("load the run's state from %s: %v", uri, unwrapActivity(err))
		}
		return raw, nil
	}
	var data []byte
	for _, uri := range parts {
		raw, err := load(uri)
		if err != nil {
			return nil, nil, err
		}
		var part []byte
		if err := json.Unmarshal(raw, &part); err != nil {
			return nil, nil, fmt.Errorf("the run's state at %s: %v", uri, err)
		}
		data = append(data, part...)
	}
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			data, err = io.ReadAll(zr)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("the run's state: %v", err)
		}
	}
	st := &carriedState{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, nil, fmt.Errorf("the run's state: %v", err)
	}
	return st, load, nil
}

// SplitState splits data into parts of at most StatePartBytes, each
// encoded as a JSON string of base64, as ActivitySaveState stores them.
func SplitState(data []byte) [][]byte {
	var parts [][]byte
	for len(data) > 0 || len(parts) == 0 {
		n := min(len(data), StatePartBytes)
		enc, _ := json.Marshal(data[:n]) // []byte: base64, never fails
		parts = append(parts, enc)
		data = data[n:]
	}
	return parts
}

// saveState is ActivitySaveState: it stores the state's parts under the
// run's data prefix and returns their URIs.
func (w *Worker) saveState(ctx context.Context, in SaveState) ([]string, error) {
	e := w.o.Engine
	if e.Storage == nil {
		return nil, fmt.Errorf("store the run's state: this worker has no data store")
	}
	st, err := e.Storage.Open(ctx, in.DataPrefix)
	if err != nil {
		return nil, fmt.Errorf("store the run's state: %w", err)
	}
	defer st.Close()
	if in.Whole {
		uri, err := engine.PutBytes(ctx, st, in.Key+".json", in.Data)
		if err != nil {
			return nil, fmt.Errorf("store the run's record: %w", err)
		}
		return []string{uri}, nil
	}
	var uris []string
	for i, part := range SplitState(in.Data) {
		uri, err := engine.PutBytes(ctx, st, fmt.Sprintf("%s/part-%d.json", in.Key, i), part)
		if err != nil {
			return nil, fmt.Errorf("store the run's state: %w", err)
		}
		uris = append(uris, uri)
	}
	return uris, nil
}
