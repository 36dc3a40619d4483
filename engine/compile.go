package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/secretsbackends"
)

// Graph is a workflow compiled against the plugins' schemas: every task is
// resolved to a plugin task and every expression is type-checked. It is
// immutable and may be run many times.
type Graph struct {
	Name string
	// File is the workflow file ("" for a single-task run) and FileDigest
	// the SHA-256 of its bytes.
	File, FileDigest string
	Inputs           []*config.WorkflowInput
	Nodes            []*Node // in declaration order
	Outputs          []*Output
	// OnFailure is the workflow's failure handler, run after a task
	// fails; nil when there is none.
	OnFailure *Node
	// Mode is the execution mode tasks run in.
	Mode  plugin.Mode
	nodes map[string]*Node
}

// Node returns the named node.
func (g *Graph) Node(name string) *Node { return g.nodes[name] }

// Node is one task of a compiled workflow.
type Node struct {
	Name   string
	Plugin string
	Task   string // the plugin's task name
	Schema *plugin.TaskSchema
	// Inputs are the task's input expressions, evaluated when it runs.
	Inputs      []*config.TaskInput
	InputTypes  map[string]cty.Type
	OutputTypes map[string]cty.Type
	// Secrets are the secrets the task gets: those its plugin declares and
	// those its secret blocks add.
	Secrets []plugin.SecretRequest
	// Cache is how the task's results are cached; nil when they are not.
	Cache     *CachePolicy
	Deps      []string
	DeclRange hcl.Range
	// Digest identifies the task's definition (its block's source text).
	Digest string
	// Retries, Backoff and Timeout are the task's retry policy and the
	// bound on each attempt (0: none).
	Retries int
	Backoff time.Duration
	Timeout time.Duration
	// ForEach, when set, runs one instance per element; see forEach.
	ForEach *ForEach
	// EnableDeck, DeckFields and Source are the task's decks settings and
	// its block's source text (see decks.go); PluginVersion is the version
	// its plugin reported.
	EnableDeck    bool
	DeckFields    []string
	Source        string
	PluginVersion string
	// Kind says whether the node is a plugin task or one of the two
	// nodes of a branch; Branch is that branch.
	Kind   NodeKind
	Branch *config.Branch
	// Arm is the branch arm a task is in (nil at the top level).
	Arm *config.Arm
	// Sub is the compiled workflow a sub-workflow call runs.
	Sub *Graph
	// dirs, on a for_each instance, makes the instances' working
	// directories ahead of them.
	dirs *workdirs
	// pluginLazyDir says the plugin makes a task's working directory
	// itself (plugin.Schema.LazyWorkingDirectory); see lazyWorkdir.
	pluginLazyDir bool
	// returnDynamic, on the node of a remote call (ExecuteTask), hands a
	// dynamic task's workflow back to the driver instead of running it.
	returnDynamic bool
}

// NodeKind is what a node of the graph does.
type NodeKind int

// Node kinds. A branch is two nodes: its decision (named "<branch>.if",
// it evaluates the conditions and skips the arms not chosen) and its join
// (named after the branch, it evaluates the chosen arm's outputs once
// the arm's tasks are done). Neither calls a plugin.
const (
	KindTask NodeKind = iota
	KindDecision
	KindJoin
)

// ForEach is a task's fan-out: one instance per element of Expr, whose
// outputs are collected into lists (a list, set or tuple) or maps (a map
// or object) in element order.
type ForEach struct {
	Expr            hcl.Expression
	MaxParallel     int
	MinSuccessRatio float64
	// Map is true when the elements are keyed by strings (a map or an
	// object), false for a list, set or tuple; Known is false when the
	// expression's type is not known before the run.
	Map, Known bool
	// KeyType and ValueType are the types of each.key and each.value.
	KeyType, ValueType cty.Type
}

// CachePolicy says how a task's results are cached: under its plugin,
// task name, Version and the inputs not in Ignore.
type CachePolicy struct {
	Version string
	Ignore  map[string]bool
}

