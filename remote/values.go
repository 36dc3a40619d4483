package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// Large values. Temporal keeps every payload of a run in its history and
// refuses one above about 2 MB (an activity's input or result, a local
// activity's marker, a workflow's input or result), so a value larger
// than InlineLimit travels by reference: its JSON is in the data store
// and a URI travels instead.
//
//   - A task's outputs: the worker stores them (TaskOutput.OutputsRef).
//     The workflow reads them only when it must evaluate them: when some
//     expression of the run's graph uses them other than as a plain
//     reference (a branch condition or output, a for_each, an expression
//     over them, a sub-workflow call's inputs). It reads them in parts of
//     at most ValuePartBytes (ActivityLoadPart, a local activity each),
//     so that no marker is near the limit. Otherwise its plan holds
//     placeholders of the outputs' types, which nothing evaluates.
//   - A task's inputs: an input that is a plain reference to such
//     outputs (`task.a.text`, `task.a`), or to a run
//     input held by reference, travels as a reference
//     (TaskInput.InputRefs); the worker reads it. Evaluated inputs that
//     are still larger than InlineLimit are stored by the workflow
//     (ActivityStoreValue) and travel as TaskInput.InputsRef. The worker
//     merges both into the inputs before anything else, so that the cache
//     key is the one the local engine computes from the values.
//   - A run's inputs: the submitter stores those larger than InlineLimit
//     (RunInput.InputRefs); the workflow treats them as task outputs.
//   - A run's outputs: a plain reference travels as one, an evaluated
//     output larger than InlineLimit is stored (sandbox.Record.OutputRefs);
//     [LoadWholeRecord] reads them back for `run --remote` and `runs show
//     --remote`.
//
// Only the run's own graph holds values by reference; a sub-workflow
// call's and a dynamic task's nested graphs read theirs (in parts).

// ActivityLoadPart is the local activity that reads a part of a value in
// the data store: its input a LoadPart, its result a ValuePart.
// ActivityStoreValue stores a value: its input a StoreValue, its result
// the value's URI. The workers that run the interpreter workflow
// register both.
const (
	ActivityLoadPart   = "goflyte.load_part"
	ActivityStoreValue = "goflyte.store_value"
)

// ValuePartBytes is the most bytes of a value one ActivityLoadPart
// returns: its marker holds them as base64, below the SDK's payload
// warning of 512 KiB.
const ValuePartBytes = 360 << 10

// valuesChange is the workflow.GetVersion change id of reading values in
// parts, passing references through and storing large inputs and
// outputs (version 1). Histories without it read a task's outputs whole
// through ActivityLoadOutputs and pass every value inline.
const valuesChange = "goflyte.large-values"

// LoadPart is the input of ActivityLoadPart: the value at URI from byte
// Offset.
type LoadPart struct {
	URI    string `json:"uri"`
	Offset int64  `json:"offset"`
}

// ValuePart is the result of ActivityLoadPart: at most ValuePartBytes of
// the value from the offset asked, and the value's size.
type ValuePart struct {
	Data  []byte `json:"data"`
	Total int64  `json:"total"`
}

// StoreValue is the input of ActivityStoreValue: Data to store under
// "<DataPrefix>/<Key>".
type StoreValue struct {
	DataPrefix string `json:"data_prefix"`
	Key        string `json:"key"`
	Data       []byte `json:"data"`
}

// values is what a run's workflow knows of its large values.
type values struct {
	checked, on bool
	// needed are the values that some expression of the run's graph
	// evaluates: "task.<node>" and "input.<name>", or "task.*" and
	// "input.*" for all of them; nil until computed.
	needed map[string]bool
	// inputRefs are the run's inputs held by reference, by name.
	inputRefs map[string]string
	// held are the run's nodes whose outputs the plan holds as
	// placeholders (their URIs are in driver.refs).
	held map[string]bool
	// stored are the URIs of calls' inputs stored by the workflow, kept
	// for their next attempts.
	stored map[*callRun]string
	// outputRefs are the run's outputs that travel as references.
	outputRefs map[string]ValueRef
	// loads are the reads of values in parts (loadValue), one at a time:
	// the first is reading.
	loads []func()
}

// valuesOn reports whether the run handles large values by reference
// and in parts (version 1 of valuesChange); the first call decides,
// where a history first meets a large value.
func (d *driver) valuesOn() bool {
	v := d.vals
	if !v.checked {
		v.checked = true
		v.on = workflow.GetVersion(d.root, valuesChange, workflow.DefaultVersion, 1) >= 1
	}
	return v.on
}

