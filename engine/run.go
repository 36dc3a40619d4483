package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/secretsbackends"
	"github.com/goflyte/goflyte/stats"
)

// Status is the state of a run or of one task in it.
type Status string

// Statuses. A task that never ran because the run stopped early is skipped
// (after a failure) or cancelled (after cancellation).
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCancelled Status = "cancelled"
)

// RunOptions configures Run.
type RunOptions struct {
	// Inputs are the workflow's input values; missing ones take their
	// defaults. Use Graph.ParseInputs to build them from text.
	Inputs map[string]cty.Value
	// Parallelism bounds how many tasks run at once; 0 means the CPU count.
	Parallelism int
	// Observer, if set, is told about every task event, in order, from one
	// goroutine.
	Observer func(Event)
	// Started, if set, is called with the run's name once its record
	// exists in the sandbox (before any task starts).
	Started func(run string)
	// Now is the run's execution date; zero means time.Now().
	Now time.Time
	// Explain fills TaskRun.CacheReason for every cache miss.
	Explain bool
	// Resume, if set, keeps the outputs of tasks that succeeded in an
	// earlier run of the same workflow.
	Resume *Resume
	// Grace is how long a task whose context ended (a timeout, or the
	// run's cancellation) may take to return before its plugin process is
	// killed; 0 means DefaultGrace.
	Grace time.Duration
}

// DefaultGrace is the default RunOptions.Grace.
const DefaultGrace = 5 * time.Second

// Resume describes the run that a run resumes.
type Resume struct {
	Record *sandbox.Record
	// RunDir is the earlier run's directory, where large outputs are.
	RunDir string
	// From names a task to re-run, with everything downstream of it, even
	// if it succeeded.
	From string

	attemptsOnce sync.Once
	attempts     map[string]int // by task name, from Record
}

// taskAttempts returns how many attempts the resumed run made of a task.
func (r *Resume) taskAttempts(name string) int {
	r.attemptsOnce.Do(func() {
		r.attempts = make(map[string]int, len(r.Record.Tasks))
		for _, t := range r.Record.Tasks {
			r.attempts[t.Name] = t.Attempts
		}
	})
	return r.attempts[name]
}

// EventKind says what happened to a task.
type EventKind int

// Task events.
const (
	EventStarted EventKind = iota
	EventSucceeded
	EventFailed
)

// Event is one task event, for progress display.
type Event struct {
	Kind EventKind
	Task *TaskRun
	// Done and Total count finished and all tasks of the run.
	Done, Total int
}

// Result is what a run did.
type Result struct {
	ExecutionID   string
	ExecutionDate time.Time
	RunDir        string
	Workflow      string
	Status        Status
	// Outputs are the workflow's outputs (the task's, for a task run), set
	// when the run succeeded.
	Outputs map[string]cty.Value
	// Tasks are in the graph's declaration order.
	Tasks      []*TaskRun
	Err        error
	Start, End time.Time
	// Deck is the run's deck index page, "" when no task had decks.
	Deck string
}

// TaskRun is one task's part in a run.
type TaskRun struct {
	Node       string
	TaskID     string
	Status     Status
	Attempts   int
	WorkDir    string
	Start, End time.Time
	Outputs    map[string]cty.Value
	Err        error
	// Cache is CacheHit, CacheMiss or CacheOverwrite for a cached task,
	// "" for one that is not cached (or with the cache disabled).
	Cache    string
	CacheKey string
	// CacheReason says why a cached task missed (with RunOptions.Explain).
	CacheReason string
	// AttemptErrors are the errors of the attempts that were retried.
	AttemptErrors []string
	// AttemptTimes are when each attempt that called the plugin started
	// and ended, in order (not kept for the instances of a for_each).
	AttemptTimes []sandbox.AttemptTime
	// Instances counts the instances of a task with for_each, and
	// FailedInstances lists those that failed ("<key>: <error>").
	Instances       int
	FailedInstances []string
	// InstanceCacheHits counts the instances whose outputs came from the
	// cache.
	InstanceCacheHits int
	// Children are the tasks an eager task ran: "<n> <plugin.task>
	// <status>", in the order they ended.
	Children []string
	// OutputsJSON are the outputs as the plugin (or the cache) gave them.
	OutputsJSON json.RawMessage
	// Resumed marks a task whose outputs were kept from the run that this
	// one resumes; it did not run.
	Resumed bool
	// Deck is the task's deck page, "" when it has none.
	Deck string

	inputsDigest string
	stats        *stats.Recorder // see Metrics; nil until the task runs
	recorded     metricsMemo     // the metrics in its last record (recordedMetrics)
}

