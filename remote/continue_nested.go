package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// Nested graphs across continue-as-new. A sub-workflow call and a
// dynamic task's workflow run as nested plans in their caller's
// workflow (workflow.go), so one of thousands of distinct tasks grows
// the run's history as much as the run's own graph would. When the run
// continues as new, every holdable graph is held, not only the run's:
// the run's graph and the nested graphs of calls that are not for_each
// instances, at any depth (a for_each's instances run to their end, as
// the for_each does). Once nothing is in flight, the state carries, for
// each held nested graph, the outputs of its nodes that succeeded (keyed
// "<prefix><node>", e.g. "call+t", beside the run's own nodes, whose
// names never hold a "+") and, for a dynamic task's workflow, its source
// and plugins and the task's attempt (carriedDynamic). The next Temporal
// run starts the run's graph with its kept nodes; the calls that were in
// flight start again, and a nested graph that was held starts with its
// kept nodes (takeCarried), a dynamic task's without running the task
// again (resumeDynamic). The records stay as they were: a call that was
// running keeps its start (keepStart).
//
// A failure in a held graph releases every held graph (the run fails,
// or retries, where it is; it may continue later). Runs whose workflow
// started before this behaviour hold the run's graph only
// (workflow.GetVersion: changeNestedHold).
//
// The graphs of a for_each's instances (a sub-workflow call's, a
// dynamic task's workflow, and the graphs below them) are held and
// carried the same way (changeInstanceHold): a for_each whose instances
// each run thousands of distinct tasks goes on across continue-as-new
// instead of running to its end in one history. Its instances that are
// held keep their slots (max_parallel, the parallelism), so it starts
// no others; the state carries, for each for_each running in a held
// graph, the results of its instances that ended (carriedInstance, by
// "<prefix><node>"), and the next Temporal run's plan keeps them
// (engine.Plan.KeepInstances) and calls only the others, the held ones
// starting from their kept nodes. A failure in an instance's graph
// fails the instance only, as locally, so it releases nothing: the
// for_each's other instances go on, and the failed one is carried as
// failed.
//
// A batch of a big for_each's instances (batch.go) continues as new the
// same way, in batches that hold instances' graphs: when its history
// passes RunInput.ContinueAfter events, the graphs of its instances are
// held, its other calls finish, and it stores the results of the calls
// that ended, the held graphs and its calls' nested records, and goes on
// in a fresh history under the same workflow id (BatchInput.Continued),
// calling only the calls that had not ended; its parent sees one result.

// changeNestedHold is the workflow.GetVersion change id of holding
// nested graphs when the run continues as new; changeInstanceHold that
// of holding the graphs of for_each instances too.
const (
	changeNestedHold   = "goflyte.continue-nested"
	changeInstanceHold = "goflyte.continue-for-each"
)

// carriedInstance is an instance of a for_each that ended before the run
// continued as new: its index and its result, as a batch returns one.
type carriedInstance struct {
	Index int `json:"index"`
	BatchResult
}

// carriedDynamic is a held dynamic task's workflow in the carried state,
// by its graph's prefix.
type carriedDynamic struct {
	Source     string               `json:"source"`
	Plugins    map[string]PluginRef `json:"plugins,omitempty"`
	Attempt    int                  `json:"attempt"`
	Checkpoint string               `json:"checkpoint,omitempty"`
}

// carriedGraph is what a restored run keeps for a nested graph until it
// starts: its kept nodes' outputs (typed, or raw from a reference with
// its URI) and, for a dynamic task's workflow, the workflow.
type carriedGraph struct {
	kept map[string]map[string]cty.Value
	raw  map[string]json.RawMessage
	refs map[string]string
	dyn  *carriedDynamic
}

// carriedKey splits a key of the carried state into the prefix of its
// nested graph ("" for the run's graph) and its node's name.
func carriedKey(key string) (prefix, name string) {
	i := strings.LastIndexByte(key, '+')
	return key[:i+1], key[i+1:]
}

// carry returns the graph's carried state for prefix, made on first use.
func (d *driver) carry(prefix string) *carriedGraph {
	if d.carried == nil {
		d.carried = map[string]*carriedGraph{}
	}
	cg := d.carried[prefix]
	if cg == nil {
		cg = &carriedGraph{kept: map[string]map[string]cty.Value{}, raw: map[string]json.RawMessage{}, refs: map[string]string{}}
		d.carried[prefix] = cg
	}
	return cg
}