// valueTarget is what a plain reference names: root "task" (a node's
// outputs, or its Field) or "input" (a run input).
type valueTarget struct {
	root, name, field string
}

// heldURI is the data-store URI of the value t names when the run holds
// it only by reference (a task's outputs, a run input), "" otherwise.
func (d *driver) heldURI(t valueTarget) string {
	switch t.root {
	case "task":
		return d.refs[t.name]
	case "input":
		return d.vals.inputRefs[t.name]
	}
	return ""
}

// plainRef returns what the expression of input in of node n names when
// it is a plain reference whose value becomes the input as it is (the
// same type, no files): only then may it travel by reference.
func plainRef(g *engine.Graph, n *engine.Node, in *config.TaskInput) (valueTarget, bool) {
	want, ok := n.InputTypes[in.Name]
	if !ok || config.HasFiles(want) {
		return valueTarget{}, false
	}
	t, ty, ok := plainTarget(g, in.Expr)
	return t, ok && ty.Equals(want)
}

// plainTarget returns what expr names, and its type, when it is a plain
// reference to a plugin task's outputs (or one of them) or to a run
// input.
func plainTarget(g *engine.Graph, expr hcl.Expression) (valueTarget, cty.Type, bool) {
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(tr) < 2 {
		return valueTarget{}, cty.NilType, false
	}
	attr := func(i int) (string, bool) { return config.TraverserName(tr[i]) }
	name, ok := attr(1)
	if !ok {
		return valueTarget{}, cty.NilType, false
	}
	switch tr.RootName() {
	case "input":
		if len(tr) != 2 {
			break
		}
		for _, in := range g.Inputs {
			if in.Name == name && !config.HasFiles(in.Type) {
				return valueTarget{root: "input", name: name}, in.Type, true
			}
		}
	case "task":
		x := g.Node(name)
		if x == nil || !byReference(x) || len(tr) > 3 {
			break
		}
		if len(tr) == 2 {
			return valueTarget{root: "task", name: name}, cty.Object(x.OutputTypes), true
		}
		field, ok := attr(2)
		if ty, has := x.OutputTypes[field]; ok && has {
			return valueTarget{root: "task", name: name, field: field}, ty, true
		}
	}
	return valueTarget{}, cty.NilType, false
}

// byReference reports whether a node's outputs may be held by reference:
// a plugin task's, without for_each, with no file among them.
func byReference(x *engine.Node) bool {
	if x.Kind != engine.KindTask || x.Sub != nil || x.ForEach != nil {
		return false
	}
	for _, ty := range x.OutputTypes {
		if config.HasFiles(ty) {
			return false
		}
	}
	return true
}

// neededValues returns the values that the expressions of g evaluate
// (see values.needed): every reference in a branch's conditions and
// outputs, a for_each, a sub-workflow call's inputs, an input that is
// not a plain reference, an output of g that is not one; and every run
// input when g has a failure handler (its inputs are the run's).
func neededValues(g *engine.Graph) map[string]bool {
	needed := map[string]bool{}
	mark := func(expr hcl.Expression) {
		if expr == nil {
			return
		}
		for _, tr := range expr.Variables() {
			root := tr.RootName()
			if len(tr) < 2 {
				needed[root+".*"] = true
				continue
			}
			switch s := tr[1].(type) {
			case hcl.TraverseAttr:
				needed[root+"."+s.Name] = true
			case hcl.TraverseIndex:
				if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
					needed[root+"."+s.Key.AsString()] = true
				} else {
					needed[root+".*"] = true
				}
			default:
				needed[root+".*"] = true
			}
		}
	}
	for _, n := range g.Nodes {
		switch {
		case n.Kind != engine.KindTask:
			if b := n.Branch; b != nil {
				for _, arm := range b.Arms {
					mark(arm.If)
					for _, o := range arm.Outputs {
						mark(o.Expr)
					}
				}
			}
		case n.Sub != nil || n.ForEach != nil:
			// A sub-workflow's inputs are evaluated into its plan, a
			// for_each instance's may run in a batch (batch.go).
			for _, in := range n.Inputs {
				mark(in.Expr)
			}
			if n.ForEach != nil {
				mark(n.ForEach.Expr)
			}
		default:
			for _, in := range n.Inputs {
				if _, ok := plainRef(g, n, in); !ok {
					mark(in.Expr)
				}
			}
		}
	}
	for _, o := range g.Outputs {
		if _, _, ok := plainTarget(g, o.Expr); !ok {
			mark(o.Expr)
		}
	}
	if g.OnFailure != nil {
		needed["input.*"] = true
	}
	return needed
}