// Duration is how long the task ran.
func (t *TaskRun) Duration() time.Duration {
	if t.Start.IsZero() || t.End.IsZero() {
		return 0
	}
	return t.End.Sub(t.Start)
}

// TaskError is a task that failed: it names the task, its plugin and the
// cause (a *plugin.TaskError from the task, a *plugin.ProcessError with the
// plugin's stderr tail, or an input evaluation error).
type TaskError struct {
	Node   string
	TaskID string
	Err    error
	// Diagnostics are the plugin's problems with particular inputs, pointed
	// at those inputs' expressions in the workflow file (no Subject for a
	// single-task run, which has no file).
	Diagnostics hcl.Diagnostics
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task %q (%s) failed: %v", e.Node, e.TaskID, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// ParseInputs turns text values (from --input name=value) and JSON values
// (from --inputs-file) into typed inputs of the graph, applies defaults and
// reports unknown and missing inputs. Text values win over JSON ones.
func (g *Graph) ParseInputs(text map[string]string, fromJSON map[string]json.RawMessage) (map[string]cty.Value, error) {
	known := make([]string, len(g.Inputs))
	byName := map[string]*config.WorkflowInput{}
	for i, in := range g.Inputs {
		known[i] = in.Name
		byName[in.Name] = in
	}
	var problems []string
	unknown := func(name string) {
		msg := fmt.Sprintf("%s has no input named %q", g.Name, name)
		if s := config.Suggest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(known) > 0 {
			msg += fmt.Sprintf(" (its inputs: %s)", strings.Join(known, ", "))
		}
		problems = append(problems, msg)
	}
	values := map[string]cty.Value{}
	for _, name := range sortedKeys(fromJSON) {
		in, ok := byName[name]
		if !ok {
			unknown(name)
			continue
		}
		var err error
		var v cty.Value
		if diags := config.CheckJSONNesting(fromJSON[name], "--inputs-file "+name); diags.HasErrors() {
			err = diags
		} else {
			v, err = FromJSON(fromJSON[name], in.Type)
		}
		if err == nil {
			v, err = convert.Convert(v, in.Type)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("input %q: expected %s: %v", name, in.TypeExpr, err))
			continue
		}
		values[name] = v
	}
	for _, name := range sortedKeys(text) {
		in, ok := byName[name]
		if !ok {
			unknown(name)
			continue
		}
		v, err := ParseInputValue(text[name], in.Type)
		if err == nil {
			v, err = convert.Convert(v, in.Type)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("input %q: %v", name, err))
			continue
		}
		values[name] = v
	}
	for _, in := range g.Inputs {
		_, given := text[in.Name]
		if _, ok := fromJSON[in.Name]; ok {
			given = true
		}
		if _, ok := values[in.Name]; ok || given {
			continue // set, or given and wrong (said above)
		}
		if in.Required() {
			problems = append(problems, fmt.Sprintf("missing required input %q (%s): pass --input %s=VALUE", in.Name, in.TypeExpr, in.Name))
			continue
		}
		values[in.Name] = in.Default
	}
	if len(problems) > 0 {
		return nil, &InputError{Problems: problems}
	}
	return values, nil
}

// InputError lists every problem with the inputs given to a run.
type InputError struct {
	Problems []string
}

func (e *InputError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return "invalid inputs:\n  " + strings.Join(e.Problems, "\n  ")
}

