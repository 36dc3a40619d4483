package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/stats"
)

// This file is the interpreter workflow: the Temporal driver of
// engine.Plan. It compiles the run from its input (purely: the sources
// and the schemas the submitter validated against), then drives the plan
// from one selector loop over the futures in flight (task activities,
// retry timers, the run's timeout, loads of large outputs), as the local
// driver (engine's execution.schedule) does from its loop over
// goroutines. Sub-workflow calls and dynamic tasks' workflows run as
// nested plans in the same loop (see graphRun). Everything here must be
// deterministic: no goroutines, clocks, randomness, map order or I/O but
// the SDK's.

// Error types of a run's workflow failures (temporal.ApplicationError
// types), beside the activities' ErrTaskFailed and ErrDigestMismatch.
const (
	// ErrRunFailed: the run ran and failed (a task failed, its outputs
	// did not evaluate, or its --timeout ended it). The details are the
	// run's record (a *sandbox.Record, status "failed" or "cancelled").
	ErrRunFailed = "goflyte.RunFailed"
	// ErrInvalidRun: the run could not start: its workflow has errors
	// (the message is the rendered diagnostics, file:line:col) or its
	// inputs do not fit the workflow. Nothing ran.
	ErrInvalidRun = "goflyte.InvalidRun"
)

// ActivityLoadOutputs is the local activity that reads a task's outputs
// from the data store when they came as a reference
// (TaskOutput.OutputsRef): its input is the URI, its result the outputs'
// JSON. The worker that runs the interpreter workflow registers it.
// Runs that handle large values (values.go) read them in parts
// (ActivityLoadPart) instead; histories of earlier runs, and restoring a
// continued run's state, still use it.
const ActivityLoadOutputs = "goflyte.load_outputs"

// MaxInFlight bounds the task activities a run's workflow has in flight
// at once; more wait in the workflow (Temporal stalls with thousands
// pending in one workflow).
const MaxInFlight = 1000

// DefaultScheduleToStart is how long a task waits for a worker that
// serves its plugin when RunInput.ScheduleToStart is 0: after that it
// fails with an error that names the plugin.
const DefaultScheduleToStart = 10 * time.Minute

// Activity timeouts besides the task's own: a task's activity may run
// for its timeout plus startToCloseMargin (the worker enforces the
// timeout and reports it; the margin covers the grace period and the
// report), or noTimeoutBound when the task has no timeout (heartbeats
// notice a lost worker long before).
const (
	startToCloseMargin = time.Minute
	noTimeoutBound     = 30 * 24 * time.Hour
)

// WorkflowDeadlockTimeout is the DeadlockDetectionTimeout (worker
// option) of the workers that run RunWorkflow: the interpreter compiles
// its run in one stretch, about a quarter of a second of CPU for 10,000
// task blocks and longer on a busy machine, which the SDK's default of
// 1 s would fail as a deadlock. It is the default workflow task timeout.
const WorkflowDeadlockTimeout = 10 * time.Second

// RegisterWorkflow registers RunWorkflow under WorkflowType and
// BatchWorkflow under BatchWorkflowType.
func RegisterWorkflow(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(RunWorkflow, workflow.RegisterOptions{Name: WorkflowType})
	r.RegisterWorkflowWithOptions(BatchWorkflow, workflow.RegisterOptions{Name: BatchWorkflowType})
}

// RunWorkflow is the interpreter workflow of a remote run: it compiles
// in's sources against in's plugin schemas, runs the plan (each plugin
// task an activity ActivityName(plugin, task) on PluginQueue(in.TaskQueue,
// plugin)) and answers QueryRecord with the run's record so far.
//
// It returns the record of a run that succeeded. A run that failed, or
// that its Timeout ended, fails with a non-retryable ErrRunFailed
// ApplicationError whose details are the record; a run whose workflow
// has errors or whose inputs do not fit fails with ErrInvalidRun; a run
// cancelled through Temporal cancels its activities and returns the
// cancellation (the record, status "cancelled", stays queryable).
func RunWorkflow(ctx workflow.Context, in RunInput) (*sandbox.Record, error) {
	g, diags, files := compileRunCached(in)
	if diags.HasErrors() {
		return nil, temporal.NewNonRetryableApplicationError(renderDiagnostics(diags, files), ErrInvalidRun, nil)
	}
	raw, held, err := runInputs(ctx, in, g)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrRunFailed, nil)
	}
	inputs, err := g.ParseInputs(nil, raw)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidRun, nil)
	}
	d := newDriver(ctx, in, g)
	d.vals.inputRefs = held
	if in.Continued != nil {
		// Queries come while the state loads (a local activity may take
		// more than a workflow task): the client asks again.
		if err := workflow.SetQueryHandler(ctx, QueryRecord, func() (*sandbox.Record, error) { return nil, errRestoring }); err != nil {
			return nil, err
		}
	}
	var kept map[string]map[string]cty.Value
	if in.Continued != nil {
		// A later Temporal run of the run (continue-as-new): its state
		// first, so that the record answers for the whole run.
		if kept, err = d.restore(g); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrRunFailed, nil)
		}
	} else {
		kept = d.resume(g)
	}
	query := func() (*sandbox.Record, error) {
		rec := d.snapshot()
		if rec.Status == sandbox.StatusRunning {
			// Progress asks every few hundred milliseconds: the tasks'
			// metrics come with the record the run ends with.
			for i := range rec.Tasks {
				rec.Tasks[i].Metrics = nil
			}
		}
		return shortRecord(rec), nil
	}
	if err := workflow.SetQueryHandler(ctx, QueryRecord, query); err != nil {
		return nil, err
	}
	d.run(inputs, kept)
	if d.held() {
		return nil, d.continueAsNew()
	}
	if d.cancelledByTemporal {
		return nil, ctx.Err()
	}
	d.storeOutputs()
	rec := d.fitRecord(d.snapshot())
	switch {
	case rec.Status != sandbox.StatusSucceeded:
		return nil, temporal.NewNonRetryableApplicationError(rec.Error, ErrRunFailed, nil, rec)
	}
	return rec, nil
}

