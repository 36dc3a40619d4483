package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/plugin"
)

// WorkerOptions configure a [Worker].
type WorkerOptions struct {
	// Engine runs the tasks: its plugins (kept running and reused), its
	// secrets chain, its data store and its sandbox.
	Engine *engine.Engine
	// TaskQueue is the prefix of the plugin queues (platform.task_queue,
	// default "goflyte").
	TaskQueue string
	// Plugins are the plugins served, by name: the worker polls
	// PluginQueue(TaskQueue, name) for each. At least one.
	Plugins []string
	// Concurrency is how many tasks run at once, over all the plugin
	// queues (task slots); 0 means 4.
	Concurrency int
	// Grace is how long running tasks may take to finish once Stop is
	// called; those still running then are cancelled and run again
	// elsewhere (ErrWorkerShutdown). 0 means DefaultWorkerGrace.
	Grace time.Duration
	// Identity names the worker in Temporal (pollers, histories) and in
	// TaskOutput.Worker; "" means "<pid>@<hostname>".
	Identity string
	// Workflows, if set, makes the worker also poll the workflow queue
	// (TaskQueue itself) and register workflows with it (RegisterWorkflow
	// for goflyte's interpreter); the worker then also serves
	// ActivityLoadOutputs and ActivitySaveState from its engine's data
	// store.
	Workflows func(worker.WorkflowRegistry)
	// Logger receives the worker's own lines (tasks started and ended);
	// nil discards them.
	Logger hclog.Logger
	// CheckpointEvery is how often a running task's checkpoint is put in
	// the data store when it changed; 0 means HeartbeatEvery.
	CheckpointEvery time.Duration
}

// DefaultWorkerGrace is the default WorkerOptions.Grace.
const DefaultWorkerGrace = 30 * time.Second

// Worker serves plugins' tasks to Temporal: for each plugin, a Temporal
// worker on the plugin's queue with one activity per task, named
// ActivityName(plugin, task), each making one attempt through
// Engine.ExecuteTask. The task slots are shared by the plugin queues: a
// queue polls while a slot is free.
type Worker struct {
	c        client.Client
	o        WorkerOptions
	identity string
	workers  []worker.Worker
	queues   []string
	tasks    map[string][]string // by plugin
	digests  *digests
	slots    *slots
	stopping chan struct{}
	stopOnce sync.Once
	running  sync.WaitGroup // activities in progress
	log      hclog.Logger
	// aborts cancels the running tasks at once (Abort), by activity.
	abortMu sync.Mutex
	aborts  map[*TaskInput]context.CancelFunc
	aborted bool
	// served is when each plugin queue was last seen with a poller
	// (unserved).
	servedMu sync.Mutex
	served   map[string]time.Time
}

