package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/deck"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/secretsbackends"
)

// One task attempt on this machine, for a driver elsewhere (a Temporal
// worker, issue 13). [Engine.ExecuteTask] makes one attempt of one task
// described as data, through the same code as a local run: it builds the
// task's one-node graph ([Engine.TaskGraph]), gives it the call's policy
// (timeout, cache, secrets, decks) and drives it with an execution of its
// own, without a Plan: cache lookup, input files fetched from the data
// store, secrets resolved through [Engine.Secrets] (and learnt by the
// redactor), a fresh working directory, the plugin call with the grace
// and kill logic of a local attempt, the check of the outputs, file
// outputs put in the data store, metrics, decks and task logs. It makes
// no retries: the driver does, and says which attempt this is.
//
// The attempt is a run of its own in the sandbox's "worker" area, a lazy
// one (sandbox.LazyRun): its directory (<sdk.local_sandbox>/worker/runs/
// <name>) is made only when the attempt writes a file of its own there (a
// task log line, say), and its working directory, when the task uses
// one, is <sdk.local_sandbox>/worker/tasks/<name>.<node>[.<attempt>]. A
// local `goflyte runs` lists neither. What the driver needs afterwards
// goes to the data store under TaskCall.DataPrefix:
//
//	<data prefix>/<node>[.<attempt>]/<output>/...   file outputs (as locally)
//	<data prefix>/_checkpoints/<node>[.<attempt>]/<token>-<n>/  checkpoints
//	<data prefix>/_logs/<node>[.<attempt>].log      the attempt's task log, and its
//	                                                eager children's (one per execution)
//	<data prefix>/_decks/<node>[.<attempt>].html    its deck page
//	<data prefix>/_outputs/<node>[.<attempt>].json  outputs above InlineLimit

// TaskCall is one attempt of one task, described as data.
type TaskCall struct {
	ExecutionID   string
	ExecutionDate time.Time
	// Node is the call's name in its run ("t", "t@3", "<call>+t"), what
	// the plugin is told (Params.Node); "" means the task's name.
	Node   string
	Plugin string
	Task   string
	// Attempt counts the task's attempts from 1.
	Attempt int
	// Inputs are the task's inputs as a JSON object; files and dirs are
	// URIs (fetched before the call) or local paths.
	Inputs json.RawMessage
	// Timeout bounds the attempt; 0 means none.
	Timeout time.Duration
	// Grace is how long the plugin may take to stop after the attempt's
	// context ended before its process is killed; 0 means DefaultGrace.
	Grace time.Duration
	// Cache is the task's cache policy, nil when its results are not
	// cached; CacheStore is where its entries live ([Engine.StoreCache]
	// for a bucket), nil for the local cache directory (cache.Open of
	// Config.CachePath). CacheOverwrite runs the task and replaces the
	// entry.
	Cache          *CachePolicy
	CacheStore     ResultCache
	CacheOverwrite bool
	// Secrets are the secrets the task gets (names); nil means those its
	// plugin declares.
	Secrets    []plugin.SecretRequest
	EnableDeck bool
	DeckFields []string
	// DataPrefix is the run's directory in the data store, where file
	// outputs, checkpoints, logs and decks go; "" means a local directory
	// of the attempt's own.
	DataPrefix string
	// PrevCheckpoint is the URI of the checkpoint to start from (an
	// earlier attempt's), "" for none.
	PrevCheckpoint string
	// Mode is the execution mode the plugin is told (Params.Mode); 0 means
	// plugin.ModeTaskExecution.
	Mode plugin.Mode
	// InlineLimit is the largest outputs returned in
	// TaskCallResult.Outputs; larger ones go to the data store
	// (OutputsRef). 0 means no limit.
	InlineLimit int
	// Checkpointed, if set, is called with the URI of each checkpoint the
	// attempt saves while it runs, uploaded every CheckpointEvery (default
	// one second) when it changed, so that a driver can restart the task
	// elsewhere from it if this machine dies.
	Checkpointed    func(uri string)
	CheckpointEvery time.Duration
	// CheckPlugin, if set, is called before each task that an eager
	// task runs, with that task's plugin: an error refuses it (the
	// eager task's call of it fails with the error, not retryable, and
	// nothing runs). A remote worker checks the plugin's binary against
	// the run's digest there.
	CheckPlugin func(ctx context.Context, plugin string) error
}

