package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// fanoutFile is the source of workflow "fanout": a task, a for_each
// of three sub-workflow calls of "many" (manyTasksFile) two at a time,
// a for_each of two dynamic tasks whose workflows have 2*texts distinct
// tasks each, a for_each of three calls of "chain" (chainFile, steps
// tasks in a chain) of which the one for "always" fails, with
// min_success_ratio ratio, and a task after them all: a run that
// continues as new holds the graphs of the instances while they run.
func fanoutFile(texts int, ratio string) string {
	quoted := func(prefix string) string {
		q := make([]string, texts)
		for i := range q {
			q[i] = fmt.Sprintf("%q", fmt.Sprintf("%s%d x y", prefix, i))
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprintf(`workflow "fanout" {
  input "text" { type = string }
  task "first" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "fan" {
    uses         = workflow.many
    for_each     = ["a", "b", "c"]
    max_parallel = 2
    inputs       = { text = "${each.value}-${task.first.text}" }
  }
  task "dyns" {
    uses     = "text.count_each"
    for_each = [%s, %s]
    inputs   = { texts = each.value }
  }
  task "chains" {
    uses              = workflow.chain
    for_each          = ["p", "always", "q"]
    min_success_ratio = %s
    inputs            = { text = each.value }
  }
  task "after" {
    uses   = "text.upper"
    inputs = { text = "${task.fan.last[2][0]}-${length(task.dyns.counts)}-${length(task.chains.end)}" }
  }
  output "last" { value = task.fan.last }
  output "counts" { value = task.dyns.counts }
  output "ends" { value = task.chains.end }
  output "after" { value = task.after.text }
}
`, quoted("u"), quoted("v"), ratio)
}

// chainFile is the source of workflow "chain": steps text.upper tasks
// in a chain from its input (the first fails for "always").
func chainFile(steps int) string {
	var b strings.Builder
	b.WriteString("workflow \"chain\" {\n  input \"text\" { type = string }\n")
	for i := range steps {
		text := "input.text"
		if i > 0 {
			text = fmt.Sprintf("\"${task.s%d.text}%d\"", i-1, i)
		}
		fmt.Fprintf(&b, "  task \"s%d\" {\n    uses   = \"text.upper\"\n    inputs = { text = %s }\n  }\n", i, text)
	}
	fmt.Fprintf(&b, "  output \"end\" { value = task.s%d.text }\n}\n", steps-1)
	return b.String()
}

// fanoutInput is the input of a run of fanoutFile(texts, ratio) calling
// manyTasksFile(n, lanes) and chainFile(steps).
func fanoutInput(t testing.TB, n, lanes, texts, steps int, ratio string) remote.RunInput {
	in := manyTasksInput(t, n, lanes)
	in.ExecutionID, in.Main, in.Workflow = "proj:dev:fanout", "fanout.hcl", "fanout"
	in.Sources["fanout.hcl"] = fanoutFile(texts, ratio)
	in.Sources["chain.hcl"] = chainFile(steps)
	return in
}

// continueInTestEnv runs in in Temporal's test environment, its history
// length kept at RunInput.ContinueAfter so that each Temporal run holds
// every graph after its first step, feeding each continuation's input to
// the next. It returns the last run, how many continuations there were,
// the states they carried (JSON) and the calls each Temporal run made.
func continueInTestEnv(t *testing.T, in remote.RunInput, f *fakeTasks) (remoteRun, int, []string, []int) {
	t.Helper()
	var r remoteRun
	var states []string
	var perRun []int
	runs := 0
	for ; runs < 400; runs++ {
		before := len(f.calls())
		r = runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
			env.SetCurrentHistoryLength(in.ContinueAfter)
		})
		perRun = append(perRun, len(f.calls())-before)
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
		states = append(states, f.lastState(t))
		in = next
	}
	return r, runs, states, perRun
}