// NewWorker prepares a worker: it starts each plugin (an error names a
// plugin that cannot start) and registers its tasks. Start starts
// polling.
func NewWorker(ctx context.Context, c client.Client, o WorkerOptions) (*Worker, error) {
	if o.Engine == nil {
		return nil, errors.New("remote worker: no engine")
	}
	if len(o.Plugins) == 0 {
		return nil, errors.New("remote worker: no plugins to serve")
	}
	if o.TaskQueue == "" {
		o.TaskQueue = "goflyte"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Grace <= 0 {
		o.Grace = DefaultWorkerGrace
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = HeartbeatEvery
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	w := &Worker{c: c, o: o, identity: o.Identity, tasks: map[string][]string{}, digests: &digests{}, slots: newSlots(o.Concurrency), stopping: make(chan struct{}), log: o.Logger}
	if w.identity == "" {
		host, _ := os.Hostname()
		w.identity = fmt.Sprintf("%d@%s", os.Getpid(), host)
	}
	plugins := append([]string(nil), o.Plugins...)
	sort.Strings(plugins)
	for _, name := range plugins {
		_, schema, err := o.Engine.Plugins.Get(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		queue := PluginQueue(o.TaskQueue, name)
		ww := worker.New(c, queue, worker.Options{
			Identity:          w.identity,
			BuildID:           buildID(),
			WorkerStopTimeout: o.Grace,
			Tuner:             w.tuner(),
			// Tasks heartbeat every HeartbeatEvery: send them at that
			// pace, so that a lost worker's last checkpoint is recent.
			MaxHeartbeatThrottleInterval:     HeartbeatEvery,
			DefaultHeartbeatThrottleInterval: HeartbeatEvery,
		})
		for _, task := range schema.TaskNames() {
			ww.RegisterActivityWithOptions(w.activity(name, task), activity.RegisterOptions{Name: ActivityName(name, task)})
			w.tasks[name] = append(w.tasks[name], task)
		}
		w.workers = append(w.workers, ww)
		w.queues = append(w.queues, queue)
	}
	if o.Workflows != nil {
		ww := worker.New(c, o.TaskQueue, worker.Options{
			Identity:          w.identity,
			BuildID:           buildID(),
			WorkerStopTimeout: o.Grace,
			// A lost worker's workflows move to another after 1 s, not
			// the default 5 s (measured: FACTS.md).
			StickyScheduleToStartTimeout: time.Second,
			DeadlockDetectionTimeout:     WorkflowDeadlockTimeout,
		})
		o.Workflows(ww)
		// The interpreter reads outputs that came as a reference
		// (TaskOutput.OutputsRef) through this local activity.
		ww.RegisterActivityWithOptions(w.loadOutputs, activity.RegisterOptions{Name: ActivityLoadOutputs})
		// A run that continues as new stores its state through this one
		// (continue.go) and reads it back through ActivityLoadOutputs.
		ww.RegisterActivityWithOptions(w.saveState, activity.RegisterOptions{Name: ActivitySaveState})
		// Large values (values.go): read in parts, stored.
		parts := &partCache{}
		ww.RegisterActivityWithOptions(func(ctx context.Context, in LoadPart) (ValuePart, error) {
			return w.loadPart(ctx, parts, in)
		}, activity.RegisterOptions{Name: ActivityLoadPart})
		ww.RegisterActivityWithOptions(w.storeValue, activity.RegisterOptions{Name: ActivityStoreValue})
		w.workers = append(w.workers, ww)
		w.queues = append(w.queues, o.TaskQueue)
	}
	return w, nil
}

// Identity is the worker's identity in Temporal.
func (w *Worker) Identity() string { return w.identity }

// Queues are the task queues the worker polls: one per plugin, in order
// of name, then the workflow queue if it serves workflows.
func (w *Worker) Queues() []string { return append([]string(nil), w.queues...) }

// Tasks returns the tasks served of a plugin.
func (w *Worker) Tasks(plugin string) []string { return w.tasks[plugin] }

// Start starts polling every queue.
func (w *Worker) Start() error {
	for i, ww := range w.workers {
		if err := ww.Start(); err != nil {
			for _, started := range w.workers[:i] {
				started.Stop()
			}
			return fmt.Errorf("start polling %s: %w", w.queues[i], err)
		}
	}
	return nil
}

// Stop drains the worker: it stops polling at once, lets running tasks
// finish within the grace period, then cancels the rest (they return
// ErrWorkerShutdown and run again elsewhere), and returns when all have
// returned.
func (w *Worker) Stop() {
	w.stopOnce.Do(func() { close(w.stopping) })
	var wg sync.WaitGroup
	for _, ww := range w.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ww.Stop()
		}()
	}
	wg.Wait()
	// Past the grace period the SDK cancels the tasks' contexts and
	// returns without waiting for them: wait for their plugins to stop
	// (engine.DefaultGrace) and their answers to be sent.
	done := make(chan struct{})
	go func() {
		w.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(engine.DefaultGrace + 5*time.Second):
		w.log.Warn("tasks still running after the grace period; leaving them")
	}
}

// Abort stops the worker now: Stop without the grace period. Running
// tasks are cancelled at once (they run again elsewhere, as for a lost
// worker). It may be called while Stop waits, to cut the wait short.
func (w *Worker) Abort() {
	w.stopOnce.Do(func() { close(w.stopping) })
	w.abortMu.Lock()
	w.aborted = true
	for _, cancel := range w.aborts {
		cancel()
	}
	w.abortMu.Unlock()
}

// activity returns the activity of one plugin task.
func (w *Worker) activity(plugin, task string) func(context.Context, TaskInput) (*TaskOutput, error) {
	return func(ctx context.Context, in TaskInput) (*TaskOutput, error) {
		// The workflow no longer sends them: the activity names them.
		in.Plugin, in.Task = plugin, task
		return w.run(ctx, plugin, task, in)
	}
}

func (w *Worker) run(ctx context.Context, plugin, task string, in TaskInput) (out *TaskOutput, err error) {
	w.running.Add(1)
	defer w.running.Done()
	defer func() {
		// A panic here is a bug of this worker, not of the task, but
		// another attempt would meet it again: a non-retryable failure.
		if p := recover(); p != nil {
			msg := w.o.Engine.Redact(fmt.Sprintf("task %q (%s) failed: goflyte worker %s panicked: %v", in.Node, ActivityName(plugin, task), w.identity, p))
			w.log.Error("panic in a task's activity", "task", ActivityName(plugin, task), "node", in.Node, "panic", msg)
			out, err = nil, temporal.NewNonRetryableApplicationError(msg, ErrTaskFailed, nil, TaskFailure{Message: msg, Kind: "task", Worker: w.identity, End: time.Now()})
		}
	}()
	info := activity.GetInfo(ctx)
	node := in.Node
	if node == "" {
		node = task
	}
	start := time.Now()
	// The digest first: a binary that is not the run's runs nothing.
	if in.PluginSHA256 != "" {
		got, path, err := w.digests.sum(w.o.Engine, plugin)
		if err != nil {
			return nil, w.failure(in, node, &engine.TaskCallError{Kind: engine.FailProcess, Message: err.Error(), Start: start, End: time.Now()}, false)
		}
		if !strings.EqualFold(got, in.PluginSHA256) {
			msg := w.digestMismatch(plugin, path, got, in.PluginSHA256)
			w.log.Error("task refused: plugin digest mismatch", "task", ActivityName(plugin, task), "node", node, "plugin", plugin, "worker_sha256", got, "run_sha256", in.PluginSHA256)
			return nil, temporal.NewNonRetryableApplicationError(msg, ErrDigestMismatch, nil, TaskFailure{
				Message: msg, Kind: "digest", Worker: w.identity, Start: start, End: time.Now(),
			})
		}
	}
	// A task that runs again after its worker was lost starts from the
	// checkpoint the lost worker last reported.
	prev := in.PrevCheckpoint
	if info.Attempt > 1 {
		var hb TaskHeartbeat
		if activity.HasHeartbeatDetails(ctx) {
			if err := activity.GetHeartbeatDetails(ctx, &hb); err == nil && hb.Checkpoint != "" {
				prev = hb.Checkpoint
			}
		}
		w.log.Info("task runs again: its worker was lost", "task", ActivityName(plugin, task), "node", node, "temporal_attempt", info.Attempt, "checkpoint", hb.Checkpoint)
	}
	var mu sync.Mutex
	latest := prev
	heartbeat := func() {
		mu.Lock()
		hb := TaskHeartbeat{Checkpoint: latest}
		mu.Unlock()
		activity.RecordHeartbeat(ctx, hb)
	}

	// A slot: the Temporal workers may take a task or two more than there
	// are slots when several queues deliver at once; those wait here,
	// heartbeating.
	if err := w.slots.acquire(ctx, heartbeat); err != nil {
		return nil, w.cancelled(ctx, in, node, err)
	}
	defer w.slots.release()

	// Running tasks get the grace period once the worker stops; the
	// Temporal SDK cancels ctx then (or Abort, at once).
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.abortMu.Lock()
	if w.aborted {
		cancel()
	}
	if w.aborts == nil {
		w.aborts = map[*TaskInput]context.CancelFunc{}
	}
	w.aborts[&in] = cancel
	w.abortMu.Unlock()
	defer func() {
		w.abortMu.Lock()
		delete(w.aborts, &in)
		w.abortMu.Unlock()
	}()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				heartbeat()
			}
		}
	}()
	// Inputs that came by reference (values.go), before the cache key.
	if err := w.resolveInputs(runCtx, &in); err != nil {
		close(done)
		if ctx.Err() != nil {
			return nil, w.cancelled(ctx, in, node, err)
		}
		return nil, fmt.Errorf("task %q (%s): %w", node, ActivityName(plugin, task), err)
	}
	// No heartbeat at the start: the SDK sends the first one at once and
	// waits for the server, which writes it, a round trip and a write of
	// the run's history shard for every task (most tasks end before the
	// first tick). The server counts the heartbeat timeout from the
	// task's start without one, and keeps an earlier attempt's details
	// (a lost worker's checkpoint) until this attempt reports its own.
	w.log.Info("task started", "task", ActivityName(plugin, task), "node", node, "attempt", in.Attempt, "execution_id", in.ExecutionID, "temporal_attempt", info.Attempt)
	call := engine.TaskCall{
		ExecutionID: in.ExecutionID, ExecutionDate: in.ExecutionDate,
		Node: in.Node, Plugin: plugin, Task: task, Attempt: in.Attempt,
		Inputs: in.Inputs, Timeout: in.Timeout,
		Secrets: in.Secrets, EnableDeck: in.EnableDeck, DeckFields: in.DeckFields,
		DataPrefix: in.DataPrefix, PrevCheckpoint: prev, Mode: in.Mode,
		InlineLimit: InlineLimit, CheckpointEvery: w.o.CheckpointEvery,
		Checkpointed: func(uri string) {
			w.log.Debug("checkpoint saved", "node", node, "checkpoint", uri)
			mu.Lock()
			latest = uri
			mu.Unlock()
			heartbeat() // at once: this worker may die before the next tick
		},
	}
	// An eager task's calls run here, through this worker's plugins:
	// each is checked against the run's digest as a task is (above).
	var refused string
	if len(in.PluginDigests) > 0 {
		call.CheckPlugin = func(_ context.Context, p string) error {
			want := in.PluginDigests[p]
			if want == "" {
				return nil
			}
			got, path, err := w.digests.sum(w.o.Engine, p)
			if err != nil {
				return err
			}
			if strings.EqualFold(got, want) {
				return nil
			}
			msg := fmt.Sprintf("task %q (%s) calls a task of %s", node, ActivityName(plugin, task), w.digestMismatch(p, path, got, want))
			w.log.Error("eager task's call refused: plugin digest mismatch", "task", ActivityName(plugin, task), "node", node, "plugin", p, "worker_sha256", got, "run_sha256", want)
			mu.Lock()
			if refused == "" {
				refused = msg
			}
			mu.Unlock()
			return errors.New(msg)
		}
	}
	if in.Cache != nil && in.CachePrefix != "" {
		policy := &engine.CachePolicy{Version: in.Cache.Version, Ignore: map[string]bool{}}
		for _, name := range in.Cache.Ignore {
			policy.Ignore[name] = true
		}
		call.Cache, call.CacheStore, call.CacheOverwrite = policy, w.o.Engine.StoreCache(in.CachePrefix), in.CacheOverwrite
	}
	res, err := w.o.Engine.ExecuteTask(runCtx, call)
	close(done)
	if closer, ok := call.CacheStore.(interface{ Close() error }); ok {
		_ = closer.Close()
	}
	mu.Lock()
	msg := refused
	mu.Unlock()
	if msg != "" {
		// Refused whatever the eager task made of its call's error: no
		// worker with this binary may run it.
		f := TaskFailure{Message: msg, Kind: "digest", Worker: w.identity, Start: start, End: time.Now()}
		var te *engine.TaskCallError
		if errors.As(err, &te) {
			f.WorkDir, f.Logs, f.Deck, f.Nested = te.WorkDir, te.Logs, te.Deck, te.Nested
		} else if res != nil {
			f.WorkDir, f.Logs, f.Deck, f.Nested = res.WorkDir, res.Logs, res.Deck, res.Nested
		}
		return nil, temporal.NewNonRetryableApplicationError(msg, ErrDigestMismatch, nil, f)
	}
	if err != nil {
		var te *engine.TaskCallError
		if errors.As(err, &te) {
			w.log.Warn("task failed", "task", ActivityName(plugin, task), "node", node, "attempt", in.Attempt, "kind", te.Kind, "retryable", te.Retryable, "error", te.Message)
			return nil, w.failure(in, node, te, true)
		}
		if runCtx.Err() != nil {
			return nil, w.cancelled(ctx, in, node, err)
		}
		// The attempt could not be made here (no sandbox, say): the task
		// did not run, so it may run again elsewhere.
		msg := w.o.Engine.Redact(err.Error())
		w.log.Error("task could not run on this worker", "task", ActivityName(plugin, task), "node", node, "error", msg)
		return nil, temporal.NewApplicationError(fmt.Sprintf("task %q (%s) could not run on worker %s: %s", node, ActivityName(plugin, task), w.identity, msg), ErrWorkerShutdown)
	}
	if d := res.Dynamic; d != nil {
		// The run's readiness check knew only the plugins of its static
		// graph: a plugin first used here must have a worker too, or
		// its tasks would wait for one until DefaultScheduleToStart.
		if missing, err := w.unserved(ctx, d.Plugins, heartbeat); err != nil || len(missing) > 0 {
			if err != nil {
				return nil, w.cancelled(ctx, in, node, err)
			}
			queues := make([]string, len(missing))
			for i, p := range missing {
				queues[i] = PluginQueue(w.o.TaskQueue, p)
			}
			msg := fmt.Sprintf("its dynamic workflow uses the plugin%s %s, which no worker serves (waited %s for a worker polling %s): start `goflyte worker` on a machine that has %s",
				plural(len(missing)), strings.Join(missing, ", "), DynamicReadyWait, strings.Join(queues, ", "), pluginsPhrase(missing))
			w.log.Error("dynamic task's workflow uses a plugin no worker serves", "task", ActivityName(plugin, task), "node", node, "plugins", strings.Join(missing, ","))
			return nil, w.failure(in, node, &engine.TaskCallError{Kind: engine.FailTask, Message: msg, Start: res.Start, End: res.End, WorkDir: res.WorkDir, Logs: res.Logs, Deck: res.Deck}, false)
		}
	}
	w.log.Info("task succeeded", "task", ActivityName(plugin, task), "node", node, "attempt", in.Attempt, "cache", res.Cache, "duration", res.End.Sub(res.Start).Round(time.Millisecond))
	var dyn *DynamicWorkflow
	if d := res.Dynamic; d != nil {
		dyn = &DynamicWorkflow{Source: d.Source, Plugins: map[string]PluginRef{}}
		for name, s := range d.Schemas {
			dyn.Plugins[name] = PluginRef{Schema: s, SHA256: d.Digests[name]}
		}
	}
	return &TaskOutput{
		Dynamic: dyn,
		Outputs: res.Outputs, OutputsRef: res.OutputsRef,
		Cache: res.Cache, CacheKey: res.CacheKey,
		Worker: w.identity, WorkDir: res.WorkDir, Checkpoint: res.Checkpoint,
		Deck: res.Deck, Logs: res.Logs, Children: res.Children, Nested: res.Nested,
		Start: res.Start, End: res.End, Metrics: taskMetrics(res.Metrics),
	}, nil
}