// TaskCallResult is an attempt that succeeded.
type TaskCallResult struct {
	// Outputs are the outputs as JSON (files as data-store URIs), checked
	// against the task's schema; OutputsRef is their URI instead when
	// they are larger than TaskCall.InlineLimit.
	Outputs    json.RawMessage
	OutputsRef string
	// Cache is CacheHit, CacheMiss, CacheOverwrite or "" (not cached).
	Cache    string
	CacheKey string
	// WorkDir is the attempt's working directory on this machine, ""
	// for a cache hit.
	WorkDir string
	// Checkpoint is the URI of the latest checkpoint: the one this
	// attempt saved, else TaskCall.PrevCheckpoint.
	Checkpoint string
	// Deck and Logs are the URIs of the attempt's deck page and task log,
	// "" when it has none.
	Deck, Logs string
	Metrics    []plugin.Metric
	// Children are the calls an eager task made; Nested their records
	// (the tasks of their one-task graphs, "<node>+<n>+<task>"), with
	// their log URIs.
	Children []string
	Nested   []sandbox.TaskRecord
	// Dynamic is set for a dynamic task: the workflow it returned, which
	// the driver compiles (DynamicGraph) and runs; Outputs are then
	// empty, and nothing is cached.
	Dynamic    *DynamicTask
	Start, End time.Time
}

// DynamicTask is the workflow a dynamic task returned, with what
// compiling it needs that this machine has: the schemas and binary
// digests of the plugins it uses (those this machine does not have are
// left out).
type DynamicTask struct {
	Source  string
	Schemas map[string]*plugin.Schema
	Digests map[string]string
	// Plugins names every plugin the workflow uses, also those this
	// machine does not have, sorted.
	Plugins []string
}

// dynamicReturn is a dynamic task's workflow on its way back to
// ExecuteTask (runDynamic returns it as an error to stop the call there).
type dynamicReturn struct{ src string }

func (d *dynamicReturn) Error() string { return "the dynamic task returned a workflow" }

// Failure kinds of a [TaskCallError]: what failed.
const (
	FailTask    = "task"    // the task's own error (or its inputs)
	FailProcess = "process" // the plugin process crashed or did not start
	FailTimeout = "timeout" // the attempt ran past TaskCall.Timeout
	FailSecret  = "secret"  // a secret could not be resolved
	FailOutputs = "outputs" // the outputs were invalid, or could not be stored
)

// TaskCallError is an attempt that failed. Message is redacted (no secret
// value the engine knows appears in it), Retryable says whether another
// attempt may succeed (as a local run decides), and the rest is what the
// driver records.
type TaskCallError struct {
	Node, TaskID string
	Kind         string
	Message      string
	Retryable    bool
	Diagnostics  []plugin.Diagnostic
	// Stderr is the tail of the plugin's stderr when it crashed, redacted.
	Stderr     string
	WorkDir    string
	Checkpoint string
	Deck, Logs string
	Metrics    []plugin.Metric
	// Nested are the records of the calls an eager task made before it
	// failed, as in TaskCallResult.
	Nested     []sandbox.TaskRecord
	Start, End time.Time

	err error
}

func (e *TaskCallError) Error() string {
	return fmt.Sprintf("task %q (%s) failed: %s", e.Node, e.TaskID, e.Message)
}

// Unwrap returns the cause, for errors.Is and errors.As (its own message
// may not be redacted: print the TaskCallError).
func (e *TaskCallError) Unwrap() error { return e.err }

// WorkerSandbox is the directory below sdk.local_sandbox where task
// attempts made for remote runs ([Engine.ExecuteTask]) keep their runs.
const WorkerSandbox = "worker"