// holdsNested reports whether this Temporal run holds nested graphs when
// it continues as new (runs started by earlier builds do not).
func (d *driver) holdsNested() bool {
	if d.nestedHold == 0 {
		d.nestedHold = 1
		if workflow.GetVersion(d.root, changeNestedHold, workflow.DefaultVersion, 1) == 1 {
			d.nestedHold = 2
		}
	}
	return d.nestedHold == 2
}

// holdsInstances reports whether this Temporal run holds the graphs of
// for_each instances when it continues as new; asked the first time
// one would be held.
func (d *driver) holdsInstances() bool {
	if d.instHold == 0 {
		d.instHold = 1
		if workflow.GetVersion(d.root, changeInstanceHold, workflow.DefaultVersion, 1) == 1 {
			d.instHold = 2
		}
	}
	return d.instHold == 2
}

// holdNested holds the nested graphs that are holdable, once the run's
// graph is held: those of calls that are not for_each instances, then,
// in runs that hold them, the graphs of instances.
func (d *driver) holdNested() {
	has, inst := false, false
	for _, gr := range d.graphs {
		if !gr.top && !gr.ended {
			has = has || gr.holdable
			inst = inst || gr.underInst
		}
	}
	if has && d.holdsNested() {
		for _, gr := range d.graphs {
			if !gr.top && gr.holdable && !gr.ended && !gr.held {
				gr.held = true
				gr.plan.Hold()
			}
		}
	}
	if inst && d.holdsInstances() {
		for _, gr := range d.graphs {
			if gr.underInst && !gr.ended && !gr.held {
				gr.held = true
				gr.plan.Hold()
			}
		}
	}
}

// holdIfContinuing holds a holdable nested graph that starts while the
// run is held to continue as new (a dynamic task's that came back, an
// instance's that started when another ended).
func (gr *graphRun) holdIfContinuing() {
	d := gr.d
	if gr.top || !d.continuing || d.cause != nil {
		return
	}
	switch {
	case gr.holdable && d.holdsNested():
	case gr.underInst && d.holdsInstances():
	default:
		return
	}
	gr.held = true
	gr.plan.Hold()
}

// releaseHeld releases every held graph after a failure in one of them:
// the run does not continue as new now (it may later).
func (d *driver) releaseHeld() {
	if !d.continuing || (d.nestedHold != 2 && d.instHold != 2) {
		return
	}
	d.continuing = false
	for _, gr := range append([]*graphRun(nil), d.graphs...) {
		if !gr.held || gr.ended {
			continue
		}
		gr.held = false
		if gr.firstErr != nil {
			// Failed (the graph whose ops are being carried out, say):
			// it starts nothing more, and ends when its calls have.
			continue
		}
		gr.carryOut(gr.plan.Release())
		gr.maybeFinish()
	}
}

// keepStart keeps the start and attempts of a record that was running
// when an earlier Temporal run of the run continued as new (was is the
// record before its node started again).
func (d *driver) keepStart(t *sandbox.TaskRecord, was sandbox.TaskRecord) {
	if d.in.Continued != nil && was.Status == sandbox.StatusRunning && !was.Start.IsZero() {
		t.Start, t.Attempts = was.Start, max(was.Attempts, 1)
	}
}

// takeCarried returns the kept outputs that the carried state has for
// the nested graph g with prefix, once: the graph starts from them.
func (d *driver) takeCarried(prefix string, g *engine.Graph) map[string]map[string]cty.Value {
	cg := d.carried[prefix]
	if cg == nil {
		return nil
	}
	delete(d.carried, prefix)
	kept := cg.kept
	for _, name := range sortedKeys(cg.raw) {
		n := g.Node(name)
		if n == nil {
			continue
		}
		if outs, err := engine.DecodeOutputs(n, cg.raw[name]); err == nil {
			kept[name] = outs
			d.refs[prefix+name] = cg.refs[name]
		}
	}
	return kept
}