// isNeeded reports whether the run evaluates a value ("task.<node>",
// "input.<name>").
func (v *values) isNeeded(g *engine.Graph, key string) bool {
	if v.needed == nil {
		v.needed = neededValues(g)
	}
	root, _, _ := strings.Cut(key, ".")
	return v.needed[key] || v.needed[root+".*"]
}

// placeholders are the outputs of node n as the plan holds them when the
// workflow holds them by reference: values of their types that nothing
// evaluates.
func placeholders(n *engine.Node) map[string]cty.Value {
	outs := make(map[string]cty.Value, len(n.OutputTypes))
	for name, ty := range n.OutputTypes {
		outs[name] = zeroValue(ty)
	}
	return outs
}

// zeroValue is a known value of type ty: "", 0, false, empty
// collections, objects and tuples of zero values.
func zeroValue(ty cty.Type) cty.Value {
	switch {
	case ty == cty.String:
		return cty.StringVal("")
	case ty == cty.Number:
		return cty.Zero
	case ty == cty.Bool:
		return cty.False
	case ty.IsListType():
		return cty.ListValEmpty(ty.ElementType())
	case ty.IsSetType():
		return cty.SetValEmpty(ty.ElementType())
	case ty.IsMapType():
		return cty.MapValEmpty(ty.ElementType())
	case ty.IsObjectType():
		attrs := map[string]cty.Value{}
		for name, at := range ty.AttributeTypes() {
			attrs[name] = zeroValue(at)
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal
		}
		return cty.ObjectVal(attrs)
	case ty.IsTupleType():
		elems := make([]cty.Value, 0, len(ty.TupleElementTypes()))
		for _, et := range ty.TupleElementTypes() {
			elems = append(elems, zeroValue(et))
		}
		if len(elems) == 0 {
			return cty.EmptyTupleVal
		}
		return cty.TupleVal(elems)
	}
	return cty.NullVal(ty)
}

// localOptions are the options of the local activities that read and
// store values.
func localOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}

// loadValue reads the value at uri in parts, each a local activity in
// the run's selector, then calls fn with it. Reads wait for each other
// (d.vals.loads), and a short timer comes before each part, so that a
// workflow task carries at most one part: the markers of the local
// activities a workflow task ran travel in one request, which gRPC
// limits to 4 MB.
func (d *driver) loadValue(uri string, fn func([]byte, error)) {
	v := d.vals
	v.loads = append(v.loads, func() {
		var buf []byte
		done := func(data []byte, err error) {
			v.loads = v.loads[1:]
			if len(v.loads) > 0 {
				v.loads[0]()
			}
			fn(data, err)
		}
		var next func(off int64)
		next = func(off int64) {
			d.add(workflow.NewTimer(d.ctx, partGap), func(f workflow.Future) {
				if err := f.Get(d.ctx, nil); err != nil {
					done(nil, err)
					return
				}
				d.add(workflow.ExecuteLocalActivity(localOptions(d.ctx), ActivityLoadPart, LoadPart{URI: uri, Offset: off}), func(f workflow.Future) {
					var p ValuePart
					if err := f.Get(d.ctx, &p); err != nil {
						done(nil, err)
						return
					}
					buf = append(buf, p.Data...)
					if int64(len(buf)) < p.Total && len(p.Data) > 0 {
						next(int64(len(buf)))
						return
					}
					done(buf, nil)
				})
			})
		}
		next(0)
	})
	if len(v.loads) == 1 {
		v.loads[0]()
	}
}

// partGap is the timer before each part a workflow reads (loadValue).
const partGap = time.Millisecond

// loadValueNow reads the value at uri in parts, waiting for each (and a
// timer before each, as loadValue does).
func loadValueNow(ctx workflow.Context, uri string) ([]byte, error) {
	lctx := localOptions(ctx)
	var buf []byte
	for {
		if err := workflow.Sleep(ctx, partGap); err != nil {
			return nil, err
		}
		var p ValuePart
		if err := workflow.ExecuteLocalActivity(lctx, ActivityLoadPart, LoadPart{URI: uri, Offset: int64(len(buf))}).Get(lctx, &p); err != nil {
			return nil, fmt.Errorf("read %s: %v", uri, unwrapActivity(err))
		}
		buf = append(buf, p.Data...)
		if int64(len(buf)) >= p.Total || len(p.Data) == 0 {
			return buf, nil
		}
	}
}

