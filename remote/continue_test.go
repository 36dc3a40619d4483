package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// manyTasksFile is the source of workflow "many": n distinct task
// blocks in lanes parallel chains (task i waits for task i-lanes), with
// a for_each and a branch after the first layer whose outputs later
// tasks use, so that a run that continues as new carries the outputs of
// every kind of node.
func manyTasksFile(n, lanes int) string {
	var b strings.Builder
	b.WriteString("workflow \"many\" {\n  input \"text\" { type = string }\n")
	b.WriteString("  task \"fan\" {\n    uses     = \"text.upper\"\n    for_each = [\"a\", \"b\", \"c\"]\n    inputs   = { text = \"${each.value}-${input.text}\" }\n  }\n")
	b.WriteString("  branch \"pick\" {\n    case {\n      if = length(task.fan.text) > 2\n")
	b.WriteString("      task \"big\" {\n        uses   = \"text.upper\"\n        inputs = { text = \"big\" }\n      }\n      output \"s\" { value = task.big.text }\n    }\n")
	b.WriteString("    default {\n      task \"small\" {\n        uses   = \"text.upper\"\n        inputs = { text = \"small\" }\n      }\n      output \"s\" { value = task.small.text }\n    }\n  }\n")
	for i := range n {
		text := fmt.Sprintf("lane%d-${input.text}", i)
		switch {
		case i >= lanes:
			text = fmt.Sprintf("${task.t%d.text}", i-lanes)
		case i == lanes-1:
			text = "${branch.pick.s}-${task.fan.text[2]}"
		}
		fmt.Fprintf(&b, "  task \"t%d\" {\n    uses   = \"text.upper\"\n    inputs = { text = \"%s\" }\n  }\n", i, text)
	}
	var last []string
	for i := max(n-lanes, 0); i < n; i++ {
		last = append(last, fmt.Sprintf("task.t%d.text", i))
	}
	fmt.Fprintf(&b, "  output \"last\" { value = [%s] }\n}\n", strings.Join(last, ", "))
	return b.String()
}

// manyTasksInput is the input of a run of manyTasksFile(n, lanes).
func manyTasksInput(t testing.TB, n, lanes int) remote.RunInput {
	in := runInput(t, features, "single", nil)
	in.ExecutionID, in.Main, in.Workflow = "proj:dev:many", "many.hcl", "many"
	in.Sources = map[string]string{"many.hcl": manyTasksFile(n, lanes)}
	in.Inputs = map[string]json.RawMessage{"text": json.RawMessage(`"x"`)}
	in.Parallelism = 2 * lanes
	return in
}

// TestContinueAsNewInTestEnv drives a run through its continuations in
// Temporal's test environment, whose history length the test sets above
// RunInput.ContinueAfter: each Temporal run holds its plan after its
// first step, drains what is in flight and continues as new; feeding
// each continuation's input to a new run finishes the run as the local
// engine does, every call made once.
func TestContinueAsNewInTestEnv(t *testing.T) {
	in := manyTasksInput(t, 60, 5)
	in.ContinueAfter = 10
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	f := newFakeTasks(in.Plugins)
	var r remoteRun
	runs := 0
	for ; runs < 100; runs++ {
		r = runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
			env.SetCurrentHistoryLength(in.ContinueAfter)
		})
		var can *workflow.ContinueAsNewError
		if !errors.As(r.err, &can) {
			break
		}
		var next remote.RunInput
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
			t.Fatal(err)
		}
		if next.Continued == nil || next.Continued.Runs != runs+1 || len(next.Continued.Parts) == 0 {
			t.Fatalf("continuation %d: %+v", runs+1, next.Continued)
		}
		if next.Resume != nil || len(next.Sources) == 0 {
			t.Fatalf("continuation %d carries resume %v, sources %d", runs+1, next.Resume, len(next.Sources))
		}
		in = next
	}
	if r.err != nil || r.rec == nil {
		t.Fatalf("after %d continuations: %v", runs, r.err)
	}
	if runs < 5 {
		t.Errorf("the run continued as new %d times, want several", runs)
	}
	sameAsLocal(t, r.rec, res)
	seen := map[string]int{}
	for _, c := range f.calls() {
		seen[c.Node]++
	}
	for node, n := range seen {
		if n != 1 {
			t.Errorf("%s called %d times", node, n)
		}
	}
	if want := 60 + 3 + 1; len(seen) != want { // t*, fan@*, big
		t.Errorf("%d distinct calls, want %d", len(seen), want)
	}
	if !r.rec.Start.Equal(time.Time{}) && !r.rec.Start.Equal(in.Continued.Start) {
		t.Errorf("record start %s, the run's %s", r.rec.Start, in.Continued.Start)
	}
	if sk := task(t, r.rec, "small"); sk.Status != sandbox.StatusSkipped {
		t.Errorf("small: %s", sk.Status)
	}
}

