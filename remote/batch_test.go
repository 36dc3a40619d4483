package remote_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// TestBatchesLikeLocal runs for_each nodes wider than BatchAbove, whose
// instances run in batch child workflows, and compares with the local
// engine: outputs, failed instances (min_success_ratio), retries inside
// a batch.
func TestBatchesLikeLocal(t *testing.T) {
	texts := make([]string, 2*remote.BatchSize+30)
	divisors := make([]int, remote.BatchAbove+20)
	for i := range texts {
		texts[i] = fmt.Sprintf("t%d", i)
	}
	texts[7], texts[150] = "flaky", "flaky"
	for i := range divisors {
		divisors[i] = i % 3 // a third divide by zero
	}
	rows := make([][]string, 2)
	for i := range rows {
		for j := 0; j < remote.BatchAbove+5; j++ {
			rows[i] = append(rows[i], fmt.Sprintf("r%dc%d", i, j))
		}
	}
	cases := []struct {
		name, main, workflow string
		files                []string
		inputs               map[string]any
		nodes                []string // some of the nodes the batches' calls must have
		unbatched            int      // calls of tasks without for_each
	}{
		{"retries in batches", features, "shouts", nil, map[string]any{"texts": texts}, []string{"shout@7", "nap@229"}, 0},
		{"failed instances", features, "ratio", nil, map[string]any{"divisors": divisors}, []string{"div@0"}, 0},
		{"sub-workflow calls in batches", examples + "pipeline.hcl", "pipeline", []string{examples + "wordcount.hcl"},
			map[string]any{"texts": texts}, []string{"each@0+split", "each@229+count"}, 1},
		{"batches inside sub-workflows", features, "grid", nil, map[string]any{"rows": rows}, []string{"row@0+cell@0", "row@1+cell@104"}, 0},
		{"batches inside dynamic workflows", features, "dynwide", nil, map[string]any{"texts": append([]string{"__for_each"}, texts...)},
			[]string{"counts+split@0", "counts+split@229"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := runInput(t, tc.main, tc.workflow, tc.inputs, tc.files...)
			in.Parallelism = 1000
			res := runLocal(t, in, newFakeTasks(in.Plugins))
			f := newFakeTasks(in.Plugins)
			r := runRemote(t, in, f, nil)
			if r.rec == nil {
				t.Fatalf("no record: %v", r.err)
			}
			sameAsLocal(t, r.rec, res)
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.wfTypes[remote.WorkflowType] != tc.unbatched || f.wfTypes[remote.BatchWorkflowType] == 0 {
				t.Errorf("calls by workflow type: %v; want all but %d from batches", f.wfTypes, tc.unbatched)
			}
			seen := map[string]bool{}
			for _, c := range f.inputs {
				seen[c.Node] = true
			}
			for _, n := range tc.nodes {
				if !seen[n] {
					t.Errorf("no call of node %q", n)
				}
			}
		})
	}
}

// TestBatchesCancelled: cancelling the run cancels its batches and the
// activities in them.
func TestBatchesCancelled(t *testing.T) {
	texts := make([]string, remote.BatchAbove+1)
	for i := range texts {
		texts[i] = "x"
	}
	in := runInput(t, features, "shouts", map[string]any{"texts": texts, "ms": 20000})
	in.Parallelism = 1000
	f := newFakeTasks(in.Plugins)
	start := time.Now()
	r := runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	})
	if !temporal.IsCanceledError(r.err) {
		t.Fatalf("workflow error %v, want a cancellation", r.err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the run took %s: the batch's activities were not cancelled", d)
	}
	v, err := r.env.QueryWorkflow(remote.QueryRecord)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Status string
		Tasks  []struct{ Name, Status string }
	}
	if err := v.Get(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != "cancelled" || rec.Tasks[0].Status != "cancelled" || rec.Tasks[1].Status != "cancelled" {
		t.Errorf("record: %+v", rec)
	}
}