// resumeDynamic runs the dynamic task's workflow that the carried state
// has for the call, as the task's attempt that returned it, instead of
// running the task again. It reports whether it did.
func (cr *callRun) resumeDynamic() bool {
	d := cr.gr.d
	if len(d.carried) == 0 || !(cr.gr.holdable || cr.gr.underInst) {
		return false
	}
	cg := d.carried[cr.gr.prefix+cr.call.Name+"+"]
	if cg == nil || cg.dyn == nil {
		return false
	}
	cr.attempt, cr.checkpoint = max(cg.dyn.Attempt, 1), cg.dyn.Checkpoint
	if cr.rec != nil {
		cr.rec.Attempts = cr.attempt
	}
	cr.runDynamic(&DynamicWorkflow{Source: cg.dyn.Source, Plugins: cg.dyn.Plugins})
	return true
}

// saveNested adds the held nested graphs to the state, and the ended
// instances of the for_each nodes running in held graphs.
func (d *driver) saveNested(st *carriedState) error {
	for _, gr := range d.graphs {
		if !gr.held || gr.ended {
			continue
		}
		if d.instHold == 2 {
			d.saveInstances(st, gr)
		}
		if gr.top {
			continue
		}
		if err := d.saveKept(st, gr.prefix, gr.plan.Succeeded()); err != nil {
			return err
		}
		if gr.dynWF != nil && gr.caller != nil {
			if st.Dynamic == nil {
				st.Dynamic = map[string]carriedDynamic{}
			}
			st.Dynamic[gr.prefix] = carriedDynamic{Source: gr.dynWF.Source, Plugins: gr.dynWF.Plugins,
				Attempt: gr.caller.attempt, Checkpoint: gr.caller.checkpoint}
		}
	}
	return nil
}

// restoreNested takes the nested graphs' part of a restored state: the
// kept outputs and references whose keys have a prefix, and the dynamic
// workflows. load reads a reference.
func (d *driver) restoreNested(st *carriedState, load func(string) (json.RawMessage, error)) error {
	for _, key := range sortedKeys(st.Kept) {
		prefix, name := carriedKey(key)
		if prefix == "" {
			continue
		}
		outs, err := typedOutputs(key, st.Kept[key])
		if err != nil {
			return err
		}
		d.carry(prefix).kept[name] = outs
	}
	for _, key := range sortedKeys(st.Refs) {
		prefix, name := carriedKey(key)
		if prefix == "" {
			continue
		}
		raw, err := load(st.Refs[key])
		if err != nil {
			return err
		}
		cg := d.carry(prefix)
		cg.raw[name], cg.refs[name] = raw, st.Refs[key]
	}
	for _, prefix := range sortedKeys(st.Dynamic) {
		dyn := st.Dynamic[prefix]
		d.carry(prefix).dyn = &dyn
	}
	for _, key := range sortedKeys(st.Instances) {
		prefix, name := carriedKey(key)
		if d.carriedInst == nil {
			d.carriedInst = map[string]map[string][]carriedInstance{}
		}
		if d.carriedInst[prefix] == nil {
			d.carriedInst[prefix] = map[string][]carriedInstance{}
		}
		d.carriedInst[prefix][name] = st.Instances[key]
	}
	return nil
}

// noteInstance keeps the result of an instance of a for_each of a graph
// that may be held, for saveInstances (a cancelled one never is; a
// batch's calls, which have no plan, are kept by the batch).
func (gr *graphRun) noteInstance(c *engine.Call, r engine.CallResult) {
	if c.Parent == "" || gr.plan == nil || !(gr.holdable || gr.underInst) || errors.Is(r.Err, context.Canceled) {
		return
	}
	if gr.inst == nil {
		gr.inst = map[string]map[int]engine.CallResult{}
	}
	if gr.inst[c.Parent] == nil {
		gr.inst[c.Parent] = map[int]engine.CallResult{}
	}
	gr.inst[c.Parent][c.Index] = r
}

// saveInstances adds to st the ended instances of the graph's running
// for_each nodes, keyed "<prefix><node>", in index order.
func (d *driver) saveInstances(st *carriedState, gr *graphRun) {
	for _, node := range sortedKeys(gr.inst) {
		results := gr.inst[node]
		list := make([]carriedInstance, 0, len(results))
		for _, i := range slices.Sorted(maps.Keys(results)) {
			list = append(list, carriedInstance{Index: i, BatchResult: batchResult(results[i], "")})
		}
		if st.Instances == nil {
			st.Instances = map[string][]carriedInstance{}
		}
		st.Instances[gr.prefix+node] = list
	}
}