// TestContinueForEachInTestEnv: the graphs of for_each instances (calls
// of a sub-workflow, dynamic tasks' workflows, a sub-workflow's own
// for_each below them) are held and carried when the run continues as
// new, with the instances that ended (a failed one too), instead of
// running to their end in one Temporal run; the run ends as the local
// engine's, every call made once, the instances' records as they were.
func TestContinueForEachInTestEnv(t *testing.T) {
	for _, tc := range []struct {
		name, ratio, status string
	}{
		{"one instance may fail", "0.5", sandbox.StatusSucceeded},
		{"an instance fails the for_each", "1", sandbox.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fanoutInput(t, 30, 3, 6, 8, tc.ratio)
			in.ContinueAfter = 10
			res := runLocal(t, in, newFakeTasks(in.Plugins))
			f := newFakeTasks(in.Plugins)
			r, runs, states, perRun := continueInTestEnv(t, in, f)
			if r.rec == nil {
				t.Fatalf("after %d continuations: no record: %v", runs, r.err)
			}
			if r.rec.Status != tc.status {
				t.Fatalf("after %d continuations: %s: %s", runs, r.rec.Status, r.rec.Error)
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
			// first, fan@0..2 (each: t*, fan@*, big), dyns@0..1 (each: the
			// task, its splits and counts), chains@* (always fails at s0),
			// after (not when the for_each failed)
			want := 1 + 3*(30+3+1) + 2*(1+2*6) + 2*8 + 1 + 1
			if tc.status == sandbox.StatusFailed {
				want--
			}
			if len(seen) != want {
				t.Errorf("%d distinct calls, want %d", len(seen), want)
			}
			if tc.status == sandbox.StatusFailed {
				// The failed for_each releases the held graphs: they run
				// to their end where they are, as locally.
				return
			}
			// Carried: the graphs of instances of each for_each (their
			// kept tasks, a dynamic instance's workflow), and instances
			// that ended while others were held, a failed one among them.
			carried := map[string]int{}
			for _, st := range states {
				var s struct {
					Kept      map[string]json.RawMessage
					Dynamic   map[string]json.RawMessage
					Instances map[string][]struct {
						Index   int
						Failure *remote.TaskFailure
					}
				}
				if err := json.Unmarshal([]byte(st), &s); err != nil {
					t.Fatal(err)
				}
				for key := range s.Kept {
					for _, p := range []string{"fan@", "chains@"} {
						if strings.HasPrefix(key, p) {
							carried["kept "+p]++
						}
					}
					if strings.HasPrefix(key, "fan@") && strings.HasSuffix(key, "+fan") {
						carried["an instance's own for_each"]++
					}
				}
				for key := range s.Dynamic {
					if strings.HasPrefix(key, "dyns@") {
						carried["dynamic"]++
					}
				}
				for key, list := range s.Instances {
					carried["instances of "+key]++
					for _, ci := range list {
						if ci.Failure != nil {
							carried["a failed instance"]++
						}
					}
				}
			}
			for _, what := range []string{"kept fan@", "kept chains@", "an instance's own for_each", "dynamic",
				"instances of fan", "instances of chains", "a failed instance"} {
				if carried[what] == 0 {
					t.Errorf("no state of %d carried %s (carried: %v)", runs, what, carried)
				}
			}
			// No Temporal run made most of the calls: the instances'
			// graphs went on across the continuations.
			for i, n := range perRun {
				if n > len(seen)/4 {
					t.Errorf("Temporal run %d made %d of %d calls", i, n, len(seen))
				}
			}
			for _, name := range []string{"fan", "dyns", "chains"} {
				rt := task(t, r.rec, name)
				if rt.End.Before(rt.Start) {
					t.Errorf("%s: %s - %s", name, rt.Start, rt.End)
				}
				instances := 0
				for _, nr := range rt.Nested {
					if !strings.HasPrefix(nr.Name, name+"@") {
						t.Errorf("%s: nested record %s", name, nr.Name)
					}
					if !strings.Contains(nr.Name, "+") {
						instances++
					}
					if nr.Status == sandbox.StatusRunning || nr.Status == sandbox.StatusPending {
						t.Errorf("%s: nested record %s %s", name, nr.Name, nr.Status)
					}
				}
				if instances != rt.Instances {
					t.Errorf("%s: %d records of instances, %d instances", name, instances, rt.Instances)
				}
			}
		})
	}
}

