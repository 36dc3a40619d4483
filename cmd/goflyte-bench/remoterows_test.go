package main

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
)

// The plain workflows (the remote rows' floor) give what the samplers
// check, in Temporal's in-memory test suite.
func TestPlainWorkflows(t *testing.T) {
	for _, tc := range []struct {
		name string
		wf   any
		n    int
		want string
	}{
		{"chain", plainChain, 5, "hello"},
		{"fanout", plainFanOut, 4, "hello hello hello hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			calls := 0
			env.RegisterActivityWithOptions(func(ctx context.Context, in string) (string, error) {
				calls++
				return noopActivity(ctx, in)
			}, activity.RegisterOptions{Name: "noop"})
			env.ExecuteWorkflow(tc.wf, tc.n)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := env.GetWorkflowResult(&got); err != nil || got != tc.want {
				t.Errorf("result %q (%v), want %q", got, err, tc.want)
			}
			want := tc.n
			if tc.name == "fanout" {
				want++ // the activity on the results
			}
			if calls != want {
				t.Errorf("%d activities ran, want %d", calls, want)
			}
		})
	}
}

func TestForeachSize(t *testing.T) {
	t.Setenv(foreachEnv, "")
	if n := foreachSize(); n != 10000 {
		t.Errorf("default size %d", n)
	}
	t.Setenv(foreachEnv, "300")
	if n := foreachSize(); n != 300 {
		t.Errorf("size with %s=300: %d", foreachEnv, n)
	}
	t.Setenv(foreachEnv, "x")
	if n := foreachSize(); n != 10000 {
		t.Errorf("size with a bad %s: %d", foreachEnv, n)
	}
	c := foreachCase(3)
	if !strings.Contains(string(c.inputs), `["w1","w2","w3"]`) || strings.Contains(c.workflow, "cache") {
		t.Errorf("foreachCase(3): %s\n%s", c.inputs, c.workflow)
	}
}

func TestEventsCell(t *testing.T) {
	r := Result{Unit: UnitEvents, Goflyte: &Stats{Median: 1234}, Limit: 10240}
	if got := r.goflyteCell(); got != "1234 events" {
		t.Errorf("goflyte cell of an events row = %q", got)
	}
	if got := r.targetCell(); got != "<=10240 events" {
		t.Errorf("target cell of an events row = %q", got)
	}
}

// No remote row is in -short: each needs the Temporal test server and
// more than the short table's budget.
func TestRemoteRowsNotShort(t *testing.T) {
	for _, c := range remoteComparisons() {
		if c.Short {
			t.Errorf("row %s is in -short", c.ID)
		}
	}
}