// ExecuteTask makes one attempt of the task c describes (see TaskCall).
// A failure of the task is a [*TaskCallError]; a cancelled ctx returns an
// error wrapping ctx's error (the plugin got the grace period to stop and
// was killed after it); any other error means the attempt could not be
// made at all (no sandbox).
func (e *Engine) ExecuteTask(ctx context.Context, c TaskCall) (*TaskCallResult, error) {
	start := time.Now()
	if c.Attempt < 1 {
		c.Attempt = 1
	}
	name := c.Node
	if name == "" {
		name = c.Task
	}
	taskID := c.Plugin + "." + c.Task
	fail := func(err error) *TaskCallError {
		return e.taskCallError(name, taskID, err, start)
	}
	g, err := e.TaskGraph(ctx, taskID)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("task %q (%s): %w", name, taskID, context.Cause(ctx))
		}
		return nil, fail(err)
	}
	n := g.Nodes[0]
	n.Name = name
	n.returnDynamic = true
	g.nodes = map[string]*Node{name: n}
	n.Retries, n.Timeout, n.Cache = 0, c.Timeout, c.Cache
	if c.Secrets != nil {
		n.Secrets = c.Secrets
	}
	n.EnableDeck, n.DeckFields = c.EnableDeck, c.DeckFields
	g.Mode = c.Mode
	if g.Mode == plugin.ModeUnspecified {
		g.Mode = plugin.ModeTaskExecution
	}
	args, err := callArgs(g, n, c.Inputs)
	if err != nil {
		return nil, fail(err)
	}

	// The attempt's run makes no directory until it writes a file: most
	// attempts write none, and a run's two mkdirs were most of an
	// attempt's own CPU (BENCH.md, the fourth fan-out round). The name
	// is not checked against existing runs: 96 random bits keep it apart.
	sb := sandbox.Sandbox{Root: filepath.Join(e.Config.SDK.LocalSandbox, WorkerSandbox)}
	run, err := sb.LazyRun(sandbox.NewRunName(start) + "-" + newCallID())
	if err != nil {
		return nil, err
	}
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	tr := &TaskRun{Node: name, TaskID: taskID, Status: StatusRunning, Start: start, Attempts: c.Attempt}
	x := &execution{
		engine: e,
		graph:  g,
		opts:   RunOptions{Parallelism: 1, Now: c.ExecutionDate, Grace: grace},
		run:    run,
		inputs: cty.EmptyObjectVal,
		res: &Result{
			ExecutionID:   c.ExecutionID,
			ExecutionDate: c.ExecutionDate,
			RunDir:        run.Dir,
			Workflow:      g.Name,
			Start:         start,
		},
		tasks: map[string]*TaskRun{name: tr},
		decks: &deckCalls{},

		checkPlugin: c.CheckPlugin,
	}
	// The tasks an eager task runs are graphs of their own in this
	// execution (runGraph copies opts): their events make their records.
	nested := &nestedCalls{e: e}
	x.opts.Observer = nested.observe
	x.files = &fileIO{x: x}
	if c.DataPrefix != "" {
		// The run's data store is the driver's, opened when first used.
		x.files.uri = c.DataPrefix
		ls := &lazyStore{e: e, prefix: c.DataPrefix}
		x.files.storeOnce.Do(func() { x.files.store = ls })
	} else {
		x.files.uri = x.files.prefixURI()
	}
	defer x.files.close()
	x.workdirs = startWorkdirs(run, nil, "")
	defer x.workdirs.close()
	x.logs = e.logs.start(e, run, e.Config.SDK.LoggingLevel)

	if c.PrevCheckpoint != "" {
		x.opts.Resume = x.restoreCheckpoint(ctx, n, c.PrevCheckpoint)
	}
	out, callErr := x.executeCall(ctx, n, tr, args, c)
	tr.End = time.Now()
	if callErr != nil && ctx.Err() != nil && errors.Is(callErr, ctx.Err()) {
		tr.Status = StatusCancelled
	} else if callErr != nil {
		tr.Status = StatusFailed
	} else {
		tr.Status = StatusSucceeded
	}
	x.logEnd(n, tr, callErr)

	// What the driver shows afterwards: the deck and the task log, in the
	// data store. Failing to store them is a warning.
	deckURI, logsURI, nodeLogs := x.publish(ctx, n, tr, c)
	metrics := tr.Metrics()
	children := nested.records(nodeLogs)
	if callErr != nil {
		if ctx.Err() != nil && errors.Is(callErr, ctx.Err()) {
			return nil, fmt.Errorf("task %q (%s) cancelled: %w", name, taskID, context.Cause(ctx))
		}
		te := fail(callErr)
		te.WorkDir, te.Checkpoint, te.Deck, te.Logs, te.Metrics, te.Nested = tr.WorkDir, out.checkpoint(c), deckURI, logsURI, metrics, children
		te.End = tr.End
		return nil, te
	}
	res := &TaskCallResult{
		Dynamic: out.dynamic,
		Outputs: tr.OutputsJSON, Cache: tr.Cache, CacheKey: tr.CacheKey,
		WorkDir: tr.WorkDir, Checkpoint: out.checkpoint(c), Deck: deckURI, Logs: logsURI,
		Metrics: metrics, Children: tr.Children, Nested: children, Start: start, End: tr.End,
	}
	if c.InlineLimit > 0 && len(res.Outputs) > c.InlineLimit {
		uri, err := x.putBytes(ctx, "_outputs/"+attemptKey(name, c.Attempt)+".json", res.Outputs)
		if err != nil {
			te := fail(fmt.Errorf("store the outputs (%d bytes, above the inline limit): %w", len(res.Outputs), err))
			te.Kind, te.Retryable = FailOutputs, true
			return nil, te
		}
		res.Outputs, res.OutputsRef = nil, uri
	}
	return res, nil
}

