package engine

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// expand evaluates a for_each node's for_each and, for each element, the
// inputs of its instance (each.key and each.value set): one call per
// element, named "<task>@<index>", in element order.
func (p *Plan) expand(s *nodeState) ([]*Call, error) {
	n := s.n
	ectx := p.evalContext(n.Deps)
	v, diags := n.ForEach.Expr.Value(ectx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("evaluate for_each: %s", diags.Error())
	}
	ty := v.Type()
	keyed := ty.IsMapType() || ty.IsObjectType()
	if v.IsNull() || !(keyed || ty.IsListType() || ty.IsSetType() || ty.IsTupleType()) {
		return nil, fmt.Errorf("for_each must be a list, set or map; it is %s", TypeString(ty))
	}
	type element struct{ key, value cty.Value }
	elems := make([]element, 0, v.LengthInt())
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		k, val := it.Element()
		if !keyed {
			k = cty.NumberIntVal(int64(i))
		}
		elems = append(elems, element{k, val})
	}
	calls := make([]*Call, len(elems))
	taskID := n.TaskID()
	// evalRange makes the calls of elements lo to hi-1, and returns the
	// index of the first that failed and why, or -1.
	evalRange := func(lo, hi int) (int, error) {
		// One child context and one "each" for every element: evaluation
		// keeps neither, and cty.ObjectVal copies its map (a tenth of a
		// for_each's allocations were these, issue 17).
		child := ectx.NewChild()
		child.Variables = map[string]cty.Value{}
		each := map[string]cty.Value{}
		for i := lo; i < hi; i++ {
			k := elems[i].key
			each["key"], each["value"] = k, elems[i].value
			child.Variables["each"] = cty.ObjectVal(each)
			args, err := evalInputsIn(child, n)
			if err != nil {
				return i, err
			}
			inst := *n
			inst.Name = n.Name + "@" + strconv.Itoa(i)
			inst.ForEach = nil
			calls[i] = &Call{Name: inst.Name, TaskID: taskID, Node: &inst, Inputs: args.json, Digests: args.digests,
				Parent: n.Name, Index: i, Key: k, args: args, state: s}
		}
		return -1, nil
	}
	workers := min(p.expandWorkers, len(elems)/minExpandChunk)
	if workers <= 1 {
		if i, err := evalRange(0, len(elems)); err != nil {
			return nil, fmt.Errorf("element %s: %w", FormatValue(elems[i].key), err)
		}
		return calls, nil
	}
	// The local driver's plan evaluates a large for_each's elements on
	// several goroutines (a tenth to a quarter of a fully cached re-run
	// of 10,000 instances was this loop, before the first cache lookup,
	// issue 17): the same calls, and the error of the first element that
	// fails, as in one loop. Evaluation only reads the shared context.
	failed := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(elems)/workers, (w+1)*len(elems)/workers
		wg.Go(func() { failed[w], errs[w] = evalRange(lo, hi) })
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("element %s: %w", FormatValue(elems[failed[w]].key), err)
		}
	}
	return calls, nil
}

// minExpandChunk is the fewest elements a goroutine of expand evaluates.
const minExpandChunk = 256

// endFan ends a for_each node whose instances have all finished: their
// outputs are collected into lists or maps, in element order; a failed
// instance's outputs are null. The node fails when fewer instances than
// MinSuccessRatio succeeded, or when the run was cancelled.
func (p *Plan) endFan(s *nodeState) {
	n, f := s.n, s.fan
	var failed []InstanceFailure
	var first error
	for i, err := range f.errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		failed = append(failed, InstanceFailure{Key: f.calls[i].Key, Err: err})
	}
	total := len(f.calls)
	var err error
	switch {
	case p.cancelled != nil && len(failed) > 0:
		err = p.cancelled
	case len(failed) > 0 && float64(total-len(failed)) < n.ForEach.MinSuccessRatio*float64(total):
		err = fmt.Errorf("%d of %d instances failed (min_success_ratio %g); the first: %w", len(failed), total, n.ForEach.MinSuccessRatio, first)
	}
	var outs map[string]cty.Value
	if err == nil {
		outs, err = p.collectFan(s)
	}
	p.end(s, outs, err)
	p.ops[len(p.ops)-1].Failed = failed
}

// collectFan collects a for_each's outputs, one list or map per output.
func (p *Plan) collectFan(s *nodeState) (map[string]cty.Value, error) {
	n, f := s.n, s.fan
	total := len(f.calls)
	keyed := total > 0 && f.calls[0].Key.Type() == cty.String
	outs := make(map[string]cty.Value, len(n.OutputTypes))
	for _, name := range sortedKeys(n.OutputTypes) {
		ty := n.OutputTypes[name]
		vals := make([]cty.Value, total)
		keys := make([]string, total)
		for i, c := range f.calls {
			vals[i] = cty.NullVal(ty)
			if f.errs[i] == nil {
				vals[i] = f.outs[i][name]
			}
			if keyed {
				keys[i] = c.Key.AsString()
			}
		}
		v, err := collect(vals, keys, ty, keyed)
		if err != nil {
			return nil, fmt.Errorf("collect output %q: %w", name, err)
		}
		outs[name] = v
	}
	return outs, nil
}

// collect makes the list (or, keyed, the map) of the instances' values of
// one output, of element type ty where the values allow.
func collect(vals []cty.Value, keys []string, ty cty.Type, keyed bool) (cty.Value, error) {
	if keyed {
		m := make(map[string]cty.Value, len(vals))
		for i, v := range vals {
			m[keys[i]] = v
		}
		if len(m) == 0 {
			return cty.MapValEmpty(ty), nil
		}
		if v, err := convert.Convert(cty.ObjectVal(m), cty.Map(ty)); err == nil {
			return v, nil
		}
		return cty.ObjectVal(m), nil
	}
	if len(vals) == 0 {
		return cty.ListValEmpty(ty), nil
	}
	types := make([]cty.Type, len(vals))
	for i, v := range vals {
		types[i] = v.Type()
	}
	if sameType(types) {
		return cty.ListVal(vals), nil // the usual case, without cty's slow unification
	}
	if v, err := convert.Convert(cty.TupleVal(vals), cty.List(ty)); err == nil {
		return v, nil
	}
	return cty.TupleVal(vals), nil
}