// compileRun compiles in's workflow from its sources, purely: the
// sources parsed from their bytes (diagnostics name the submitter's
// paths), sub-workflow calls found by name in Main first, then in the
// other sources in path order, and the schemas from in.Plugins.
func compileRun(in RunInput) (*engine.Graph, hcl.Diagnostics, map[string]*hcl.File) {
	p := config.NewParser()
	if in.Task != "" {
		name, _, _ := strings.Cut(in.Task, ".")
		g, err := engine.TaskGraphOf(in.Task, in.Plugins[name].Schema)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid task run", Detail: err.Error()}}, p.Files()
		}
		return g, nil, p.Files()
	}
	src, ok := in.Sources[in.Main]
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing workflow file",
			Detail: fmt.Sprintf("The run's sources have no file %q (its main file).", in.Main)}}, p.Files()
	}
	main, diags := p.LoadWorkflowSource([]byte(src), in.Main)
	if diags.HasErrors() || main == nil {
		return nil, diags, p.Files()
	}
	files := []*config.WorkflowFile{main}
	for _, path := range sortedKeys(in.Sources) {
		if path == in.Main {
			continue
		}
		if wf, _ := p.LoadWorkflowSource([]byte(in.Sources[path]), path); wf != nil {
			files = append(files, wf)
		}
	}
	lookup := func(name string) *config.Workflow {
		for _, wf := range files {
			for _, w := range wf.Workflows {
				if w.Name == name {
					return w
				}
			}
		}
		return nil
	}
	var w *config.Workflow
	for _, cand := range main.Workflows {
		if cand.Name == in.Workflow {
			w = cand
		}
	}
	if w == nil {
		var names []string
		for _, cand := range main.Workflows {
			names = append(names, cand.Name)
		}
		detail := fmt.Sprintf("%s has no workflow named %q; its workflows: %s.", in.Main, in.Workflow, strings.Join(names, ", "))
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown workflow", Detail: detail}), p.Files()
	}
	g, more := engine.CompileWorkflow(w, engine.Sources{Schemas: schemas(in.Plugins), Workflows: lookup})
	return g, append(diags, more...), p.Files()
}

// schemas are the plugins' schemas, by name.
func schemas(plugins map[string]PluginRef) map[string]*plugin.Schema {
	out := make(map[string]*plugin.Schema, len(plugins))
	for name, ref := range plugins {
		if ref.Schema != nil {
			out[name] = ref.Schema
		}
	}
	return out
}

// renderDiagnostics renders diags as `goflyte validate` does, with
// file:line:col and the source line, without colour or wrapping.
func renderDiagnostics(diags hcl.Diagnostics, files map[string]*hcl.File) string {
	var b bytes.Buffer
	_ = hcl.NewDiagnosticTextWriter(&b, files, 0, false).WriteDiagnostics(diags)
	return strings.TrimSpace(b.String())
}

// errTimedOut is the cause of a run that its Timeout ended.
type errTimedOut struct{ after time.Duration }

func (e errTimedOut) Error() string {
	return fmt.Sprintf("the run timed out after %s (--timeout)", e.after)
}

// driver is the state of one run's workflow: the selector loop and what
// the record needs.
type driver struct {
	root workflow.Context // the workflow's: cancelled by a Temporal cancel request
	ctx  workflow.Context // the run's: also cancelled by its timeout
	stop workflow.CancelFunc
	in   RunInput
	g    *engine.Graph
	sel  workflow.Selector
	// waiting counts the work futures in sel that have not fired: the
	// loop runs while there are any.
	waiting int
	// active counts task activities in flight; queue holds attempts
	// waiting for one of the MaxInFlight slots.
	active int
	queue  []*callRun
	// graphs are the plans being driven: the run's and nested ones.
	graphs []*graphRun
	// cause is why the run was cancelled (nil while it was not);
	// cancelledByTemporal tells a cancel request from the timeout.
	cause               error
	cancelledByTemporal bool
	// batches counts the batches started, for their workflow ids.
	batches int
	// served are the plugins a worker answered for in this run, or
	// whose queues the submitter saw polled (RunInput.Polled).
	served map[string]bool
	// holding are the graphs with calls held for batches (batch.go).
	holding []*graphRun
	// top is the run's graph; continuing says that its plan is held to
	// continue as new (continue.go); refs are the data-store URIs of
	// its tasks' outputs that came as references; restored the tasks
	// whose records an earlier Temporal run of the run ended.
	top        *graphRun
	continuing bool
	refs       map[string]string
	restored   map[string]bool
	// vals are the run's large values (values.go).
	vals *values
	// baseBytes is the history's size once the state was restored
	// (continue.go counts from there).
	baseBytes int
	// carried are the states of nested graphs that an earlier Temporal
	// run of the run held, by prefix; nestedHold whether this one holds
	// nested graphs too (continue_nested.go).
	carried    map[string]*carriedGraph
	nestedHold int
	// carriedInst are the ended instances of the for_each nodes an
	// earlier Temporal run carried, by graph prefix and node; instHold
	// whether this one holds the graphs of instances
	// (continue_nested.go).
	carriedInst map[string]map[string][]carriedInstance
	instHold    int
	// inBatch says that the driver is a batch's (BatchWorkflow): it
	// continues as new with its instances' graphs held, not a plan's.
	inBatch bool
	// eagerDigests caches the workflow.GetVersion of eagerDigestsChange
	// (0: not asked yet, 1: off, 2: on).
	eagerDigests int

	start, end time.Time
	status     string
	runErr     error
	outputs    map[string]cty.Value
	tasks      []*sandbox.TaskRecord // the graph's nodes, then its failure handler
	byName     map[string]*sandbox.TaskRecord
	nested     nestedLog // the calls below the tasks (nested.go)

	// awaitReady says how the loop waits for its futures
	// (changeAwaitReady): over pending, in the order added, with
	// workflow.Await on awaitCtx, instead of sel.
	awaitReady bool
	awaitCtx   workflow.Context
	pending    []pendingFuture
}

// changeAwaitReady is the workflow.GetVersion change id of the loop
// waiting for its futures by their readiness (version 1) instead of
// with one selector over all of them (workflow.DefaultVersion). The
// SDK's Select adds a callback to every future not ready yet each time
// it is called and removes them all when it returns: a run with a
// thousand tasks in flight paid for a thousand of them at every
// completion, 0.16-0.19 ms a task of a 1,000-task fan-out (BENCH.md,
// the fourth fan-out round), where reading whether a future is ready
// costs nanoseconds. The order in which simultaneous completions are
// handled differs (the selector takes the first to settle, then the
// first ready in the order added; version 1 the first ready in the
// order added), so runs started before keep the selector.
const changeAwaitReady = "goflyte.await-ready"

// pendingFuture is a future the loop waits for and what to do when it
// is ready.
type pendingFuture struct {
	f  workflow.Future
	fn func(workflow.Future)
}