// TaskID returns "<plugin>.<task>", or "branch" for a branch's nodes.
func (n *Node) TaskID() string {
	switch {
	case n.Sub != nil:
		return "workflow." + n.Sub.Name
	case n.Kind != KindTask:
		return "branch"
	}
	return n.Plugin + "." + n.Task
}

// decisionName is the name of a branch's decision node.
func decisionName(branch string) string { return branch + ".if" }

// Output is a workflow output.
type Output struct {
	Name        string
	Description string
	Expr        hcl.Expression
	Type        cty.Type
}

// Sources is everything compiling a workflow needs besides the workflow
// itself: plain data, so that [CompileWorkflow] is a pure function of it.
type Sources struct {
	// Schemas are the plugins' Describe results, by plugin name. They
	// must cover every plugin the workflow and the workflows it calls use
	// ([PluginsUsed] lists them).
	Schemas map[string]*plugin.Schema
	// PluginErrors says why a plugin has no schema (not installed, not
	// trusted, failed to start): each task that uses it gets a diagnostic
	// that says so. A plugin with neither a schema nor an error is
	// reported as having no schema.
	PluginErrors map[string]error
	// Workflows finds the workflows that sub-workflow calls name; nil
	// means no sub-workflow calls. It must be a lookup, not I/O.
	Workflows WorkflowLookup
}

// Compile gathers the schemas of every plugin that w and the workflows it
// calls use (from the plugin schema cache, or by starting each plugin
// once, in parallel, through [Plugins.Schema]) and compiles w with
// [CompileWorkflow]. All problems
// are returned as diagnostics at once; the graph is nil if there are
// errors.
func (e *Engine) Compile(ctx context.Context, w *config.Workflow) (*Graph, hcl.Diagnostics) {
	return CompileWorkflow(w, e.sources(ctx, PluginsUsed(w, e.Workflows)))
}

// sources describes the named plugins, in parallel, for compiling.
func (e *Engine) sources(ctx context.Context, plugins []string) Sources {
	src := Sources{Schemas: make(map[string]*plugin.Schema, len(plugins)), PluginErrors: map[string]error{}, Workflows: e.Workflows}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range plugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.Plugins.Schema(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				src.PluginErrors[name] = err
				return
			}
			src.Schemas[name] = s
		}()
	}
	wg.Wait()
	return src
}

// PluginsUsed lists, sorted, the plugins that w, its failure handler and
// the workflows it calls (found through lookup, at any depth) use.
func PluginsUsed(w *config.Workflow, lookup WorkflowLookup) []string {
	used := map[string]bool{}
	seen := map[string]bool{}
	var walk func(w *config.Workflow)
	walk = func(w *config.Workflow) {
		if w == nil || seen[w.Name] {
			return
		}
		seen[w.Name] = true
		for name := range pluginUsers(w) {
			used[name] = true
		}
		if lookup == nil {
			return
		}
		for _, t := range w.Tasks {
			if t.UsesWorkflow != "" {
				walk(lookup(t.UsesWorkflow))
			}
		}
		if w.OnFailureWorkflow != "" {
			walk(lookup(w.OnFailureWorkflow))
		}
	}
	walk(w)
	return sortedKeys(used)
}

// HasDynamic reports whether g (its sub-workflow calls and failure
// handlers included) has a dynamic task, whose workflow, known only when
// it runs, may use plugins that g does not.
func (g *Graph) HasDynamic() bool { return g.hasKind(plugin.KindDynamic) }

// HasEager reports whether g (its sub-workflow calls and failure
// handlers included) has an eager task, which runs other plugins' tasks
// as it goes: which ones, only its code knows.
func (g *Graph) HasEager() bool { return g.hasKind(plugin.KindEager) }

// hasKind reports whether g, its sub-workflow calls or failure handlers
// have a task of kind.
func (g *Graph) hasKind(kind plugin.Kind) bool {
	seen := map[*Graph]bool{}
	var walk func(g *Graph) bool
	node := func(n *Node) bool {
		if n == nil {
			return false
		}
		if n.Schema != nil && n.Schema.Kind == kind {
			return true
		}
		return n.Sub != nil && walk(n.Sub)
	}
	walk = func(g *Graph) bool {
		if g == nil || seen[g] {
			return false
		}
		seen[g] = true
		for _, n := range g.Nodes {
			if node(n) {
				return true
			}
		}
		return node(g.OnFailure)
	}
	return walk(g)
}

