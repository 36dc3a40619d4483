package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/sandbox"
)

const resumeWF = `
workflow "r" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "A" }
  }
  task "b" {
    uses   = "fake.flaky"
    inputs = { s = "${task.a.s}B" }
  }
  task "c" {
    uses   = "fake.echo"
    inputs = { s = "${task.b.s}C" }
  }
  output "c" { value = task.c.s }
}`

func loadRecord(t *testing.T, e *Engine, id string) *sandbox.Record {
	t.Helper()
	rec, err := sandbox.Sandbox{Root: e.Config.SDK.LocalSandbox}.LoadRecord(id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func resumeRun(t *testing.T, e *Engine, src string, rec *sandbox.Record, from string) (*Result, error) {
	t.Helper()
	g, err := compileSource(t, e, src)
	if err != nil {
		t.Fatal(err)
	}
	runDir := sandbox.Sandbox{Root: e.Config.SDK.LocalSandbox}.RunDir(rec.Name)
	return e.Run(context.Background(), g, RunOptions{Inputs: nil, Resume: &Resume{Record: rec, RunDir: runDir, From: from}})
}

func statuses(res *Result) map[string]string {
	m := map[string]string{}
	for _, tr := range res.Tasks {
		s := string(tr.Status)
		if tr.Resumed {
			s += " (kept)"
		}
		m[tr.Node] = s
	}
	return m
}

func TestResumeKeepsSucceededTasks(t *testing.T) {
	e, f := newTestEngine(t)
	f.failFlaky.Store(true)
	first := mustRun(t, e, resumeWF, nil, RunOptions{})
	if first.Status != StatusFailed {
		t.Fatalf("first run: %s", first.Status)
	}
	rec := loadRecord(t, e, first.ExecutionID)
	if rec.Status != sandbox.StatusFailed {
		t.Fatalf("recorded status = %s", rec.Status)
	}

	f.failFlaky.Store(false)
	callsBefore := len(f.callsOf("echo"))
	res, err := resumeRun(t, e, resumeWF, rec, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusSucceeded || FormatValue(res.Outputs["c"]) != "ABC" {
		t.Fatalf("resumed run: %s %v %v", res.Status, res.Outputs, res.Err)
	}
	want := map[string]string{"a": "succeeded (kept)", "b": "succeeded", "c": "succeeded"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// a was not called again: only c called echo.
	if got := len(f.callsOf("echo")) - callsBefore; got != 1 {
		t.Errorf("echo called %d times in the resumed run, want 1 (c only)", got)
	}
	if got := loadRecord(t, e, res.ExecutionID); got.ResumedFrom != first.ExecutionID || !got.Tasks[0].Resumed {
		t.Errorf("new record: resumed_from %q, task a resumed %v", got.ResumedFrom, got.Tasks[0].Resumed)
	}
}

func TestResumeFrom(t *testing.T) {
	e, _ := newTestEngine(t)
	first := mustRun(t, e, resumeWF, nil, RunOptions{})
	rec := loadRecord(t, e, first.ExecutionID)
	res, err := resumeRun(t, e, resumeWF, rec, "b")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "succeeded (kept)", "b": "succeeded", "c": "succeeded"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := resumeRun(t, e, resumeWF, rec, "bb"); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("--from an unknown task: err = %v, want one that suggests b", err)
	}
}

func TestResumeRefusesChangedTasks(t *testing.T) {
	e, f := newTestEngine(t)
	f.failFlaky.Store(true)
	first := mustRun(t, e, resumeWF, nil, RunOptions{})
	rec := loadRecord(t, e, first.ExecutionID)
	f.failFlaky.Store(false)
	changed := strings.Replace(resumeWF, `inputs = { s = "A" }`, `inputs = { s = "A2" }`, 1)
	_, err := resumeRun(t, e, changed, rec, "")
	var re *ResumeError
	if !errors.As(err, &re) || len(re.Changed) != 1 || re.Changed[0] != "a" {
		t.Fatalf("err = %v, want a ResumeError naming task a", err)
	}
	// With --from the changed task, it works.
	res, err := resumeRun(t, e, changed, rec, "a")
	if err != nil || FormatValue(res.Outputs["c"]) != "A2BC" {
		t.Errorf("--from a: %v %v", err, res)
	}
	// A change to a task that is re-run anyway is no obstacle.
	changedC := strings.Replace(resumeWF, `"${task.b.s}C"`, `"${task.b.s}C!"`, 1)
	if res, err := resumeRun(t, e, changedC, rec, ""); err != nil || FormatValue(res.Outputs["c"]) != "ABC!" {
		t.Errorf("changed failed-path task: %v %v", err, res)
	}
}

func TestResumeRunsAgainATaskWhoseOutputsHeldASecret(t *testing.T) {
	e, f := newTestEngine(t)
	e.Secrets = mapBackend{"api/token": "revealed-value"}
	src := `workflow "r" {
  task "a" {
    uses = "fake.reveal"
    secret {
      group = "api"
      key   = "token"
    }
  }
  task "b" {
    uses   = "fake.flaky"
    inputs = { s = task.a.x }
  }
  output "b" { value = task.b.s }
}`
	f.failFlaky.Store(true)
	first := mustRun(t, e, src, nil, RunOptions{})
	if first.Status != StatusFailed {
		t.Fatalf("first run: %s", first.Status)
	}
	rec := loadRecord(t, e, first.ExecutionID)
	if a := rec.Tasks[0]; a.Name != "a" || !a.OutputsRedacted || strings.Contains(string(a.Outputs), "revealed-value") {
		t.Fatalf("record of a: %s outputs %s redacted %v; want the value replaced and marked", a.Name, a.Outputs, a.OutputsRedacted)
	}

	f.failFlaky.Store(false)
	res, err := resumeRun(t, e, src, rec, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "succeeded", "b": "succeeded"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// b got the real value, not the "***" of the record.
	if got := FormatValue(res.Outputs["b"]); got != "token=revealed-value" {
		t.Errorf("output b = %q, want the real value", got)
	}
}