// refOutputs takes a task's outputs that came as a reference, when the
// run handles large values (it returns false otherwise): a node of the
// run's graph whose outputs no expression evaluates gets placeholders,
// other outputs are read in parts.
func (cr *callRun) refOutputs(uri string) bool {
	d, n := cr.gr.d, cr.call.Node
	if !d.valuesOn() {
		return false
	}
	if cr.gr.top && cr.call.Parent == "" && byReference(n) && !d.vals.isNeeded(d.g, "task."+cr.call.Name) {
		if d.vals.held == nil {
			d.vals.held = map[string]bool{}
		}
		d.vals.held[cr.call.Name] = true
		if cr.rec != nil {
			cr.rec.OutputsRef = uri
		}
		cr.attemptEnd(placeholders(n), nil, nil)
		return true
	}
	d.loadValue(uri, func(raw []byte, err error) {
		switch {
		case err != nil && temporal.IsCanceledError(err):
			cr.attemptEnd(nil, nil, context.Canceled)
		case err != nil:
			cr.attemptEnd(nil, nil, fmt.Errorf("load the task's outputs from %s: %v", uri, unwrapActivity(err)))
		default:
			cr.outputs(raw)
		}
	})
	return true
}

// refInputs moves the inputs of an attempt of a call of the run's graph
// that are plain references to values held by reference from in.Inputs
// to in.InputRefs.
func (cr *callRun) refInputs(in *TaskInput) {
	d, n := cr.gr.d, cr.call.Node
	if !cr.gr.top || (len(d.refs) == 0 && len(d.vals.inputRefs) == 0) {
		return
	}
	refs := map[string]ValueRef{}
	for _, ti := range n.Inputs {
		t, ok := plainRef(d.g, n, ti)
		if !ok {
			continue
		}
		if uri := d.heldURI(t); uri != "" {
			refs[ti.Name] = ValueRef{URI: uri, Field: t.field}
		}
	}
	if len(refs) == 0 || !d.valuesOn() {
		return
	}
	obj := map[string]json.RawMessage{}
	if len(in.Inputs) > 0 {
		if err := json.Unmarshal(in.Inputs, &obj); err != nil {
			return
		}
	}
	for name := range refs {
		delete(obj, name)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return
	}
	in.Inputs, in.InputRefs = data, refs
}

// storeInputs stores an attempt's inputs that are larger than
// InlineLimit (ActivityStoreValue) and calls fn with in naming them
// (InputsRef), reporting true; it reports false when they stay inline.
func (cr *callRun) storeInputs(in TaskInput, fn func(TaskInput, error)) bool {
	d := cr.gr.d
	if len(in.Inputs) <= InlineLimit || !d.valuesOn() {
		return false
	}
	if uri, ok := d.vals.stored[cr]; ok {
		in.Inputs, in.InputsRef = nil, uri
		fn(in, nil)
		return true
	}
	sv := StoreValue{DataPrefix: d.in.DataPrefix, Key: "_inputs/" + strings.NewReplacer("+", "_", "@", "_").Replace(in.Node) + "-" + strconv.Itoa(in.Attempt) + ".json", Data: in.Inputs}
	d.add(workflow.ExecuteLocalActivity(localOptions(d.ctx), ActivityStoreValue, sv), func(f workflow.Future) {
		var uri string
		if err := f.Get(d.ctx, &uri); err != nil {
			if temporal.IsCanceledError(err) {
				fn(in, context.Canceled)
				return
			}
			fn(in, fmt.Errorf("store the task's inputs (%d bytes) in the data store: %v", len(in.Inputs), unwrapActivity(err)))
			return
		}
		if d.vals.stored == nil {
			d.vals.stored = map[*callRun]string{}
		}
		d.vals.stored[cr] = uri
		in.Inputs, in.InputsRef = nil, uri
		fn(in, nil)
	})
	return true
}