// taskMetrics are the metrics a TaskOutput carries: the task's own, not
// the engine's (the engine.Metric* ones, about 150 bytes of JSON a task
// for its duration timer alone). Those say again what Start, End and
// Cache say, no workflow reads them, and every byte of a TaskOutput is
// kept in the activity's completed event, which the server reads again
// when it hands the workflow its next task (make bench remote-fanout-*).
// The worker still sends them to StatsD when it is configured.
// engineMetrics starts the names of the engine's own metrics
// (engine.MetricTaskDuration and the others).
const engineMetrics = "engine."

func taskMetrics(all []plugin.Metric) []plugin.Metric {
	var own []plugin.Metric
	for _, m := range all {
		if !strings.HasPrefix(m.Name, engineMetrics) {
			own = append(own, m)
		}
	}
	return own
}

// DynamicReadyWait is how long a dynamic task's worker waits for workers
// of the plugins its workflow uses before it fails naming those none
// serves.
const DynamicReadyWait = DefaultReadyWait

// servedFresh is how long a plugin queue seen with a poller counts as
// served without asking again (many dynamic tasks of one for_each ask
// once).
const servedFresh = time.Minute

// unserved returns those of plugins that no worker serves after
// DynamicReadyWait, heartbeating while it waits. Plugins this worker
// serves, and queues seen with a poller in the last servedFresh, are not
// asked about.
func (w *Worker) unserved(ctx context.Context, plugins []string, heartbeat func()) ([]string, error) {
	var ask []string
	w.servedMu.Lock()
	for _, p := range plugins {
		if _, own := w.tasks[p]; own || time.Since(w.served[p]) < servedFresh {
			continue
		}
		ask = append(ask, p)
	}
	w.servedMu.Unlock()
	if len(ask) == 0 {
		return nil, nil
	}
	err := waitForPollers(ctx, w.c, "", w.o.TaskQueue, false, ask, DynamicReadyWait, heartbeat)
	var missing []string
	var mw *MissingWorkersError
	switch {
	case errors.As(err, &mw):
		missing = mw.Plugins
	case err != nil:
		return nil, err
	}
	w.servedMu.Lock()
	defer w.servedMu.Unlock()
	if w.served == nil {
		w.served = map[string]time.Time{}
	}
	for _, p := range ask {
		if !slices.Contains(missing, p) {
			w.served[p] = time.Now()
		}
	}
	return missing, nil
}

