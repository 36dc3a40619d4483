package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// Big fan-outs: a Temporal history holds about 50,000 events, and each
// task activity costs about five in its workflow's. The instances of a
// for_each wider than BatchAbove therefore run in child workflows of
// type BatchWorkflowType, up to BatchSize instances each, so that the
// run's own history grows by a few events per batch, not per instance.
// The plan stays in the run's workflow: it hands out instances as its
// limits allow (max_parallel, the parallelism), the driver gathers the
// instances one step of the plan releases into batches, and each
// batch's results go back to the plan one by one. A batch compiles the
// same run (it is pure) to find the node, and makes each call exactly as
// the run's workflow would (the same callRun: retries, timers, nested
// plans for sub-workflow and dynamic instances).
//
// The for_each nodes of the run's graph, of the sub-workflows it calls
// and of dynamic tasks' workflows are batched (a batch of a dynamic
// task's for_each carries the workflow's source, BatchInput.Dynamic).
// Limit: a batch's result carries its instances' outputs inline, so
// instances with large outputs should leave them in the data store
// (TaskOutput.OutputsRef).

// BatchWorkflowType is the Temporal workflow type of a batch of a big
// for_each's instances, a child of the run's workflow.
const BatchWorkflowType = "goflyte.batch"

// BatchAbove is the number of instances above which a for_each's
// instances run in batches; BatchSize the most instances in one batch,
// and batchInputBytes the most bytes of their inputs.
const (
	BatchAbove      = 100
	BatchSize       = 100
	batchInputBytes = 512 << 10
)

// BatchInput is the input of a batch: the run (to compile it), where the
// for_each node is, and the instances' calls.
type BatchInput struct {
	Run RunInput `json:"run"`
	// Path names the sub-workflow calls from the run's graph down to the
	// graph that holds Node ("" elements never occur; empty for the
	// run's own graph); Prefix is that graph's "<call>+" prefix.
	Path   []string    `json:"path,omitempty"`
	Node   string      `json:"node"`
	Prefix string      `json:"prefix,omitempty"`
	Calls  []BatchCall `json:"calls"`
	// Dynamic, when set, is the dynamic task's workflow whose graph
	// holds Node (Path is then empty): the batch compiles it, not the
	// run's.
	Dynamic *BatchDynamic `json:"dynamic,omitempty"`
	// Served are the plugins a worker answered for in the run so far:
	// the batch's tasks of those plugins do not wait a bounded time for
	// a worker (a server timer per task).
	Served []string `json:"served,omitempty"`
	// Continued is set when the batch continues an earlier Temporal run
	// of itself (continue-as-new, continue_nested.go): its state's parts
	// and how many runs came before. Only Parts and Runs are used.
	Continued *Continued `json:"continued,omitempty"`
}

// BatchDynamic is a dynamic task's workflow, as a batch of one of its
// for_each nodes compiles it: its source and plugins (DynamicWorkflow),
// its name in diagnostics, and the dynamic task's deck settings, which
// its tasks inherit.
type BatchDynamic struct {
	Name       string               `json:"name"`
	Source     string               `json:"source"`
	Plugins    map[string]PluginRef `json:"plugins"`
	EnableDeck bool                 `json:"enable_deck,omitempty"`
	DeckFields []string             `json:"deck_fields,omitempty"`
}

// BatchCall is one instance's call: its name ("t@3") and evaluated
// inputs, as the plan made them.
type BatchCall struct {
	Name    string            `json:"name"`
	Inputs  json.RawMessage   `json:"inputs"`
	Digests map[string]string `json:"digests,omitempty"`
}

// BatchResult is how one call of a batch ended: its outputs as JSON, or
// its failure (Cancelled when the batch was cancelled).
type BatchResult struct {
	Outputs   json.RawMessage `json:"outputs,omitempty"`
	Failure   *TaskFailure    `json:"failure,omitempty"`
	Cancelled bool            `json:"cancelled,omitempty"`
	Cache     string          `json:"cache,omitempty"`
	// Nested are the records of the instance and of the calls made
	// below it (nested.go), which the run's record keeps; NestedOmitted
	// counts those the batch's record left out.
	Nested        []sandbox.TaskRecord `json:"nested,omitempty"`
	NestedOmitted int                  `json:"nested_omitted,omitempty"`
}

