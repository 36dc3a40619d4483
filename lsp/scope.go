package lsp

import (
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// view is one document read for completion, hover and navigation: its
// outline (names, from tokens), its source form where it parses (types
// of inputs), the plugins' schemas, and the last graphs that compiled
// (types of outputs that depend on for_each, branches and workflows).
type view struct {
	s       *server
	doc     *document
	o       *outline
	schemas map[string]*described
	graphs  map[string]*engine.Graph

	// Read on first use: most requests need neither.
	wf       *config.WorkflowFile
	parsed   bool
	tasksIdx map[string]taskRef
}

// file returns the document's source form, parsed on first use.
func (v *view) file() *config.WorkflowFile {
	if !v.parsed {
		v.parsed = true
		v.wf, _ = config.NewParser().LoadWorkflowSource(v.doc.text.src, v.doc.path)
	}
	return v.wf
}

// viewOf is the view of a document snapshot; at is the byte offset whose
// types the view evaluates, or -1 for none.
func (s *server) viewOf(d *document, schemas map[string]*described, at int) *view {
	s.mu.Lock()
	graphs := d.graphs
	s.mu.Unlock()
	return &view{s: s, doc: d, o: readOutline(d.text.src, d.path, at), schemas: schemas, graphs: graphs}
}

// workflow returns the source form of the named workflow, if it parsed.
func (v *view) workflow(name string) *config.Workflow {
	wf := v.file()
	if wf == nil {
		return nil
	}
	for _, w := range wf.Workflows {
		if w.Name == name {
			return w
		}
	}
	return nil
}

// task returns the schema of a "plugin.task".
func (v *view) task(uses string) (*plugin.TaskSchema, bool) {
	if v.tasksIdx == nil {
		v.tasksIdx = map[string]taskRef{}
		for _, r := range taskIDs(v.schemas) {
			v.tasksIdx[r.id()] = r
		}
	}
	r, ok := v.tasksIdx[uses]
	return r.task, ok
}

// node returns the compiled node of a task or branch of a workflow.
func (v *view) node(workflow, name string) *engine.Node {
	if g := v.graphs[workflow]; g != nil {
		return g.Node(name)
	}
	return nil
}

// arms returns the case and default blocks around b.
func arms(b *block) []*block {
	var out []*block
	for p := b.parent; p != nil; p = p.parent {
		if p.typ == "case" || p.typ == "default" {
			out = append(out, p)
		}
	}
	return out
}

// visible reports whether a task or branch declared in block decl can be
// referred to from block at: it must not be in an arm that does not
// also hold at (tasks in an arm are used outside only through the
// branch's outputs).
func visible(decl, at *block) bool {
	for _, a := range arms(decl) {
		inside := false
		for p := at; p != nil; p = p.parent {
			if p == a {
				inside = true
				break
			}
		}
		if !inside {
			return false
		}
	}
	return true
}

// named is a name in scope with its type and documentation.
type named struct {
	name   string
	ty     cty.Type
	doc    string
	detail string
	decl   *block
}

// inputs returns the inputs of workflow wb.
func (v *view) inputs(wb *block) []named {
	w := v.workflow(wb.label())
	var out []named
	for _, c := range wb.children {
		if c.typ != "input" || c.label() == "" {
			continue
		}
		n := named{name: c.label(), ty: cty.DynamicPseudoType, decl: c}
		if w != nil {
			if in := w.Input(n.name); in != nil {
				n.ty, n.doc = in.Type, in.Description
				if in.Type == cty.NilType {
					n.ty = cty.DynamicPseudoType
				}
				n.detail = in.TypeExpr
				if in.Required() {
					n.detail += ", required"
				} else {
					n.detail += ", optional"
				}
			}
		}
		out = append(out, n)
	}
	return out
}

// tasks returns the tasks of workflow wb that block at may refer to
// (only the one called only, when only is not "").
func (v *view) tasks(wb, at *block, only ...string) []named {
	self := at.ancestor("task")
	var out []named
	wb.each(func(b *block) {
		if b.typ != "task" || b.label() == "" || b == self || !visible(b, at) || len(only) > 0 && b.label() != only[0] {
			return
		}
		n := named{name: b.label(), ty: v.taskType(wb, b), decl: b}
		if u := b.attrs["uses"]; u != nil {
			switch {
			case u.isStr:
				n.detail = u.str
				if ts, ok := v.task(u.str); ok {
					n.doc = ts.Doc
				}
			case len(u.trav) == 2 && u.trav[0] == "workflow":
				n.detail = "workflow." + u.trav[1]
			}
		}
		out = append(out, n)
	})
	return out
}

// taskType is the type of task.<name>: the object of its outputs, as
// lists or maps for a for_each task.
func (v *view) taskType(wb, b *block) cty.Type {
	if n := v.node(wb.label(), b.label()); n != nil && n.OutputTypes != nil {
		attrs := map[string]cty.Type{}
		for name, ty := range n.OutputTypes {
			attrs[name] = collected(n, ty)
		}
		return cty.Object(attrs)
	}
	u := b.attrs["uses"]
	if u == nil || !u.isStr {
		return cty.DynamicPseudoType
	}
	ts, ok := v.task(u.str)
	if !ok {
		return cty.DynamicPseudoType
	}
	attrs := map[string]cty.Type{}
	for _, f := range ts.Outputs {
		ty, err := engine.ParseType(f.Type)
		if err != nil || b.attrs["for_each"] != nil {
			ty = cty.DynamicPseudoType // typed once the workflow compiles
		}
		attrs[f.Name] = ty
	}
	return cty.Object(attrs)
}

// collected is what engine.Node.collected computes: the type downstream
// tasks see of one output of n.
func collected(n *engine.Node, ty cty.Type) cty.Type {
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

// outputs returns the outputs of task.<name> with their docs.
func (v *view) taskOutputs(wb, b *block) []named {
	ty := v.taskType(wb, b)
	docs := map[string]string{}
	if u := b.attrs["uses"]; u != nil && u.isStr {
		if ts, ok := v.task(u.str); ok {
			for _, f := range ts.Outputs {
				docs[f.Name] = f.Doc
			}
		}
	}
	var out []named
	if ty.IsObjectType() {
		for name, at := range ty.AttributeTypes() {
			out = append(out, named{name: name, ty: at, doc: docs[name]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// branches returns the branches of wb that at may refer to.
func (v *view) branches(wb, at *block) []named {
	var out []named
	wb.each(func(b *block) {
		if b.typ != "branch" || b.label() == "" || !visible(b, at) {
			return
		}
		out = append(out, named{name: b.label(), ty: v.branchType(wb, b), decl: b})
	})
	return out
}

// branchType is the object of the outputs every arm of a branch gives.
func (v *view) branchType(wb, b *block) cty.Type {
	if n := v.node(wb.label(), b.label()); n != nil && n.Kind == engine.KindJoin {
		return cty.Object(n.OutputTypes)
	}
	var common map[string]bool
	for _, arm := range b.children {
		if arm.typ != "case" && arm.typ != "default" || arm.attrs["fail"] != nil {
			continue
		}
		names := map[string]bool{}
		for _, c := range arm.children {
			if c.typ == "output" && c.label() != "" && (common == nil || common[c.label()]) {
				names[c.label()] = true
			}
		}
		common = names
	}
	attrs := map[string]cty.Type{}
	for name := range common {
		attrs[name] = cty.DynamicPseudoType
	}
	return cty.Object(attrs)
}

// each returns each.key and each.value for a task with for_each.
func (v *view) each(wb, task *block) []named {
	kt, vt := cty.DynamicPseudoType, cty.DynamicPseudoType
	if n := v.node(wb.label(), task.label()); n != nil && n.ForEach != nil && n.ForEach.Known {
		kt, vt = n.ForEach.KeyType, n.ForEach.ValueType
	}
	return []named{
		{name: "key", ty: kt, doc: "The element's index in a list, or its key in a map."},
		{name: "value", ty: vt, doc: "The element."},
	}
}

// attrsOf lists the attributes of an object type as names.
func attrsOf(ty cty.Type) []named {
	var out []named
	if ty.IsObjectType() {
		for name, at := range ty.AttributeTypes() {
			out = append(out, named{name: name, ty: at})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// converts reports whether a value of type from can be given where want
// is expected, with the engine's rule (cty conversion, checked on unknown
// values: a string may become a number).
func converts(from, want cty.Type) bool {
	if from == cty.NilType || want == cty.NilType || from == cty.DynamicPseudoType || want == cty.DynamicPseudoType {
		return true
	}
	_, err := convert.Convert(cty.UnknownVal(from), want)
	return err == nil
}

// anyConverts reports whether ty or, for an object, one of its attributes
// converts to want: whether completing into it can lead to a fit.
func anyConverts(ty, want cty.Type) bool {
	if converts(ty, want) {
		return true
	}
	if ty.IsObjectType() {
		for _, at := range ty.AttributeTypes() {
			if converts(at, want) {
				return true
			}
		}
	}
	return false
}

// inputType is the type the input key of task block b takes, and its
// schema field, when known.
func (v *view) inputType(wb, b *block, key string) (cty.Type, *plugin.Field) {
	fields := v.taskInputs(wb, b)
	for i := range fields {
		if fields[i].Name == key {
			ty, err := engine.ParseType(fields[i].Type)
			if err != nil {
				return cty.DynamicPseudoType, &fields[i]
			}
			return ty, &fields[i]
		}
	}
	return cty.DynamicPseudoType, nil
}

// taskInputs returns the inputs task block b's uses declares: a plugin
// task's, or a called workflow's.
func (v *view) taskInputs(wb, b *block) []plugin.Field {
	u := b.attrs["uses"]
	if u == nil {
		return nil
	}
	if u.isStr {
		if ts, ok := v.task(u.str); ok {
			return ts.Inputs
		}
		return nil
	}
	if len(u.trav) == 2 && u.trav[0] == "workflow" {
		if w := v.findWorkflow(u.trav[1]); w != nil {
			var out []plugin.Field
			for _, in := range w.wf.Inputs {
				out = append(out, plugin.Field{Name: in.Name, Type: in.TypeExpr, Doc: in.Description, Optional: !in.Required()})
			}
			return out
		}
	}
	return nil
}

// foundWorkflow is a workflow and where it is declared.
type foundWorkflow struct {
	wf   *config.Workflow
	path string
	src  []byte
}

// findWorkflow looks a workflow up as sub-workflow calls do: this file,
// then sdk.workflow_packages.
func (v *view) findWorkflow(name string) *foundWorkflow {
	for _, w := range v.allWorkflows() {
		if w.wf.Name == name {
			return &w
		}
	}
	return nil
}

func (v *view) allWorkflows() []foundWorkflow {
	var out []foundWorkflow
	if wf := v.file(); wf != nil {
		for _, w := range wf.Workflows {
			out = append(out, foundWorkflow{wf: w, path: v.doc.path, src: v.doc.text.src})
		}
	}
	for _, f := range v.s.workflowFiles(v.doc.path) {
		if f.wf == nil {
			continue
		}
		for _, w := range f.wf.Workflows {
			out = append(out, foundWorkflow{wf: w, path: f.path, src: f.src})
		}
	}
	return out
}