// Run executes g: ready tasks start as soon as their inputs exist, up to
// the parallelism. After the first failure no new task starts; tasks
// already running finish. Cancelling ctx cancels running tasks. The error
// is non-nil only when the run could not start (bad inputs, no sandbox);
// a task failure is in Result.Status and Result.Err.
func (e *Engine) Run(ctx context.Context, g *Graph, opts RunOptions) (*Result, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = runtime.NumCPU()
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	for _, in := range g.Inputs {
		if _, ok := opts.Inputs[in.Name]; !ok {
			return nil, fmt.Errorf("input %q has no value", in.Name)
		}
	}
	var kept map[string]keptTask
	if opts.Resume != nil {
		var err error
		if kept, err = planResume(g, opts.Resume); err != nil {
			return nil, err
		}
	}
	sb := sandbox.Sandbox{Root: e.Config.SDK.LocalSandbox}
	var run *sandbox.Run
	var err error
	for try := 0; ; try++ {
		// Names hold the second and random bits: a clash needs thousands
		// of runs a second in one sandbox, and a retry resolves it.
		run, err = sb.NewRun(sandbox.NewRunName(opts.Now))
		if err == nil || !errors.Is(err, fs.ErrExist) || try == 4 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	name := run.Name
	inputs := cty.ObjectVal(opts.Inputs)
	if len(opts.Inputs) == 0 {
		inputs = cty.EmptyObjectVal
	}
	x := &execution{
		engine: e,
		graph:  g,
		opts:   opts,
		run:    run,
		inputs: inputs,
		res: &Result{
			ExecutionID:   fmt.Sprintf("%s:%s:%s", e.Config.Local.Project, e.Config.Local.Domain, name),
			ExecutionDate: opts.Now,
			RunDir:        run.Dir,
			Workflow:      g.Name,
			Start:         time.Now(),
		},
		tasks: map[string]*TaskRun{},
		decks: &deckCalls{},
	}
	x.files = &fileIO{x: x}
	x.files.uri = x.files.prefixURI()
	defer x.files.close()
	for _, n := range g.Nodes {
		tr := &TaskRun{Node: n.Name, TaskID: n.TaskID(), Status: StatusPending}
		x.res.Tasks = append(x.res.Tasks, tr)
		x.tasks[n.Name] = tr
	}
	if n := g.OnFailure; n != nil {
		tr := &TaskRun{Node: n.Name, TaskID: n.TaskID(), Status: StatusPending}
		x.res.Tasks = append(x.res.Tasks, tr)
		x.tasks[n.Name] = tr
	}
	if opts.Resume != nil {
		now := time.Now()
		for name, k := range kept {
			tr := x.tasks[name]
			tr.Status, tr.Resumed, tr.Start, tr.End = StatusSucceeded, true, now, now
			tr.Outputs, tr.OutputsJSON = k.outputs, k.raw
		}
		x.resumedFrom = opts.Resume.Record.ID
	}
	// Working directories are made ahead only for tasks that will surely
	// run: a cached task may need none.
	var ahead []*Node
	for _, n := range runOrder(g) {
		if x.tasks[n.Name].Resumed || n.ForEach != nil || n.Kind != KindTask || n.Sub != nil {
			continue // kept, or instances that make their own directories
		}
		if !e.cacheUsed(n) || e.Config.Local.CacheOverwrite {
			ahead = append(ahead, n)
		}
	}
	// The plugins of the tasks that start first start now, so that
	// launching them (tens of milliseconds) overlaps with writing the
	// record and making the working directories instead of following
	// them. A task's own Get waits for the same process (or its error).
	prestarted := map[string]bool{}
	for _, n := range ahead {
		if len(n.Deps) == 0 && n.Arm == nil && n.Plugin != "" && !prestarted[n.Plugin] {
			prestarted[n.Plugin] = true
			go func(name string) { _, _, _ = e.Plugins.Get(ctx, name) }(n.Plugin)
		}
	}
	if err := x.startRecord(); err != nil {
		return nil, err
	}
	x.logs = e.logs.start(e, run, e.Config.SDK.LoggingLevel)
	x.workdirs = startWorkdirs(run, ahead, "")
	x.schedule(ctx)
	if x.res.Status == StatusFailed {
		x.runOnFailure(ctx)
	}
	x.workdirs.close()
	x.res.End = time.Now()
	x.renderDecks()
	e.logs.end(x.logs)
	x.finishRecord()
	return x.res, nil
}

type execution struct {
	engine *Engine
	graph  *Graph
	opts   RunOptions
	run    *sandbox.Run
	inputs cty.Value
	res    *Result
	tasks  map[string]*TaskRun
	// workdirs makes the tasks' working directories ahead of them.
	workdirs *workdirs
	// plan is the run's semantics, driven by schedule; nil before it.
	plan *Plan
	// children are the tasks eager tasks ran, by node ("<n> <task>
	// <status>"), written by the calls' goroutines.
	childMu  sync.Mutex
	children map[string][]string
	// prefix names the sub-workflow call this execution runs for
	// ("<task>+"), "" for the run itself: it starts the names of its
	// tasks' working directories and their Params.Node.
	prefix string
	// files is the run's data store and fetched inputs, shared by its
	// sub-workflows.
	files *fileIO
	// record is the run's record as started, recorder its writer.
	record      *sandbox.Record
	recorder    *sandbox.Recorder
	resumedFrom string
	// decks are the calls of tasks with decks enabled, shared with
	// sub-workflow executions.
	decks *deckCalls
	// logs are the run's task logs (tasklog.go).
	logs *runLog
	// lineMu orders the record lines of calls after those of the
	// scheduler's step that launched them (see schedule).
	lineMu sync.Mutex
	// checkPlugin, when set (TaskCall.CheckPlugin), is asked before a
	// task an eager task runs whether its plugin may run here.
	checkPlugin func(ctx context.Context, plugin string) error
}

// callDone is a call that returned, for the scheduling loop.
type callDone struct {
	call *Call
	res  CallResult
	hit  bool // an instance's outputs came from the cache
}

// lineBatch is how many record lines the scheduler keeps, at most, while
// it has results in hand (see schedule).
const lineBatch = 256

// fanRun is the driver's side of a running for_each: the instances'
// working directories, their shared metrics and their cache hits.
type fanRun struct {
	dirs *workdirs
	// ahead looks cached instances up ahead of the plan; nil when the
	// node is not cached.
	ahead *lookahead
	rec   *stats.Recorder
	n     int // instances
	hits  int
}

// schedule drives the run's Plan: it carries out the plan's operations in
// order (task runs, records, events), makes each call in a goroutine of
// its own and feeds the results back to the plan from this one loop, the
// only one that touches the plan and the task runs of nodes.
func (x *execution) schedule(ctx context.Context) {
	g := x.graph
	finished := 0
	var kept map[string]map[string]cty.Value
	for _, n := range g.Nodes {
		if tr := x.tasks[n.Name]; tr.Resumed {
			// Kept from the resumed run: done before anything starts.
			finished++
			x.recordTask(n, tr)
			x.notify(EventSucceeded, tr, finished)
			if kept == nil {
				kept = map[string]map[string]cty.Value{}
			}
			kept[n.Name] = tr.Outputs
		}
	}
	p := newPlan(g, x.inputs, x.opts.Parallelism, kept)
	x.plan = p
	p.expandWorkers = runtime.GOMAXPROCS(0)
	// Cached tasks that depend on nothing are looked up ahead of the
	// plan; a hit ends without a goroutine (roots.take below).
	roots := x.startRootAhead(p)
	if roots != nil {
		p.argsAhead = roots.args
		defer roots.close()
	}

	// Buffered: a call that returned need not wait for the loop to take
	// its result.
	done := make(chan callDone, x.opts.Parallelism)
	// ready are results the loop has without a goroutine (cache hits
	// found ahead: for_each instances, root tasks): it takes them before
	// waiting on done.
	var ready []callDone
	launched := false // a goroutine was launched in this step
	inFlight := 0
	var firstErr error
	var fans map[string]*fanRun
	// held are the task calls of the step being carried out, launched
	// when it is: the only call in flight runs in this goroutine instead
	// (see below).
	type heldCall struct {
		call *Call
		tr   *TaskRun
	}
	var held []heldCall
	launch := func(c *Call, tr *TaskRun) {
		inFlight++
		if roots != nil {
			if outs, hit := roots.take(c, tr); hit {
				ready = append(ready, callDone{call: c, res: CallResult{Outputs: outs}})
				return
			}
		}
		launched = true
		held = append(held, heldCall{c, tr})
	}
	goHeld := func() {
		for i, h := range held {
			go func() {
				outs, err := x.execute(ctx, h.call.Node, h.tr, h.call.args)
				done <- callDone{call: h.call, res: CallResult{Outputs: outs, Err: err}}
			}()
			held[i] = heldCall{}
		}
		held = held[:0]
	}
	launchInstance := func(c *Call) {
		inFlight++
		fr := fans[c.Parent]
		if fr.ahead != nil {
			itr := &TaskRun{Node: c.Name, TaskID: c.TaskID, Status: StatusRunning, Attempts: 1, stats: fr.rec}
			if outs, hit := fr.ahead.take(c, itr); hit {
				x.logEnd(c.Node, itr, nil)
				ready = append(ready, callDone{call: c, res: CallResult{Outputs: outs}, hit: true})
				return
			}
		}
		launched = true
		go func() {
			itr := &TaskRun{Node: c.Name, TaskID: c.TaskID, Status: StatusRunning, Attempts: 1, stats: fr.rec}
			outs, err := x.execute(ctx, c.Node, itr, c.args)
			x.logEnd(c.Node, itr, err)
			done <- callDone{call: c, res: CallResult{Outputs: outs, Err: err}, hit: itr.Cache == CacheHit}
		}()
	}
	// The record lines of one step (a task that ended and those it let
	// start) are written in one write, after the step's calls are
	// launched on goroutines (then they need not wait for the write), or
	// before the only call in flight is made by this loop itself. Each
	// state is taken when it happens (a call may change its task run once
	// launched); the lines keep their order. So is the task log line of
	// a task that ended (at -v).
	//
	// While the loop has results in hand (ready: cache hits found ahead),
	// the lines of its steps wait for each other, up to lineBatch, and
	// go in one write: a fully cached run of 10,000 tasks made a write
	// per task. A step that launched a goroutine writes them all: that
	// call's own lines (a retry) must follow its task's earlier ones.
	var lines []sandbox.TaskRecord
	var ended []Op
	record := func(n *Node, tr *TaskRun) {
		if x.recorder != nil {
			lines = append(lines, x.taskRecord(n, tr))
		}
	}
	flushLines := func() {
		if len(lines) > 0 {
			x.recordTasks(lines)
			clear(lines)
			lines = lines[:0]
		}
	}
	defer func() {
		x.lineMu.Lock()
		flushLines()
		x.lineMu.Unlock()
	}()
	carryOut := func(ops []Op) {
		// A launched call's own record lines (a retry) wait until the
		// step's lines are written.
		x.lineMu.Lock()
		defer func() {
			if len(held) > 1 || len(held) == 1 && inFlight > 1 {
				// Launched before the lines are written, so that their
				// calls need not wait for the write.
				goHeld()
			}
			if launched || len(ready) == 0 || len(lines) >= lineBatch {
				flushLines()
			}
			launched = false
			x.lineMu.Unlock()
			for i, op := range ended {
				x.logEnd(op.Node, x.tasks[op.Node.Name], op.Err)
				ended[i] = Op{}
			}
			ended = ended[:0]
		}()
		for _, op := range ops {
			n := op.Node
			tr := x.tasks[n.Name]
			switch op.Kind {
			case OpStart:
				tr.Status, tr.Start, tr.Attempts = StatusRunning, time.Now(), 1
				if op.Call != nil {
					tr.inputsDigest = inputsDigest(op.Call.Digests)
				}
				if !x.engine.cacheUsed(n) || x.engine.Config.Local.CacheOverwrite {
					// A cached task's first event is its last: one record
					// line per task keeps a fully cached run fast.
					record(n, tr)
				}
				x.notify(EventStarted, tr, finished)
				if op.Instances != nil {
					if fans == nil {
						fans = map[string]*fanRun{}
					}
					fr := &fanRun{rec: x.taskStats(n, tr), n: len(op.Instances)} // one set of metrics for the node
					workers := x.opts.Parallelism
					if mp := n.ForEach.MaxParallel; mp > 0 {
						workers = min(workers, mp)
					}
					fr.ahead = x.startLookahead(n, op.Instances, workers)
					if n.Sub == nil && (!x.engine.cacheUsed(n) || x.engine.Config.Local.CacheOverwrite) {
						// Every instance will run: make their directories
						// ahead of them.
						insts := make([]*Node, len(op.Instances))
						for i, c := range op.Instances {
							insts[i] = c.Node
						}
						fr.dirs = startWorkdirs(x.run, insts, x.prefix)
						for _, inst := range insts {
							inst.dirs = fr.dirs
						}
					}
					fans[n.Name] = fr
				}
				if op.Call != nil {
					launch(op.Call, tr)
				}
			case OpCall:
				launchInstance(op.Call)
			case OpSkip:
				tr.Status = StatusSkipped
				finished++
				record(n, tr)
			case OpSucceed, OpFail:
				finished++
				tr.End = time.Now()
				tr.Children = x.takeChildren(n.Name)
				if fr := fans[n.Name]; fr != nil {
					x.endFan(n, tr, fr, op)
					delete(fans, n.Name)
				}
				ended = append(ended, op)
				if op.Kind == OpFail {
					tr.Status = StatusFailed
					if ctx.Err() != nil && errors.Is(op.Err, ctx.Err()) { // Ctrl-C or --timeout
						tr.Status = StatusCancelled
					}
					err := x.engine.redactor.redactError(op.Err)
					tr.Err = &TaskError{Node: n.Name, TaskID: n.TaskID(), Err: err, Diagnostics: inputDiagnostics(n, err)}
					if firstErr == nil {
						firstErr = tr.Err
					}
					record(n, tr)
					x.notify(EventFailed, tr, finished)
					continue
				}
				tr.Status, tr.Outputs = StatusSucceeded, op.Outputs
				record(n, tr)
				x.notify(EventSucceeded, tr, finished)
			}
		}
	}

	if ctx.Err() != nil {
		p.Cancel(ctx.Err())
	}
	defer func() {
		for _, fr := range fans { // none, unless a panic ends the loop
			if fr.ahead != nil {
				fr.ahead.close()
			}
		}
	}()
	carryOut(p.Start())
	for inFlight > 0 {
		var d callDone
		switch {
		case len(held) == 1:
			// The only call in flight (a chain's next step): this loop
			// would only wait for it, so it makes the call itself,
			// instead of handing it to a goroutine and its result back.
			// Its step's lines are written (carryOut).
			h := held[0]
			held[0] = heldCall{}
			held = held[:0]
			outs, err := x.execute(ctx, h.call.Node, h.tr, h.call.args)
			d = callDone{call: h.call, res: CallResult{Outputs: outs, Err: err}}
		case len(ready) > 0:
			d, ready[0] = ready[0], callDone{}
			ready = ready[1:]
		default:
			if len(lines) > 0 { // none, unless the last step had results in hand
				x.lineMu.Lock()
				flushLines()
				x.lineMu.Unlock()
			}
			d = <-done
		}
		inFlight--
		if fr := fans[d.call.Parent]; fr != nil && d.hit {
			fr.hits++
		}
		if ctx.Err() != nil {
			carryOut(p.Cancel(ctx.Err()))
		}
		carryOut(p.Done(d.call, d.res))
	}

	switch {
	case ctx.Err() != nil:
		x.res.Status = StatusCancelled
		x.res.Err = fmt.Errorf("run cancelled: %w", context.Cause(ctx))
	case firstErr != nil:
		x.res.Status = StatusFailed
		x.res.Err = firstErr
	default:
		x.res.Status = StatusSucceeded
		outs, err := p.Outputs()
		if err != nil {
			x.res.Status, x.res.Err = StatusFailed, err
		}
		x.res.Outputs = outs
	}
	for _, tr := range x.res.Tasks {
		if tr.Status == StatusPending {
			tr.Status = StatusSkipped
			if x.res.Status == StatusCancelled {
				tr.Status = StatusCancelled
			}
		}
	}
}

// endFan completes the task run of a for_each node that ended: its
// instances, cache hits and failed instances ("<key>: <error>", in
// element order), and its collected outputs as JSON.
func (x *execution) endFan(n *Node, tr *TaskRun, fr *fanRun, op Op) {
	if fr.dirs != nil {
		fr.dirs.close()
	}
	if fr.ahead != nil {
		fr.ahead.close()
	}
	tr.Instances, tr.InstanceCacheHits = fr.n, fr.hits
	for _, f := range op.Failed {
		msg := x.engine.Redact(x.engine.redactor.redactError(f.Err).Error())
		tr.FailedInstances = append(tr.FailedInstances, FormatValue(f.Key)+": "+msg)
	}
	if op.Kind == OpSucceed {
		if data, err := ToJSON(cty.ObjectVal(op.Outputs)); err == nil {
			tr.OutputsJSON = data
		}
	}
}

func (x *execution) notify(kind EventKind, tr *TaskRun, done int) {
	if x.opts.Observer != nil {
		x.opts.Observer(Event{Kind: kind, Task: tr, Done: done, Total: len(x.res.Tasks)})
	}
}

func (x *execution) execute(ctx context.Context, n *Node, tr *TaskRun, args *taskArgs) (map[string]cty.Value, error) {
	if n.Sub != nil {
		return x.runSub(ctx, n, tr, args)
	}
	e := x.engine
	rec := x.taskStats(n, tr)
	var key cache.Key
	cached := e.cacheUsed(n)
	if args.files != nil {
		var err error
		if args, err = x.localFiles(ctx, args, cached); err != nil {
			return nil, err
		}
	}
	if cached {
		key = cacheKey(n, args.digests)
		tr.CacheKey = key.String()
		if e.Config.Local.CacheOverwrite {
			tr.Cache = CacheOverwrite
		} else {
			outs, raw, hit, reason := e.cacheLookup(n, key, args.digests, x.opts.Explain)
			if hit {
				tr.Cache, tr.OutputsJSON = CacheHit, raw
				rec.Incr(MetricCacheHits)
				return outs, nil
			}
			tr.Cache, tr.CacheReason = CacheMiss, reason
			rec.Incr(MetricCacheMisses)
		}
	}
	outs, raw, err := x.attempts(ctx, n, tr, args)
	if err != nil {
		rec.Incr(MetricFailures)
	}
	if err == nil {
		tr.OutputsJSON = raw
		switch {
		case cached && e.redactor.holds(string(raw)):
			// Cache files are plain files: a result that holds a secret
			// value is used, never stored.
			e.warnOnce("secret-out-"+n.TaskID(), "not caching a result that holds a secret value", "task", n.TaskID())
		case cached:
			e.cachePut(n, key, args.digests, raw, x.run.Name)
		}
	}
	return outs, err
}

// call runs the task in its plugin: secrets, working directory, the call,
// and the check of its outputs.
// It reports the working directory it used ("" when the plugin was to
// make it, lazyDir, and the task never did); it writes nothing into tr,
// because a call abandoned after a timeout may still be running. The
// metrics the task recorded go into rec, also when it failed.
func (x *execution) call(ctx context.Context, n *Node, attempt int, callID string, args *taskArgs, client plugin.Provider, lazyDir bool, rec *stats.Recorder) (map[string]cty.Value, json.RawMessage, string, error) {
	secrets, err := x.engine.resolveSecrets(ctx, n)
	if err != nil {
		return nil, nil, "", err
	}
	dirs := x.workdirs
	if n.dirs != nil {
		dirs = n.dirs
	}
	dir, made, err := dirs.get(ctx, n.Name, attempt, lazyDir)
	if err != nil {
		return nil, nil, "", err
	}
	cpDir, prevCP, err := x.checkpoints(n, attempt)
	if err != nil {
		if !made {
			dir = ""
		}
		return nil, nil, dir, err
	}
	if n.Schema != nil && n.Schema.Kind == plugin.KindEager {
		call := &eagerCall{x: x, n: n, prefix: x.prefix + n.Name + "+"}
		x.engine.host.register(callID, call)
		defer func() {
			x.engine.host.unregister(callID)
			x.eagerChildren(n, call)
		}()
	}
	if callStarted != nil {
		callStarted(n)
	}
	start := time.Now()
	res, err := client.Execute(ctx, &plugin.ExecuteRequest{
		Host:    x.engine.host, // used by in-process providers; over gRPC, the broker carries it
		CallID:  callID,
		Secrets: secrets,
		Task:    n.Task,
		Inputs:  args.json,
		Params: plugin.Params{
			ExecutionID:      x.res.ExecutionID,
			ExecutionDate:    x.res.ExecutionDate,
			WorkingDirectory: dir,
			// The plugin makes it when its task first uses it.
			MakeWorkingDirectory: !made,
			Mode:                 x.graph.Mode,
			TaskID:               n.TaskID(),
			Node:                 x.paramsNode(n),
			Attempt:              attempt,
			LogLevel:             x.engine.Config.SDK.LoggingLevel,
			CheckpointDir:        cpDir,
			PrevCheckpointDir:    prevCP,
			TmpDir:               x.run.TmpDir(),
			RawOutputPrefix:      x.files.uri,
			StatsD:               x.engine.statsdEndpoint,
			EnableDeck:           n.EnableDeck,
		},
	})
	if res != nil {
		rec.Merge(res.Metrics)
	}
	used := dir // what the record names: only a directory that exists
	if !made && !lazyDirMade(res, dir) {
		used = ""
	}
	x.decks.add(n, x.prefix, attempt, dir, start, args, res, err)
	if err != nil {
		return nil, nil, "", err
	}
	if n.Schema != nil && n.Schema.Kind == plugin.KindDynamic {
		outs, err := x.runDynamic(ctx, n, res.Workflow)
		if err != nil {
			return nil, nil, used, err
		}
		raw, err := ToJSON(cty.ObjectVal(outs))
		return outs, raw, used, err
	}
	outs, err := decodeOutputs(n, res.Outputs)
	if err != nil || !hasFileOutputs(n) {
		return outs, res.Outputs, used, err
	}
	if outs, err = x.files.storeOutputs(ctx, x.prefix+n.Name, attempt, dir, outs); err != nil {
		return nil, nil, used, err
	}
	raw, err := ToJSON(cty.ObjectVal(outs))
	return outs, raw, used, err
}

// callStarted, when set (by tests), is called by every call just before
// it reaches its plugin, on the goroutine that makes the call.
var callStarted func(n *Node)

// paramsNode is the node a plugin is told it runs (Params.Node): the
// task's name in the workflow, with the names of the sub-workflow calls
// above it, and "" for the task of a single-task run (`goflyte run
// --task`), which is in no workflow, as the sdk documents.
func (x *execution) paramsNode(n *Node) string {
	if x.prefix == "" && x.graph.Mode == plugin.ModeLocalTaskExecution {
		return ""
	}
	return x.prefix + n.Name
}

// decodeOutputs checks a plugin's outputs against the task's schema.
func decodeOutputs(n *Node, data json.RawMessage) (map[string]cty.Value, error) {
	if outs, ok := stringOutputs(n, data); ok {
		return outs, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("plugin %q returned outputs that are not a JSON object: %v", n.Plugin, err)
	}
	outs := make(map[string]cty.Value, len(n.OutputTypes))
	var problems []string
	for _, name := range sortedKeys(n.OutputTypes) {
		ty := n.OutputTypes[name]
		r, ok := raw[name]
		if !ok {
			outs[name] = cty.NullVal(ty)
			continue
		}
		v, err := FromJSON(r, ty)
		if err != nil {
			problems = append(problems, fmt.Sprintf("output %q is not %s: %v", name, TypeString(ty), err))
			continue
		}
		outs[name] = v
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("plugin %q returned invalid outputs: %s", n.Plugin, strings.Join(problems, "; "))
	}
	return outs, nil
}

// stringOutputs decodes the outputs of a task whose outputs are all
// strings (text.upper's {"text":"HELLO"}) in one pass, without
// reflection (flatStrings), as decodeOutputs would; it reports false for other tasks and for JSON
// it would not accept as is (decodeOutputs then decodes or rejects it).
// A fully cached re-run decodes every cached task's outputs: this halves
// that cost (issue 17).
func stringOutputs(n *Node, data json.RawMessage) (map[string]cty.Value, bool) {
	for _, ty := range n.OutputTypes {
		if ty != cty.String {
			return nil, false
		}
	}
	outs := make(map[string]cty.Value, len(n.OutputTypes))
	for name := range n.OutputTypes {
		outs[name] = cty.NullVal(cty.String) // unless given
	}
	ok := flatStrings(data, func(key, val string, null bool) {
		if _, declared := n.OutputTypes[key]; !declared {
			return
		}
		if null {
			outs[key] = cty.NullVal(cty.String)
		} else {
			outs[key] = cty.StringVal(val)
		}
	})
	if !ok {
		return nil, false
	}
	return outs, true
}

// flatStrings decodes a JSON object whose values are all strings or null
// ({"text":"HELLO"}) without reflection, calling set for each member in
// order (a later duplicate key wins, as with encoding/json); it reports
// false for anything else, including strings it would have to repair
// (invalid UTF-8). set may have been called when it reports false.
func flatStrings(data []byte, set func(key, val string, null bool)) bool {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		key, j, ok := jsonString(data, i)
		if !ok {
			return false
		}
		if i = skipSpace(data, j); i == len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		if bytes.HasPrefix(data[i:], []byte("null")) {
			set(key, "", true)
			i += 4
		} else {
			val, j, ok := jsonString(data, i)
			if !ok {
				return false
			}
			set(key, val, false)
			i = j
		}
		if i = skipSpace(data, i); i == len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// jsonString decodes the JSON string that starts at data[i] and returns
// it and the offset after it.
func jsonString(data []byte, i int) (string, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", 0, false
	}
	plain := true
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			raw := data[i+1 : j]
			if plain && utf8.Valid(raw) {
				return string(raw), j + 1, true
			}
			var s string
			if json.Unmarshal(data[i:j+1], &s) != nil || !utf8.Valid(raw) {
				return "", 0, false
			}
			return s, j + 1, true
		case c == '\\':
			plain = false
			j++
		case c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// inputDiagnostics turns the diagnostics of a plugin's TaskError into HCL
// diagnostics at the expressions of the inputs they name.
func inputDiagnostics(n *Node, err error) hcl.Diagnostics {
	var te *plugin.TaskError
	if !errors.As(err, &te) {
		return nil
	}
	var diags hcl.Diagnostics
	for _, d := range te.Diagnostics {
		diag := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: d.Summary, Detail: d.Detail}
		if d.Severity == plugin.SeverityWarning {
			diag.Severity = hcl.DiagWarning
		}
		subject := n.DeclRange
		for _, in := range n.Inputs {
			if in.Name == d.Attribute {
				subject = in.Expr.Range()
			}
		}
		if subject.Filename != "" {
			diag.Subject = subject.Ptr()
		}
		if d.Attribute != "" && diag.Subject == nil {
			diag.Summary = fmt.Sprintf("%s (input %q)", diag.Summary, d.Attribute)
		}
		diags = append(diags, diag)
	}
	return diags
}

// resolveSecrets resolves the node's secrets through the engine's chain,
// before the plugin is called, and remembers their values for redaction.
// A secret that cannot be found fails the task with an error that lists
// every place tried.
func (e *Engine) resolveSecrets(ctx context.Context, n *Node) ([]plugin.Secret, error) {
	if len(n.Secrets) == 0 {
		return nil, nil
	}
	if e.Secrets == nil {
		return nil, fmt.Errorf("task needs secrets (%s) but no secrets backend is configured", n.Secrets[0])
	}
	out := make([]plugin.Secret, 0, len(n.Secrets))
	for _, r := range n.Secrets {
		v, err := e.Secrets.Lookup(ctx, secretsbackends.Name{Group: r.Group, Version: r.Version, Key: r.Key})
		if err != nil {
			return nil, err // names the secret and every place tried
		}
		e.redactor.add(v)
		out = append(out, plugin.Secret{SecretRequest: r, Value: v})
	}
	return out, nil
}

// nowFunc is time.Now; a variable so that the code reads as "now".
var nowFunc = time.Now