// CompileWorkflow resolves every task of w against the plugins' schemas
// and type-checks every input expression, every reference to a task
// output and every workflow output. It is a pure function of w and src:
// it starts no plugin, does no I/O and gives the same graph for the same
// arguments, so that it can run wherever the sources are (the CLI, a
// language server, a Temporal workflow). All problems are returned as
// diagnostics at once; the graph is nil if there are errors.
func CompileWorkflow(w *config.Workflow, src Sources) (*Graph, hcl.Diagnostics) {
	c := &compiler{src: src}
	return c.compile(w, nil)
}

// compiler compiles workflows from its sources.
type compiler struct {
	src Sources
}

// compile compiles w, called by the workflows in stack (sub-workflow
// calls), to catch recursion.
func (c *compiler) compile(w *config.Workflow, stack []string) (*Graph, hcl.Diagnostics) {
	stack = append(stack, w.Name)
	schemas, diags := c.schemas(w)
	g := &Graph{Name: w.Name, File: w.File, FileDigest: w.FileDigest, Inputs: w.Inputs, Mode: plugin.ModeLocalWorkflowExecution, nodes: map[string]*Node{}}

	for _, t := range w.Tasks {
		n := &Node{Name: t.Name, Plugin: t.PluginName(), Task: t.TaskName(), Inputs: t.Inputs, Deps: t.Deps, DeclRange: t.DeclRange, Digest: t.Digest,
			Retries: t.Retries, Backoff: t.RetryBackoff, Timeout: t.Timeout, Arm: t.Arm,
			EnableDeck: t.EnableDeck, DeckFields: t.DeckFields, Source: t.Source}
		if t.Arm != nil {
			// A task in an arm waits for its branch's decision.
			n.Deps = append(append([]string(nil), t.Deps...), decisionName(t.Arm.Branch.Name))
		}
		if t.ForEach != nil {
			n.ForEach = &ForEach{Expr: t.ForEach, MaxParallel: t.MaxParallel, MinSuccessRatio: t.MinSuccessRatio,
				KeyType: cty.DynamicPseudoType, ValueType: cty.DynamicPseudoType}
		}
		g.Nodes = append(g.Nodes, n)
		g.nodes[n.Name] = n
		if t.UsesWorkflow != "" {
			diags = append(diags, c.compileCall(n, t, stack)...)
			continue
		}
		schema := schemas[n.Plugin]
		if schema == nil || t.Broken {
			continue // already reported
		}
		ts, ok := schema.Task(n.Task)
		if !ok {
			detail := fmt.Sprintf("Plugin %q has no task named %q.", n.Plugin, n.Task)
			if s := config.Suggest(n.Task, schema.TaskNames()); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", n.Plugin+"."+s)
			} else {
				detail += fmt.Sprintf(" Its tasks are: %s.", strings.Join(schema.TaskNames(), ", "))
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown task", Detail: detail, Subject: t.UsesRange.Ptr()})
			continue
		}
		n.Schema, n.PluginVersion = ts, schema.Version
		n.pluginLazyDir = schema.LazyWorkingDirectory
		var d hcl.Diagnostics
		n.InputTypes, d = fieldTypes(ts.Inputs, n, t.UsesRange)
		diags = append(diags, d...)
		n.OutputTypes, d = fieldTypes(ts.Outputs, n, t.UsesRange)
		diags = append(diags, d...)
		n.Secrets, d = taskSecrets(ts, t)
		diags = append(diags, d...)
		n.Cache, d = taskCache(ts, t)
		diags = append(diags, d...)
	}

	// Type-check by evaluating every expression over unknown values of the
	// declared types: HCL then derives each expression's type.
	addBranchNodes(g, w)
	if w.OnFailure != "" || w.OnFailureWorkflow != "" {
		var d hcl.Diagnostics
		g.OnFailure, d = c.onFailureNode(g, w, schemas, stack)
		diags = append(diags, d...)
	}
	if order := runOrder(g); len(order) < len(g.Nodes) && !diags.HasErrors() {
		ordered := map[string]bool{}
		for _, n := range order {
			ordered[n.Name] = true
		}
		var stuck []string
		viaBranch := false // cycles of plain tasks are reported with the file
		for _, n := range g.Nodes {
			if !ordered[n.Name] {
				stuck = append(stuck, n.Name)
				viaBranch = viaBranch || n.Kind != KindTask || n.Arm != nil
			}
		}
		if viaBranch {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Dependency cycle",
				Detail:   fmt.Sprintf("These tasks and branches wait for each other in a cycle: %s. A task inside a branch cannot feed the branch's own conditions.", strings.Join(stuck, ", ")),
				Subject:  w.DeclRange.Ptr(),
			})
			return nil, diags // types cannot be worked out around a cycle
		}
	}
	diags = append(diags, typeForEach(g)...)
	diags = append(diags, typeBranches(g)...)
	ectx := typeCheckContext(g)
	for _, t := range w.Tasks {
		n := g.nodes[t.Name]
		if n.Schema == nil {
			continue
		}
		diags = append(diags, checkTaskInputs(eachContext(ectx, n), t, n)...)
	}
	for _, o := range w.Outputs {
		out := &Output{Name: o.Name, Description: o.Description, Expr: o.Expr, Type: cty.DynamicPseudoType}
		if d, ok := checkRefs(o.Expr, ectx); !ok {
			diags = append(diags, d...)
		} else if o.Expr != nil {
			v, d := o.Expr.Value(ectx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				out.Type = v.Type()
			}
		}
		g.Outputs = append(g.Outputs, out)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return g, diags
}

