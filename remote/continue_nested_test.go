package remote_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// nestedFile is the source of workflow "outer": a task, a sub-workflow
// call of "many" (manyTasksFile: n distinct task blocks in lanes chains)
// with the task's output as input, a dynamic task whose workflow has
// 2*texts distinct tasks (a split and a count per text), and a task
// after both, so that a run that continues as new holds and carries
// nested graphs of each kind while they run.
func nestedFile(texts int, fail bool) string {
	bad := ""
	if fail {
		// Fails while the nested graphs are held: they must go on.
		bad = "  task \"bad\" {\n    uses   = \"text.fail\"\n    inputs = { message = \"bad ${task.first.text}\" }\n  }\n"
	}
	quoted := make([]string, texts)
	for i := range quoted {
		quoted[i] = fmt.Sprintf("%q", fmt.Sprintf("w%d x y", i))
	}
	return fmt.Sprintf(`workflow "outer" {
  input "text" { type = string }
  task "first" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "sub" {
    uses   = workflow.many
    inputs = { text = task.first.text }
  }
  task "dyn" {
    uses   = "text.count_each"
    inputs = { texts = [%s] }
  }
%s  task "after" {
    uses   = "text.upper"
    inputs = { text = "${task.sub.last[0]}-${length(task.dyn.counts)}" }
  }
  output "last" { value = task.sub.last }
  output "counts" { value = task.dyn.counts }
  output "after" { value = task.after.text }
}
`, strings.Join(quoted, ", "), bad)
}

// nestedInput is the input of a run of nestedFile(texts) calling
// manyTasksFile(n, lanes).
func nestedInput(t testing.TB, n, lanes, texts int, fail bool) remote.RunInput {
	in := manyTasksInput(t, n, lanes)
	in.ExecutionID, in.Main, in.Workflow = "proj:dev:nested", "outer.hcl", "outer"
	in.Sources["outer.hcl"] = nestedFile(texts, fail)
	return in
}

// TestContinueNestedInTestEnv drives a run whose sub-workflow call and
// dynamic task's workflow are in flight when it continues as new, in
// Temporal's test environment with its history length above
// RunInput.ContinueAfter: each Temporal run holds every graph after a
// step, carries the nested graphs' progress, and the run ends as the
// local engine's, every call made once (the dynamic task's too: its
// workflow goes on without running the task again), the records of the
// nested calls as they were.
func TestContinueNestedInTestEnv(t *testing.T) {
	in := nestedInput(t, 40, 4, 10, false)
	in.ContinueAfter = 10
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	f := newFakeTasks(in.Plugins)
	var r remoteRun
	runs, nestedCarried, dynCarried := 0, 0, 0
	started := map[string]time.Time{} // the first start a carried record shows
	for ; runs < 200; runs++ {
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
		if next.Continued == nil || next.Continued.Runs != runs+1 {
			t.Fatalf("continuation %d: %+v", runs+1, next.Continued)
		}
		st := f.lastState(t)
		var carried struct {
			Tasks   []sandbox.TaskRecord
			Kept    map[string]json.RawMessage
			Dynamic map[string]json.RawMessage
		}
		if err := json.Unmarshal([]byte(st), &carried); err != nil {
			t.Fatal(err)
		}
		for key := range carried.Kept {
			if strings.HasPrefix(key, "sub+") {
				nestedCarried++
				break
			}
		}
		if carried.Dynamic["dyn+"] != nil {
			dynCarried++
		}
		for _, tr := range carried.Tasks {
			if _, ok := started[tr.Name]; !ok && tr.Status == sandbox.StatusRunning {
				started[tr.Name] = tr.Start
			}
		}
		in = next
	}
	if r.err != nil || r.rec == nil {
		t.Fatalf("after %d continuations: %v", runs, r.err)
	}
	if nestedCarried < 3 || dynCarried < 1 {
		t.Errorf("of %d continuations, %d carried the sub-workflow call's kept tasks and %d the dynamic task's workflow, want several and one", runs, nestedCarried, dynCarried)
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
	if want := 1 + 40 + 3 + 1 + 1 + 2*10 + 1; len(seen) != want { // first, sub+t*, sub+fan@*, sub+big, dyn, dyn+*, after
		t.Errorf("%d distinct calls, want %d", len(seen), want)
	}
	for _, name := range []string{"sub", "dyn"} {
		rt := task(t, r.rec, name)
		if rt.Status != sandbox.StatusSucceeded || rt.Attempts != 1 || rt.End.Before(rt.Start) {
			t.Errorf("%s: %s, %d attempts, %s - %s", name, rt.Status, rt.Attempts, rt.Start, rt.End)
		}
		ended := 0
		for _, nr := range rt.Nested {
			if !strings.HasPrefix(nr.Name, name+"+") {
				t.Errorf("%s: nested record %s", name, nr.Name)
			}
			if nr.Status == sandbox.StatusSucceeded || nr.Status == sandbox.StatusSkipped {
				ended++
			}
		}
		if ended != len(rt.Nested) || len(rt.Nested) < 20 {
			t.Errorf("%s: %d nested records, %d ended", name, len(rt.Nested), ended)
		}
	}
	for name, start := range started {
		if rt := task(t, r.rec, name); !rt.Start.Equal(start) {
			t.Errorf("%s: started %s, carried as started %s", name, rt.Start, start)
		}
	}
	if _, ok := started["sub"]; !ok {
		t.Error("no state carried sub as running")
	}
}

// lastState returns the JSON of the latest state the run saved.
func (f *fakeTasks) lastState(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.saved) == 0 {
		t.Fatal("no state saved")
	}
	return string(unzipState(t, f.saved[len(f.saved)-1].Data))
}

