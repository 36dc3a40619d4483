package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// newTestEngine returns an engine with the fake plugin registered and a
// sandbox in a temporary directory.
func newTestEngine(t *testing.T) (*Engine, *fakeProvider) {
	t.Helper()
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{t.TempDir()}
	e := New(cfg, nil)
	t.Cleanup(e.Close)
	f := newFake()
	t.Cleanup(func() { close(f.release) })
	e.Plugins.Register("fake", f)
	return e, f
}

// compileSource parses src as a workflow file and compiles its first workflow.
func compileSource(t *testing.T, e *Engine, src string) (*Graph, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wf.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	wf, diags := config.NewParser().LoadWorkflowFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	g, diags := e.Compile(context.Background(), wf.Workflows[0])
	if diags.HasErrors() {
		return nil, diags
	}
	return g, nil
}

func mustRun(t *testing.T, e *Engine, src string, inputs map[string]string, opts RunOptions) *Result {
	t.Helper()
	g, err := compileSource(t, e, src)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	opts.Inputs, err = g.ParseInputs(inputs, nil)
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	res, err := e.Run(context.Background(), g, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

const wordcount = `
workflow "wordcount" {
  input "text" { type = string }
  input "extra" {
    type    = number
    default = 0
  }
  task "split" {
    uses   = "fake.words"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "fake.count"
    inputs = { words = task.split.words }
  }
  task "plus" {
    uses   = "fake.add"
    inputs = { a = task.count.n, b = input.extra + 1 }
  }
  output "n"     { value = task.count.n }
  output "plus"  { value = task.plus.sum }
  output "first" { value = upper(task.split.words[0]) }
}
`

func TestRunWorkflow(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, wordcount, map[string]string{"text": "a b c", "extra": "10"}, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %s, err = %v", res.Status, res.Err)
	}
	got := map[string]string{}
	for k, v := range res.Outputs {
		got[k] = FormatValue(v)
	}
	want := map[string]string{"n": "3", "plus": "14", "first": "A"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	for _, tr := range res.Tasks {
		if tr.Status != StatusSucceeded {
			t.Errorf("task %s: status %s", tr.Node, tr.Status)
		}
	}
}

func TestRunExecutionParams(t *testing.T) {
	e, _ := newTestEngine(t)
	src := `
workflow "p" {
  task "a" { uses = "fake.params" }
  task "b" { uses = "fake.params" }
  output "a" { value = task.a }
  output "b" { value = task.b }
}`
	res := mustRun(t, e, src, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %s, err = %v", res.Status, res.Err)
	}
	a, b := res.Outputs["a"], res.Outputs["b"]
	str := func(v cty.Value, k string) string { return v.GetAttr(k).AsString() }
	if !strings.HasPrefix(res.ExecutionID, "local:local:r") || str(a, "id") != res.ExecutionID || str(b, "id") != res.ExecutionID {
		t.Errorf("execution ids: run %q, a %q, b %q", res.ExecutionID, str(a, "id"), str(b, "id"))
	}
	if str(a, "date") != str(b, "date") {
		t.Errorf("execution dates differ: %s vs %s", str(a, "date"), str(b, "date"))
	}
	if str(a, "mode") != "LOCAL_WORKFLOW_EXECUTION" {
		t.Errorf("mode = %s", str(a, "mode"))
	}
	if str(a, "dir") == str(b, "dir") {
		t.Errorf("tasks share a working directory %s", str(a, "dir"))
	}
	for _, v := range []cty.Value{a, b} {
		dir := str(v, "dir")
		if !strings.HasPrefix(dir, res.RunDir+string(filepath.Separator)) {
			t.Errorf("working dir %s is not under the run dir %s", dir, res.RunDir)
		}
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			t.Errorf("working dir %s: %v", dir, err)
		}
		if filepath.Base(dir) != str(v, "node") {
			t.Errorf("working dir %s is not named after node %s", dir, str(v, "node"))
		}
	}
}

func TestRunParallelism(t *testing.T) {
	src := `
workflow "wide" {
  task "a" {
    uses = "fake.barrier"
    inputs = { n = 3 }
  }
  task "b" {
    uses = "fake.barrier"
    inputs = { n = 3 }
  }
  task "c" {
    uses = "fake.barrier"
    inputs = { n = 3 }
  }
  task "join" {
    uses = "fake.echo"
    inputs = { s = "${task.a.ok} ${task.b.ok} ${task.c.ok}" }
  }
  output "s" { value = task.join.s }
}`
	e, f := newTestEngine(t)
	// The barrier only opens when all three tasks run at once: with a
	// parallelism of 3 the run can only succeed if they really do.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := compileSource(t, e, src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(ctx, g, RunOptions{Parallelism: 3, Inputs: map[string]cty.Value{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusSucceeded || FormatValue(res.Outputs["s"]) != "true true true" {
		t.Fatalf("status %s, outputs %v, err %v", res.Status, res.Outputs, res.Err)
	}
	if got := f.maxIn.Load(); got != 3 {
		t.Errorf("max tasks in flight = %d, want 3", got)
	}
}

