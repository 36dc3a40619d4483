package engine

import (
	"strings"
	"testing"
)

func TestEagerTask(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "e" {
  task "e" {
    uses   = "fake.eager"
    inputs = { n = 20 }
  }
  output "results" { value = task.e.results }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	results := res.Outputs["results"].AsValueSlice()
	if len(results) != 21 || results[3].AsString() != `{"s":"child 3"}` {
		t.Fatalf("results = %v", res.Outputs["results"])
	}
	if !strings.Contains(results[20].AsString(), `"mode":"EAGER_LOCAL_EXECUTION"`) {
		t.Errorf("child mode: %s", results[20].AsString())
	}
	tr := res.Tasks[0]
	if len(tr.Children) != 21 {
		t.Errorf("%d children recorded, want 21", len(tr.Children))
	}
	rec := loadRecord(t, e, res.ExecutionID)
	if len(rec.Tasks[0].Children) != 21 {
		t.Errorf("%d children in the record, want 21", len(rec.Tasks[0].Children))
	}
}