// runInputs returns the run's inputs as JSON for its plan: those held by
// reference (in.InputRefs) that no expression evaluates as placeholders
// of their types, in held; the others read in parts.
func runInputs(ctx workflow.Context, in RunInput, g *engine.Graph) (raw map[string]json.RawMessage, held map[string]string, err error) {
	if len(in.InputRefs) == 0 {
		return in.Inputs, nil, nil
	}
	raw = make(map[string]json.RawMessage, len(in.Inputs)+len(in.InputRefs))
	for name, v := range in.Inputs {
		raw[name] = v
	}
	v := &values{}
	for _, name := range sortedKeys(in.InputRefs) {
		uri := in.InputRefs[name]
		var decl *config.WorkflowInput
		for _, wi := range g.Inputs {
			if wi.Name == name {
				decl = wi
			}
		}
		if decl != nil && !config.HasFiles(decl.Type) && !v.isNeeded(g, "input."+name) {
			data, err := engine.ToJSON(zeroValue(decl.Type))
			if err != nil {
				return nil, nil, fmt.Errorf("input %q: %v", name, err)
			}
			raw[name] = data
			if held == nil {
				held = map[string]string{}
			}
			held[name] = uri
			continue
		}
		data, err := loadValueNow(ctx, uri)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", name, err)
		}
		raw[name] = data
	}
	return raw, held, nil
}

// storeOutputs makes the run's outputs fit its record: a plain reference
// to a value held by reference travels as that reference, an output
// larger than InlineLimit is stored (ActivityStoreValue) and travels as
// its URI (sandbox.Record.OutputRefs).
func (d *driver) storeOutputs() {
	if d.status != sandbox.StatusSucceeded || len(d.outputs) == 0 {
		return
	}
	refs := map[string]ValueRef{}
	for _, o := range d.g.Outputs {
		t, _, ok := plainTarget(d.g, o.Expr)
		if !ok {
			continue
		}
		if uri := d.heldURI(t); uri != "" {
			refs[o.Name] = ValueRef{URI: uri, Field: t.field}
		}
	}
	var big []string
	for _, name := range sortedKeys(d.outputs) {
		if _, ok := refs[name]; ok {
			continue
		}
		if data, err := engine.ToJSON(d.outputs[name]); err == nil && len(data) > InlineLimit {
			big = append(big, name)
		}
	}
	if (len(refs) == 0 && len(big) == 0) || !d.valuesOn() {
		return
	}
	lctx := localOptions(d.root)
	for _, name := range big {
		data, _ := engine.ToJSON(d.outputs[name])
		var uri string
		sv := StoreValue{DataPrefix: d.in.DataPrefix, Key: "_outputs/run-" + name + ".json", Data: data}
		if err := workflow.ExecuteLocalActivity(lctx, ActivityStoreValue, sv).Get(d.root, &uri); err != nil {
			workflow.GetLogger(d.root).Warn("a large output of the run could not be stored; it stays in the record", "output", name, "error", err)
			continue
		}
		refs[name] = ValueRef{URI: uri}
	}
	d.vals.outputRefs = refs
}

// resolveOutputRefs reads a record's OutputRefs into its Outputs
// through fetch.
func resolveOutputRefs(ctx context.Context, outputs map[string]json.RawMessage, refs map[string]ValueRef, fetch func(ctx context.Context, uri string) ([]byte, error)) (map[string]json.RawMessage, error) {
	if outputs == nil {
		outputs = map[string]json.RawMessage{}
	}
	read := map[string][]byte{}
	for _, name := range sortedKeys(refs) {
		ref := refs[name]
		data, ok := read[ref.URI]
		if !ok {
			var err error
			if data, err = fetch(ctx, ref.URI); err != nil {
				return nil, fmt.Errorf("output %q: read %s: %w", name, ref.URI, err)
			}
			read[ref.URI] = data
		}
		v, err := pickField(data, ref.Field)
		if err != nil {
			return nil, fmt.Errorf("output %q at %s: %w", name, ref.URI, err)
		}
		outputs[name] = v
	}
	return outputs, nil
}