// callArgs turns a call's JSON inputs into the task's arguments, as the
// plan evaluates a node's inputs (canonical JSON, a digest per input).
func callArgs(g *Graph, n *Node, inputs json.RawMessage) (*taskArgs, error) {
	raw := map[string]json.RawMessage{}
	if len(inputs) > 0 && string(inputs) != "null" {
		if err := json.Unmarshal(inputs, &raw); err != nil {
			return nil, fmt.Errorf("inputs are not a JSON object: %v", err)
		}
	}
	values, err := g.ParseInputs(nil, raw)
	if err != nil {
		return nil, err
	}
	in := cty.EmptyObjectVal
	if len(values) > 0 {
		in = cty.ObjectVal(values)
	}
	return evalInputsIn(&hcl.EvalContext{Variables: map[string]cty.Value{"input": in}}, n)
}

// callOut is what executeCall leaves for the result besides tr.
type callOut struct {
	cp      *checkpointSync
	dynamic *DynamicTask
}

func (o callOut) checkpoint(c TaskCall) string {
	if o.cp != nil {
		if uri := o.cp.latest(); uri != "" {
			return uri
		}
	}
	return c.PrevCheckpoint
}

// executeCall is execution.execute for one attempt of a call: the cache
// step against c.CacheStore, then execution.attempt.
func (x *execution) executeCall(ctx context.Context, n *Node, tr *TaskRun, args *taskArgs, c TaskCall) (callOut, error) {
	e := x.engine
	rec := x.taskStats(n, tr)
	cached := n.Cache != nil
	if cached && c.CacheStore == nil {
		lc, err := e.openCache()
		if err != nil {
			e.warnOnce("cache-open", "local cache unavailable; running without it", "dir", e.Config.CachePath(), "error", err)
			cached = false
		} else {
			c.CacheStore = LocalResultCache(lc)
		}
	}
	var out callOut
	if args.files != nil {
		var err error
		if args, err = x.localFiles(ctx, args, cached); err != nil {
			return out, err
		}
	}
	var key cache.Key
	if cached {
		key = cacheKey(n, args.digests)
		tr.CacheKey = key.String()
		if c.CacheOverwrite {
			tr.Cache = CacheOverwrite
		} else {
			raw, err := c.CacheStore.Get(ctx, key)
			if err == nil {
				if _, derr := decodeOutputs(n, raw); derr == nil {
					tr.Cache, tr.OutputsJSON = CacheHit, raw
					rec.Incr(MetricCacheHits)
					return out, nil
				} else {
					err = &cache.CorruptError{Key: key, Reason: "the entry does not fit the task's outputs: " + derr.Error()}
				}
			}
			var ce *cache.CorruptError
			switch {
			case errors.As(err, &ce):
				e.Logger.Warn("corrupt cache entry treated as a miss", "task", n.TaskID(), "key", key.String(), "reason", ce.Reason)
			case !errors.Is(err, cache.ErrMiss):
				e.warnOnce("cache-get-"+n.TaskID(), "cache unavailable; running the task", "task", n.TaskID(), "error", e.Redact(err.Error()))
			}
			tr.Cache = CacheMiss
			rec.Incr(MetricCacheMisses)
		}
	}
	if c.DataPrefix != "" {
		cpDir, err := x.run.CheckpointDir(n.Name, tr.Attempts)
		if err != nil {
			return out, err
		}
		out.cp = &checkpointSync{x: x, dir: cpDir, key: "_checkpoints/" + attemptKey(n.Name, tr.Attempts) + "/" + newCallID(), notify: c.Checkpointed}
		stop := out.cp.start(ctx, c.CheckpointEvery)
		defer stop()
	}
	tr.AttemptTimes = append(tr.AttemptTimes, sandbox.AttemptTime{Start: time.Now()})
	_, raw, err := x.attempt(ctx, n, tr, args)
	tr.AttemptTimes[0].End = time.Now()
	tr.Children = x.takeChildren(n.Name)
	if dr := (*dynamicReturn)(nil); errors.As(err, &dr) {
		out.dynamic, err = x.dynamicTask(ctx, n, dr.src)
		if err == nil {
			tr.OutputsJSON = json.RawMessage("{}")
		}
		return out, err
	}
	if err == nil && e.redactor.holds(string(raw)) {
		// A remote run's outputs travel through Temporal's history: a
		// secret value must never be one.
		err = &outputsError{msg: "the task's outputs hold a secret value; they cannot leave this machine (return something derived from it instead)"}
	}
	if err != nil {
		rec.Incr(MetricFailures)
		return out, err
	}
	tr.OutputsJSON = raw
	if cached {
		err := c.CacheStore.Put(ctx, key, &cache.Entry{
			Task:    n.TaskID(),
			Version: n.Cache.Version,
			Inputs:  keyedDigests(n, args.digests),
			Outputs: raw,
			Created: time.Now().UTC(),
			Run:     x.res.ExecutionID,
		})
		if err != nil {
			e.warnOnce("put-"+n.TaskID(), "could not store a result in the cache", "task", n.TaskID(), "error", e.Redact(err.Error()))
		}
	}
	return out, nil
}

