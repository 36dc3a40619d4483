package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/goflyte/goflyte/plugin"
)

// A dynamic task decides at run time which tasks to run: it returns a
// Graph of tasks (from any installed plugin) with their inputs and the
// references among them, and the engine validates it and runs it, in
// mode LOCAL_DYNAMIC_TASK_EXECUTION, as the task. The graph's outputs are
// the task's outputs, declared by Out as for [Func]. A task in the graph
// may itself be dynamic.
//
//	type fanIn struct {
//		Texts []string `json:"texts"`
//	}
//	type fanOut struct {
//		Counts []int `json:"counts"`
//	}
//
//	func countEach(ctx context.Context, in fanIn) (*sdk.Graph[fanOut], error) {
//		g := sdk.NewGraph[fanOut]()
//		var counts []sdk.Ref
//		for i, text := range in.Texts {
//			name := fmt.Sprintf("split%d", i)
//			g.Task(name, "text.split", map[string]any{"text": text})
//			g.Task(fmt.Sprintf("count%d", i), "text.count", map[string]any{"words": sdk.Ref("task." + name + ".words")})
//			counts = append(counts, sdk.Ref(fmt.Sprintf("task.count%d.n", i)))
//		}
//		g.Output("counts", counts)
//		return g, nil
//	}
//
//	sdk.Serve(map[string]sdk.Task{"count_each": sdk.Dynamic(countEach)})

// Ref is an HCL expression in a Graph, such as "task.split.words": a
// reference to the output of another task of the graph.
type Ref string

// Graph is the workflow a dynamic task returns. Out is the task's output
// type: the graph must give each of its fields with Output.
type Graph[Out any] struct {
	tasks   []graphTask
	outputs map[string]any
}

type graphTask struct {
	name, uses string
	inputs     map[string]any
}

// NewGraph returns an empty graph.
func NewGraph[Out any]() *Graph[Out] { return &Graph[Out]{outputs: map[string]any{}} }

// Task adds a task named name (an identifier, unique in the graph) that
// runs uses ("plugin.task") with inputs: plain Go values (anything
// encoding/json encodes) and Refs, also nested in slices and maps.
func (g *Graph[Out]) Task(name, uses string, inputs map[string]any) *Graph[Out] {
	g.tasks = append(g.tasks, graphTask{name: name, uses: uses, inputs: inputs})
	return g
}

// Output sets the output name (a field of Out) to value: a Ref, a plain
// value, or slices and maps of them.
func (g *Graph[Out]) Output(name string, value any) *Graph[Out] {
	g.outputs[name] = value
	return g
}

// hcl renders the graph as the source of one workflow.
func (g *Graph[Out]) hcl(name string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "workflow %q {\n", name)
	for _, t := range g.tasks {
		fmt.Fprintf(&b, "  task %q {\n    uses = %q\n", t.name, t.uses)
		if len(t.inputs) > 0 {
			b.WriteString("    inputs = {\n")
			for _, k := range sortedKeys(t.inputs) {
				v, err := hclValue(t.inputs[k])
				if err != nil {
					return "", fmt.Errorf("task %q input %q: %w", t.name, k, err)
				}
				fmt.Fprintf(&b, "      %q = %s\n", k, v)
			}
			b.WriteString("    }\n")
		}
		b.WriteString("  }\n")
	}
	for _, k := range sortedKeys(g.outputs) {
		v, err := hclValue(g.outputs[k])
		if err != nil {
			return "", fmt.Errorf("output %q: %w", k, err)
		}
		fmt.Fprintf(&b, "  output %q { value = %s }\n", k, v)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// hclValue renders a Go value as an HCL expression: Refs as they are,
// everything else as JSON (which HCL reads), with template sequences
// escaped so that strings stay literal.
func hclValue(v any) (string, error) {
	switch x := v.(type) {
	case Ref:
		return string(x), nil
	case []Ref:
		parts := make([]string, len(x))
		for i, r := range x {
			parts[i] = string(r)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case map[string]Ref:
		var parts []string
		for _, k := range sortedKeys(x) {
			enc, _ := json.Marshal(k)
			parts = append(parts, string(enc)+" = "+string(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := hclValue(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(x) {
			s, err := hclValue(x[k])
			if err != nil {
				return "", err
			}
			enc, _ := json.Marshal(k)
			parts = append(parts, string(enc)+" = "+s)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	s := strings.ReplaceAll(string(data), "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{"), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DynamicTask is a [Task] made from a function by [Dynamic].
type DynamicTask[In, Out any] struct {
	f   func(context.Context, In) (*Graph[Out], error)
	doc string
	in  *structSchema
	out *structSchema
}

var _ Task = (*DynamicTask[struct{}, struct{}])(nil)

// Dynamic adapts f into a dynamic [Task]: In are its inputs and Out its
// outputs, as for [Func]; f returns the graph whose outputs are the
// task's. Dynamic panics at start-up on types that have no HCL form.
func Dynamic[In, Out any](f func(ctx context.Context, in In) (*Graph[Out], error)) *DynamicTask[In, Out] {
	if f == nil {
		panic("sdk.Dynamic: nil function")
	}
	in, err := newStructSchema(reflect.TypeFor[In](), "input")
	if err != nil {
		panic("sdk.Dynamic: " + err.Error())
	}
	out, err := newStructSchema(reflect.TypeFor[Out](), "output")
	if err != nil {
		panic("sdk.Dynamic: " + err.Error())
	}
	return &DynamicTask[In, Out]{f: f, in: in, out: out}
}

// WithDoc returns a copy of t with the given documentation.
func (t *DynamicTask[In, Out]) WithDoc(doc string) *DynamicTask[In, Out] {
	c := *t
	c.doc = doc
	return &c
}

func (t *DynamicTask[In, Out]) paramsOnly() {}

// Schema implements [Task].
func (t *DynamicTask[In, Out]) Schema() plugin.TaskSchema {
	return plugin.TaskSchema{Doc: t.doc, Kind: plugin.KindDynamic, Inputs: t.in.pluginFields(), Outputs: t.out.pluginFields()}
}

// Execute implements [Task]: it returns the graph as a workflow's source.
func (t *DynamicTask[In, Out]) Execute(ctx context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	var in In
	if err := t.in.decode(req.Inputs, reflect.ValueOf(&in).Elem()); err != nil {
		return nil, err
	}
	g, err := t.f(ctx, in)
	if err != nil {
		return nil, taskError(err)
	}
	if g == nil {
		return nil, &plugin.TaskError{Message: "the dynamic task returned no graph"}
	}
	name := strings.NewReplacer(".", "_", "@", "_", "+", "_").Replace(req.Task)
	src, err := g.hcl(name)
	if err != nil {
		return nil, &plugin.TaskError{Message: "render the graph: " + err.Error()}
	}
	return &plugin.ExecuteResult{Workflow: src}, nil
}
