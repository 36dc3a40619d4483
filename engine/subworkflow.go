package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// WorkflowLookup finds a workflow by name for a sub-workflow call
// (uses = workflow.<name>): the CLI looks in the calling file, then in
// sdk.workflow_packages. It returns nil when there is none.
type WorkflowLookup func(name string) *config.Workflow

// compileCall compiles the workflow a sub-workflow call runs and gives the
// call node the workflow's inputs and outputs as its own, so that it is
// type-checked like a plugin task.
func (e *Engine) compileCall(ctx context.Context, n *Node, t *config.Task, stack []string) hcl.Diagnostics {
	rng := t.UsesRange
	diag := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}}
	}
	if slices.Contains(stack, t.UsesWorkflow) {
		return diag("Recursive workflow", fmt.Sprintf("Workflow %q calls itself: %s → %s. A workflow may not call itself, directly or not.",
			t.UsesWorkflow, strings.Join(stack, " → "), t.UsesWorkflow))
	}
	var w *config.Workflow
	if e.Workflows != nil {
		w = e.Workflows(t.UsesWorkflow)
	}
	if w == nil {
		return diag("Unknown workflow", fmt.Sprintf("There is no workflow named %q in this file or in sdk.workflow_packages.", t.UsesWorkflow))
	}
	sub, diags := e.compile(ctx, w, stack)
	if diags.HasErrors() {
		return append(diags, diag("Invalid sub-workflow", fmt.Sprintf("Workflow %q, which task %q calls, has errors (above).", w.Name, t.Name))...)
	}
	n.Kind, n.Sub, n.Plugin, n.Task = KindTask, sub, "workflow", w.Name
	n.InputTypes, n.OutputTypes = map[string]cty.Type{}, map[string]cty.Type{}
	schema := &plugin.TaskSchema{Name: w.Name, Doc: w.Description}
	for _, in := range sub.Inputs {
		n.InputTypes[in.Name] = in.Type
		schema.Inputs = append(schema.Inputs, plugin.Field{Name: in.Name, Type: in.TypeExpr, Optional: !in.Required()})
	}
	for _, o := range sub.Outputs {
		n.OutputTypes[o.Name] = o.Type
		schema.Outputs = append(schema.Outputs, plugin.Field{Name: o.Name, Type: TypeString(o.Type)})
	}
	n.Schema = schema
	return diags
}

// runSub runs a sub-workflow call: the called workflow's graph, in this
// run (its tasks' working directories are named "<call>+<task>"), with the
// call's inputs (and the workflow's defaults). Its outputs are the call's.
func (x *execution) runSub(ctx context.Context, n *Node, tr *TaskRun, args *taskArgs) (map[string]cty.Value, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(args.json, &raw); err != nil {
		return nil, err
	}
	inputs, err := n.Sub.ParseInputs(nil, raw)
	if err != nil {
		return nil, err
	}
	in := cty.EmptyObjectVal
	if len(inputs) > 0 {
		in = cty.ObjectVal(inputs)
	}
	sub := &execution{
		engine: x.engine,
		graph:  n.Sub,
		opts:   x.opts,
		run:    x.run,
		inputs: in,
		res: &Result{
			ExecutionID:   x.res.ExecutionID,
			ExecutionDate: x.res.ExecutionDate,
			RunDir:        x.res.RunDir,
			Workflow:      n.Sub.Name,
			Start:         time.Now(),
		},
		tasks:  map[string]*TaskRun{},
		chosen: map[string]int{},
		prefix: x.prefix + tr.Node + "+",
	}
	sub.opts.Resume = nil
	for _, sn := range n.Sub.Nodes {
		str := &TaskRun{Node: sub.prefix + sn.Name, TaskID: sn.TaskID(), Status: StatusPending}
		sub.res.Tasks = append(sub.res.Tasks, str)
		sub.tasks[sn.Name] = str
	}
	var ahead []*Node
	for _, sn := range runOrder(n.Sub) {
		if sn.Kind == KindTask && sn.ForEach == nil && (!x.engine.cacheUsed(sn) || x.engine.Config.Local.CacheOverwrite) {
			ahead = append(ahead, sn)
		}
	}
	sub.workdirs = startWorkdirs(x.run, ahead, sub.prefix)
	sub.schedule(ctx)
	sub.workdirs.close()
	if sub.res.Status != StatusSucceeded {
		return nil, fmt.Errorf("workflow %q: %w", n.Sub.Name, sub.res.Err)
	}
	if data, err := ToJSON(cty.ObjectVal(sub.res.Outputs)); err == nil && len(sub.res.Outputs) > 0 {
		tr.OutputsJSON = data
	}
	return sub.res.Outputs, nil
}