// dynamicTask parses the workflow a dynamic task returned (an invalid
// one fails the task, as locally) and gathers the schemas and digests of
// the plugins it uses that this machine has.
func (x *execution) dynamicTask(ctx context.Context, n *Node, src string) (*DynamicTask, error) {
	e := x.engine
	w, err := ParseDynamic(src, "dynamic task "+n.Name)
	if err != nil {
		return nil, err
	}
	used := PluginsUsed(w, e.Workflows)
	d := &DynamicTask{Source: src, Schemas: map[string]*plugin.Schema{}, Digests: map[string]string{}, Plugins: used}
	for name, s := range e.sources(ctx, used).Schemas {
		d.Schemas[name] = s
		if path, ok := e.Plugins.Path(name); ok {
			if sum, err := FileSHA256(path); err == nil {
				d.Digests[name] = sum
			}
		}
	}
	return d, nil
}

// outputsError is outputs that cannot be returned.
type outputsError struct{ msg string }

func (e *outputsError) Error() string { return e.msg }

// restoreCheckpoint fetches the checkpoint at uri and returns the Resume
// that makes execution.checkpoints offer it to the attempt as its
// previous checkpoint: a resumed run whose task's one attempt saved it.
// A checkpoint that cannot be fetched is a warning: the task starts over.
func (x *execution) restoreCheckpoint(ctx context.Context, n *Node, uri string) *Resume {
	e := x.engine
	dir := filepath.Join(x.run.Dir, "restore")
	dst, err := (&sandbox.Run{Dir: dir}).CheckpointDir(n.Name, 1)
	if err == nil {
		if e.Storage == nil {
			err = errNoStorage
		} else {
			err = e.Storage.Fetch(ctx, uri, dst, true)
		}
	}
	if err != nil {
		e.Logger.Warn("could not restore the task's checkpoint; it starts over", "task", n.Name, "checkpoint", uri, "error", e.Redact(err.Error()))
		x.logTask(hclog.Warn, n, x.tasks[n.Name].Attempts, "could not restore the task's checkpoint; it starts over", "checkpoint", uri, "error", err)
		return nil
	}
	x.logTask(hclog.Info, n, x.tasks[n.Name].Attempts, "restored the task's checkpoint", "checkpoint", uri)
	return &Resume{Record: &sandbox.Record{Tasks: []sandbox.TaskRecord{{Name: n.Name, Attempts: 1}}}, RunDir: dir}
}

