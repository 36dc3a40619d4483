package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/goflyte/goflyte/engine/config"
)

// addBranchNodes adds each branch's decision and join nodes to the graph.
func addBranchNodes(g *Graph, w *config.Workflow) {
	for _, b := range w.Branches {
		decide := &Node{Name: decisionName(b.Name), Kind: KindDecision, Branch: b, DeclRange: b.DeclRange, Deps: append([]string(nil), b.Deps...)}
		if b.Parent != nil {
			decide.Deps = append(decide.Deps, decisionName(b.Parent.Branch.Name))
			decide.Arm = b.Parent
		}
		join := &Node{Name: b.Name, Kind: KindJoin, Branch: b, DeclRange: b.DeclRange, Arm: b.Parent, OutputTypes: map[string]cty.Type{}}
		deps := map[string]bool{decide.Name: true}
		for _, d := range b.OutputDeps {
			deps[d] = true
		}
		for _, a := range b.Arms {
			for _, t := range a.Tasks {
				deps[t] = true
			}
			for _, nb := range a.Branches {
				deps[nb] = true
			}
		}
		for d := range deps {
			join.Deps = append(join.Deps, d)
		}
		sort.Strings(join.Deps)
		for _, n := range []*Node{decide, join} {
			g.Nodes = append(g.Nodes, n)
			g.nodes[n.Name] = n
		}
	}
}

// typeBranches checks each branch's conditions (bool) and types its
// outputs: those every arm that does not fail gives, each of a type all
// of them fit. Branches are done in dependency order, as an arm may use
// another branch's outputs.
func typeBranches(g *Graph) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, n := range runOrder(g) {
		if n.Kind != KindJoin {
			continue
		}
		ectx := typeCheckContext(g)
		var common map[string][]cty.Type
		for _, a := range n.Branch.Arms {
			if a.If != nil {
				if d, ok := checkRefs(a.If, ectx); !ok {
					diags = append(diags, d...)
				} else if v, d := a.If.Value(ectx); d.HasErrors() {
					diags = append(diags, d...)
				} else if _, err := convert.Convert(v, cty.Bool); err != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid condition",
						Detail:   fmt.Sprintf("The condition of a case must be true or false; this expression is %s.", TypeString(v.Type())),
						Subject:  a.If.Range().Ptr(),
					})
				}
			}
			if a.Fail != "" {
				continue
			}
			types := map[string]cty.Type{}
			for _, o := range a.Outputs {
				types[o.Name] = cty.DynamicPseudoType
				if d, ok := checkRefs(o.Expr, ectx); !ok {
					diags = append(diags, d...)
				} else if v, d := o.Expr.Value(ectx); d.HasErrors() {
					diags = append(diags, d...)
				} else {
					types[o.Name] = v.Type()
				}
			}
			if common == nil {
				common = map[string][]cty.Type{}
				for name, ty := range types {
					common[name] = []cty.Type{ty}
				}
				continue
			}
			for name := range common {
				if ty, ok := types[name]; ok {
					common[name] = append(common[name], ty)
				} else {
					delete(common, name)
				}
			}
		}
		for _, name := range sortedKeys(common) {
			types := common[name]
			ty := unifyTypes(types)
			if ty == cty.NilType {
				var names []string
				for _, t := range types {
					names = append(names, TypeString(t))
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Inconsistent branch output",
					Detail:   fmt.Sprintf("Output %q of branch %q has types that do not fit together across its arms: %s. Give it one type in every arm.", name, n.Branch.Name, strings.Join(names, ", ")),
					Subject:  n.Branch.DeclRange.Ptr(),
				})
				ty = cty.DynamicPseudoType
			}
			n.OutputTypes[name] = ty
		}
	}
	return diags
}

// branchNode runs a branch's decision (the first arm whose condition
// is true, or the default; a chosen arm with fail fails the run with its
// message) or its join (the chosen arm's outputs).
func (p *Plan) branchNode(n *Node) (map[string]cty.Value, error) {
	b := n.Branch
	if n.Kind == KindDecision {
		ectx := p.evalContext(n.Deps)
		p.chosen[b.Name] = -1
		for i, a := range b.Arms {
			if a.If != nil {
				v, diags := a.If.Value(ectx)
				if diags.HasErrors() {
					return nil, fmt.Errorf("branch %q: evaluate case %d: %s", b.Name, i+1, diags.Error())
				}
				v, err := convert.Convert(v, cty.Bool)
				if err != nil || v.IsNull() {
					return nil, fmt.Errorf("branch %q: case %d: the condition is not true or false", b.Name, i+1)
				}
				if v.False() {
					continue
				}
			}
			p.chosen[b.Name] = i
			if a.Fail != "" {
				return nil, &BranchFailure{Branch: b.Name, Message: a.Fail}
			}
			return map[string]cty.Value{"case": cty.NumberIntVal(int64(i + 1))}, nil
		}
		return nil, &BranchFailure{Branch: b.Name, Message: "no case is true, and the branch has no default"}
	}
	i := p.chosen[b.Name]
	outs := map[string]cty.Value{}
	if i < 0 {
		return outs, nil
	}
	ectx := p.evalContext(n.Deps)
	for _, o := range b.Arms[i].Outputs {
		if _, common := n.OutputTypes[o.Name]; !common {
			continue // not given by every arm: not an output of the branch
		}
		v, diags := o.Expr.Value(ectx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("branch %q: evaluate output %q: %s", b.Name, o.Name, diags.Error())
		}
		outs[o.Name] = v
	}
	return outs, nil
}

// BranchFailure is a branch whose chosen arm fails (or that chose none).
type BranchFailure struct {
	Branch, Message string
}

func (e *BranchFailure) Error() string { return e.Message }

// notChosen returns the nodes in the arms of b that were not chosen, at
// any depth: their tasks and the nodes of the branches in them.
func (p *Plan) notChosen(b *config.Branch) []*Node {
	chosen := p.chosen[b.Name]
	var out []*Node
	for _, n := range p.g.Nodes {
		arm := n.Arm
		for arm != nil && arm.Branch != b {
			arm = arm.Branch.Parent
		}
		if arm != nil && arm.Index != chosen {
			out = append(out, n)
		}
	}
	return out
}