// TestContinueAsNew runs a workflow of 300 distinct tasks on the real
// server with a small RunInput.ContinueAfter: the run continues as new
// several times under one workflow id, its outputs and record equal the
// local run's, no task runs twice, and the client's view (Follow from
// the first Temporal run, Record, List) sees one run.
func TestContinueAsNew(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	in := manyTasksInput(t, 300, 10)
	in.ExecutionID, in.ContinueAfter = "proj:dev:continued", 500
	res := runLocal(t, in, newFakeTasks(in.Plugins))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	runID, err := remote.Submit(ctx, c, &in)
	if err != nil {
		t.Fatal(err)
	}
	updates := 0
	rec, err := remote.Follow(ctx, c, in.ExecutionID, runID, 100*time.Millisecond, func(*sandbox.Record) { updates++ })
	if err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, rec, res)
	if updates < 2 {
		t.Errorf("%d record updates while following", updates)
	}
	seen := map[string]int{}
	for _, call := range f.calls() {
		seen[call.Node]++
	}
	for node, n := range seen {
		if n != 1 {
			t.Errorf("%s called %d times", node, n)
		}
	}

	chain := chainHistories(t, c, in.ExecutionID, runID)
	runs, largest := len(chain), 0
	for _, h := range chain {
		largest = max(largest, len(h.Events))
	}
	if runs < 3 {
		t.Errorf("%d Temporal runs, want the run to continue as new several times", runs)
	}
	if largest > 3*in.ContinueAfter {
		t.Errorf("a Temporal run's history holds %d events (continue after %d)", largest, in.ContinueAfter)
	}
	t.Logf("300 tasks: %d Temporal runs, at most %d events in one", runs, largest)

	got, info, err := remote.Record(ctx, c, "default", in.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, got, res)
	if info.Status != sandbox.StatusSucceeded {
		t.Errorf("described as %s", info.Status)
	}
	list, err := remote.List(ctx, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	started := rec.Start // the first Temporal run's
	if !info.Start.Equal(started) {
		t.Errorf("described as started %s, the run started %s", info.Start, started)
	}
	n := 0
	for _, s := range list {
		if s.ID == in.ExecutionID {
			n++
			if s.Workflow != "many" || !s.Start.Equal(started) {
				t.Errorf("listed with workflow %q, started %s (the run %s)", s.Workflow, s.Start, started)
			}
		}
	}
	if n != 1 {
		t.Errorf("runs list shows %s %d times", in.ExecutionID, n)
	}
}

// TestCancelAfterContinueAsNew: a run that continued as new is cancelled
// through its execution id, and its record says so.
func TestCancelAfterContinueAsNew(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the server
	// more than it computes.
	t.Parallel()
	srv := remotetest.Shared(t)
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true, Namespace: srv.Namespace})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	in := runInput(t, features, "single", nil)
	in.Main, in.Workflow = "nap.hcl", "nap"
	in.Sources = map[string]string{"nap.hcl": `workflow "nap" {
  task "a" {
    uses   = "text.upper"
    inputs = { text = "a" }
  }
  task "nap" {
    uses   = "text.sleep"
    inputs = { ms = 60000 }
    depends_on = [task.a]
  }
}
`}
	in.ExecutionID, in.ContinueAfter = "proj:dev:cancel-continued", 1
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	firstRun, err := remote.Submit(ctx, c, &in)
	if err != nil {
		t.Fatal(err)
	}
	// It continues as new after its first tasks; then it sleeps.
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := remote.Describe(ctx, c, srv.Namespace, in.ExecutionID)
		if err != nil {
			t.Fatal(err)
		}
		if info.RunID != firstRun {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not continue as new")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := remote.Cancel(ctx, c, srv.Namespace, in.ExecutionID); err != nil {
		t.Fatal(err)
	}
	rec, err := remote.Follow(ctx, c, in.ExecutionID, firstRun, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != sandbox.StatusCancelled {
		t.Errorf("record status %s (%s)", rec.Status, rec.Error)
	}
	resp, err := c.DescribeWorkflowExecution(ctx, in.ExecutionID, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := resp.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("workflow status %v", s)
	}
}