// TestContinueForEach runs fanoutFile on the real server with a small
// RunInput.ContinueAfter: the graphs of the for_each's instances
// continue as new with the run, several times under one workflow id;
// the outputs and record equal the local run's, no task runs twice, and
// no Temporal run's history grows far past ContinueAfter (the replay
// case "foreach-continued" records a smaller run of it).
func TestContinueForEach(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	in := fanoutInput(t, 100, 5, 20, 30, "0.5")
	in.ExecutionID, in.ContinueAfter = "proj:dev:fanout-continued", 400
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
	if want := 1 + 3*(100+3+1) + 2*(1+2*20) + 2*30 + 1 + 1; len(seen) != want {
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
	t.Logf("a for_each of sub-workflow calls of 100 tasks: %d Temporal runs, at most %d events in one", runs, largest)
	got, _, err := remote.Record(ctx, c, "default", in.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, got, res)
}

// wideChainInput is the input of a run of workflow "wide" (a for_each
// of calls of chainFile(steps), one of dynamic tasks) for batches of
// its nodes.
func wideChainInput(t testing.TB, steps int) remote.RunInput {
	in := manyTasksInput(t, 3, 1)
	in.ExecutionID, in.Main, in.Workflow = "proj:dev:wide", "wide.hcl", "wide"
	in.Sources["wide.hcl"] = `workflow "wide" {
  input "texts" { type = list(string) }
  input "lists" { type = list(list(string)) }
  task "fan" {
    uses              = workflow.chain
    for_each          = input.texts
    min_success_ratio = 0.5
    inputs            = { text = each.value }
  }
  task "dyns" {
    uses     = "text.count_each"
    for_each = input.lists
    inputs   = { texts = each.value }
  }
  output "ends" { value = task.fan.end }
  output "counts" { value = task.dyns.counts }
}
`
	in.Sources["chain.hcl"] = chainFile(steps)
	return in
}

// runBatch runs a batch in Temporal's test environment, its history
// length kept at continueAfter, feeding each continuation's input to the
// next. It returns the batch's results, how many times it continued and
// the states it carried.
func runBatch(t *testing.T, in remote.BatchInput, f *fakeTasks, continueAfter int) ([]remote.BatchResult, int, []string) {
	t.Helper()
	var states []string
	for runs := 0; runs < 400; runs++ {
		var s testsuite.WorkflowTestSuite
		s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
		env := s.NewTestWorkflowEnvironment()
		env.SetTestTimeout(time.Minute)
		remote.RegisterWorkflow(env)
		f.register(env)
		f.boundResults(env)
		env.SetCurrentHistoryLength(continueAfter)
		env.ExecuteWorkflow(remote.BatchWorkflowType, in)
		if !env.IsWorkflowCompleted() {
			t.Fatal("the batch did not complete")
		}
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next remote.BatchInput
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			if next.Continued == nil || next.Continued.Runs != runs+1 || next.Node != in.Node || len(next.Calls) != len(in.Calls) {
				t.Fatalf("continuation %d: %+v", runs+1, next.Continued)
			}
			states = append(states, f.lastState(t))
			in = next
			continue
		}
		if err != nil {
			t.Fatalf("after %d continuations: %v", runs, err)
		}
		var results []remote.BatchResult
		if err := env.GetWorkflowResult(&results); err != nil {
			t.Fatal(err)
		}
		return results, runs, states
	}
	t.Fatal("the batch continued 400 times")
	return nil, 0, nil
}

// TestContinueBatchInTestEnv: a batch of a for_each's instances whose
// graphs are big (calls of a sub-workflow, dynamic tasks' workflows)
// continues as new when its history is long, carrying the calls that
// ended and the held graphs, and returns what a batch that never
// continues returns: the same outputs and failures, the same nested
// records, every call made once.
func TestContinueBatchInTestEnv(t *testing.T) {
	texts := []string{"p", "always", "q", "r"}
	lists := [][]string{{"a b", "c", "d e f"}, {"g", "h i"}, {"j k l m"}}
	for _, tc := range []struct {
		node   string
		inputs []string
		prefix string
	}{
		{"fan", func() []string {
			var out []string
			for _, s := range texts {
				out = append(out, fmt.Sprintf(`{"text":%q}`, s))
			}
			return out
		}(), "fan@"},
		{"dyns", func() []string {
			var out []string
			for _, l := range lists {
				data, _ := json.Marshal(l)
				out = append(out, fmt.Sprintf(`{"texts":%s}`, data))
			}
			return out
		}(), "dyns@"},
	} {
		t.Run(tc.node, func(t *testing.T) {
			run := wideChainInput(t, 8)
			in := remote.BatchInput{Run: run, Node: tc.node}
			for i, inputs := range tc.inputs {
				in.Calls = append(in.Calls, remote.BatchCall{Name: fmt.Sprintf("%s@%d", tc.node, i), Inputs: json.RawMessage(inputs)})
			}
			whole, _, _ := runBatch(t, in, newFakeTasks(run.Plugins), 0)
			f := newFakeTasks(run.Plugins)
			in.Run.ContinueAfter = 10
			got, runs, states := runBatch(t, in, f, in.Run.ContinueAfter)
			if runs < 2 {
				t.Errorf("the batch continued %d times, want several", runs)
			}
			view := func(rs []remote.BatchResult) string {
				var b strings.Builder
				for i, r := range rs {
					fmt.Fprintf(&b, "%d: %s cancelled=%v", i, r.Outputs, r.Cancelled)
					if r.Failure != nil {
						fmt.Fprintf(&b, " failure=%q", r.Failure.Message)
					}
					// The records in the order they started, which
					// differs: the held graphs start again later.
					var recs []string
					for _, n := range r.Nested {
						recs = append(recs, n.Name+":"+n.Status)
					}
					slices.Sort(recs)
					fmt.Fprintf(&b, " %s\n", strings.Join(recs, " "))
				}
				return b.String()
			}
			if g, w := view(got), view(whole); g != w {
				t.Errorf("results:\n%s\nwithout continuing:\n%s", g, w)
			}
			seen := map[string]int{}
			for _, c := range f.calls() {
				seen[c.Node]++
			}
			for node, n := range seen {
				if n != 1 {
					t.Errorf("%s called %d times", node, n)
				}
			}
			batch, kept := 0, 0
			for _, st := range states {
				var s struct {
					Kept  map[string]json.RawMessage
					Batch []struct{ Index int }
				}
				if err := json.Unmarshal([]byte(st), &s); err != nil {
					t.Fatal(err)
				}
				batch += len(s.Batch)
				for key := range s.Kept {
					if strings.HasPrefix(key, tc.prefix) {
						kept++
					}
				}
			}
			if batch == 0 || kept == 0 {
				t.Errorf("of %d states, %d carried calls that ended, %d kept tasks of instances' graphs", len(states), batch, kept)
			}
		})
	}
}

