package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// forEachElem is one element of a for_each: its key (the index in a list,
// set or tuple; the key in a map or object) and its instance's inputs.
type forEachElem struct {
	key  cty.Value
	args *taskArgs
}

// evalForEach evaluates a node's for_each and, for each element, the
// inputs of its instance, with each.key and each.value set.
func (x *execution) evalForEach(n *Node) ([]forEachElem, error) {
	ectx := x.evalContext(n.Deps)
	v, diags := n.ForEach.Expr.Value(ectx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("evaluate for_each: %s", diags.Error())
	}
	ty := v.Type()
	keyed := ty.IsMapType() || ty.IsObjectType()
	if v.IsNull() || !(keyed || ty.IsListType() || ty.IsSetType() || ty.IsTupleType()) {
		return nil, fmt.Errorf("for_each must be a list, set or map; it is %s", TypeString(ty))
	}
	elems := make([]forEachElem, 0, v.LengthInt())
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		k, val := it.Element()
		if !keyed {
			k = cty.NumberIntVal(int64(i))
		}
		child := ectx.NewChild()
		child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": val})}
		args, err := x.evalInputsIn(child, n)
		if err != nil {
			return nil, fmt.Errorf("element %s: %w", FormatValue(k), err)
		}
		elems = append(elems, forEachElem{key: k, args: args})
	}
	return elems, nil
}

// fanOut runs one instance of n per element, at most MaxParallel (or the
// run's parallelism) at a time, each with the cache, retries and timeout
// of the task and a working directory of its own (<task>@<index>). Their
// outputs are collected into lists or maps, in element order; a failed
// instance's outputs are null. The node fails when fewer instances than
// MinSuccessRatio succeed.
func (x *execution) fanOut(ctx context.Context, n *Node, tr *TaskRun, elems []forEachElem) (map[string]cty.Value, error) {
	limit := n.ForEach.MaxParallel
	if limit <= 0 || limit > x.opts.Parallelism {
		limit = x.opts.Parallelism
	}
	type result struct {
		outs map[string]cty.Value
		err  error
		hit  bool
	}
	results := make([]result, len(elems))
	insts := make([]*Node, len(elems))
	for i := range elems {
		inst := *n
		inst.Name = fmt.Sprintf("%s@%d", n.Name, i)
		inst.ForEach = nil
		insts[i] = &inst
	}
	if n.Sub == nil && (!x.engine.cacheUsed(n) || x.engine.Config.Local.CacheOverwrite) {
		// Every instance will run: make their directories ahead of them.
		dirs := startWorkdirs(x.run, insts, x.prefix)
		defer dirs.close()
		for _, inst := range insts {
			inst.dirs = dirs
		}
	}
	rec := x.taskStats(n, tr) // shared by the instances: one set of metrics for the node
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range elems {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = result{err: ctx.Err()}
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			inst := insts[i]
			itr := &TaskRun{Node: inst.Name, TaskID: n.TaskID(), Status: StatusRunning, Attempts: 1, stats: rec}
			outs, err := x.execute(ctx, inst, itr, elems[i].args)
			x.logEnd(inst, itr, err)
			results[i] = result{outs, err, itr.Cache == CacheHit}
		}()
	}
	wg.Wait()

	tr.Instances = len(elems)
	for _, r := range results {
		if r.hit {
			tr.InstanceCacheHits++
		}
	}
	failed := 0
	var first error
	for i, r := range results {
		if r.err == nil {
			continue
		}
		failed++
		if first == nil {
			first = r.err
		}
		msg := x.engine.Redact(x.engine.redactor.redactError(r.err).Error())
		tr.FailedInstances = append(tr.FailedInstances, FormatValue(elems[i].key)+": "+msg)
	}
	if ctx.Err() != nil && failed > 0 {
		return nil, ctx.Err()
	}
	if failed > 0 && float64(len(elems)-failed) < n.ForEach.MinSuccessRatio*float64(len(elems)) {
		return nil, fmt.Errorf("%d of %d instances failed (min_success_ratio %g); the first: %w", failed, len(elems), n.ForEach.MinSuccessRatio, first)
	}

	outs := make(map[string]cty.Value, len(n.OutputTypes))
	for name, ty := range n.OutputTypes {
		vals := make([]cty.Value, len(results))
		keys := make([]string, len(results))
		for i, r := range results {
			vals[i] = cty.NullVal(ty)
			if r.err == nil {
				vals[i] = r.outs[name]
			}
			if elems[i].key.Type() == cty.String {
				keys[i] = elems[i].key.AsString()
			}
		}
		v, err := collect(vals, keys, ty, len(elems) > 0 && elems[0].key.Type() == cty.String)
		if err != nil {
			return nil, fmt.Errorf("collect output %q: %w", name, err)
		}
		outs[name] = v
	}
	if data, err := ToJSON(cty.ObjectVal(outs)); err == nil {
		tr.OutputsJSON = data
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