// loadOutputs is ActivityLoadOutputs: it reads a task's outputs from the
// data store (TaskOutput.OutputsRef).
func (w *Worker) loadOutputs(ctx context.Context, uri string) (json.RawMessage, error) {
	data, err := w.readValue(ctx, uri)
	if err != nil {
		return nil, err
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("the outputs at %s are not JSON", uri)
	}
	return data, nil
}

// failure is the activity error of a failed attempt: ErrTaskFailed,
// non-retryable at the Temporal level, with the redacted TaskFailure.
func (w *Worker) failure(in TaskInput, node string, te *engine.TaskCallError, ran bool) error {
	f := TaskFailure{
		Message: te.Message, Retryable: te.Retryable, Kind: te.Kind,
		Diagnostics: te.Diagnostics, Stderr: te.Stderr,
		Worker: w.identity, WorkDir: te.WorkDir, Checkpoint: te.Checkpoint,
		Start: te.Start, End: te.End, Deck: te.Deck, Logs: te.Logs, Metrics: te.Metrics, Nested: te.Nested,
	}
	if !ran {
		f.Retryable = false
	}
	msg := fmt.Sprintf("task %q (%s.%s) failed: %s", node, in.Plugin, in.Task, te.Message)
	return temporal.NewNonRetryableApplicationError(w.o.Engine.Redact(msg), ErrTaskFailed, nil, f)
}

