package engine

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOnFailure(t *testing.T) {
	e, f := newTestEngine(t)
	src := `workflow "f" {
  input "text" { type = string }
  on_failure = "fake.onfail"
  task "boom" {
    uses   = "fake.fail"
    inputs = { message = "disk full" }
  }
  task "after" {
    uses   = "fake.echo"
    inputs = { s = task.boom.never }
  }
}`
	res := mustRun(t, e, src, map[string]string{"text": "hello"}, RunOptions{})
	var te *TaskError
	if res.Status != StatusFailed || !errors.As(res.Err, &te) || te.Node != "boom" {
		t.Fatalf("the run must still report the original failure: status %s, err %v", res.Status, res.Err)
	}
	statuses := map[string]Status{}
	for _, tr := range res.Tasks {
		statuses[tr.Node] = tr.Status
	}
	want := map[string]Status{"boom": StatusFailed, "after": StatusSkipped, OnFailureNode: StatusSucceeded}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	calls := f.callsOf("onfail")
	if len(calls) != 1 {
		t.Fatalf("the handler was called %d times", len(calls))
	}
	var in map[string]any
	if err := json.Unmarshal(calls[0].Inputs, &in); err != nil {
		t.Fatal(err)
	}
	wantIn := map[string]any{
		"err":  map[string]any{"failed_node": "boom", "message": "Error encountered while executing 'boom':\n  disk full"},
		"text": "hello",
	}
	if diff := cmp.Diff(wantIn, in); diff != "" {
		t.Errorf("handler inputs (-want +got):\n%s", diff)
	}
	// A run that succeeds does not call the handler.
	res = mustRun(t, e, `workflow "ok" {
  on_failure = "fake.onfail"
  task "fine" {
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded || len(f.callsOf("onfail")) != 1 {
		t.Errorf("a successful run called the handler")
	}
}

func TestOnFailureWorkflow(t *testing.T) {
	e, f := newTestEngine(t)
	g, diags := compileFile(t, e, `
workflow "main" {
  input "text" { type = string }
  on_failure = workflow.report
  task "boom" {
    uses   = "fake.fail"
    inputs = { message = "disk full" }
  }
}
workflow "report" {
  input "err" { type = object({ failed_node = string, message = string }) }
  input "text" { type = string }
  task "note" {
    uses   = "fake.echo"
    inputs = { s = "${input.text}: ${input.err.failed_node}" }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inputs, _ := g.ParseInputs(map[string]string{"text": "alert"}, nil)
	res, err := e.Run(t.Context(), g, RunOptions{Inputs: inputs})
	if err != nil || res.Status != StatusFailed {
		t.Fatalf("run: %v, status %s", err, res.Status)
	}
	calls := f.callsOf("echo")
	if len(calls) != 1 || string(calls[0].Inputs) != `{"s":"alert: boom"}` {
		t.Errorf("the handler workflow's task got %v", calls)
	}
	if tr := res.Tasks[len(res.Tasks)-1]; tr.Node != OnFailureNode || tr.Status != StatusSucceeded || tr.TaskID != "workflow.report" {
		t.Errorf("handler: %s %s %s", tr.Node, tr.TaskID, tr.Status)
	}
}