// keepInstances gives the graph's plan, before it starts, the instances
// of its for_each nodes that an earlier Temporal run of the run carried
// as ended; they are carried again if the run continues again.
func (gr *graphRun) keepInstances() {
	d := gr.d
	carried := d.carriedInst[gr.prefix]
	if carried == nil {
		return
	}
	delete(d.carriedInst, gr.prefix)
	for _, name := range sortedKeys(carried) {
		n := gr.g.Node(name)
		if n == nil || n.ForEach == nil {
			continue
		}
		inst := *n
		inst.ForEach = nil
		results := make(map[int]engine.CallResult, len(carried[name]))
		for _, ci := range carried[name] {
			results[ci.Index] = ci.callResult(&inst)
		}
		if gr.inst == nil {
			gr.inst = map[string]map[int]engine.CallResult{}
		}
		gr.inst[name] = results
		gr.plan.KeepInstances(name, results)
	}
}

// maybeHoldBatch holds the graphs of a batch's instances once its
// history is long enough: the batch continues as new when its calls in
// flight have finished (batchHeld).
func (d *driver) maybeHoldBatch() {
	if d.continuing || d.cause != nil {
		return
	}
	info := workflow.GetInfo(d.root)
	if info.GetCurrentHistoryLength() < d.continueAt() && info.GetCurrentHistorySize()-d.baseBytes < ContinueAsNewBytes {
		return
	}
	d.continuing = true
	d.holdNested()
}

// batchHeld reports whether the batch stopped to continue as new: a
// graph of its instances is held, and it was not cancelled.
func (d *driver) batchHeld() bool {
	if !d.continuing || d.cause != nil {
		return false
	}
	return slices.ContainsFunc(d.graphs, func(gr *graphRun) bool { return gr.held && !gr.ended })
}

// continueBatch stores the batch's state (the results of its calls that
// ended, the held graphs, every call's nested records) and returns the
// error that continues the batch as new with it.
func (d *driver) continueBatch(in BatchInput, results []BatchResult, ended []bool) error {
	st := carriedState{Kept: map[string]map[string]typedValue{}}
	for i, bc := range in.Calls {
		owner := in.Prefix + bc.Name
		recs, omitted := d.nested.of(owner)
		st.Tasks = append(st.Tasks, sandbox.TaskRecord{Name: owner, Nested: recs, NestedOmitted: omitted})
		if ended[i] {
			st.Batch = append(st.Batch, carriedInstance{Index: i, BatchResult: results[i]})
		}
	}
	if err := d.saveNested(&st); err != nil {
		return err
	}
	runs := 0
	if in.Continued != nil {
		runs = in.Continued.Runs
	}
	id := workflow.GetInfo(d.root).WorkflowExecution.ID
	parts, err := d.storeState(st, fmt.Sprintf("_continue/%s/%d", strings.ReplaceAll(id, ":", "_"), runs+1))
	if err != nil {
		return err
	}
	next := in
	next.Served = sortedKeys(d.served)
	next.Continued = &Continued{Parts: parts, Runs: runs + 1}
	return workflow.NewContinueAsNewError(d.root, BatchWorkflowType, next)
}

// restoreBatch loads the state an earlier Temporal run of a batch
// stored: the calls' nested records and the held graphs, which its
// calls start from; it returns the results of the calls that ended, by
// index.
func (d *driver) restoreBatch(parts []string) (map[int]BatchResult, error) {
	st, load, err := d.loadState(parts)
	if err != nil {
		return nil, err
	}
	d.nested.restore(st.Tasks)
	if err := d.restoreNested(st, load); err != nil {
		return nil, err
	}
	out := make(map[int]BatchResult, len(st.Batch))
	for _, ci := range st.Batch {
		out[ci.Index] = ci.BatchResult
	}
	d.baseBytes = workflow.GetInfo(d.root).GetCurrentHistorySize()
	return out, nil
}
