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
	"github.com/zclconf/go-cty/cty/convert"

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
func (c *compiler) compileCall(n *Node, t *config.Task, stack []string) hcl.Diagnostics {
	rng := t.UsesRange
	diag := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}}
	}
	if slices.Contains(stack, t.UsesWorkflow) {
		return diag("Recursive workflow", fmt.Sprintf("Workflow %q calls itself: %s → %s. A workflow may not call itself, directly or not.",
			t.UsesWorkflow, strings.Join(stack, " → "), t.UsesWorkflow))
	}
	var w *config.Workflow
	if c.src.Workflows != nil {
		w = c.src.Workflows(t.UsesWorkflow)
	}
	if w == nil {
		return diag("Unknown workflow", fmt.Sprintf("There is no workflow named %q in this file or in sdk.workflow_packages.", t.UsesWorkflow))
	}
	sub, diags := c.compile(w, stack)
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
	outs, err := x.runGraph(ctx, n.Sub, inputs, x.prefix+tr.Node+"+")
	if err != nil {
		return nil, fmt.Errorf("workflow %q: %w", n.Sub.Name, err)
	}
	if data, err := ToJSON(cty.ObjectVal(outs)); err == nil && len(outs) > 0 {
		tr.OutputsJSON = data
	}
	return outs, nil
}

// runGraph runs g inside this run, as part of one of its tasks: a
// sub-workflow call or a dynamic task's graph. prefix starts the names of
// g's tasks' working directories. It returns g's outputs, or the error
// of its run.
func (x *execution) runGraph(ctx context.Context, g *Graph, inputs map[string]cty.Value, prefix string) (map[string]cty.Value, error) {
	in := cty.EmptyObjectVal
	if len(inputs) > 0 {
		in = cty.ObjectVal(inputs)
	}
	sub := &execution{
		engine: x.engine,
		graph:  g,
		opts:   x.opts,
		run:    x.run,
		inputs: in,
		res: &Result{
			ExecutionID:   x.res.ExecutionID,
			ExecutionDate: x.res.ExecutionDate,
			RunDir:        x.res.RunDir,
			Workflow:      g.Name,
			Start:         time.Now(),
		},
		tasks:  map[string]*TaskRun{},
		prefix: prefix,
		decks:  x.decks,
		files:  x.files,
		logs:   x.logs,

		checkPlugin: x.checkPlugin,
	}
	sub.opts.Resume = nil
	for _, sn := range g.Nodes {
		str := &TaskRun{Node: sub.prefix + sn.Name, TaskID: sn.TaskID(), Status: StatusPending}
		sub.res.Tasks = append(sub.res.Tasks, str)
		sub.tasks[sn.Name] = str
	}
	var ahead []*Node
	for _, sn := range runOrder(g) {
		if sn.Kind == KindTask && sn.ForEach == nil && sn.Sub == nil && (!x.engine.cacheUsed(sn) || x.engine.Config.Local.CacheOverwrite) {
			ahead = append(ahead, sn)
		}
	}
	sub.workdirs = startWorkdirs(x.run, ahead, sub.prefix)
	sub.schedule(ctx)
	sub.workdirs.close()
	if sub.res.Status != StatusSucceeded {
		return nil, sub.res.Err
	}
	return sub.res.Outputs, nil
}

// runDynamic runs the workflow a dynamic task returned: the driver's
// part (parsing the source, describing the plugins it uses, running the
// graph) around the plan's ([DynamicGraph], [DynamicOutputs]).
func (x *execution) runDynamic(ctx context.Context, n *Node, src string) (map[string]cty.Value, error) {
	if n.returnDynamic {
		return nil, &dynamicReturn{src: src} // ExecuteTask's driver runs it
	}
	w, err := ParseDynamic(src, "dynamic task "+x.prefix+n.Name)
	if err != nil {
		return nil, err
	}
	g, err := DynamicGraph(n, w, x.engine.sources(ctx, PluginsUsed(w, x.engine.Workflows)))
	if err != nil {
		return nil, err
	}
	outs, err := x.runGraph(ctx, g, nil, x.prefix+n.Name+"+")
	if err != nil {
		return nil, err
	}
	return DynamicOutputs(n, outs)
}

// ParseDynamic parses the workflow source a dynamic task returned; name
// stands for its file in diagnostics. It must hold one workflow.
func ParseDynamic(src, name string) (*config.Workflow, error) {
	wf, diags := config.NewParser().LoadWorkflowSource([]byte(src), name)
	if diags.HasErrors() {
		return nil, fmt.Errorf("the dynamic task returned an invalid workflow: %s", diags.Error())
	}
	if len(wf.Workflows) != 1 {
		return nil, fmt.Errorf("the dynamic task returned %d workflows, want 1", len(wf.Workflows))
	}
	return wf.Workflows[0], nil
}

// DynamicGraph compiles the workflow w that dynamic task n returned,
// purely, with src's schemas (of every plugin w uses): it runs in mode
// LOCAL_DYNAMIC_TASK_EXECUTION, takes no inputs, and its tasks show on
// n's deck page when n has decks (unless their own blocks say which).
func DynamicGraph(n *Node, w *config.Workflow, src Sources) (*Graph, error) {
	g, diags := CompileWorkflow(w, src)
	if diags.HasErrors() {
		return nil, fmt.Errorf("the dynamic task returned an invalid workflow: %s", diags.Error())
	}
	if len(g.Inputs) > 0 {
		return nil, fmt.Errorf("the dynamic task's workflow has inputs; its values must be in its tasks' inputs")
	}
	g.Mode = plugin.ModeLocalDynamicTaskExecution
	if n.EnableDeck {
		for _, sn := range g.Nodes {
			if !sn.EnableDeck {
				sn.EnableDeck, sn.DeckFields = true, n.DeckFields
			}
		}
	}
	return g, nil
}

// DynamicOutputs are dynamic task n's outputs: those of the workflow it
// returned, converted to the types n declares.
func DynamicOutputs(n *Node, outs map[string]cty.Value) (map[string]cty.Value, error) {
	converted := make(map[string]cty.Value, len(n.OutputTypes))
	for _, name := range sortedKeys(n.OutputTypes) {
		ty := n.OutputTypes[name]
		v, ok := outs[name]
		if !ok {
			return nil, fmt.Errorf("the dynamic task's workflow has no output %q, which the task declares", name)
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			return nil, fmt.Errorf("output %q of the dynamic task's workflow must be %s: %v", name, TypeString(ty), err)
		}
		converted[name] = cv
	}
	return converted, nil
}