// pluginUsers returns the tasks of w (and its failure handler) by the
// plugin they use.
func pluginUsers(w *config.Workflow) map[string][]*config.Task {
	users := map[string][]*config.Task{}
	for _, t := range w.Tasks {
		if !t.Broken && t.UsesWorkflow == "" {
			users[t.PluginName()] = append(users[t.PluginName()], t)
		}
	}
	if p, _, ok := strings.Cut(w.OnFailure, "."); ok && p != "" {
		users[p] = append(users[p], &config.Task{Uses: w.OnFailure, UsesRange: w.OnFailureRange})
	}
	return users
}

// schemas returns the schemas of the plugins w uses. A plugin without
// one is a diagnostic on each task that uses it.
func (c *compiler) schemas(w *config.Workflow) (map[string]*plugin.Schema, hcl.Diagnostics) {
	users := pluginUsers(w)
	schemas := make(map[string]*plugin.Schema, len(users))
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(users) {
		if s := c.src.Schemas[name]; s != nil {
			schemas[name] = s
			continue
		}
		err := c.src.PluginErrors[name]
		if err == nil {
			err = fmt.Errorf("no schema was given for it")
		}
		for _, t := range users[name] {
			diags = append(diags, pluginErrorDiag(name, err, t.UsesRange))
		}
	}
	return schemas, diags
}

func pluginErrorDiag(name string, err error, rng hcl.Range) *hcl.Diagnostic {
	if nf, ok := err.(*NotFoundError); ok {
		detail := fmt.Sprintf("No plugin named %q is installed: there is no %s%s in %s.", name, plugin.BinaryPrefix, name, strings.Join(nf.Dirs, ", "))
		if s := config.Suggest(name, nf.Known); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		} else if len(nf.Known) > 0 {
			detail += fmt.Sprintf(" Installed plugins: %s.", strings.Join(nf.Known, ", "))
		} else {
			detail += " Build or install the plugin, or add its directory to sdk.plugin_dirs in flyte.hcl."
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown plugin", Detail: detail, Subject: rng.Ptr()}
	}
	if le, ok := err.(*LockError); ok {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin not trusted", Detail: le.Error() + ".", Subject: rng.Ptr()}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Plugin failed to start",
		Detail:   fmt.Sprintf("Plugin %q could not be started or described: %v", name, err),
		Subject:  rng.Ptr(),
	}
}