// cancelled is the error of a task whose context ended: the worker's
// shutdown past the grace period (ErrWorkerShutdown, retryable: it runs
// again elsewhere) or the workflow's cancellation.
func (w *Worker) cancelled(ctx context.Context, in TaskInput, node string, err error) error {
	select {
	case <-w.stopping:
		w.log.Warn("task cancelled: the worker is shutting down and the grace period is over; it runs again elsewhere", "node", node, "grace", w.o.Grace)
		return temporal.NewApplicationError(fmt.Sprintf("task %q (%s.%s) was cancelled: worker %s shut down", node, in.Plugin, in.Task, w.identity), ErrWorkerShutdown)
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// tuner shares the worker's task slots among its plugin queues.
func (w *Worker) tuner() worker.WorkerTuner {
	wf, _ := worker.NewFixedSizeSlotSupplier(2)
	la, _ := worker.NewFixedSizeSlotSupplier(2)
	nx, _ := worker.NewFixedSizeSlotSupplier(1)
	t, _ := worker.NewCompositeTuner(worker.CompositeTunerOptions{
		WorkflowSlotSupplier:        wf,
		ActivitySlotSupplier:        w.slots,
		LocalActivitySlotSupplier:   la,
		NexusSlotSupplier:           nx,
		SessionActivitySlotSupplier: w.slots,
	})
	return t
}

// slots are a worker's task slots, shared by its plugin queues. As a
// Temporal SlotSupplier it lets a queue poll while fewer tasks than
// slots run (a reservation takes nothing; a task that starts takes a
// slot), so that no idle queue holds a slot; the activity itself then
// takes one of the slots (acquire), which bounds the tasks running to
// exactly the slots even when several queues deliver a task at once.
type slots struct {
	n    int
	sem  chan struct{}
	mu   sync.Mutex
	used int
	wake chan struct{}
}

func newSlots(n int) *slots {
	return &slots{n: n, sem: make(chan struct{}, n), wake: make(chan struct{})}
}

// acquire takes a slot for a task, heartbeating while it waits.
func (s *slots) acquire(ctx context.Context, heartbeat func()) error {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case s.sem <- struct{}{}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			heartbeat()
		}
	}
}