// unzipState returns the JSON of a saved state (gzipped).
func unzipState(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestContinueNestedFailure: a task of the run's graph fails while the
// nested graphs are held to continue as new; they are released and run
// to their end, as locally, and the run fails there, its record the
// local run's.
func TestContinueNestedFailure(t *testing.T) {
	in := nestedInput(t, 20, 2, 4, true)
	in.ContinueAfter = 10
	// Whether "after" starts depends on whether "bad" fails before "sub"
	// and "dyn" end. The local engine starts the three at once, so hold
	// the others' calls until it has taken the failure, or a busy
	// machine decides the reference record (CI saw "after" run once).
	// The remote run needs no gate: "dyn" ends in the first Temporal
	// run, which then continues as new, and in the second "bad" fails
	// beside the first of the ten steps of "sub".
	local := newFakeTasks(in.Plugins)
	release := local.gate("first", "bad")
	res := runLocalObserved(t, in, local, func(e engine.Event) {
		if e.Kind == engine.EventFailed && e.Task.Node == "bad" {
			release()
		}
	})
	if after := res.Tasks[len(res.Tasks)-1]; after.Node != "after" || after.Status != engine.StatusSkipped {
		t.Fatalf("local %s: %s, want after skipped", after.Node, after.Status)
	}
	f := newFakeTasks(in.Plugins)
	var r remoteRun
	runs := 0
	for ; runs < 200; runs++ {
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
		in = next
	}
	if r.rec == nil {
		t.Fatalf("after %d continuations: no record: %v", runs, r.err)
	}
	if runs < 1 || r.rec.Status != sandbox.StatusFailed {
		t.Fatalf("after %d continuations: %s", runs, r.rec.Status)
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
}

// TestContinueNested runs nestedFile on the real server with a small
// RunInput.ContinueAfter: a sub-workflow call of 300 distinct tasks and
// a dynamic task's workflow continue as new with the run, several times
// under one workflow id; the outputs and record equal the local run's,
// no task runs twice, and no Temporal run's history grows far past
// ContinueAfter.
func TestContinueNested(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	in := nestedInput(t, 300, 10, 40, false)
	in.ExecutionID, in.ContinueAfter = "proj:dev:nested-continued", 400
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runID, err := remote.Submit(ctx, c, &in)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := remote.Follow(ctx, c, in.ExecutionID, runID, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, rec, res)
	seen := map[string]int{}
	for _, call := range f.calls() {
		seen[call.Node]++
	}
	for node, n := range seen {
		if n != 1 {
			t.Errorf("%s called %d times", node, n)
		}
	}
	if want := 1 + 300 + 3 + 1 + 1 + 2*40 + 1; len(seen) != want {
		t.Errorf("%d distinct calls, want %d", len(seen), want)
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
	t.Logf("a sub-workflow call of 300 tasks: %d Temporal runs, at most %d events in one", runs, largest)
	got, _, err := remote.Record(ctx, c, "default", in.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, got, res)
}

// TestLargeSubWorkflow runs a workflow calling a sub-workflow of 10,000
// distinct task blocks (100 parallel chains of 100) on the real server:
// the nested graph continues as new with the run whenever its history
// passes ContinueAsNewAt events, instead of stopping at HistoryGuard.
// Opt-in (make test-large):
//
//	go test ./remote -run TestLargeSubWorkflow -v -args -large
func TestLargeSubWorkflow(t *testing.T) {
	if !*large {
		t.Skip("takes minutes; run with -args -large")
	}
	t.Parallel() // the large runs overlap in .ci/run (make test-large)
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	n, lanes := 10000, 100
	in := nestedInput(t, n, lanes, 10, false)
	in.ExecutionID, in.Parallelism = "proj:dev:large-sub", 1000
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	start := time.Now()
	run, rec, err := executeWithin(t, c, in, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	for _, name := range []string{"last", "after"} {
		if !jsonEqual(rec.Outputs[name], mustJSON(t, res.Outputs[name])) {
			t.Errorf("output %s: %s", name, rec.Outputs[name])
		}
	}
	if sub := task(t, rec, "sub"); sub.Status != sandbox.StatusSucceeded || len(sub.Nested)+sub.NestedOmitted < n {
		t.Errorf("sub: %s, %d nested records, %d omitted", sub.Status, len(sub.Nested), sub.NestedOmitted)
	}
	chain := chainHistories(t, c, in.ExecutionID, run.GetRunID())
	runs, largest := len(chain), 0
	for _, h := range chain {
		largest = max(largest, len(h.Events))
	}
	if runs < 2 || largest > remote.HistoryGuard/2 {
		t.Errorf("%d Temporal runs, the largest history %d events", runs, largest)
	}
	t.Logf("a sub-workflow call of %d task blocks in %s (%.1f ms each): %d Temporal runs, the largest history %d events",
		n, took.Round(time.Millisecond), float64(took.Milliseconds())/float64(n), runs, largest)
}

const restoringFor = 3

// restoringWorkflow stands in for a run's workflow that continued as
// new and is still restoring its state (RunWorkflow's QueryRecord then
// fails with remote.ErrRestoring): its first restoringFor answers are
// that failure, the later ones a record; asks counts the answers (one
// counter per test run, so that -count=N runs start from zero). It ends
// when signalled "end".
func restoringWorkflow(asks *atomic.Int32) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		err := workflow.SetQueryHandler(ctx, remote.QueryRecord, func() (*sandbox.Record, error) {
			if asks.Add(1) <= restoringFor {
				return nil, errors.New(remote.ErrRestoring)
			}
			return &sandbox.Record{Workflow: "outer", Status: sandbox.StatusRunning, Tasks: []sandbox.TaskRecord{{Name: "first", Status: sandbox.StatusSucceeded}}}, nil
		})
		if err != nil {
			return err
		}
		workflow.GetSignalChannel(ctx, "end").Receive(ctx, nil)
		return nil
	}
}

// TestRecordWhileRestoring: remote.Record (what `runs show --remote`
// and progress use) answers with the record of a run whose workflow
// fails its first queries because it is restoring its state after
// continue-as-new, where a plain query fails. The stand-in workflow
// makes the switch's window certain; it replaces a test that asked a
// real run continuing after every step, which could not fail (no ask
// was known to have met a switch).
func TestRecordWhileRestoring(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the
	// server more than it computes.
	t.Parallel()
	srv := remotetest.Shared(t)
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true, Namespace: srv.Namespace})
	w := worker.New(c, "restoring", worker.Options{})
	var restoringAsks atomic.Int32
	w.RegisterWorkflowWithOptions(restoringWorkflow(&restoringAsks), workflow.RegisterOptions{Name: "test.restoring"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const id = "proj:dev:restoring"
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "restoring"}, "test.restoring"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.SignalWorkflow(context.Background(), id, "", "end", nil) }()

	// A plain query meets the window: the workflow's first answer.
	for restoringAsks.Load() == 0 {
		if _, err := remote.QueryRecordOf(ctx, c, id, ""); err == nil {
			t.Fatal("the first query of a restoring run succeeded")
		} else if restoringAsks.Load() > 0 && !strings.Contains(err.Error(), remote.ErrRestoring) {
			t.Fatalf("the first query's error: %v; want %q", err, remote.ErrRestoring)
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	rec, info, err := remote.Record(ctx, c, srv.Namespace, id)
	if err != nil {
		t.Fatalf("Record of a restoring run: %v", err)
	}
	if info.Status != sandbox.StatusRunning || rec.Status != sandbox.StatusRunning || len(rec.Tasks) != 1 || rec.Tasks[0].Name != "first" {
		t.Errorf("Record: %s, record %+v", info.Status, rec)
	}
	if n := restoringAsks.Load(); n != restoringFor+1 {
		t.Errorf("the workflow answered %d queries, want %d (%d failed, then the record)", n, restoringFor+1, restoringFor)
	}
}