func fieldTypes(fields []plugin.Field, n *Node, rng hcl.Range) (map[string]cty.Type, hcl.Diagnostics) {
	types := make(map[string]cty.Type, len(fields))
	var diags hcl.Diagnostics
	for _, f := range fields {
		ty, err := ParseType(f.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid plugin schema",
				Detail:   fmt.Sprintf("Plugin task %s declares field %q with %v. This is a bug in the plugin.", n.TaskID(), f.Name, err),
				Subject:  rng.Ptr(),
			})
			ty = cty.DynamicPseudoType
		}
		types[f.Name] = ty
	}
	return types, diags
}

// typeCheckContext returns an evaluation context in which every workflow
// input and every task output is an unknown value of its declared type.
func typeCheckContext(g *Graph) *hcl.EvalContext {
	inputs := make(map[string]cty.Value, len(g.Inputs))
	for _, in := range g.Inputs {
		inputs[in.Name] = cty.UnknownVal(in.Type)
	}
	tasks := make(map[string]cty.Value, len(g.Nodes))
	branches := map[string]cty.Value{}
	for _, n := range g.Nodes {
		switch {
		case n.Kind == KindJoin:
			branches[n.Name] = cty.UnknownVal(n.outputsType())
		case n.Kind == KindDecision:
		case n.Schema == nil:
			tasks[n.Name] = cty.DynamicVal
		default:
			tasks[n.Name] = cty.UnknownVal(n.outputsType())
		}
	}
	return evalContext(cty.ObjectVal(inputs), cty.ObjectVal(tasks), cty.ObjectVal(branches))
}

// outputsType is the type of task.<name>: an object of the task's outputs,
// each collected into a list or map for a task with for_each.
func (n *Node) outputsType() cty.Type {
	attrs := make(map[string]cty.Type, len(n.OutputTypes))
	for name, ty := range n.OutputTypes {
		attrs[name] = n.collected(ty)
	}
	return cty.Object(attrs)
}

// collected is the type of one output of the node as downstream tasks see
// it: as declared, or a list or map of it for a task with for_each.
func (n *Node) collected(ty cty.Type) cty.Type {
	switch {
	case n.ForEach == nil:
		return ty
	case !n.ForEach.Known:
		return cty.DynamicPseudoType
	case n.ForEach.Map:
		return cty.Map(ty)
	}
	return cty.List(ty)
}

// typeForEach types each task's for_each expression, in dependency order
// (a for_each may use the outputs of a task with a for_each of its own):
// it must be a list, set, tuple, map or object.
func typeForEach(g *Graph) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, n := range runOrder(g) {
		fe := n.ForEach
		if fe == nil || n.Schema == nil {
			continue
		}
		ectx := typeCheckContext(g)
		if d, ok := checkRefs(fe.Expr, ectx); !ok {
			diags = append(diags, d...)
			continue
		}
		v, d := fe.Expr.Value(ectx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		ty := v.Type()
		switch {
		case ty == cty.DynamicPseudoType:
			// Known only when the run gets there.
		case ty.IsListType() || ty.IsSetType():
			fe.Known, fe.KeyType, fe.ValueType = true, cty.Number, ty.ElementType()
		case ty.IsTupleType():
			fe.Known, fe.KeyType = true, cty.Number
			if et := unifyTypes(ty.TupleElementTypes()); et != cty.NilType {
				fe.ValueType = et
			}
		case ty.IsMapType():
			fe.Known, fe.Map, fe.KeyType, fe.ValueType = true, true, cty.String, ty.ElementType()
		case ty.IsObjectType():
			fe.Known, fe.Map, fe.KeyType = true, true, cty.String
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid for_each",
				Detail:   fmt.Sprintf("for_each must be a list, set or map to run one instance of task %q per element; this expression is %s.", n.Name, TypeString(ty)),
				Subject:  fe.Expr.Range().Ptr(),
			})
		}
	}
	return diags
}

// eachContext adds each.key and each.value, as unknown values of their
// types, for the inputs of a task with for_each.
func eachContext(ectx *hcl.EvalContext, n *Node) *hcl.EvalContext {
	if n.ForEach == nil {
		return ectx
	}
	child := ectx.NewChild()
	child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
		"key":   cty.UnknownVal(n.ForEach.KeyType),
		"value": cty.UnknownVal(n.ForEach.ValueType),
	})}
	return child
}