func (s *slots) release() { <-s.sem }

func (s *slots) ReserveSlot(ctx context.Context, _ worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	for {
		s.mu.Lock()
		if s.used < s.n {
			s.mu.Unlock()
			return &worker.SlotPermit{}, nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *slots) TryReserveSlot(worker.SlotReservationInfo) *worker.SlotPermit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used < s.n {
		return &worker.SlotPermit{}
	}
	return nil
}

func (s *slots) MarkSlotUsed(info worker.SlotMarkUsedInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used++
	info.Permit().UserData = true
}

func (s *slots) ReleaseSlot(info worker.SlotReleaseInfo) {
	if used, _ := info.Permit().UserData.(bool); !used {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *slots) MaxSlots() int { return s.n }

// digests are the SHA-256s of plugin binaries, computed again when a
// binary's size or modification time changes.
type digests struct {
	mu sync.Mutex
	m  map[string]digest // by path
}

type digest struct {
	size  int64
	mtime time.Time
	sum   string
}

// sum returns the digest of plugin's binary and its path.
func (d *digests) sum(e *engine.Engine, plugin string) (string, string, error) {
	path, ok := e.Plugins.Path(plugin)
	if !ok {
		return "", "", fmt.Errorf("no plugin named %q on this worker", plugin)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", path, err
	}
	d.mu.Lock()
	c, ok := d.m[path]
	d.mu.Unlock()
	if ok && c.size == fi.Size() && c.mtime.Equal(fi.ModTime()) {
		return c.sum, path, nil
	}
	sum, err := engine.FileSHA256(path)
	if err != nil {
		return "", path, fmt.Errorf("checksum of plugin %q: %w", plugin, err)
	}
	d.mu.Lock()
	if d.m == nil {
		d.m = map[string]digest{}
	}
	d.m[path] = digest{size: fi.Size(), mtime: fi.ModTime(), sum: sum}
	d.mu.Unlock()
	return sum, path, nil
}

// digestMismatch says that the worker's binary of plugin (at path, with
// digest got) is not the run's (want).
func (w *Worker) digestMismatch(plugin, path, got, want string) string {
	return fmt.Sprintf("plugin %q on worker %s (%s) is not the binary the run was validated against: its SHA-256 is %s, the run's is %s; install the same build on every worker (goflyte.lock.hcl pins it)", plugin, w.identity, path, got, want)
}

// PluginSHA256 returns the SHA-256 of the binary of a plugin the worker
// serves, as it checks it against TaskInput.PluginSHA256.
func (w *Worker) PluginSHA256(plugin string) (string, error) {
	sum, _, err := w.digests.sum(w.o.Engine, plugin)
	return sum, err
}
