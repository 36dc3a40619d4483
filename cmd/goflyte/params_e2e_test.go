package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ECheckpointRetries runs a task that saves its progress in a
// checkpoint and fails after two steps in each attempt: every retry goes
// on from the checkpoint of the attempt before, so the fifth attempt
// finishes, starting from 81.
func TestE2ECheckpointRetries(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("series.hcl", `workflow "series" {
  task "count" {
    uses          = "math.series"
    inputs        = { n = 100, stop_after = 2 }
    retries       = 4
    retry_backoff = "1ms"
  }
  output "sum" { value = task.count.sum }
  output "resumed_from" { value = task.count.resumed_from }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 0 || out.Outputs["sum"] != float64(5050) || out.Outputs["resumed_from"] != float64(81) {
		t.Fatalf("want sum 5050 resumed from 81\n%s", r)
	}
	// Each attempt saved into a directory of its own.
	for _, name := range []string{"count", "count.2", "count.3", "count.4", "count.5"} {
		if _, err := os.Stat(filepath.Join(out.RunDir, "checkpoints", name, "_dst_cp")); err != nil {
			t.Errorf("checkpoint of attempt %s: %v", name, err)
		}
	}
}

// TestE2ECheckpointResume resumes a failed run: the task runs again from
// the checkpoint its last attempt saved in the run it resumes.
func TestE2ECheckpointResume(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("series.hcl", `workflow "series" {
  task "count" {
    uses          = "math.series"
    inputs        = { n = 100, stop_after = 3 }
    retries       = 1
    retry_backoff = "1ms"
  }
  output "sum" { value = task.count.sum }
  output "resumed_from" { value = task.count.resumed_from }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 1 || !strings.Contains(out.Error, "stopped after 3 steps at 61") {
		t.Fatalf("first run: want a failure after two attempts (six steps)\n%s", r)
	}
	runName := filepath.Base(out.RunDir)
	out, r = x.runJSON("run", "--resume", runName)
	if r.code != 0 || out.Outputs["sum"] != float64(5050) || out.Outputs["resumed_from"] != float64(91) {
		t.Fatalf("resumed run: want sum 5050, its second attempt starting from 91\n%s", r)
	}
}