// TestBatchedHistory runs a for_each of 1,100 instances on the real
// server: the run's own history holds a few events per batch, not per
// instance.
func TestBatchedHistory(t *testing.T) {
	// Not parallel: its 1,100 activities keep the server busy (it computes
	// more than it waits), within execute's bound.
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	n := 1100
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("w%d x", i)
	}
	in := runInput(t, features, "wide", map[string]any{"texts": texts})
	in.ExecutionID, in.Parallelism = "proj:dev:batched", 1000
	start := time.Now()
	// A failure deadline, not a speed check: on a loaded machine, beside
	// the race tests, the run took over execute's 2 minutes.
	run, rec, err := executeWithin(t, c, in, 6*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if got := string(rec.Outputs["total"]); got != fmt.Sprint(2*n) {
		t.Errorf("total = %s", got)
	}
	h := history(t, c, run)
	children := 0
	for _, ev := range h.Events {
		if ev.GetEventType() == enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED {
			children++
		}
	}
	if want := (n + remote.BatchSize - 1) / remote.BatchSize; children != want {
		t.Errorf("%d batches, want %d", children, want)
	}
	if len(h.Events) > 20*children+50 {
		t.Errorf("%d events in the run's history for %d batches", len(h.Events), children)
	}
	// The batches started after one returned know that a worker serves
	// the plugin: their tasks do not wait a bounded time for one (a
	// server timer each).
	bounded := map[string]int{}
	for _, ev := range h.Events {
		if a := ev.GetChildWorkflowExecutionCompletedEventAttributes(); a != nil {
			we := a.GetWorkflowExecution()
			for _, bev := range history(t, c, c.GetWorkflow(context.Background(), we.GetWorkflowId(), we.GetRunId())).Events {
				if sa := bev.GetActivityTaskScheduledEventAttributes(); sa != nil && sa.GetScheduleToStartTimeout().AsDuration() > 0 {
					bounded[we.GetWorkflowId()]++
				}
			}
		}
	}
	if last := fmt.Sprintf("%s/batch/count/%d", in.ExecutionID, children); len(bounded) == 0 || bounded[last] != 0 {
		t.Errorf("tasks waiting a bounded time for a worker, by batch: %v", bounded)
	}
	t.Logf("%d instances: %d events in the run's history, %d batches, %s", n, len(h.Events), children, took)
}

// TestInFlightBound runs 1,100 calls that no batch takes (11 sub-workflow
// calls of 100 instances each) with a parallelism above MaxInFlight on
// the real server, and reads in the history that no more than
// MaxInFlight activities were ever pending at once, and that the bound
// was reached.
func TestInFlightBound(t *testing.T) {
	// Not parallel: its 1,100 activities keep the server busy (it computes
	// more than it waits), within execute's bound.
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	rows := make([][]string, 11)
	for i := range rows {
		for j := 0; j < remote.BatchAbove; j++ {
			rows[i] = append(rows[i], fmt.Sprintf("c%d.%d", i, j))
		}
	}
	in := runInput(t, features, "grid", map[string]any{"rows": rows})
	in.ExecutionID, in.Parallelism = "proj:dev:grid", 5000
	run, rec, err := executeWithin(t, c, in, 6*time.Minute) // as TestBatchedHistory
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	if err := json.Unmarshal(rec.Outputs["rows"], &got); err != nil || len(got) != 11 || got[10][99] != "C10.99" {
		t.Errorf("rows = %s (%v)", strings.Join(strings.Fields(string(rec.Outputs["rows"])), "")[:80], err)
	}
	h := history(t, c, run)
	pending, most := 0, 0
	for _, ev := range h.Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			pending++
			most = max(most, pending)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED,
			enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
			pending--
		}
	}
	if most != remote.MaxInFlight {
		t.Errorf("at most %d activities were pending at once, want %d", most, remote.MaxInFlight)
	}
	t.Logf("%d events in the history of %d calls", len(h.Events), 11*remote.BatchAbove)
}

// large runs TestLargeFanOut, which takes minutes on a busy machine:
//
//	go test ./remote -run TestLargeFanOut -v -args -large
var large = flag.Bool("large", false, "run TestLargeFanOut (10,000 instances on the real server)")

// TestLargeFanOut runs a 10,000-element for_each on the real server and
// reports the time and the event counts of the run's history and of its
// largest batch's; both must stay far below Temporal's 50k.
func TestLargeFanOut(t *testing.T) {
	if !*large {
		t.Skip("takes minutes; run with -args -large")
	}
	t.Parallel() // the two large runs overlap in .ci/run (make test-large)
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	n := 10000
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("w%d x", i)
	}
	in := runInput(t, features, "wide", map[string]any{"texts": texts})
	in.ExecutionID, in.Parallelism = "proj:dev:large", 1000
	start := time.Now()
	run, rec, err := executeWithin(t, c, in, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if got := string(rec.Outputs["total"]); got != fmt.Sprint(2*n) {
		t.Errorf("total = %s", got)
	}
	h := history(t, c, run)
	largest := 0
	for _, ev := range h.Events {
		if a := ev.GetChildWorkflowExecutionCompletedEventAttributes(); a != nil {
			bh := history(t, c, c.GetWorkflow(context.Background(), a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()))
			largest = max(largest, len(bh.Events))
		}
	}
	if len(h.Events) > 5000 || largest > 5000 {
		t.Errorf("%d events in the run's history, %d in its largest batch's", len(h.Events), largest)
	}
	t.Logf("%d instances in %s (%.1f ms each): %d events in the run's history, %d in its largest batch's",
		n, took.Round(time.Millisecond), float64(took.Milliseconds())/float64(n), len(h.Events), largest)
}