func TestRunParallelismOne(t *testing.T) {
	src := `
workflow "wide" {
  task "a" {
    uses = "fake.echo"
    inputs = { s = "a" }
  }
  task "b" {
    uses = "fake.echo"
    inputs = { s = "b" }
  }
  task "c" {
    uses = "fake.echo"
    inputs = { s = "c" }
  }
}`
	e, f := newTestEngine(t)
	res := mustRun(t, e, src, nil, RunOptions{Parallelism: 1})
	if res.Status != StatusSucceeded {
		t.Fatal(res.Err)
	}
	if got := f.maxIn.Load(); got != 1 {
		t.Errorf("max tasks in flight = %d, want 1", got)
	}
}

func TestRunFailureStopsScheduling(t *testing.T) {
	src := `
workflow "f" {
  task "boom" {
    uses = "fake.fail"
    inputs = { message = "disk full" }
  }
  task "after" {
    uses = "fake.echo"
    inputs = { s = task.boom.never }
  }
  task "later" {
    uses = "fake.echo"
    inputs = { s = "x" }
    depends_on = [task.boom]
  }
}`
	e, f := newTestEngine(t)
	res := mustRun(t, e, src, nil, RunOptions{Parallelism: 1})
	if res.Status != StatusFailed {
		t.Fatalf("status = %s", res.Status)
	}
	var te *TaskError
	if !errors.As(res.Err, &te) || te.Node != "boom" || te.TaskID != "fake.fail" {
		t.Fatalf("err = %#v, want a TaskError for boom", res.Err)
	}
	var pe *plugin.TaskError
	if !errors.As(res.Err, &pe) || pe.Message != "disk full" {
		t.Errorf("cause = %v, want the plugin's TaskError", res.Err)
	}
	got := map[string]Status{}
	for _, tr := range res.Tasks {
		got[tr.Node] = tr.Status
	}
	want := map[string]Status{"boom": StatusFailed, "after": StatusSkipped, "later": StatusSkipped}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := len(f.callsOf("echo")); n != 0 {
		t.Errorf("echo was called %d times after the failure", n)
	}
	// Working directories are made ahead of the tasks; those of tasks
	// that never ran are removed.
	for _, name := range []string{"after", "later"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, "tasks", name)); !os.IsNotExist(err) {
			t.Errorf("skipped task %s left a working directory (stat: %v)", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "tasks", "boom")); err != nil {
		t.Errorf("the failed task's working directory: %v", err)
	}
}

func TestRunOrder(t *testing.T) {
	e, _ := newTestEngine(t)
	g, err := compileSource(t, e, `
workflow "o" {
  task "d" {
    uses = "fake.echo"
    inputs = { s = "${task.b.s}${task.c.s}" }
  }
  task "c" {
    uses = "fake.echo"
    inputs = { s = task.a.s }
  }
  task "b" {
    uses = "fake.echo"
    inputs = { s = "b" }
  }
  task "a" {
    uses = "fake.echo"
    inputs = { s = "a" }
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range runOrder(g) {
		got = append(got, n.Name)
	}
	if diff := cmp.Diff([]string{"b", "a", "c", "d"}, got); diff != "" {
		t.Errorf("run order (-want +got):\n%s", diff)
	}
}

func TestRunOptionalInputLeftOut(t *testing.T) {
	src := `
workflow "o" {
  task "without" {
    uses = "fake.opt"
    inputs = { x = 1 }
  }
  task "with" {
    uses = "fake.opt"
    inputs = { x = 1, label = "hi" }
  }
  output "without" { value = task.without.label }
  output "with" { value = task.with.label }
}`
	e, f := newTestEngine(t)
	res := mustRun(t, e, src, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatal(res.Err)
	}
	if FormatValue(res.Outputs["without"]) != "(none)" || FormatValue(res.Outputs["with"]) != "hi" {
		t.Errorf("outputs = %v", res.Outputs)
	}
	for _, c := range f.callsOf("opt") {
		if strings.Contains(string(c.Inputs), "null") {
			t.Errorf("optional input sent as null: %s", c.Inputs)
		}
	}
}

func TestRunInvalidPluginOutputs(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "b" {
  task "b" { uses = "fake.bad" }
}`, nil, RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status = %s", res.Status)
	}
	var te *TaskError
	if !errors.As(res.Err, &te) || te.Node != "b" {
		t.Fatalf("err = %v", res.Err)
	}
}

