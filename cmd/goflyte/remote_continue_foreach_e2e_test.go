package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
)

// forEachContinueWF is a workflow whose for_each instances (calls of a
// sub-workflow of n distinct tasks in lanes chains, two at a time, and
// dynamic tasks) are in flight when the run continues as new.
func forEachContinueWF(n, lanes int) string {
	sub := nestedContinueWF(n, lanes)
	chains := sub[strings.Index(sub, `workflow "chains"`):]
	return `workflow "fanchains" {
  input "text" { type = string }
  task "first" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "subs" {
    uses         = workflow.chains
    for_each     = ["a", "b", "c"]
    max_parallel = 2
    inputs       = { text = "${each.value}-${task.first.text}" }
  }
  task "counts" {
    uses     = "text.count_each"
    for_each = [["a b", "c d e", "f", "g h"], ["i j k l", "m"], ["n o", "p q r", "s"]]
    inputs   = { texts = each.value }
  }
  output "last"   { value = task.subs.last }
  output "counts" { value = task.counts.counts }
}

` + chains
}

// TestIntegrationRemoteContinueForEach runs forEachContinueWF with real
// goflyte workers, its workflow continuing as new after every few hundred
// events (GOFLYTE_REMOTE_CONTINUE_AFTER): the graphs of the for_each
// instances are held and carried across the switches with the instances
// that ended, and the run's outputs, tasks, progress lines of nested
// tasks and record (runs show --remote --json) are the local run's.
func TestIntegrationRemoteContinueForEach(t *testing.T) {
	t.Parallel()
	x := newIntegration(t)
	x.writeFile("wf/fanchains.hcl", forEachContinueWF(90, 3))
	x.e2e.env = append(x.e2e.env, "GOFLYTE_REMOTE_CONTINUE_AFTER=150")
	x.startWorker("worker-a", x.full, false)
	x.startWorker("worker-b", x.full, true)

	local, remote, lr, rr := x.runBoth(t, "fanchains", "--input", "text=x")
	if lr.code != 0 {
		t.Fatalf("local run failed\n%s", lr)
	}
	sameRun(t, local, remote, lr, rr, true)
	if l, r := progressLines(lr.stderr), progressLines(rr.stderr); l != r {
		t.Errorf("progress lines differ\nlocal:\n%s\nremote:\n%s", l, r)
	}
	lj := x.runT(t, "runs", "show", local.ExecutionID, "--json")
	rj := x.runT(t, "runs", "show", "--remote", remote.ExecutionID, "--json")
	if l, r := recordTasks(t, lj.stdout, false), recordTasks(t, rj.stdout, true); l != r {
		t.Errorf("runs show --json tasks differ\nlocal:\n%s\nremote:\n%s", l, r)
	}
	if l, r := nestedNames(t, rj.stdout), progressNodes(lr.stderr); l != r {
		t.Errorf("the remote record's nested tasks are not those the local run showed\nremote record:\n%s\nlocal progress:\n%s", l, r)
	}
	// The run continued as new several times, under one workflow id.
	resp, err := x.w.c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", remote.ExecutionID)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetExecutions()); n < 3 {
		t.Errorf("%d Temporal runs of %s, want it to continue as new several times", n, remote.ExecutionID)
	}
	// None of them ran the instances' graphs to their end: each stopped
	// soon after 150 events.
	largest := int64(0)
	for _, e := range resp.GetExecutions() {
		largest = max(largest, e.GetHistoryLength())
	}
	if largest > 3*150 {
		t.Errorf("a Temporal run of %s holds %d events (continue after 150)", remote.ExecutionID, largest)
	}
	t.Logf("%d Temporal runs, at most %d events in one", len(resp.GetExecutions()), largest)
}