// TestWorkerContinueAsNew runs a run that continues as new through a
// real remote.Worker (the text plugin, a local data store): the worker
// stores the run's state (ActivitySaveState) and reads it back
// (ActivityLoadOutputs), and the run ends as the local engine's.
func TestWorkerContinueAsNew(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	w, err := remote.NewWorker(context.Background(), c, remote.WorkerOptions{
		Engine: newEngine(t), TaskQueue: "cont", Plugins: []string{"text"}, Concurrency: 8, Workflows: remote.RegisterWorkflow,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	in := manyTasksInput(t, 40, 4)
	in.ExecutionID, in.TaskQueue, in.ContinueAfter = "proj:dev:worker-continued", "cont", 60
	in.DataPrefix = "file://" + t.TempDir()
	for name, ref := range in.Plugins {
		ref.SHA256 = "" // the testdata schemas' digests are not the built plugin's
		in.Plugins[name] = ref
	}
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	run, rec, err := execute(t, c, in)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(rec.Outputs["last"], mustJSON(t, res.Outputs["last"])) {
		t.Errorf("outputs %s", rec.Outputs["last"])
	}
	if chain := chainHistories(t, c, in.ExecutionID, run.GetRunID()); len(chain) < 2 {
		t.Errorf("%d Temporal runs: the run did not continue as new", len(chain))
	}
}

// chainHistories returns the histories of the Temporal runs of workflow
// id in order, the chain that runID (any of them) is in.
func chainHistories(t *testing.T, c client.Client, id, runID string) []*historypb.History {
	t.Helper()
	ctx := context.Background()
	for {
		h := history(t, c, c.GetWorkflow(ctx, id, runID))
		prev := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if prev == "" {
			break
		}
		runID = prev
	}
	var out []*historypb.History
	for runID != "" {
		h := history(t, c, c.GetWorkflow(ctx, id, runID))
		out = append(out, h)
		runID = h.Events[len(h.Events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	}
	return out
}

func mustJSON(t *testing.T, v cty.Value) []byte {
	t.Helper()
	data, err := engine.ToJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLargeTaskBlocks runs a workflow of 10,000 distinct task blocks
// (100 parallel chains of 100) on the real server: the run continues as
// new whenever its history passes ContinueAsNewAt events, so that no
// Temporal run's history nears the limit, and its record (short: more
// than RecordInlineTasks tasks) names the whole one. Opt-in:
//
//	go test ./remote -run TestLargeTaskBlocks -v -args -large
func TestLargeTaskBlocks(t *testing.T) {
	if !*large {
		t.Skip("takes minutes; run with -args -large")
	}
	t.Parallel() // the two large runs overlap in .ci/run (make test-large)
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	n, lanes := 10000, 100
	in := manyTasksInput(t, n, lanes)
	in.ExecutionID, in.Parallelism = "proj:dev:large-blocks", 1000
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	start := time.Now()
	run, rec, err := executeWithin(t, c, in, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !jsonEqual(rec.Outputs["last"], mustJSON(t, res.Outputs["last"])) {
		t.Errorf("outputs %s", rec.Outputs["last"])
	}
	if rec.WholeRecord == "" || len(rec.Tasks) != len(res.Tasks) {
		t.Errorf("record of %d tasks, whole record %q", len(rec.Tasks), rec.WholeRecord)
	}
	for _, tr := range rec.Tasks {
		if tr.Status != sandbox.StatusSucceeded && tr.Name != "small" {
			t.Errorf("task %s: %s", tr.Name, tr.Status)
		}
	}
	chain := chainHistories(t, c, in.ExecutionID, run.GetRunID())
	runs, largest := len(chain), 0
	for _, h := range chain {
		largest = max(largest, len(h.Events))
	}
	if largest > remote.HistoryGuard/2 {
		t.Errorf("a Temporal run's history holds %d events", largest)
	}
	t.Logf("%d task blocks in %s (%.1f ms each): %d Temporal runs, the largest history %d events",
		n, took.Round(time.Millisecond), float64(took.Milliseconds())/float64(n), runs, largest)
}