// BatchWorkflow runs a batch of a for_each's instances and returns their
// results in order.
func BatchWorkflow(ctx workflow.Context, in BatchInput) ([]BatchResult, error) {
	run := in.Run
	run.Timeout, run.Resume, run.ResumeRefs, run.Continued = 0, nil, nil, nil // the parent's timeout cancels the batch
	g, plugins, err := batchGraph(run, in)
	if err != nil {
		return nil, err
	}
	for _, name := range in.Path {
		n := g.Node(name)
		if name == engine.OnFailureNode {
			n = g.OnFailure
		}
		if n == nil || n.Sub == nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the run has no sub-workflow call %q", name), ErrInvalidRun, nil)
		}
		g = n.Sub
	}
	node := g.Node(in.Node)
	if node == nil || node.ForEach == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the run has no for_each task %q", in.Node), ErrInvalidRun, nil)
	}
	d := newDriver(ctx, run, g)
	for _, p := range in.Served {
		if d.served == nil {
			d.served = map[string]bool{}
		}
		d.served[p] = true
	}
	// The instances' graphs are held when the batch's history grows long
	// (continue_nested.go), in batches that hold them.
	d.inBatch = true
	gr := &graphRun{d: d, g: g, prefix: in.Prefix, plugins: plugins, underInst: true}
	results := make([]BatchResult, len(in.Calls))
	ended := make([]bool, len(in.Calls))
	if in.Continued != nil {
		d.in.Continued = in.Continued // records keep their starts (keepStart)
		carried, err := d.restoreBatch(in.Continued.Parts)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrRunFailed, nil)
		}
		for i, r := range carried {
			if i >= 0 && i < len(results) {
				results[i], ended[i] = r, true
			}
		}
	}
	for i, bc := range in.Calls {
		if ended[i] {
			continue // in an earlier Temporal run of the batch
		}
		inst := *node
		inst.Name, inst.ForEach = bc.Name, nil
		c := &engine.Call{Name: bc.Name, TaskID: node.TaskID(), Node: &inst, Inputs: bc.Inputs, Digests: bc.Digests, Parent: node.Name}
		owner := in.Prefix + bc.Name // each instance keeps its own nested records
		cr := &callRun{gr: gr, call: c, owner: owner}
		var was sandbox.TaskRecord
		if r := d.nested.byName[owner]; r != nil {
			was = r.TaskRecord
		}
		cr.rec = d.nested.start(owner, owner, c.TaskID, sandbox.TaskRecord{
			Status: sandbox.StatusRunning, Start: workflow.Now(ctx), Attempts: 1})
		d.keepStart(cr.rec, was)
		cr.onResult = func(r engine.CallResult) {
			cr.endNested(r)
			results[i], ended[i] = batchResult(r, cr.cache), true
		}
		cr.begin()
	}
	d.loop()
	if d.cancelledByTemporal {
		return nil, ctx.Err()
	}
	if d.batchHeld() {
		return nil, d.continueBatch(in, results, ended)
	}
	for i, bc := range in.Calls {
		results[i].Nested, results[i].NestedOmitted = d.nested.of(in.Prefix + bc.Name)
	}
	return results, nil
}

// batchGraph compiles the graph a batch starts from, and gives its
// plugins: the run's, or the dynamic task's workflow's.
func batchGraph(run RunInput, in BatchInput) (*engine.Graph, map[string]PluginRef, error) {
	if dyn := in.Dynamic; dyn != nil {
		w, err := engine.ParseDynamic(dyn.Source, dyn.Name)
		if err != nil {
			return nil, nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidRun, nil)
		}
		g, err := engine.DynamicGraph(&engine.Node{EnableDeck: dyn.EnableDeck, DeckFields: dyn.DeckFields}, w, engine.Sources{Schemas: schemas(dyn.Plugins)})
		if err != nil {
			return nil, nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidRun, nil)
		}
		return g, dyn.Plugins, nil
	}
	g, diags, files := compileRunCached(run)
	if diags.HasErrors() {
		return nil, nil, temporal.NewNonRetryableApplicationError(renderDiagnostics(diags, files), ErrInvalidRun, nil)
	}
	return g, run.Plugins, nil
}

// batchResult turns a call's result into data.
func batchResult(r engine.CallResult, cache string) BatchResult {
	if r.Err == nil {
		data, err := engine.ToJSON(cty.ObjectVal(r.Outputs))
		if len(r.Outputs) == 0 {
			data, err = []byte("{}"), nil
		}
		if err == nil {
			return BatchResult{Outputs: data, Cache: cache}
		}
		r.Err = err
	}
	if errors.Is(r.Err, context.Canceled) {
		return BatchResult{Cancelled: true}
	}
	f := &TaskFailure{Message: r.Err.Error(), Retryable: r.Retryable()}
	var re *engine.RemoteError
	if errors.As(r.Err, &re) {
		f.Kind, f.Diagnostics, f.Stderr = re.Kind, re.Diagnostics, re.Stderr
	} else {
		var te *plugin.TaskError
		if errors.As(r.Err, &te) {
			f.Diagnostics = te.Diagnostics
		}
	}
	return BatchResult{Failure: f}
}

// callResult turns a call's result as data back into the call's
// result: n is the call's node, whose types its outputs decode to.
func (r BatchResult) callResult(n *engine.Node) engine.CallResult {
	switch {
	case r.Cancelled:
		return engine.CallResult{Err: context.Canceled}
	case r.Failure != nil:
		f := r.Failure
		return engine.CallResult{Err: &engine.RemoteError{Message: f.Message, Kind: f.Kind, Retryable: f.Retryable, Diagnostics: f.Diagnostics, Stderr: f.Stderr}}
	}
	outs, err := engine.DecodeOutputs(n, r.Outputs)
	return engine.CallResult{Outputs: outs, Err: err}
}