func TestRunCancelled(t *testing.T) {
	src := `
workflow "c" {
  task "wait" {
    uses = "fake.barrier"
    inputs = { n = 2 }
  }
  task "next" {
    uses = "fake.echo"
    inputs = { s = "${task.wait.ok}" }
  }
}`
	e, _ := newTestEngine(t)
	g, err := compileSource(t, e, src)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res, err := e.Run(ctx, g, RunOptions{Inputs: map[string]cty.Value{}, Observer: func(ev Event) {
		if ev.Kind == EventStarted && ev.Task.Node == "wait" {
			cancel() // the barrier never opens: only cancellation ends the task
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusCancelled {
		t.Fatalf("status = %s, err = %v", res.Status, res.Err)
	}
	for _, tr := range res.Tasks {
		if tr.Status != StatusCancelled {
			t.Errorf("task %s: status %s, want cancelled", tr.Node, tr.Status)
		}
	}
}

func TestTaskGraph(t *testing.T) {
	e, _ := newTestEngine(t)
	g, err := e.TaskGraph(context.Background(), "fake.params")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), g, RunOptions{Inputs: map[string]cty.Value{}})
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("run: %v %v", err, res.Err)
	}
	if got := res.Outputs["mode"].AsString(); got != "LOCAL_TASK_EXECUTION" {
		t.Errorf("mode = %s", got)
	}

	for _, bad := range []string{"fake", "fake.nope", "nope.echo"} {
		if _, err := e.TaskGraph(context.Background(), bad); err == nil {
			t.Errorf("TaskGraph(%q) succeeded", bad)
		}
	}
}

func TestParseInputs(t *testing.T) {
	e, _ := newTestEngine(t)
	g, err := compileSource(t, e, `
workflow "i" {
  input "s" { type = string }
  input "n" {
    type = number
    default = 2
  }
  input "l" {
    type = list(number)
    default = []
  }
  input "o" {
    type = object({ a = string })
    default = { a = "x" }
  }
  input "flag" {
    type = bool
    default = false
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		text    map[string]string
		want    map[string]string
		wantErr int // number of problems
	}{
		{name: "defaults", text: map[string]string{"s": "hi"}, want: map[string]string{"s": "hi", "n": "2", "l": "[]", "o": `{"a":"x"}`, "flag": "false"}},
		{name: "all given", text: map[string]string{"s": "1", "n": "2.5", "l": "[1,2]", "o": `{"a":"y"}`, "flag": "true"}, want: map[string]string{"s": "1", "n": "2.5", "l": "[1,2]", "o": `{"a":"y"}`, "flag": "true"}},
		{name: "missing required", text: map[string]string{}, wantErr: 1},
		{name: "unknown and ill-typed", text: map[string]string{"s": "x", "nn": "1", "n": "lots", "l": "[1,", "flag": "maybe"}, wantErr: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.ParseInputs(tc.text, nil)
			if tc.wantErr > 0 {
				var ie *InputError
				if !errors.As(err, &ie) || len(ie.Problems) != tc.wantErr {
					t.Fatalf("err = %v, want %d problems", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotText := map[string]string{}
			for k, v := range got {
				gotText[k] = FormatValue(v)
			}
			if diff := cmp.Diff(tc.want, gotText); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// An ill-typed required input is one problem, not also a missing one.
	_, err = g.ParseInputs(nil, map[string]json.RawMessage{"s": json.RawMessage(`[1]`)})
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Problems) != 1 {
		t.Errorf("an ill-typed required input: %v, want one problem", err)
	}
}

func TestRunInputDiagnostics(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "p" {
  task "p" {
    uses = "fake.picky"
    inputs = {
      x = 1 + 1
    }
  }
}`, nil, RunOptions{})
	var te *TaskError
	if !errors.As(res.Err, &te) || len(te.Diagnostics) != 1 {
		t.Fatalf("err = %v, want a TaskError with one diagnostic", res.Err)
	}
	d := te.Diagnostics[0]
	if d.Summary != "Too small" || d.Subject == nil || d.Subject.Start.Line != 5 || d.Subject.Start.Column != 11 {
		t.Errorf("diagnostic = %s at %v, want Too small at line 5, column 11", d.Summary, d.Subject)
	}
}
