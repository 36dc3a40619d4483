package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// In-process tests of remote.Worker: the real Temporal test server, real
// plugin processes, a local data store. The CLI's end-to-end test
// (cmd/goflyte worker_e2e_test.go) runs `goflyte worker` processes.

// buildPlugins returns a directory with the text and probe plugins,
// built once for the package (remote.PluginsForTests).
func buildPlugins(t *testing.T) string {
	t.Helper()
	return remote.PluginsForTests(t)
}

type localStorage struct{}

func (localStorage) Open(ctx context.Context, prefix string) (engine.Store, error) {
	st, err := datastore.Open(ctx, prefix, datastore.Options{})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (localStorage) Fetch(ctx context.Context, uri, dst string, dir bool) error {
	return datastore.Fetch(ctx, uri, dst, dir, datastore.Options{})
}

func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{buildPlugins(t)}
	e := engine.New(cfg, nil)
	e.Storage = localStorage{}
	t.Cleanup(e.Close)
	return e
}

// parallelCalls runs the calls at once on their plugins' queues (Temporal
// retries worker losses only) and returns their outputs, or the first
// error.
func parallelCalls(ctx workflow.Context, prefix string, calls []remote.TaskInput) ([]remote.TaskOutput, error) {
	futures := make([]workflow.Future, len(calls))
	for i, in := range calls {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:           remote.PluginQueue(prefix, in.Plugin),
			StartToCloseTimeout: 2 * time.Minute,
			HeartbeatTimeout:    remote.HeartbeatTimeout,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:        100 * time.Millisecond,
				MaximumAttempts:        remote.MaxWorkerLosses + 1,
				NonRetryableErrorTypes: []string{remote.ErrTaskFailed, remote.ErrDigestMismatch},
			},
		})
		futures[i] = workflow.ExecuteActivity(actx, remote.ActivityName(in.Plugin, in.Task), in)
	}
	out := make([]remote.TaskOutput, len(calls))
	for i, f := range futures {
		if err := f.Get(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func registerParallel(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(parallelCalls, workflow.RegisterOptions{Name: "test.parallel"})
}

func startRun(t *testing.T, c client.Client, queue, id string, calls []remote.TaskInput) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: queue}, "test.parallel", queue, calls)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// TestWorkerSlots: one worker serves the workflow queue (the Workflows
// hook) and two plugin queues, with 2 task slots shared by them: six
// tasks over both plugins all succeed, never more than 2 at once.
func TestWorkerSlots(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	w, err := remote.NewWorker(context.Background(), c, remote.WorkerOptions{
		Engine: newEngine(t), TaskQueue: "slots", Plugins: []string{"text", "probe"},
		Concurrency: 2, Identity: "w1", Workflows: registerParallel,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Queues(); fmt.Sprint(got) != "[slots.probe slots.text slots]" {
		t.Errorf("queues %v", got)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	data := "file://" + t.TempDir()
	var calls []remote.TaskInput
	for i := range 3 {
		calls = append(calls,
			remote.TaskInput{ExecutionID: "p:d:s", Node: fmt.Sprintf("s%d", i), Plugin: "probe", Task: "steps", Attempt: 1, Inputs: json.RawMessage(`{"n":3,"ms":100}`), DataPrefix: data},
			remote.TaskInput{ExecutionID: "p:d:s", Node: fmt.Sprintf("u%d", i), Plugin: "text", Task: "sleep", Attempt: 1, Inputs: json.RawMessage(`{"ms":300}`), DataPrefix: data},
		)
	}
	var out []remote.TaskOutput
	if err := startRun(t, c, "slots", "slots-1", calls).Get(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, o := range out {
		if o.Worker != "w1" || o.Start.IsZero() {
			t.Errorf("output %+v", o)
		}
		edges = append(edges, edge{o.Start, 1}, edge{o.End, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta
		}
		return edges[i].at.Before(edges[j].at)
	})
	running, most := 0, 0
	for _, e := range edges {
		running += e.delta
		most = max(most, running)
	}
	if most > 2 {
		t.Errorf("%d tasks ran at once with 2 slots", most)
	}
}

// TestWorkerShutdown: a worker stopped while a task runs past its grace
// (or aborted, past a grace the task would have fit in) cancels the task
// with ErrWorkerShutdown; Temporal runs it again on another worker, from
// the checkpoint the first one heartbeated, as the same attempt of the
// task.
func TestWorkerShutdown(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	for _, tc := range []struct {
		name  string
		grace time.Duration
		abort bool
	}{
		{"past the grace", 500 * time.Millisecond, false},
		{"aborted", 2 * time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testWorkerShutdown(t, tc.grace, tc.abort) })
	}
}

func testWorkerShutdown(t *testing.T, grace time.Duration, abort bool) {
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	logs := map[string]*syncBuffer{}
	start := func(id string) *remote.Worker {
		logs[id] = &syncBuffer{}
		logger := hclog.New(&hclog.LoggerOptions{Output: logs[id], Level: hclog.Info})
		o := remote.WorkerOptions{Engine: newEngine(t), TaskQueue: "drain", Plugins: []string{"probe"}, Concurrency: 1, Identity: id, Grace: grace, Logger: logger, Workflows: registerParallel}
		w, err := remote.NewWorker(context.Background(), c, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	first := start("first")
	run := startRun(t, c, "drain", "drain-1", []remote.TaskInput{{
		ExecutionID: "p:d:drain", Node: "long", Plugin: "probe", Task: "steps", Attempt: 1, Retries: 0,
		Inputs: json.RawMessage(`{"n":40,"ms":150}`), DataPrefix: "file://" + t.TempDir(),
	}})
	// Once the task runs on the first worker, start the second; once a
	// heartbeat with a checkpoint reached the server (an event, not a
	// sleep: on a loaded machine a fixed sleep let the 6 s task finish
	// before the stop), stop the first.
	for !strings.Contains(logs["first"].String(), "task started") {
		time.Sleep(20 * time.Millisecond)
	}
	second := start("second")
	t.Cleanup(second.Stop)
	waitCheckpoint(t, c, "drain-1", "long")
	if abort {
		go func() {
			time.Sleep(200 * time.Millisecond)
			first.Abort()
		}()
	}
	first.Stop()
	var out []remote.TaskOutput
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	var got struct {
		ResumedFrom int `json:"resumed_from"`
		Done        int `json:"done"`
		Attempt     int `json:"attempt"`
	}
	_ = json.Unmarshal(out[0].Outputs, &got)
	if out[0].Worker != "second" || got.Done != 40 || got.ResumedFrom == 0 || got.Attempt != 1 {
		t.Errorf("after the drain: worker %s, outputs %s", out[0].Worker, out[0].Outputs)
	}
	if !strings.Contains(logs["first"].String(), "task cancelled: the worker is shutting down") {
		t.Errorf("the first worker did not cancel the task for its shutdown:\n%s", logs["first"].String())
	}
	if !strings.Contains(logs["second"].String(), "task runs again: its worker was lost") {
		t.Errorf("the second worker's log:\n%s", logs["second"].String())
	}
}

// waitCheckpoint waits until a heartbeat of workflowID's pending task
// of node, with a checkpoint, reached the server.
func waitCheckpoint(t *testing.T, c client.Client, workflowID, node string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		d, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			t.Fatalf("describe %s: %v", workflowID, err)
		}
		for _, pa := range d.PendingActivities {
			var hb remote.TaskHeartbeat
			if p := pa.GetHeartbeatDetails().GetPayloads(); len(p) > 0 &&
				converter.GetDefaultDataConverter().FromPayload(p[0], &hb) == nil && strings.Contains(hb.Checkpoint, "/_checkpoints/"+node+"/") {
				return
			}
		}
	}
	t.Fatalf("no heartbeat of %s's task %s reached the server with a checkpoint", workflowID, node)
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
