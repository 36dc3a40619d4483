package engine

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDynamicTask(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "d" {
  task "d" {
    uses   = "fake.dyn"
    inputs = { s = "hi" }
  }
  task "n" { uses = "fake.dyn_nested" }
  output "s" { value = task.d.s }
  output "mode" { value = task.d.mode }
  output "nested" { value = task.n.s }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got := map[string]string{}
	for k, v := range res.Outputs {
		got[k] = FormatValue(v)
	}
	want := map[string]string{"s": "hi!", "mode": "LOCAL_DYNAMIC_TASK_EXECUTION", "nested": "deep!"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDynamicTaskInvalidGraph(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "d" {
  task "b" { uses = "fake.dyn_bad" }
}`, nil, RunOptions{})
	if res.Status != StatusFailed || !strings.Contains(res.Err.Error(), "invalid workflow") || !strings.Contains(res.Err.Error(), "Unknown plugin") {
		t.Errorf("status %s, err %v", res.Status, res.Err)
	}
}

// TestHasDynamic: a graph has a dynamic (an eager) task when one of its
// tasks, of the workflows it calls or of its failure handler is.
func TestHasDynamic(t *testing.T) {
	e, _ := newTestEngine(t)
	for _, tc := range []struct {
		name, src   string
		want, eager bool
	}{
		{"plain", `workflow "m" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
}`, false, false},
		{"an eager task in a called workflow", `workflow "m" {
  task "c" { uses = workflow.inner }
}
workflow "inner" {
  task "e" {
    uses   = "fake.eager"
    inputs = { n = 2 }
  }
}`, false, true},
		{"a dynamic task", `workflow "m" {
  task "d" {
    uses   = "fake.dyn"
    inputs = { s = "hi" }
  }
}`, true, false},
		{"in a called workflow", `workflow "m" {
  task "c" { uses = workflow.inner }
}
workflow "inner" {
  task "d" {
    uses   = "fake.dyn"
    inputs = { s = "hi" }
  }
}`, true, false},
		{"a called workflow without", `workflow "m" {
  task "c" { uses = workflow.inner }
}
workflow "inner" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
}`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, diags := compileFile(t, e, tc.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := g.HasDynamic(); got != tc.want {
				t.Errorf("HasDynamic() = %v, want %v", got, tc.want)
			}
			if got := g.HasEager(); got != tc.eager {
				t.Errorf("HasEager() = %v, want %v", got, tc.eager)
			}
		})
	}
}