func evalContext(inputs, tasks, branches cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"input": inputs, "task": tasks, "branch": branches},
		Functions: functions,
	}
}

func checkTaskInputs(ectx *hcl.EvalContext, t *config.Task, n *Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	given := map[string]bool{}
	names := make([]string, len(n.Schema.Inputs))
	for i, f := range n.Schema.Inputs {
		names[i] = f.Name
	}
	for _, in := range t.Inputs {
		given[in.Name] = true
		want, ok := n.InputTypes[in.Name]
		if !ok {
			detail := fmt.Sprintf("Task %s has no input named %q.", n.TaskID(), in.Name)
			if s := config.Suggest(in.Name, names); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			} else if len(names) > 0 {
				detail += fmt.Sprintf(" Its inputs are: %s.", strings.Join(names, ", "))
			} else {
				detail += " It takes no inputs."
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported input", Detail: detail, Subject: in.NameRange.Ptr()})
			continue
		}
		if d, ok := checkRefs(in.Expr, ectx); !ok {
			diags = append(diags, d...)
			continue
		}
		v, d := in.Expr.Value(ectx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if _, err := convert.Convert(v, want); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity:    hcl.DiagError,
				Summary:     "Incorrect input type",
				Detail:      fmt.Sprintf("Input %q of %s must be %s, but this expression is %s: %s.", in.Name, n.TaskID(), TypeString(want), TypeString(v.Type()), err),
				Subject:     in.Expr.Range().Ptr(),
				Expression:  in.Expr,
				EvalContext: ectx,
			})
		}
	}
	var missing []string
	for _, f := range n.Schema.Inputs {
		if !f.Optional && !given[f.Name] {
			missing = append(missing, fmt.Sprintf("%s (%s)", f.Name, f.Type))
		}
	}
	if len(missing) > 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing required input",
			Detail:   fmt.Sprintf("Task %q (%s) needs %s. Add them to its inputs.", t.Name, n.TaskID(), strings.Join(missing, ", ")),
			Subject:  t.InputsRange.Ptr(),
		})
	}
	return diags
}

// checkRefs checks that every reference in expr resolves before the
// expression is evaluated. References to undeclared inputs and tasks were
// reported when the file was loaded: they only make ok false, so that
// evaluation does not report them again. References to task outputs that
// the plugin does not declare are reported here, with a suggestion.
func checkRefs(expr hcl.Expression, ectx *hcl.EvalContext) (diags hcl.Diagnostics, ok bool) {
	if expr == nil {
		return nil, false
	}
	ok = true
	tasks, inputs := lookupVar(ectx, "task"), lookupVar(ectx, "input")
	_, hasEach := ectx.Variables["each"]
	for _, tr := range expr.Variables() {
		name, named := config.TraversalStep(tr, 1)
		switch tr.RootName() {
		case "each":
			if !hasEach || !named || name != "key" && name != "value" {
				ok = false // reported when the file was loaded
			}
			continue
		case "branch":
			branches := lookupVar(ectx, "branch")
			if !named || !branches.Type().IsObjectType() || !branches.Type().HasAttribute(name) {
				ok = false // reported when the file was loaded
				continue
			}
			out, named := config.TraversalStep(tr, 2)
			bt := branches.Type().AttributeType(name)
			if named && bt.IsObjectType() && !bt.HasAttribute(out) {
				ok = false
				rng := tr.SourceRange()
				names := sortedKeys(bt.AttributeTypes())
				detail := fmt.Sprintf("Branch %q has no output %q that every arm gives.", name, out)
				if len(names) > 0 {
					detail += fmt.Sprintf(" The outputs all its arms give: %s.", strings.Join(names, ", "))
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown branch output", Detail: detail, Subject: &rng})
			}
			continue
		case "input":
			if !named || !inputs.Type().HasAttribute(name) {
				ok = false
			}
			continue
		case "task":
			if !named || !tasks.Type().HasAttribute(name) {
				ok = false
				continue
			}
		default:
			ok = false
			continue
		}
		out, named := config.TraversalStep(tr, 2)
		if !named {
			continue
		}
		outs := tasks.GetAttr(name)
		if !outs.Type().IsObjectType() || outs.Type().HasAttribute(out) {
			continue
		}
		ok = false
		names := sortedKeys(outs.Type().AttributeTypes())
		detail := fmt.Sprintf("Task %q has no output named %q.", name, out)
		if s := config.Suggest(out, names); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		} else {
			detail += fmt.Sprintf(" Its outputs are: %s.", strings.Join(names, ", "))
		}
		rng := tr.SourceRange()
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown task output", Detail: detail, Subject: &rng})
	}
	return diags, ok
}