// publish renders the attempt's deck and puts it and the attempt's task
// log in the data store, returning their URIs.
func (x *execution) publish(ctx context.Context, n *Node, tr *TaskRun, c TaskCall) (deckURI, logsURI string, nodeLogs map[string][]string) {
	e := x.engine
	ctx = context.WithoutCancel(ctx) // also for a cancelled attempt
	key := attemptKey(n.Name, tr.Attempts)
	if calls := x.decks.of(n.Name); len(calls) > 0 {
		if err := x.renderTaskDeck(n, tr, calls, filepath.Join(x.run.Dir, deck.FileName)); err != nil {
			e.Logger.Warn("could not write the task's deck", "task", n.Name, "error", e.Redact(err.Error()))
		} else if c.DataPrefix == "" {
			deckURI = tr.Deck
		} else if uri, err := x.putFile(ctx, "_decks/"+key+".html", tr.Deck); err != nil {
			e.Logger.Warn("could not store the task's deck", "task", n.Name, "error", e.Redact(err.Error()))
		} else {
			deckURI = uri
		}
	}
	e.logs.end(x.logs)
	// The attempt's log and those of the calls an eager task made, each
	// by the node it is of (nodeLogs), one object per execution, cut out
	// of the run's one log file.
	// A lazy run that wrote no file has no directory, so no log to cut:
	// one stat instead of the two failed opens of SplitTaskLogs, for
	// most of a worker's attempts (BENCH.md, the sixth fan-out round).
	var parts []sandbox.TaskLogPart
	var err error
	if dirExists(x.run.Dir) {
		parts, err = sandbox.SplitTaskLogs(x.run.Dir)
	}
	if err != nil {
		e.Logger.Warn("could not read the task's log", "task", n.Name, "error", e.Redact(err.Error()))
	}
	for _, part := range parts {
		if c.DataPrefix == "" {
			logsURI = part.File
			if logsURI == "" {
				logsURI = filepath.Join(x.run.Dir, filepath.FromSlash(part.Path))
			}
			break
		}
		var uri string
		var err error
		if part.File != "" {
			uri, err = x.putFile(ctx, "_logs/"+part.Name, part.File)
		} else {
			uri, err = x.putBytes(ctx, "_logs/"+part.Name, part.Data)
		}
		if err != nil {
			e.Logger.Warn("could not store the task's log", "task", n.Name, "error", e.Redact(err.Error()))
			continue
		}
		if logsURI == "" || part.Name == key+".log" {
			logsURI = uri
		}
		if part.Node != n.Name {
			if nodeLogs == nil {
				nodeLogs = map[string][]string{}
			}
			nodeLogs[part.Node] = append(nodeLogs[part.Node], uri)
		}
	}
	return deckURI, logsURI, nodeLogs
}

// nestedCalls keeps the records of the tasks a call ran below it (an
// eager task's children) from their events, which come from the
// children's goroutines.
type nestedCalls struct {
	e    *Engine
	mu   sync.Mutex
	recs []*sandbox.TaskRecord
	by   map[string]*sandbox.TaskRecord
}

func (nc *nestedCalls) observe(ev Event) {
	t := ev.Task
	nc.mu.Lock()
	defer nc.mu.Unlock()
	r := nc.by[t.Node]
	if r == nil {
		if nc.by == nil {
			nc.by = map[string]*sandbox.TaskRecord{}
		}
		r = &sandbox.TaskRecord{Name: t.Node, Task: t.TaskID}
		nc.by[t.Node] = r
		nc.recs = append(nc.recs, r)
	}
	r.Status, r.Attempts, r.Start, r.End, r.Cache, r.Instances = string(t.Status), t.Attempts, t.Start, t.End, t.Cache, t.Instances
	if t.Err != nil {
		err := t.Err
		var te *TaskError
		if errors.As(err, &te) {
			err = te.Err
		}
		r.Error = nc.e.Redact(err.Error())
	}
}

// records are the nested calls' records, in the order they started,
// each with the URIs of its logs.
func (nc *nestedCalls) records(logs map[string][]string) []sandbox.TaskRecord {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	var out []sandbox.TaskRecord
	for _, r := range nc.recs {
		c := *r
		c.LogURIs = logs[r.Name]
		out = append(out, c)
	}
	return out
}

func (x *execution) putFile(ctx context.Context, key, src string) (string, error) {
	st, err := x.files.dataStore(ctx)
	if err != nil {
		return "", err
	}
	return st.PutFile(ctx, key, src)
}

func (x *execution) putBytes(ctx context.Context, key string, data []byte) (string, error) {
	st, err := x.files.dataStore(ctx)
	if err != nil {
		return "", err
	}
	return PutBytes(ctx, st, key, data)
}