// pickField returns the JSON of attribute field of the JSON object data,
// or data itself when field is "".
func pickField(data []byte, field string) (json.RawMessage, error) {
	if field == "" {
		if !json.Valid(data) {
			return nil, errors.New("not JSON")
		}
		return data, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	v, ok := obj[field]
	if !ok {
		return nil, fmt.Errorf("no attribute %q", field)
	}
	return v, nil
}

// readValue reads the value at uri from the worker's data store.
func (w *Worker) readValue(ctx context.Context, uri string) ([]byte, error) {
	e := w.o.Engine
	if e.Storage == nil {
		return nil, fmt.Errorf("read %s: this worker has no data store", uri)
	}
	dir, err := os.MkdirTemp("", "goflyte-value-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "value.json")
	if err := e.Storage.Fetch(ctx, uri, dst, false); err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return os.ReadFile(dst)
}

// partCache keeps the value that ActivityLoadPart read last, for its
// next parts.
type partCache struct {
	mu   sync.Mutex
	uri  string
	data []byte
}

// loadPart is ActivityLoadPart.
func (w *Worker) loadPart(ctx context.Context, cache *partCache, in LoadPart) (ValuePart, error) {
	cache.mu.Lock()
	data := cache.data
	if cache.uri != in.URI {
		data = nil
	}
	cache.mu.Unlock()
	if data == nil {
		var err error
		if data, err = w.readValue(ctx, in.URI); err != nil {
			return ValuePart{}, err
		}
		cache.mu.Lock()
		cache.uri, cache.data = in.URI, data
		cache.mu.Unlock()
	}
	if in.Offset < 0 || in.Offset > int64(len(data)) {
		return ValuePart{}, fmt.Errorf("read %s: offset %d is beyond its %d bytes", in.URI, in.Offset, len(data))
	}
	end := min(in.Offset+ValuePartBytes, int64(len(data)))
	if end == int64(len(data)) {
		cache.mu.Lock()
		if cache.uri == in.URI {
			cache.uri, cache.data = "", nil // read to the end: let it go
		}
		cache.mu.Unlock()
	}
	return ValuePart{Data: data[in.Offset:end], Total: int64(len(data))}, nil
}

// storeValue is ActivityStoreValue.
func (w *Worker) storeValue(ctx context.Context, in StoreValue) (string, error) {
	e := w.o.Engine
	if e.Storage == nil {
		return "", errors.New("store a value: this worker has no data store")
	}
	st, err := e.Storage.Open(ctx, in.DataPrefix)
	if err != nil {
		return "", fmt.Errorf("store a value: %w", err)
	}
	defer st.Close()
	uri, err := engine.PutBytes(ctx, st, in.Key, in.Data)
	if err != nil {
		return "", fmt.Errorf("store a value at %s: %w", in.Key, err)
	}
	return uri, nil
}

// resolveInputs reads the inputs that came by reference
// (TaskInput.InputsRef, InputRefs) and merges them into in.Inputs.
func (w *Worker) resolveInputs(ctx context.Context, in *TaskInput) error {
	if in.InputsRef == "" && len(in.InputRefs) == 0 {
		return nil
	}
	if in.InputsRef != "" {
		data, err := w.readValue(ctx, in.InputsRef)
		if err != nil {
			return fmt.Errorf("the task's inputs: %w", err)
		}
		in.Inputs, in.InputsRef = data, ""
	}
	if len(in.InputRefs) == 0 {
		return nil
	}
	obj := map[string]json.RawMessage{}
	if len(in.Inputs) > 0 && string(in.Inputs) != "null" {
		if err := json.Unmarshal(in.Inputs, &obj); err != nil {
			return fmt.Errorf("the task's inputs are not a JSON object: %v", err)
		}
	}
	read := map[string][]byte{}
	for _, name := range sortedKeys(in.InputRefs) {
		ref := in.InputRefs[name]
		data, ok := read[ref.URI]
		if !ok {
			var err error
			if data, err = w.readValue(ctx, ref.URI); err != nil {
				return fmt.Errorf("input %q: %w", name, err)
			}
			read[ref.URI] = data
		}
		v, err := pickField(data, ref.Field)
		if err != nil {
			return fmt.Errorf("input %q at %s: %w", name, ref.URI, err)
		}
		obj[name] = v
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	in.Inputs, in.InputRefs = data, nil
	return nil
}

// restoreRef takes the outputs of node n that an earlier Temporal run of
// the run carried by reference (continue.go), when the run handles large
// values: placeholders when no expression evaluates them, else read in
// parts. It reports false when the run does not handle large values (or
// they cannot be read: restore then fails as before).
func (d *driver) restoreRef(n *engine.Node, uri string) (map[string]cty.Value, bool) {
	if !d.valuesOn() {
		return nil, false
	}
	d.refs[n.Name] = uri
	if byReference(n) && !d.vals.isNeeded(d.g, "task."+n.Name) {
		if d.vals.held == nil {
			d.vals.held = map[string]bool{}
		}
		d.vals.held[n.Name] = true
		if t := d.byName[n.Name]; t != nil {
			t.OutputsRef = uri
		}
		return placeholders(n), true
	}
	ctx, _ := workflow.NewDisconnectedContext(d.root)
	raw, err := loadValueNow(ctx, uri)
	if err != nil {
		return nil, false
	}
	outs, err := engine.DecodeOutputs(n, raw)
	if err != nil {
		return nil, false
	}
	if t := d.byName[n.Name]; t != nil {
		t.Outputs = raw
	}
	return outs, true
}