// TaskGraph builds a one-task graph for `goflyte run --task plugin.task`:
// its inputs are the task's inputs (optional ones default to null, which is
// left out of the call) and its outputs are the task's outputs. It runs in
// LOCAL_TASK_EXECUTION mode.
func (e *Engine) TaskGraph(ctx context.Context, taskID string) (*Graph, error) {
	pluginName, _, ok := strings.Cut(taskID, ".")
	if !ok || pluginName == "" {
		return nil, taskIDError(taskID)
	}
	_, schema, err := e.Plugins.Get(ctx, pluginName)
	if err != nil {
		return nil, err
	}
	return TaskGraphOf(taskID, schema)
}

func taskIDError(taskID string) error {
	return fmt.Errorf("--task must be <plugin>.<task>, for example text.split; got %q", taskID)
}

// TaskGraphOf is [Engine.TaskGraph] from the plugin's schema, purely: the
// interpreter workflow of a remote `run --task` builds the same graph
// from the schema the submitter validated against.
func TaskGraphOf(taskID string, schema *plugin.Schema) (*Graph, error) {
	pluginName, taskName, ok := strings.Cut(taskID, ".")
	if !ok || pluginName == "" || taskName == "" {
		return nil, taskIDError(taskID)
	}
	if schema == nil {
		return nil, fmt.Errorf("plugin %q: no schema", pluginName)
	}
	ts, ok := schema.Task(taskName)
	if !ok {
		msg := fmt.Sprintf("plugin %q has no task named %q", pluginName, taskName)
		if s := config.Suggest(taskName, schema.TaskNames()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", pluginName+"."+s)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	n := &Node{Name: taskName, Plugin: pluginName, Task: taskName, Schema: ts, InputTypes: map[string]cty.Type{}, OutputTypes: map[string]cty.Type{}, Backoff: time.Second}
	n.pluginLazyDir = schema.LazyWorkingDirectory
	secrets, diags := taskSecrets(ts, &config.Task{Uses: taskID})
	if diags.HasErrors() {
		return nil, diags
	}
	n.Secrets = secrets
	n.Cache, diags = taskCache(ts, &config.Task{Uses: taskID})
	if diags.HasErrors() {
		return nil, diags
	}
	g := &Graph{Name: taskID, Mode: plugin.ModeLocalTaskExecution, Nodes: []*Node{n}, nodes: map[string]*Node{taskName: n}}
	for _, f := range ts.Inputs {
		ty, err := ParseType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("plugin task %s: input %q: %w", taskID, f.Name, err)
		}
		in := &config.WorkflowInput{Name: f.Name, Type: ty, TypeExpr: f.Type, Description: f.Doc}
		if f.Optional {
			in.Default = cty.NullVal(ty)
		}
		g.Inputs = append(g.Inputs, in)
		n.InputTypes[f.Name] = ty
		n.Inputs = append(n.Inputs, &config.TaskInput{Name: f.Name, Expr: traversalExpr("input", f.Name)})
	}
	for _, f := range ts.Outputs {
		ty, err := ParseType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("plugin task %s: output %q: %w", taskID, f.Name, err)
		}
		n.OutputTypes[f.Name] = ty
		g.Outputs = append(g.Outputs, &Output{Name: f.Name, Description: f.Doc, Type: ty, Expr: traversalExpr("task", taskName, f.Name)})
	}
	return g, nil
}

