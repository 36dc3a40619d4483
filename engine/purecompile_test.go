package engine

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// pureWF uses a plugin task, a sub-workflow (whose plugin only it uses),
// a branch, a for_each and a failure handler.
const pureWF = `
workflow "main" {
  input "xs" { type = list(string) }
  input "s" { type = string }
  on_failure = "fake.echo"
  task "a" {
    uses   = "fake.words"
    inputs = { text = "one two" }
  }
  task "each" {
    uses     = "fake.echo"
    for_each = task.a.words
    inputs   = { s = each.value }
  }
  task "call" {
    uses   = workflow.sub
    inputs = { s = "x" }
  }
  branch "pick" {
    case {
      if = length(input.xs) > 0
      output "s" { value = task.call.s }
    }
    default {
      fail = "no input"
    }
  }
  output "s" { value = branch.pick.s }
  output "each" { value = task.each.s }
}

workflow "sub" {
  input "s" { type = string }
  task "u" {
    uses   = "other.echo"
    inputs = { s = input.s }
  }
  output "s" { value = task.u.s }
}
`

// loadSource parses src (no plugin involved) and returns its first
// workflow and a lookup of all of them.
func loadSource(t *testing.T, src string) (*config.Workflow, WorkflowLookup) {
	t.Helper()
	wf, diags := config.NewParser().LoadWorkflowSource([]byte(src), "wf.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lookup := func(name string) *config.Workflow {
		for _, w := range wf.Workflows {
			if w.Name == name {
				return w
			}
		}
		return nil
	}
	return wf.Workflows[0], lookup
}

// pureSchemas are the fake plugin's schema under two names: no plugin
// process or provider is behind them.
func pureSchemas() map[string]*plugin.Schema {
	fake := newFake().schema
	other := *fake
	other.Name = "other"
	return map[string]*plugin.Schema{"fake": fake, "other": &other}
}

// CompileWorkflow is a pure function of the sources and the schemas: it
// needs no plugin, and the same inputs give the same graph.
func TestCompileWorkflowPure(t *testing.T) {
	w, lookup := loadSource(t, pureWF)
	if got, want := PluginsUsed(w, lookup), []string{"fake", "other"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("PluginsUsed = %v, want %v (the sub-workflow's plugin included)", got, want)
	}
	src := Sources{Schemas: pureSchemas(), Workflows: lookup}
	g1, diags := CompileWorkflow(w, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g2, diags := CompileWorkflow(w, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !reflect.DeepEqual(g1, g2) {
		t.Error("two compilations of the same sources differ")
	}
	var names []string
	for _, n := range g1.Nodes {
		names = append(names, n.Name+"="+n.TaskID())
	}
	if got, want := strings.Join(names, " "), "a=fake.words each=fake.echo call=workflow.sub pick.if=branch pick=branch"; got != want {
		t.Errorf("nodes: %s, want %s", got, want)
	}
	if sub := g1.Node("call").Sub; sub == nil || sub.Node("u").TaskID() != "other.echo" {
		t.Errorf("the sub-workflow was not compiled with its plugin's schema: %+v", sub)
	}
	if g1.OnFailure == nil || g1.OnFailure.TaskID() != "fake.echo" {
		t.Errorf("on_failure: %+v", g1.OnFailure)
	}
}

// Without a plugin's schema, each task that uses it gets a diagnostic:
// the plugin's error when one is given, else that no schema was given.
func TestCompileWorkflowMissingSchema(t *testing.T) {
	w, lookup := loadSource(t, pureWF)
	tests := []struct {
		name string
		errs map[string]error
		want string
	}{
		{"no schema", nil, `Plugin "other" could not be started or described: no schema was given for it`},
		{"not found", map[string]error{"other": &NotFoundError{Dirs: []string{"/p"}, Known: []string{"fake"}}}, `No plugin named "other" is installed`},
		{"failed", map[string]error{"other": errors.New("exec: boom")}, "exec: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schemas := pureSchemas()
			delete(schemas, "other")
			g, diags := CompileWorkflow(w, Sources{Schemas: schemas, PluginErrors: tt.errs, Workflows: lookup})
			if g != nil || !diags.HasErrors() {
				t.Fatalf("compiled without the schema: %v", diags)
			}
			if !strings.Contains(diags.Error(), tt.want) || diags[0].Subject == nil || diags[0].Subject.Start.Line == 0 {
				t.Errorf("diagnostics %v, want %q at the task", diags, tt.want)
			}
		})
	}
}
