package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// OnFailureNode is the name of a workflow's failure handler in results and
// records; no task may have it.
const OnFailureNode = "on_failure"

// errType is the type of the err input a failure handler receives, as in
// Flytekit: the failed task's name and the error message.
var errType = cty.Object(map[string]cty.Type{"failed_node": cty.String, "message": cty.String})

// onFailureNode resolves a workflow's on_failure task and checks that it
// can be called with the workflow's inputs and err: each of its inputs is
// err or one of the workflow's inputs, of a type that fits.
func (c *compiler) onFailureNode(g *Graph, w *config.Workflow, schemas map[string]*plugin.Schema, stack []string) (*Node, hcl.Diagnostics) {
	rng := w.OnFailureRange
	diag := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}}
	}
	if g.Node(OnFailureNode) != nil {
		return nil, diag("Duplicate task", fmt.Sprintf("A task is named %q, the name of the workflow's failure handler in results. Rename the task.", OnFailureNode))
	}
	n := &Node{Name: OnFailureNode, DeclRange: rng}
	var diags hcl.Diagnostics
	handler := w.OnFailure
	if w.OnFailureWorkflow != "" {
		handler = "workflow." + w.OnFailureWorkflow
		if d := c.compileCall(n, &config.Task{Name: OnFailureNode, UsesWorkflow: w.OnFailureWorkflow, UsesRange: rng}, stack); d.HasErrors() {
			return nil, d
		}
	} else {
		pluginName, taskName, _ := strings.Cut(w.OnFailure, ".")
		schema := schemas[pluginName]
		if schema == nil {
			return nil, nil // reported by compiler.schemas
		}
		ts, ok := schema.Task(taskName)
		if !ok {
			detail := fmt.Sprintf("Plugin %q has no task named %q.", pluginName, taskName)
			if s := config.Suggest(taskName, schema.TaskNames()); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", pluginName+"."+s)
			}
			return nil, diag("Unknown task", detail)
		}
		n.Plugin, n.Task, n.Schema = pluginName, taskName, ts
		n.InputTypes, diags = fieldTypes(ts.Inputs, n, rng)
		var d hcl.Diagnostics
		n.OutputTypes, d = fieldTypes(ts.Outputs, n, rng)
		diags = append(diags, d...)
		n.Secrets, d = taskSecrets(ts, &config.Task{Uses: w.OnFailure, UsesRange: rng})
		diags = append(diags, d...)
	}
	ts := n.Schema
	for _, f := range ts.Inputs {
		want := n.InputTypes[f.Name]
		have := errType
		if f.Name != "err" {
			in := w.Input(f.Name)
			if in == nil {
				if !f.Optional {
					diags = append(diags, diag("Unsuitable failure handler", fmt.Sprintf(
						"Failure handler %s needs input %q, but it gets only the workflow's inputs and err, and the workflow has no input %q.", handler, f.Name, f.Name))...)
				}
				continue
			}
			have = in.Type
		}
		if _, err := convert.Convert(cty.UnknownVal(have), want); err != nil {
			diags = append(diags, diag("Unsuitable failure handler", fmt.Sprintf(
				"Input %q of failure handler %s must be %s, but it would get %s.", f.Name, handler, TypeString(want), TypeString(have)))...)
		}
	}
	return n, diags
}

// runOnFailure runs the workflow's failure handler after a task failed,
// with the workflow's inputs and err: the failed task's name and
// "Error encountered while executing '<task>':\n  <message>" (Flytekit's
// wording). The run still reports the original failure; a failing
// handler is logged and recorded, not reported instead.
func (x *execution) runOnFailure(ctx context.Context) {
	n, tr := x.graph.OnFailure, x.tasks[OnFailureNode]
	var te *TaskError
	if n == nil || !errors.As(x.res.Err, &te) {
		return
	}
	msg := x.engine.Redact(te.Err.Error())
	call, err := x.plan.FailureHandler(te.Node, msg)
	handler := call.Node
	tr.Status, tr.Start, tr.Attempts = StatusRunning, nowFunc(), 1
	x.recordTask(n, tr)
	x.notify(EventStarted, tr, len(x.res.Tasks)-1)
	var outs map[string]cty.Value
	if err == nil {
		outs, err = x.execute(ctx, handler, tr, call.args)
	}
	tr.End = nowFunc()
	x.logEnd(handler, tr, err)
	if err != nil {
		tr.Status = StatusFailed
		tr.Err = &TaskError{Node: OnFailureNode, TaskID: n.TaskID(), Err: x.engine.redactor.redactError(err)}
		x.engine.Logger.Warn("the failure handler failed too", "task", n.TaskID(), "error", x.engine.Redact(err.Error()))
		x.recordTask(n, tr)
		x.notify(EventFailed, tr, len(x.res.Tasks))
		return
	}
	tr.Status, tr.Outputs = StatusSucceeded, outs
	x.recordTask(n, tr)
	x.notify(EventSucceeded, tr, len(x.res.Tasks))
}
