package remote_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
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
	res := runLocal(t, in, newFakeTasks(in.Plugins))
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