// TestContinueBatch runs a for_each of 110 calls of a sub-workflow of 6
// tasks on the real server, with a small RunInput.ContinueAfter: its
// first batch (100 instances, 600 tasks) continues as new several times
// under its workflow id instead of growing one history, and the run's
// outputs and record equal the local run's, no task run twice.
func TestContinueBatch(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	in := wideChainInput(t, 6)
	texts := make([]string, remote.BatchAbove+10)
	for i := range texts {
		texts[i] = fmt.Sprintf("w%d", i)
	}
	texts[42] = "always"
	in.Inputs = map[string]json.RawMessage{"texts": mustJSONOf(t, texts), "lists": json.RawMessage(`[["a b", "c"], ["d"]]`)}
	in.ExecutionID, in.ContinueAfter, in.Parallelism = "proj:dev:batch-continued", 400, 1000
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
	if want := (len(texts)-1)*6 + 1 + 2*(1+2+1); len(seen) != want { // the chains (always fails at s0), the dynamic tasks
		t.Errorf("%d distinct calls, want %d", len(seen), want)
	}
	batch := in.ExecutionID + "/batch/fan/1"
	desc, err := c.DescribeWorkflowExecution(ctx, batch, "")
	if err != nil {
		t.Fatal(err)
	}
	chain := chainHistories(t, c, batch, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	runs, largest := len(chain), 0
	for _, h := range chain {
		largest = max(largest, len(h.Events))
	}
	if runs < 3 {
		t.Errorf("the first batch ran in %d Temporal runs, want it to continue as new several times", runs)
	}
	if largest > 3*in.ContinueAfter {
		t.Errorf("a Temporal run of the batch holds %d events (continue after %d)", largest, in.ContinueAfter)
	}
	t.Logf("a batch of 100 sub-workflow calls of 6 tasks: %d Temporal runs, at most %d events in one", runs, largest)
}

func mustJSONOf(t *testing.T, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLargeForEachSubWorkflows runs a for_each of 10 calls of a
// sub-workflow of 1,000 distinct task blocks (10 chains of 100) on the
// real server: the instances' graphs continue as new with the run
// whenever its history passes ContinueAsNewAt events, instead of
// stopping at HistoryGuard. Opt-in (make test-large):
//
//	go test ./remote -run TestLargeForEachSubWorkflows -v -args -large
func TestLargeForEachSubWorkflows(t *testing.T) {
	if !*large {
		t.Skip("takes minutes; run with -args -large")
	}
	t.Parallel() // the large runs overlap in .ci/run (make test-large)
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	n, lanes, width := 1000, 10, 10
	in := manyTasksInput(t, n, lanes)
	elems := make([]string, width)
	for i := range elems {
		elems[i] = fmt.Sprintf("%q", fmt.Sprint("e", i))
	}
	in.Main, in.Workflow = "wide.hcl", "wide"
	in.Sources["wide.hcl"] = fmt.Sprintf(`workflow "wide" {
  task "subs" {
    uses     = workflow.many
    for_each = [%s]
    inputs   = { text = each.value }
  }
  output "last" { value = [for l in task.subs.last : l[0]] }
}
`, strings.Join(elems, ", "))
	in.Inputs = nil
	in.ExecutionID, in.Parallelism = "proj:dev:large-foreach-subs", 1000
	res := runLocal(t, in, newFakeTasks(in.Plugins))
	start := time.Now()
	run, rec, err := executeWithin(t, c, in, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	sameAsLocal(t, rec, res)
	chain := chainHistories(t, c, in.ExecutionID, run.GetRunID())
	runs, largest := len(chain), 0
	for _, h := range chain {
		largest = max(largest, len(h.Events))
	}
	if runs < 2 || largest > remote.HistoryGuard/2 {
		t.Errorf("%d Temporal runs, the largest history %d events", runs, largest)
	}
	t.Logf("a for_each of %d sub-workflow calls of %d task blocks in %s (%.1f ms a task): %d Temporal runs, the largest history %d events",
		width, n, took.Round(time.Millisecond), float64(took.Milliseconds())/float64(width*n), runs, largest)
}