// taskCallError classifies err as a TaskFailure would: its kind, whether
// it is retryable (retryable, as locally), its diagnostics and stderr.
// Everything is redacted.
func (e *Engine) taskCallError(node, taskID string, err error, start time.Time) *TaskCallError {
	te := &TaskCallError{Node: node, TaskID: taskID, Retryable: retryable(err), Start: start, End: time.Now(), err: err}
	te.Message = e.Redact(e.redactor.redactError(err).Error())
	var pte *plugin.TaskError
	var pe *plugin.ProcessError
	var to *TimeoutError
	var nf *secretsbackends.NotFoundError
	var stopped *secretsbackends.StoppedError
	var oe *outputsError
	switch {
	case errors.As(err, &to):
		te.Kind = FailTimeout
	case errors.As(err, &pe):
		te.Kind = FailProcess
		te.Stderr = e.Redact(pe.Stderr)
	case errors.As(err, &pte):
		te.Kind = FailTask
		for _, d := range pte.Diagnostics {
			d.Summary, d.Detail = e.Redact(d.Summary), e.Redact(d.Detail)
			te.Diagnostics = append(te.Diagnostics, d)
		}
	case errors.As(err, &nf), errors.As(err, &stopped), errors.Is(err, secretsbackends.ErrNotFound), errors.Is(err, secretsbackends.ErrUnavailable), strings.Contains(err.Error(), "no secrets backend is configured"):
		te.Kind = FailSecret
	case errors.As(err, &oe), strings.Contains(err.Error(), "returned invalid outputs"), strings.HasPrefix(err.Error(), "output "):
		te.Kind = FailOutputs
	default:
		te.Kind = FailTask
	}
	return te
}

// lazyStore is the data store at prefix, opened on first use.
type lazyStore struct {
	e      *Engine
	prefix string

	once  sync.Once
	store Store
	err   error
}

func (l *lazyStore) open(ctx context.Context) (Store, error) {
	l.once.Do(func() {
		if l.e.Storage == nil {
			l.err = errNoStorage
			return
		}
		st, err := l.e.Storage.Open(context.WithoutCancel(ctx), l.prefix)
		if err != nil {
			l.err = fmt.Errorf("open the data store: %w", err)
			return
		}
		l.store = st
	})
	return l.store, l.err
}

func (l *lazyStore) PutFile(ctx context.Context, key, src string) (string, error) {
	st, err := l.open(ctx)
	if err != nil {
		return "", err
	}
	return st.PutFile(ctx, key, src)
}

func (l *lazyStore) PutDir(ctx context.Context, key, src string) (string, error) {
	st, err := l.open(ctx)
	if err != nil {
		return "", err
	}
	return st.PutDir(ctx, key, src)
}

func (l *lazyStore) Local() (string, bool) {
	if l.store == nil {
		return "", false
	}
	return l.store.Local()
}

func (l *lazyStore) Close() error {
	if l.store != nil {
		return l.store.Close()
	}
	return nil
}

// checkpointSync puts an attempt's checkpoint directory in the data store
// whenever it changed: while the attempt runs, so that another machine
// can pick it up if this one dies, and once more when it ends.
type checkpointSync struct {
	x      *execution
	dir    string
	key    string
	notify func(uri string)

	mu   sync.Mutex
	last string // fingerprint of the directory as last put
	uri  string
	n    int
}

// start syncs every interval until the returned function is called,
// which syncs once more and waits.
func (s *checkpointSync) start(ctx context.Context, every time.Duration) func() {
	if every <= 0 {
		every = time.Second
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				s.sync(ctx)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		s.sync(context.WithoutCancel(ctx))
	}
}

func (s *checkpointSync) sync(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := dirFingerprint(s.dir)
	if fp == "" || fp == s.last {
		return
	}
	s.n++
	uri, err := s.x.files.put(ctx, config.DirType, fmt.Sprintf("%s-%d", s.key, s.n), s.dir, true)
	if err != nil {
		e := s.x.engine
		e.warnOnce("checkpoint-"+s.dir, "could not store the task's checkpoint", "dir", s.dir, "error", e.Redact(err.Error()))
		return
	}
	s.last = fp
	ref, _ := fileRef(uri)
	s.uri = ref.URI
	if s.notify != nil {
		s.notify(s.uri)
	}
}

func (s *checkpointSync) latest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uri
}

// dirFingerprint is a digest of the names, sizes and modification times
// of the regular files below dir, "" when it holds none.
func dirFingerprint(dir string) string {
	h := sha256.New()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		n++
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if n == 0 {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