func newDriver(root workflow.Context, in RunInput, g *engine.Graph) *driver {
	ctx, stop := workflow.WithCancel(root)
	d := &driver{root: root, ctx: ctx, stop: stop, in: in, g: g, sel: workflow.NewSelector(root), start: workflow.Now(root),
		status: sandbox.StatusRunning, byName: map[string]*sandbox.TaskRecord{}, refs: map[string]string{}, vals: &values{}}
	if workflow.GetVersion(root, changeAwaitReady, workflow.DefaultVersion, 1) >= 1 {
		// Not cancelled with the run: a cancel request settles the
		// futures the loop waits for, which wakes it.
		d.awaitReady = true
		d.awaitCtx, _ = workflow.NewDisconnectedContext(root)
	}
	for _, p := range in.Polled {
		if d.served == nil {
			d.served = map[string]bool{}
		}
		d.served[p] = true
	}
	nodes := g.Nodes
	if g.OnFailure != nil {
		nodes = append(slices.Clone(nodes), g.OnFailure)
	}
	for _, n := range nodes {
		t := &sandbox.TaskRecord{Name: n.Name, Task: n.TaskID(), Status: sandbox.StatusPending, Deps: n.Deps, Digest: n.Digest}
		d.tasks = append(d.tasks, t)
		d.byName[n.Name] = t
	}
	return d
}

// resume returns the outputs of the nodes in.Resume and in.ResumeRefs
// keep and marks their records resumed. As locally, a node is kept only
// when its outputs decode to its types and every node it depends on is
// kept; the others run again. Outputs kept by reference (ResumeRefs) are
// held as placeholders when nothing evaluates them, else read in parts
// (restoreRef, as after continue-as-new).
func (d *driver) resume(g *engine.Graph) map[string]map[string]cty.Value {
	if len(d.in.Resume) == 0 && len(d.in.ResumeRefs) == 0 {
		return nil
	}
	kept := map[string]map[string]cty.Value{}
	byRef := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Kind != engine.KindTask || n.Sub != nil {
			continue
		}
		if raw, ok := d.in.Resume[n.Name]; ok {
			if outs, err := engine.DecodeOutputs(n, raw); err == nil {
				kept[n.Name] = outs
			}
		} else if _, ok := d.in.ResumeRefs[n.Name]; ok {
			kept[n.Name], byRef[n.Name] = nil, true // read below, once its dependencies are known kept
		}
	}
	prune := func() {
		for changed := true; changed; {
			changed = false
			for _, n := range g.Nodes {
				if _, ok := kept[n.Name]; !ok {
					continue
				}
				for _, dep := range n.Deps {
					if _, ok := kept[dep]; !ok {
						delete(kept, n.Name)
						changed = true
						break
					}
				}
			}
		}
	}
	prune()
	if len(byRef) > 0 {
		lost := false
		for _, n := range g.Nodes {
			if _, ok := kept[n.Name]; !ok || !byRef[n.Name] {
				continue
			}
			if outs, ok := d.restoreRef(n, d.in.ResumeRefs[n.Name]); ok {
				kept[n.Name] = outs
			} else {
				delete(kept, n.Name) // unreadable: the task runs again
				delete(d.refs, n.Name)
				lost = true
			}
		}
		if lost {
			prune()
		}
	}
	for _, n := range g.Nodes {
		if _, ok := kept[n.Name]; ok {
			t := d.byName[n.Name]
			t.Status, t.Resumed, t.Start, t.End = sandbox.StatusSucceeded, true, d.start, d.start
			if !byRef[n.Name] {
				t.Outputs = d.in.Resume[n.Name]
			}
		} else if byRef[n.Name] {
			// Dropped after it was read (a dependency could not be): it
			// runs again, as nothing of the earlier run.
			delete(d.refs, n.Name)
			if d.vals.held != nil {
				delete(d.vals.held, n.Name)
			}
			t := d.byName[n.Name]
			t.Outputs, t.OutputsRef = nil, ""
		}
	}
	return kept
}

// run drives the run's plan, then its failure handler after a failure,
// until nothing is in flight.
func (d *driver) run(inputs map[string]cty.Value, kept map[string]map[string]cty.Value) {
	if d.in.Timeout > 0 {
		// What is left of it: a run that continued as new started
		// earlier (d.start is its first Temporal run's start).
		left := max(d.in.Timeout-workflow.Now(d.root).Sub(d.start), time.Millisecond)
		d.watch(workflow.NewTimer(d.root, left), func(f workflow.Future) {
			if f.Get(d.root, nil) == nil {
				d.cancel(errTimedOut{after: d.in.Timeout})
			}
		})
	}
	top := d.newGraph(d.g, inputs, kept, "", d.in.Plugins, nil)
	top.top, top.path, top.holdable = true, []string{}, true
	top.done = func(outs map[string]cty.Value, err error) {
		d.runErr, d.outputs = err, outs
	}
	d.top = top
	top.start()
	d.flush()
	d.loop()
	if d.held() {
		return // RunWorkflow continues the run as new
	}
	var full errHistoryFull
	switch {
	case errors.As(d.cause, &full):
		d.status, d.runErr = sandbox.StatusFailed, fmt.Errorf("run stopped: %w", d.cause)
	case d.cause != nil:
		d.status, d.runErr = sandbox.StatusCancelled, fmt.Errorf("run cancelled: %w", d.cause)
	case d.runErr != nil:
		d.status = sandbox.StatusFailed
		var te *engine.TaskError
		if errors.As(d.runErr, &te) && d.g.OnFailure != nil {
			d.onFailure(top, te)
			d.flush()
			d.loop()
			if d.cause != nil {
				d.status, d.runErr = sandbox.StatusCancelled, fmt.Errorf("run cancelled: %w", d.cause)
			}
		}
	default:
		d.status = sandbox.StatusSucceeded
	}
	for _, t := range d.tasks {
		if t.Status == sandbox.StatusPending {
			t.Status = sandbox.StatusSkipped
			if d.status == sandbox.StatusCancelled {
				t.Status = sandbox.StatusCancelled
			}
		}
	}
	d.end = workflow.Now(d.root)
}

// loop runs the selector until no work future is left, noticing a
// cancel request after each.
func (d *driver) loop() {
	for d.waiting > 0 {
		d.next()
		d.noticeCancel()
		if n := workflow.GetInfo(d.root).GetCurrentHistoryLength(); n > HistoryGuard && d.cause == nil {
			d.cancel(errHistoryFull{events: n})
		}
	}
}

// HistoryGuard is the number of events in its history at which a run
// stops starting anything and fails, rather than let Temporal terminate
// it at its hard limit (51,200 events) with its record lost. Big
// for_each fan-outs run in batches and stay far below it; a workflow of
// many thousands of distinct tasks (a dynamic task's, say) may not.
const HistoryGuard = 45_000