func traversalExpr(root string, attrs ...string) hcl.Expression {
	tr := hcl.Traversal{hcl.TraverseRoot{Name: root}}
	for _, a := range attrs {
		tr = append(tr, hcl.TraverseAttr{Name: a})
	}
	return &hclsyntax.ScopeTraversalExpr{Traversal: tr}
}

// FunctionNames lists the functions available in workflow expressions.
func FunctionNames() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// taskSecrets merges the secrets a plugin declares for a task with those
// the workflow's secret blocks add, checking the plugin's names (the
// blocks were checked when the file was loaded).
func taskSecrets(ts *plugin.TaskSchema, t *config.Task) ([]plugin.SecretRequest, hcl.Diagnostics) {
	var out []plugin.SecretRequest
	var diags hcl.Diagnostics
	seen := map[plugin.SecretRequest]bool{}
	add := func(r plugin.SecretRequest) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, r := range ts.Secrets {
		name := secretsbackends.Name{Group: r.Group, Version: r.Version, Key: r.Key}
		if err := name.Validate(); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid plugin schema",
				Detail:   fmt.Sprintf("The plugin declares secret %q for task %s: %v. This is a bug in the plugin.", r.String(), t.Uses, err),
				Subject:  t.UsesRange.Ptr(),
			})
			continue
		}
		add(r)
	}
	for _, sd := range t.Secrets {
		add(plugin.SecretRequest{Group: sd.Group, Version: sd.Version, Key: sd.Key})
	}
	return out, diags
}

// taskCache works out a task's cache policy: the workflow's cache
// settings win over what the plugin declares. Caching needs a version
// from one side or the other.
func taskCache(ts *plugin.TaskSchema, t *config.Task) (*CachePolicy, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	on := ts.Cacheable
	if t.Cache != nil {
		on = *t.Cache
	}
	version := ts.CacheVersion
	if t.CacheVersion != "" {
		version = t.CacheVersion
	}
	if !on {
		if t.CacheVersion != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Cache version without cache",
				Detail:   fmt.Sprintf("Task %q sets cache_version, but its results are not cached, so the version has no effect. Add cache = true to cache them.", t.Name),
				Subject:  t.DeclRange.Ptr(),
			})
		}
		return nil, diags
	}
	if version == "" {
		subject := t.CacheRange
		if subject.Filename == "" {
			subject = t.DeclRange
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing cache version",
			Detail:   fmt.Sprintf("Task %q is cached, but neither the workflow nor plugin task %s gives a cache version. Add cache_version = \"1\" and change it whenever the task's results would change.", t.Name, ts.Name),
			Subject:  subject.Ptr(),
		})
		return nil, diags
	}
	p := &CachePolicy{Version: version, Ignore: map[string]bool{}}
	names := make([]string, len(ts.Inputs))
	for i, f := range ts.Inputs {
		names[i] = f.Name
	}
	for _, ig := range t.CacheIgnoreInputs {
		if _, ok := ts.Input(ig.Input); !ok {
			detail := fmt.Sprintf("Task %s has no input named %q to leave out of its cache key.", t.Uses, ig.Input)
			if s := config.Suggest(ig.Input, names); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported input", Detail: detail, Subject: ig.Range.Ptr()})
			continue
		}
		p.Ignore[ig.Input] = true
	}
	return p, diags
}

// lookupVar finds a variable in ectx or its parents.
func lookupVar(ectx *hcl.EvalContext, name string) cty.Value {
	for c := ectx; c != nil; c = c.Parent() {
		if v, ok := c.Variables[name]; ok {
			return v
		}
	}
	return cty.DynamicVal
}

// unifyTypes is convert.UnifyUnsafe with a fast path for the common case,
// a long tuple (10,000 elements of a for_each) whose elements share one
// type: cty's unification sorts the types, which is slow at that size.
func unifyTypes(types []cty.Type) cty.Type {
	if sameType(types) {
		return types[0]
	}
	t, _ := convert.UnifyUnsafe(types)
	return t
}

// sameType reports whether types is non-empty and all its types are equal.
func sameType(types []cty.Type) bool {
	if len(types) == 0 {
		return false
	}
	for _, t := range types[1:] {
		if !t.Equals(types[0]) {
			return false
		}
	}
	return true
}