// batcher gathers a graph's big for_each instances into batches.
type batcher struct {
	// sizes are the instance counts of the graph's running for_each
	// nodes; pending the calls released and not yet sent, by node, and
	// order the nodes in the order their first call was released.
	sizes   map[string]int
	pending map[string][]*engine.Call
	order   []string
}

// batched reports whether an instance of node goes into a batch: its
// for_each is big, and a batch can find its graph.
func (gr *graphRun) batched(n *engine.Node) bool {
	return (gr.path != nil || gr.dyn != nil) && gr.batch.sizes[n.Name] > BatchAbove
}

// hold keeps an instance's call for the next batch of its node.
func (gr *graphRun) hold(c *engine.Call) {
	gr.calls++
	b := &gr.batch
	if b.pending == nil {
		b.pending = map[string][]*engine.Call{}
	}
	if len(b.order) == 0 {
		gr.d.holding = append(gr.d.holding, gr)
	}
	if len(b.pending[c.Parent]) == 0 {
		b.order = append(b.order, c.Parent)
	}
	b.pending[c.Parent] = append(b.pending[c.Parent], c)
}

// flush sends every graph's held calls as batches. The driver calls it
// after each step (a future's callback), so that a batch takes every
// instance the step released, not one at a time.
func (d *driver) flush() {
	for len(d.holding) > 0 {
		gr := d.holding[0]
		d.holding = d.holding[1:]
		gr.flush()
	}
}

// flush sends the held calls as batches of at most BatchSize calls and
// batchInputBytes of inputs.
func (gr *graphRun) flush() {
	b := &gr.batch
	for len(b.order) > 0 {
		node := b.order[0]
		b.order = b.order[1:]
		calls := b.pending[node]
		delete(b.pending, node)
		for len(calls) > 0 {
			n, size := 0, 0
			for n < len(calls) && n < BatchSize && (n == 0 || size+len(calls[n].Inputs) <= batchInputBytes) {
				size += len(calls[n].Inputs)
				n++
			}
			gr.sendBatch(node, calls[:n])
			calls = calls[n:]
		}
	}
}

// sendBatch runs calls in a child workflow and feeds their results to
// the plan.
func (gr *graphRun) sendBatch(node string, calls []*engine.Call) {
	d := gr.d
	in := BatchInput{Run: d.in, Path: gr.path, Node: node, Prefix: gr.prefix, Dynamic: gr.dyn, Served: sortedKeys(d.served)}
	// A batch compiles the run but needs neither its inputs nor what
	// it resumes: the calls carry their evaluated inputs.
	in.Run.Inputs, in.Run.Resume, in.Run.ResumeRefs, in.Run.Continued = nil, nil, nil, nil
	for _, c := range calls {
		in.Calls = append(in.Calls, BatchCall{Name: c.Name, Inputs: c.Inputs, Digests: c.Digests})
	}
	d.batches++
	where := strings.Join(append(slices.Clone(gr.path), node), "/")
	if gr.dyn != nil {
		where = gr.prefix + node // "<dynamic call>+<node>"
	}
	id := workflow.GetInfo(d.root).WorkflowExecution.ID + "/batch/" + where + "/" + strconv.Itoa(d.batches)
	cctx := workflow.WithChildOptions(d.ctx, workflow.ChildWorkflowOptions{WorkflowID: id})
	f := workflow.ExecuteChildWorkflow(cctx, BatchWorkflowType, in)
	d.add(f, func(f workflow.Future) {
		var results []BatchResult
		err := f.Get(d.ctx, &results)
		if n := calls[0].Node; err == nil && n.Sub == nil && slices.ContainsFunc(results, func(r BatchResult) bool { return r.Outputs != nil }) {
			if d.served == nil {
				d.served = map[string]bool{}
			}
			d.served[n.Plugin] = true // later batches' tasks need not wait for a worker
		}
		for i, c := range calls {
			var r engine.CallResult
			switch {
			case err != nil && (temporal.IsCanceledError(err) || d.cause != nil):
				r.Err = context.Canceled
			case err != nil:
				r.Err = &engine.RemoteError{Kind: "batch", Message: fmt.Sprintf("the batch of instances it ran in failed: %v", unwrapChild(err))}
			case i >= len(results):
				r.Err = &engine.RemoteError{Kind: "batch", Message: "the batch of instances it ran in returned no result for it"}
			default:
				r = results[i].callResult(c.Node)
			}
			if i < len(results) {
				d.nested.merge(gr.ownerOf(c), results[i].Nested)
				d.nested.omit(gr.ownerOf(c), results[i].NestedOmitted)
			}
			gr.finishCall(c, r)
		}
	})
}

// unwrapChild strips the SDK's ChildWorkflowExecutionError wrapper down
// to its cause.
func unwrapChild(err error) error {
	var ce *temporal.ChildWorkflowExecutionError
	if errors.As(err, &ce) {
		if cause := errors.Unwrap(ce); cause != nil {
			return cause
		}
	}
	return err
}