// errHistoryFull is the cause of a run that HistoryGuard stopped.
type errHistoryFull struct{ events int }

func (e errHistoryFull) Error() string {
	return fmt.Sprintf("the run's history holds %d events, near Temporal's limit of 51,200, so nothing more starts; "+
		"split the workflow into sub-workflow calls under a for_each (big fan-outs run in batches of their own)", e.events)
}

// noticeCancel cancels the run when Temporal asked to cancel its
// workflow. Every future's callback calls it first, so that the call a
// cancellation ended counts as cancelled, not failed.
func (d *driver) noticeCancel() {
	if d.root.Err() != nil && d.cause == nil {
		d.cancelledByTemporal = true
		d.cancel(errors.New("the run was cancelled"))
	}
}

// next handles one future that is ready, waiting for one if none is:
// the selector's choice, or (awaitReady) the first ready one in the
// order they were added.
func (d *driver) next() {
	if !d.awaitReady {
		d.sel.Select(d.root)
		return
	}
	i := d.firstReady()
	if i < 0 {
		_ = workflow.Await(d.awaitCtx, func() bool {
			i = d.firstReady()
			return i >= 0
		})
	}
	p := d.pending[i]
	d.pending = slices.Delete(d.pending, i, i+1)
	p.fn(p.f)
}

// firstReady is the index in pending of the first future that is
// ready, -1 for none.
func (d *driver) firstReady() int {
	for i, p := range d.pending {
		if p.f.IsReady() {
			return i
		}
	}
	return -1
}

// watch makes the loop run fn when f is ready.
func (d *driver) watch(f workflow.Future, fn func(workflow.Future)) {
	if d.awaitReady {
		d.pending = append(d.pending, pendingFuture{f: f, fn: fn})
		return
	}
	d.sel.AddFuture(f, fn)
}

// add makes f a work future: the loop runs until every one was handled.
func (d *driver) add(f workflow.Future, fn func(workflow.Future)) {
	d.waiting++
	d.watch(f, func(f workflow.Future) {
		d.waiting--
		d.noticeCancel()
		d.maybeHold() // before the result releases more nodes
		fn(f)
		d.flush()
	})
}

// cancel stops the run, as Ctrl-C does locally: in-flight activities
// and timers are cancelled (their calls fail with context.Canceled),
// queued attempts do not start, and no plan starts anything more.
func (d *driver) cancel(cause error) {
	if d.cause != nil {
		return
	}
	d.cause = cause
	d.stop()
	queued := d.queue
	d.queue = nil
	for _, cr := range queued {
		cr.attemptEnd(nil, nil, context.Canceled)
	}
	for _, gr := range slices.Clone(d.graphs) {
		gr.carryOut(gr.plan.Cancel(context.Canceled))
		gr.maybeFinish()
	}
}

// snapshot is the run's record so far, in the shape of a local run's.
func (d *driver) snapshot() *sandbox.Record {
	rec := &sandbox.Record{
		ID:          d.in.ExecutionID,
		Name:        runName(d.in.ExecutionID),
		Workflow:    d.g.Name,
		File:        d.in.Main,
		FileDigest:  d.g.FileDigest,
		Mode:        d.g.Mode.String(),
		Inputs:      map[string]json.RawMessage{},
		Status:      d.status,
		Start:       d.start,
		End:         d.end,
		ResumedFrom: d.in.ResumedFrom,
	}
	for _, name := range sortedKeys(d.in.Inputs) {
		rec.Inputs[name] = d.in.Inputs[name]
	}
	if d.runErr != nil {
		rec.Error = d.runErr.Error()
	}
	if d.status == sandbox.StatusSucceeded && len(d.outputs) > 0 {
		rec.Outputs = map[string]json.RawMessage{}
		for _, name := range sortedKeys(d.outputs) {
			if ref, ok := d.vals.outputRefs[name]; ok {
				if rec.OutputRefs == nil {
					rec.OutputRefs = map[string]sandbox.ValueRef{}
				}
				rec.OutputRefs[name] = ref
				continue
			}
			if data, err := engine.ToJSON(d.outputs[name]); err == nil {
				rec.Outputs[name] = data
			}
		}
	}
	rec.TaskCounts = map[string]int{}
	for _, t := range d.tasks {
		c := *t
		c.Deps = slices.Clone(t.Deps)
		c.AttemptErrors = slices.Clone(t.AttemptErrors)
		c.AttemptTimes = slices.Clone(t.AttemptTimes)
		c.FailedInstances = slices.Clone(t.FailedInstances)
		c.Children = slices.Clone(t.Children)
		c.Nested, c.NestedOmitted = d.nested.of(t.Name)
		rec.Tasks = append(rec.Tasks, c)
		rec.TaskCounts[c.Status]++
	}
	return rec
}

