package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/config"
)

// compileFile compiles the first workflow of src, with the file's other
// workflows available to sub-workflow calls.
func compileFile(t *testing.T, e *Engine, src string) (*Graph, hcl.Diagnostics) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wf.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	wf, diags := config.NewParser().LoadWorkflowFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	e.Workflows = func(name string) *config.Workflow {
		for _, w := range wf.Workflows {
			if w.Name == name {
				return w
			}
		}
		return nil
	}
	return e.Compile(context.Background(), wf.Workflows[0])
}

const subWF = `
workflow "main" {
  input "texts" { type = list(string) }
  task "one" {
    uses   = workflow.shout
    inputs = { text = "hello" }
  }
  task "many" {
    uses     = workflow.shout
    for_each = input.texts
    inputs   = { text = each.value, suffix = "?" }
  }
  output "one" { value = task.one.loud }
  output "many" { value = task.many.loud }
}

workflow "shout" {
  input "text" { type = string }
  input "suffix" {
    type    = string
    default = "!"
  }
  task "up" {
    uses   = "fake.echo"
    inputs = { s = upper(input.text) }
  }
  task "mark" {
    uses   = "fake.echo"
    inputs = { s = "${task.up.s}${input.suffix}" }
  }
  output "loud" { value = task.mark.s }
}`

func TestSubWorkflow(t *testing.T) {
	e, _ := newTestEngine(t)
	g, diags := compileFile(t, e, subWF)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inputs, err := g.ParseInputs(map[string]string{"texts": `["a","b"]`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), g, RunOptions{Inputs: inputs})
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("run: %v %v", err, res.Err)
	}
	got := map[string]string{"one": FormatValue(res.Outputs["one"]), "many": FormatValue(res.Outputs["many"])}
	if diff := cmp.Diff(map[string]string{"one": "HELLO!", "many": `["A?","B?"]`}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, dir := range []string{"one+up", "one+mark", "many@0+up", "many@1+mark"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, "tasks", dir)); err != nil {
			t.Errorf("working directory of a sub-workflow task: %v", err)
		}
	}
}

func TestSubWorkflowErrors(t *testing.T) {
	e, _ := newTestEngine(t)
	_, diags := compileFile(t, e, `
workflow "a" {
  task "call" { uses = workflow.b }
}
workflow "b" {
  task "back" { uses = workflow.a }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Recursive workflow") {
		t.Errorf("recursion: %v", diags)
	}
	_, diags = compileFile(t, e, `
workflow "a" {
  task "call" { uses = workflow.nope }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Unknown workflow") {
		t.Errorf("unknown workflow: %v", diags)
	}
	_, diags = compileFile(t, e, `
workflow "a" {
  task "call" {
    uses   = workflow.b
    inputs = { n = "not a number" }
  }
}
workflow "b" {
  input "n" { type = number }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Incorrect input type") {
		t.Errorf("input type: %v", diags)
	}
}

func TestSubWorkflowFailure(t *testing.T) {
	e, _ := newTestEngine(t)
	g, diags := compileFile(t, e, `
workflow "a" {
  task "call" { uses = workflow.b }
}
workflow "b" {
  task "boom" {
    uses   = "fake.fail"
    inputs = { message = "inner trouble" }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, err := e.Run(context.Background(), g, RunOptions{})
	if err != nil || res.Status != StatusFailed || !strings.Contains(res.Err.Error(), `workflow "b"`) || !strings.Contains(res.Err.Error(), "inner trouble") {
		t.Errorf("status %s, err %v", res.Status, res.Err)
	}
}