// runName is the name part of an execution id "<project>:<domain>:<name>".
func runName(id string) string {
	if i := strings.LastIndexByte(id, ':'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// onFailure runs the workflow's failure handler after te, with the
// task's retry policy, recording it as the local driver does. The run
// still reports te.
func (d *driver) onFailure(top *graphRun, te *engine.TaskError) {
	t := d.byName[engine.OnFailureNode]
	call, err := top.plan.FailureHandler(te.Node, te.Err.Error())
	t.Status, t.Start, t.Attempts = sandbox.StatusRunning, workflow.Now(d.root), 1
	finish := func(r engine.CallResult) {
		t.End = workflow.Now(d.root)
		if r.Err != nil {
			t.Status, t.Error = sandbox.StatusFailed, r.Err.Error()
			if errors.Is(r.Err, context.Canceled) {
				t.Status = sandbox.StatusCancelled
			}
			return
		}
		t.Status = sandbox.StatusSucceeded
	}
	if err != nil {
		finish(engine.CallResult{Err: err})
		return
	}
	if d.cause != nil {
		finish(engine.CallResult{Err: context.Canceled})
		return
	}
	cr := &callRun{gr: top, call: call, rec: t, owner: engine.OnFailureNode, onResult: finish}
	cr.begin()
}

// graphRun is one plan being driven: the run's, or a nested one for a
// sub-workflow call or a dynamic task's workflow (its tasks named
// "<call>+<task>" in Params.Node, as locally).
type graphRun struct {
	d       *driver
	g       *engine.Graph
	plan    *engine.Plan
	prefix  string
	plugins map[string]PluginRef
	top     bool
	// calls counts the plan's calls that have not finished; the graph
	// has ended when none is left after its ops.
	calls    int
	firstErr error
	ended    bool
	done     func(map[string]cty.Value, error)
	// path names the sub-workflow calls from the run's graph to this
	// one, for batches (batch.go); nil for a graph no batch can find (a
	// dynamic task's).
	path  []string
	batch batcher
	// owner is the run's task this nested graph runs below, whose
	// record keeps its calls' records ("" for the run's graph).
	owner string
	// dyn is the dynamic task's workflow the graph runs, for batches;
	// nil for other graphs.
	dyn *BatchDynamic
	// holdable says that the graph is held when the run continues as new
	// (the run's, and the nested graphs of calls that are not for_each
	// instances, at any depth); held that it is (continue_nested.go);
	// caller is the call it runs for, dynWF the dynamic workflow it runs.
	holdable, held bool
	caller         *callRun
	dynWF          *DynamicWorkflow
	// underInst says that the graph is a for_each instance's, or below
	// one, in a holdable graph: held too in runs that hold instances'
	// graphs (continue_nested.go); inst are the results of the
	// instances that ended of its running for_each nodes, by node and
	// index, which such a run carries.
	underInst bool
	inst      map[string]map[int]engine.CallResult
}

// ownerOf is the run's task whose record keeps the record of call c of
// the graph (a task or an instance).
func (gr *graphRun) ownerOf(c *engine.Call) string {
	switch {
	case !gr.top:
		return gr.owner
	case c.Parent != "":
		return c.Parent
	}
	return c.Name
}

func (d *driver) newGraph(g *engine.Graph, inputs map[string]cty.Value, kept map[string]map[string]cty.Value, prefix string, plugins map[string]PluginRef, done func(map[string]cty.Value, error)) *graphRun {
	parallelism := d.in.Parallelism
	if parallelism <= 0 {
		parallelism = MaxInFlight
	}
	gr := &graphRun{d: d, g: g, plan: engine.NewPlan(g, inputs, parallelism, kept), prefix: prefix, plugins: plugins, done: done}
	d.graphs = append(d.graphs, gr)
	return gr
}

func (gr *graphRun) start() {
	if gr.d.cause != nil {
		gr.plan.Cancel(context.Canceled)
	}
	gr.holdIfContinuing()
	gr.keepInstances()
	gr.carryOut(gr.plan.Start())
	gr.maybeFinish()
}

// carryOut carries out a plan's ops: calls start, records change.
func (gr *graphRun) carryOut(ops []engine.Op) {
	now := workflow.Now(gr.d.root)
	for _, op := range ops {
		n := op.Node
		var t *sandbox.TaskRecord
		if gr.top && !gr.d.restored[n.Name] {
			// (A branch's nodes that an earlier Temporal run of the run
			// ended run again, deciding the same: their records stay.)
			t = gr.d.byName[n.Name]
		} else if r := gr.d.nested.byName[gr.prefix+n.Name]; r != nil {
			t = &r.TaskRecord
		}
		switch op.Kind {
		case engine.OpStart:
			var was sandbox.TaskRecord
			if t != nil {
				was = *t
			}
			if !gr.top {
				t = gr.d.nested.start(gr.owner, gr.prefix+n.Name, n.TaskID(), sandbox.TaskRecord{})
			}
			if t != nil {
				t.Status, t.Start, t.Attempts = sandbox.StatusRunning, now, 1
				gr.d.keepStart(t, was)
				if op.Call != nil {
					t.InputsDigest = engine.InputsDigest(op.Call.Digests)
				}
				if op.Instances != nil {
					t.Instances = len(op.Instances)
				}
			}
			if op.Instances != nil {
				if gr.batch.sizes == nil {
					gr.batch.sizes = map[string]int{}
				}
				gr.batch.sizes[n.Name] = len(op.Instances)
			}
			if op.Call != nil {
				gr.launch(op.Call, t)
			}
		case engine.OpCall:
			if gr.batched(n) {
				gr.hold(op.Call)
				continue
			}
			gr.launch(op.Call, nil)
		case engine.OpSkip:
			if t != nil && gr.top {
				t.Status = sandbox.StatusSkipped
			}
		case engine.OpSucceed, engine.OpFail:
			if t != nil {
				t.End = now
				for _, f := range op.Failed {
					t.FailedInstances = append(t.FailedInstances, engine.FormatValue(f.Key)+": "+f.Err.Error())
				}
				if n.ForEach != nil {
					delete(gr.inst, n.Name)
				}
				if n.ForEach != nil && op.Kind == engine.OpSucceed {
					if data, err := engine.ToJSON(cty.ObjectVal(op.Outputs)); err == nil {
						t.Outputs = data
					}
				}
				if gr.top && n.Cache != nil && t.Cache == "" && gr.d.in.CachePrefix != "" {
					// As locally: cacheable, the cache on, but no lookup.
					t.Cache = sandbox.CacheOff
				}
			}
			if op.Kind == engine.OpSucceed {
				if t != nil {
					t.Status = sandbox.StatusSucceeded
					if !gr.top {
						gr.d.nested.end(t)
					}
				}
				continue
			}
			te := &engine.TaskError{Node: n.Name, TaskID: n.TaskID(), Err: op.Err}
			if gr.firstErr == nil {
				gr.firstErr = te
			}
			if gr.holdable {
				gr.d.releaseHeld() // the run fails or retries where it is
			}
			if t != nil {
				t.Status, t.Error = sandbox.StatusFailed, op.Err.Error()
				if errors.Is(op.Err, context.Canceled) && gr.d.cause != nil {
					t.Status = sandbox.StatusCancelled
				}
				var re *engine.RemoteError
				if errors.As(op.Err, &re) && re.Stderr != "" {
					t.Stderr = re.Stderr
				}
				if !gr.top {
					gr.d.nested.end(t)
				}
			}
		}
	}
}

// launch starts a call of the plan: t is its node's record, nil for an
// instance, whose record is a nested one of its own.
func (gr *graphRun) launch(c *engine.Call, t *sandbox.TaskRecord) {
	gr.calls++
	cr := &callRun{gr: gr, call: c, rec: t, owner: gr.ownerOf(c)}
	cr.onResult = func(r engine.CallResult) { gr.finishCall(c, r) }
	if t == nil && c.Parent != "" {
		var was sandbox.TaskRecord
		if r := gr.d.nested.byName[gr.prefix+c.Name]; r != nil {
			was = r.TaskRecord
		}
		cr.rec = gr.d.nested.start(cr.owner, gr.prefix+c.Name, c.TaskID, sandbox.TaskRecord{
			Status: sandbox.StatusRunning, Start: workflow.Now(gr.d.root), Attempts: 1})
		gr.d.keepStart(cr.rec, was)
		cr.onResult = func(r engine.CallResult) {
			cr.endNested(r)
			gr.finishCall(c, r)
		}
	}
	cr.begin()
}

// endNested ends an instance's nested record with the call's result.
func (cr *callRun) endNested(r engine.CallResult) {
	d, t := cr.gr.d, cr.rec
	t.End, t.Status = workflow.Now(d.root), sandbox.StatusSucceeded
	if r.Err != nil {
		t.Status, t.Error = sandbox.StatusFailed, r.Err.Error()
		if errors.Is(r.Err, context.Canceled) && d.cause != nil {
			t.Status = sandbox.StatusCancelled
		}
	}
	d.nested.end(t)
}

// finishCall feeds a call's result to the plan.
func (gr *graphRun) finishCall(c *engine.Call, r engine.CallResult) {
	gr.calls--
	gr.noteInstance(c, r)
	if gr.d.cause != nil {
		gr.carryOut(gr.plan.Cancel(context.Canceled))
	}
	gr.carryOut(gr.plan.Done(c, r))
	gr.maybeFinish()
}

// maybeFinish ends the graph when none of its calls is left.
func (gr *graphRun) maybeFinish() {
	if gr.ended || gr.calls > 0 {
		return
	}
	if gr.held && gr.d.continuing && gr.firstErr == nil && gr.d.cause == nil && !gr.plan.Complete() {
		return // held: the run continues as new
	}
	gr.ended = true
	gr.d.graphs = slices.DeleteFunc(gr.d.graphs, func(o *graphRun) bool { return o == gr })
	var outs map[string]cty.Value
	err := gr.firstErr
	switch {
	case gr.d.cause != nil:
		err = context.Canceled
		if gr.top {
			err = gr.firstErr
		}
	case err == nil:
		outs, err = gr.plan.Outputs()
	}
	if gr.done != nil {
		gr.done(outs, err)
	}
}

// callRun is one call being made: its attempts, each an activity (or a
// nested graph for a sub-workflow call), with the workflow's retries.
type callRun struct {
	gr       *graphRun
	call     *engine.Call
	rec      *sandbox.TaskRecord // the call's record: a task's, or a nested one (nested.go)
	owner    string              // the run's task whose record keeps the call's nested calls
	onResult func(engine.CallResult)

	attempt    int
	checkpoint string // the latest attempt's checkpoint
	cache      string // the latest attempt's cache outcome
}

func (cr *callRun) begin() {
	n := cr.call.Node
	if n.Sub != nil {
		cr.runSub()
		return
	}
	if cr.resumeDynamic() {
		return // its workflow, which ran when the run continued as new
	}
	cr.startAttempt(1)
}

// runSub runs a sub-workflow call's graph as a nested plan, as the local
// driver's runSub does.
func (cr *callRun) runSub() {
	d, n, c := cr.gr.d, cr.call.Node, cr.call
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(c.Inputs, &raw); err != nil {
		cr.onResult(engine.CallResult{Err: err})
		return
	}
	inputs, err := n.Sub.ParseInputs(nil, raw)
	if err != nil {
		cr.onResult(engine.CallResult{Err: err})
		return
	}
	prefix := cr.gr.prefix + c.Name + "+"
	sub := d.newGraph(n.Sub, inputs, d.takeCarried(prefix, n.Sub), prefix, cr.gr.plugins, func(outs map[string]cty.Value, err error) {
		if err != nil {
			if !errors.Is(err, context.Canceled) || d.cause == nil {
				err = fmt.Errorf("workflow %q: %w", n.Sub.Name, err)
			}
			cr.onResult(engine.CallResult{Err: err})
			return
		}
		if cr.rec != nil && len(outs) > 0 {
			if data, err := engine.ToJSON(cty.ObjectVal(outs)); err == nil {
				cr.rec.Outputs = data
			}
		}
		cr.onResult(engine.CallResult{Outputs: outs})
	})
	if cr.gr.path != nil {
		step := c.Name
		if c.Parent != "" {
			step = c.Parent
		}
		sub.path = append(append([]string{}, cr.gr.path...), step)
	}
	sub.owner, sub.caller, sub.holdable = cr.owner, cr, cr.gr.holdable && c.Parent == ""
	sub.underInst = !sub.holdable && (cr.gr.holdable || cr.gr.underInst)
	sub.start()
}

// startAttempt queues attempt n of the call's task.
func (cr *callRun) startAttempt(attempt int) {
	cr.attempt = attempt
	if cr.rec != nil {
		cr.rec.Attempts = attempt
	}
	d := cr.gr.d
	if d.cause != nil {
		cr.attemptEnd(nil, nil, context.Canceled)
		return
	}
	if d.active >= MaxInFlight {
		d.queue = append(d.queue, cr)
		return
	}
	cr.execute()
}

// execute runs the attempt's activity.
func (cr *callRun) execute() {
	d := cr.gr.d
	d.active++
	in := cr.taskInput()
	cr.refInputs(&in)
	if cr.storeInputs(in, func(in TaskInput, err error) {
		if err != nil {
			d.active--
			d.pump()
			cr.attemptEnd(nil, nil, err)
			return
		}
		cr.schedule(in)
	}) {
		return
	}
	cr.schedule(in)
}

// schedule schedules the attempt's activity.
func (cr *callRun) schedule(in TaskInput) {
	d, n := cr.gr.d, cr.call.Node
	opts := workflow.ActivityOptions{
		TaskQueue:           PluginQueue(d.in.TaskQueue, n.Plugin),
		StartToCloseTimeout: noTimeoutBound,
		HeartbeatTimeout:    HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    1 + MaxWorkerLosses,
			// No NonRetryableErrorTypes: the worker sends ErrTaskFailed
			// and ErrDigestMismatch as non-retryable failures itself, and
			// the policy is kept in every task's scheduled event.
		},
	}
	if n.Timeout > 0 {
		opts.StartToCloseTimeout = n.Timeout + startToCloseMargin
	}
	if !d.served[n.Plugin] {
		// Until a worker has answered for the plugin in this run, its
		// tasks wait a bounded time for one (then fail naming it). The
		// bound costs a server timer per activity (measured: 10-15 ms a
		// task on the test server), so tasks after that go without.
		opts.ScheduleToStartTimeout = d.scheduleToStart()
	}
	f := workflow.ExecuteActivity(workflow.WithActivityOptions(d.ctx, opts), ActivityName(n.Plugin, n.Task), in)
	d.add(f, func(f workflow.Future) {
		d.active--
		var out TaskOutput
		err := f.Get(d.ctx, &out)
		if servedBy(err) {
			if d.served == nil {
				d.served = map[string]bool{}
			}
			d.served[n.Plugin] = true
		}
		d.pump()
		if err != nil {
			cr.activityFailed(err)
			return
		}
		cr.activityDone(&out)
	})
}

// servedBy reports whether an activity's outcome shows that a worker
// served its plugin: it succeeded, failed in a worker, or lost one.
func servedBy(err error) bool {
	var app *temporal.ApplicationError
	var to *temporal.TimeoutError
	switch {
	case err == nil:
		return true
	case errors.As(err, &app):
		return app.Type() == ErrTaskFailed || app.Type() == ErrDigestMismatch
	case errors.As(err, &to):
		return to.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT
	}
	return false
}

func (d *driver) scheduleToStart() time.Duration {
	if d.in.ScheduleToStart > 0 {
		return d.in.ScheduleToStart
	}
	return DefaultScheduleToStart
}

// pump starts queued attempts while slots are free.
func (d *driver) pump() {
	for len(d.queue) > 0 && d.active < MaxInFlight {
		cr := d.queue[0]
		d.queue = d.queue[1:]
		cr.execute()
	}
}

// taskInput describes the attempt for the worker.
func (cr *callRun) taskInput() TaskInput {
	d, c, n := cr.gr.d, cr.call, cr.call.Node
	pol := c.Policy()
	in := TaskInput{
		ExecutionID:   d.in.ExecutionID,
		ExecutionDate: d.in.ExecutionDate,
		Node:          cr.gr.prefix + c.Name,
		PluginSHA256:  cr.gr.plugins[n.Plugin].SHA256,
		Attempt:       cr.attempt,
		Inputs:        c.Inputs,
		// No Digests, Plugin, Task or Retries: the worker computes the
		// digests from Inputs, knows the plugin and task from the activity
		// it runs, and does not read Retries; every byte here is kept in
		// the activity's scheduled event, which the server reads again to
		// dispatch it (a 1,000-task fan-out's events overflowed its
		// events cache: make bench remote-fanout-1000).
		Timeout:        pol.Timeout,
		Secrets:        pol.Secrets,
		EnableDeck:     pol.EnableDeck,
		DeckFields:     pol.DeckFields,
		DataPrefix:     d.in.DataPrefix,
		PrevCheckpoint: cr.checkpoint,
		Mode:           cr.gr.g.Mode,
	}
	if pol.Cache != nil && d.in.CachePrefix != "" {
		in.Cache = &CachePolicy{Version: pol.Cache.Version, Ignore: sortedKeys(pol.Cache.Ignore)}
		in.CachePrefix, in.CacheOverwrite = d.in.CachePrefix, d.in.CacheOverwrite
	}
	if n.Schema != nil && n.Schema.Kind == plugin.KindEager && d.eagerDigestsOn() {
		in.PluginDigests = make(map[string]string, len(cr.gr.plugins))
		for name, ref := range cr.gr.plugins {
			if ref.SHA256 != "" {
				in.PluginDigests[name] = ref.SHA256
			}
		}
	}
	return in
}

// eagerDigestsChange is the workflow.GetVersion change id of sending an
// eager task the digests of the run's plugins (TaskInput.PluginDigests,
// version 1), which its worker checks the tasks it runs against.
const eagerDigestsChange = "goflyte.eager-digests"

// eagerDigestsOn reports whether the run sends eager tasks the run's
// digests; the first eager task's attempt decides.
func (d *driver) eagerDigestsOn() bool {
	if d.eagerDigests == 0 {
		d.eagerDigests = 1
		if workflow.GetVersion(d.root, eagerDigestsChange, workflow.DefaultVersion, 1) >= 1 {
			d.eagerDigests = 2
		}
	}
	return d.eagerDigests == 2
}

// activityDone takes a successful attempt's output: its outputs (loaded
// when they came as a reference), a dynamic task's workflow to run, an
// eager task's children.
func (cr *callRun) activityDone(out *TaskOutput) {
	d := cr.gr.d
	cr.cache = out.Cache
	if t := cr.rec; t != nil {
		t.Cache, t.CacheKey, t.WorkDir, t.Deck, t.LogFile = out.Cache, out.CacheKey, out.WorkDir, out.Deck, out.Logs
		if out.Logs != "" {
			t.LogURIs = append(t.LogURIs, out.Logs) // every attempt's, for runs logs --remote
		}
		t.Children = append(t.Children, out.Children...)
		if out.Cache != sandbox.CacheHit && !out.Start.IsZero() {
			t.AttemptTimes = append(t.AttemptTimes, sandbox.AttemptTime{Start: out.Start, End: out.End})
		}
	}
	cr.addAttemptMetrics(attemptMetrics(out.Start, out.End, out.Cache), out.Metrics)
	d.nested.merge(cr.owner, out.Nested)
	if out.Checkpoint != "" {
		cr.checkpoint = out.Checkpoint
	}
	if out.Dynamic != nil {
		cr.runDynamic(out.Dynamic)
		return
	}
	if out.OutputsRef == "" {
		cr.outputs(out.Outputs)
		return
	}
	if (cr.gr.holdable || cr.gr.underInst) && cr.call.Parent == "" {
		d.refs[cr.gr.prefix+cr.call.Name] = out.OutputsRef // a node's: carried by reference (continue.go)
	}
	if cr.refOutputs(out.OutputsRef) {
		return // read in parts, or held by reference (values.go)
	}
	lctx := workflow.WithLocalActivityOptions(d.ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	d.add(workflow.ExecuteLocalActivity(lctx, ActivityLoadOutputs, out.OutputsRef), func(f workflow.Future) {
		var raw json.RawMessage
		if err := f.Get(d.ctx, &raw); err != nil {
			if temporal.IsCanceledError(err) {
				cr.attemptEnd(nil, nil, context.Canceled)
				return
			}
			cr.attemptEnd(nil, nil, fmt.Errorf("load the task's outputs from %s: %v", out.OutputsRef, unwrapActivity(err)))
			return
		}
		cr.outputs(raw)
	})
}

// outputs checks an attempt's outputs against the node's types.
func (cr *callRun) outputs(raw json.RawMessage) {
	outs, err := engine.DecodeOutputs(cr.call.Node, raw)
	if err == nil && cr.rec != nil {
		cr.rec.Outputs = raw
	}
	cr.attemptEnd(outs, raw, err)
}

// runDynamic compiles and runs a dynamic task's workflow as a nested
// plan; its outcome is the attempt's, so a retryable failure in it
// retries the dynamic task, as locally.
func (cr *callRun) runDynamic(dyn *DynamicWorkflow) {
	d, n := cr.gr.d, cr.call.Node
	w, err := engine.ParseDynamic(dyn.Source, "dynamic task "+cr.gr.prefix+cr.call.Name)
	if err != nil {
		cr.attemptEnd(nil, nil, err)
		return
	}
	// The plugins the dynamic task's worker has, and those the submitter
	// validated the run against (with a dynamic task, every plugin it
	// had): a plugin that worker lacks may still be served elsewhere, and
	// the submitter's digests are the run's.
	plugins := make(map[string]PluginRef, len(dyn.Plugins)+len(d.in.Plugins))
	for name, ref := range dyn.Plugins {
		plugins[name] = ref
	}
	for name, ref := range d.in.Plugins {
		plugins[name] = ref
	}
	g, err := engine.DynamicGraph(n, w, engine.Sources{Schemas: schemas(plugins)})
	if err != nil {
		cr.attemptEnd(nil, nil, err)
		return
	}
	prefix := cr.gr.prefix + cr.call.Name + "+"
	sub := d.newGraph(g, nil, d.takeCarried(prefix, g), prefix, plugins, func(outs map[string]cty.Value, err error) {
		if err != nil {
			cr.attemptEnd(nil, nil, err)
			return
		}
		outs, err = engine.DynamicOutputs(n, outs)
		if err == nil && cr.rec != nil {
			if data, jerr := engine.ToJSON(cty.ObjectVal(outs)); jerr == nil {
				cr.rec.Outputs = data
			}
		}
		cr.attemptEnd(outs, nil, err)
	})
	sub.owner, sub.caller, sub.dynWF = cr.owner, cr, dyn
	sub.holdable = cr.gr.holdable && cr.call.Parent == ""
	sub.underInst = !sub.holdable && (cr.gr.holdable || cr.gr.underInst)
	sub.dyn = &BatchDynamic{Name: "dynamic task " + cr.gr.prefix + cr.call.Name, Source: dyn.Source, Plugins: dyn.Plugins,
		EnableDeck: n.EnableDeck, DeckFields: n.DeckFields}
	sub.start()
}

// activityFailed turns an activity's failure into the attempt's error:
// the task's own failure as the worker reported it, a cancellation, a
// plugin no worker serves, or worker losses beyond MaxWorkerLosses.
func (cr *callRun) activityFailed(err error) {
	n := cr.call.Node
	if temporal.IsCanceledError(err) {
		cr.attemptEnd(nil, nil, context.Canceled)
		return
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && (app.Type() == ErrTaskFailed || app.Type() == ErrDigestMismatch) {
		var f TaskFailure
		if app.HasDetails() {
			_ = app.Details(&f)
		}
		if f.Message == "" {
			f.Message = app.Message()
		}
		if t := cr.rec; t != nil {
			if f.WorkDir != "" {
				t.WorkDir = f.WorkDir
			}
			if f.Logs != "" {
				t.LogURIs = append(t.LogURIs, f.Logs)
			}
			if !f.Start.IsZero() {
				t.AttemptTimes = append(t.AttemptTimes, sandbox.AttemptTime{Start: f.Start, End: f.End})
			}
		}
		cr.addAttemptMetrics(attemptMetrics(f.Start, f.End, ""), f.Metrics)
		if f.Checkpoint != "" {
			cr.checkpoint = f.Checkpoint
		}
		cr.gr.d.nested.merge(cr.owner, f.Nested)
		cr.attemptEnd(nil, nil, &engine.RemoteError{Message: f.Message, Kind: f.Kind, Retryable: f.Retryable && app.Type() == ErrTaskFailed,
			Diagnostics: f.Diagnostics, Stderr: f.Stderr})
		return
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		switch to.TimeoutType() {
		case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
			q := PluginQueue(cr.gr.d.in.TaskQueue, n.Plugin)
			cr.attemptEnd(nil, nil, &engine.RemoteError{Kind: "unserved", Message: fmt.Sprintf(
				"no worker serves plugin %q: the task waited %s for one on task queue %q; start `goflyte worker` where plugin %q is installed",
				n.Plugin, cr.gr.d.scheduleToStart(), q, n.Plugin)})
			return
		case enumspb.TIMEOUT_TYPE_HEARTBEAT, enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
			cr.attemptEnd(nil, nil, &engine.RemoteError{Kind: "worker", Message: fmt.Sprintf(
				"the task lost its worker %d times (no heartbeat for %s, or no answer); a task may lose its worker %d times",
				1+MaxWorkerLosses, HeartbeatTimeout, MaxWorkerLosses)})
			return
		}
	}
	cr.attemptEnd(nil, nil, &engine.RemoteError{Kind: "worker", Message: fmt.Sprintf(
		"the worker could not run the task (%d tries): %v", 1+MaxWorkerLosses, unwrapActivity(err))})
}

// unwrapActivity strips the SDK's ActivityError wrapper, whose text
// names event ids, down to its cause.
func unwrapActivity(err error) error {
	var ae *temporal.ActivityError
	if errors.As(err, &ae) {
		if cause := errors.Unwrap(ae); cause != nil {
			return cause
		}
	}
	return err
}

// attemptEnd takes an attempt's outcome: another attempt after the
// task's backoff (a workflow timer in the same selector) when it failed
// retryably and retries are left, as locally; the call's result
// otherwise.
func (cr *callRun) attemptEnd(outs map[string]cty.Value, _ json.RawMessage, err error) {
	d, n := cr.gr.d, cr.call.Node
	r := engine.CallResult{Outputs: outs, Err: err}
	if err == nil || d.cause != nil || errors.Is(err, context.Canceled) || cr.attempt > n.Retries || !r.Retryable() {
		if err != nil {
			cr.addAttemptMetrics(func(r *stats.Recorder) { r.Incr(engine.MetricFailures) }, nil)
		}
		cr.onResult(r)
		return
	}
	if cr.rec != nil {
		cr.rec.AttemptErrors = append(cr.rec.AttemptErrors, err.Error())
	}
	cr.addAttemptMetrics(func(r *stats.Recorder) { r.Incr(engine.MetricRetries) }, nil)
	next := cr.attempt + 1
	d.add(workflow.NewTimer(d.ctx, engine.RetryWait(n.Backoff, cr.attempt)), func(f workflow.Future) {
		if f.Get(d.ctx, nil) != nil {
			cr.onResult(engine.CallResult{Err: context.Canceled})
			return
		}
		cr.startAttempt(next)
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
