package engine

import (
	"crypto/sha256"
	"encoding/hex"
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

// Plan is the semantics of one run of a compiled graph, as a
// deterministic state machine: given the run's inputs and the results of
// the calls so far, it says which nodes start, which calls to make, and
// which nodes succeeded, failed or were skipped. It owns readiness
// (dependencies and the parallelism limits, for_each's max_parallel
// included), the evaluation of every expression (inputs, for_each,
// branch conditions and outputs, the workflow's outputs), branch
// decisions and fail, for_each expansion and collection
// (min_success_ratio), what a failure does (no node starts after one) and
// the failure handler's call.
//
// A Plan has no goroutines, clocks, randomness or I/O, and no map order
// reaches its decisions: the same graph, inputs and sequence of results
// give the same sequence of operations. Whoever makes the calls (the
// local scheduler in run.go; a Temporal workflow later) owns concurrency,
// time, retries, timeouts, the cache, secrets, working directories,
// files, decks and records. A sub-workflow call is one Call whose node
// has Sub: its driver runs the called graph with a Plan of its own.
//
// A Plan is not safe for concurrent use; drivers call it from one loop.
type Plan struct {
	g      *Graph
	inputs cty.Value
	// limit bounds the nodes running at once (a for_each counts once)
	// and, with their max_parallel, each for_each's instances.
	limit      int
	nodes      map[string]*nodeState
	dependents map[string][]*nodeState
	ready      []*nodeState
	running    int
	chosen     map[string]int // the arm each decided branch chose; -1: none
	failed     bool           // a node failed: no node starts any more
	cancelled  error          // no call starts any more
	held       bool           // no node starts any more (Hold); instances do
	ops        []Op
	// keptInst are the results of for_each instances that ended in an
	// earlier plan of the run (KeepInstances), by node and index.
	keptInst map[string]map[int]CallResult
	// rootCtx is the evaluation context of the nodes that depend on no
	// other node (the run's inputs only), made once.
	rootCtx *hcl.EvalContext
	// argsAhead, if set, returns the inputs of a node without
	// dependencies as the driver evaluated them ahead in rootCtx (the
	// same values the plan would compute), or nil: the local driver's
	// cache lookahead (rootAhead) evaluates them on its workers.
	argsAhead func(n *Node) *taskArgs
	// expandWorkers, above 1, is how many goroutines may evaluate the
	// elements of a large for_each (expand). Only the local driver sets
	// it: the remote driver's plan runs in a Temporal workflow, whose
	// code must not start goroutines.
	expandWorkers int
}

// nodeState is where one node of the graph is in the run.
type nodeState struct {
	n       *Node
	status  Status
	waiting int
	outputs map[string]cty.Value
	fan     *fanState
}

// fanState is a running for_each: its instances' calls and results.
type fanState struct {
	calls   []*Call
	next    int // the next call to start
	running int
	limit   int
	left    int // calls that have not finished
	outs    []map[string]cty.Value
	errs    []error
	kept    map[int]CallResult // instances that ended in an earlier plan: not called
}

// Call is one call the driver makes: a plugin task (a node, a for_each
// instance or the failure handler) or a sub-workflow call (Node.Sub set).
// It is data: the node, its evaluated inputs and where it comes from.
type Call struct {
	// Name is the node's name ("t", or "t@3" for instance 3 of t's
	// for_each); TaskID is "<plugin>.<task>" or "workflow.<name>".
	Name, TaskID string
	// Node is the compiled node (a copy named after the instance for a
	// for_each instance): its Policy, secrets and deck settings.
	Node *Node
	// Inputs are the evaluated inputs, canonical JSON (object keys
	// sorted, numbers exact), files as URIs; Digests the hex SHA-256 of
	// each input's JSON, for cache keys.
	Inputs  json.RawMessage
	Digests map[string]string
	// Parent is the for_each node of an instance ("" otherwise), Index
	// and Key the instance's element.
	Parent string
	Index  int
	Key    cty.Value

	args  *taskArgs
	state *nodeState
}

// CallPolicy is how a call is made: the driver applies it.
type CallPolicy struct {
	Retries int
	Backoff time.Duration
	Timeout time.Duration
	// Cache is nil when the task's results are not cached.
	Cache      *CachePolicy
	Secrets    []plugin.SecretRequest // names only: the driver resolves them
	EnableDeck bool
	DeckFields []string
}

// Policy returns the call's retry, timeout, cache, secrets and deck
// policy.
func (c *Call) Policy() CallPolicy {
	n := c.Node
	return CallPolicy{Retries: n.Retries, Backoff: n.Backoff, Timeout: n.Timeout, Cache: n.Cache, Secrets: n.Secrets, EnableDeck: n.EnableDeck, DeckFields: n.DeckFields}
}

// CallResult is what a call gave: its outputs, typed as the node
// declares, or the error it failed with (see retryable for whether
// another attempt could succeed; the driver has retried already).
type CallResult struct {
	Outputs map[string]cty.Value
	Err     error
}

// Retryable reports whether the call failed in a way another attempt
// could fix (the plugin said so, its process died, or it timed out).
func (r CallResult) Retryable() bool { return r.Err != nil && retryable(r.Err) }

// OpKind is what an Op asks of the driver.
type OpKind int

// Operations, in the order a Plan gives them.
const (
	// OpStart: Node starts. Call, when set, is its call to make; a
	// for_each node has Instances instead, whose calls come as OpCall.
	// A node with neither (a branch's, or one whose inputs failed to
	// evaluate) ends in a later op of the same batch.
	OpStart OpKind = iota
	// OpCall: make Call, an instance of a running for_each.
	OpCall
	// OpSucceed: Node succeeded with Outputs.
	OpSucceed
	// OpFail: Node failed with Err; for a for_each, Failed lists the
	// instances that failed, in element order.
	OpFail
	// OpSkip: Node is in a branch arm that was not chosen.
	OpSkip
)

// Op is one step of a run, for the driver to carry out in order.
type Op struct {
	Kind      OpKind
	Node      *Node
	Call      *Call
	Instances []*Call
	Outputs   map[string]cty.Value
	Err       error
	// Failed are a for_each's failed instances, in element order (in
	// OpSucceed too, when min_success_ratio allowed them).
	Failed []InstanceFailure
}

// InstanceFailure is a for_each instance that failed.
type InstanceFailure struct {
	Key cty.Value
	Err error
}

// NewPlan returns the plan of a run of g with inputs (every input of g
// set) and at most parallelism nodes running at once. kept are the
// outputs of nodes that already succeeded (a resumed run's): they do not
// run again.
func NewPlan(g *Graph, inputs map[string]cty.Value, parallelism int, kept map[string]map[string]cty.Value) *Plan {
	in := cty.EmptyObjectVal
	if len(inputs) > 0 {
		in = cty.ObjectVal(inputs)
	}
	return newPlan(g, in, parallelism, kept)
}

func newPlan(g *Graph, inputs cty.Value, parallelism int, kept map[string]map[string]cty.Value) *Plan {
	if parallelism <= 0 {
		parallelism = 1
	}
	p := &Plan{g: g, inputs: inputs, limit: parallelism, nodes: make(map[string]*nodeState, len(g.Nodes)), dependents: map[string][]*nodeState{}, chosen: map[string]int{}}
	p.rootCtx = evalContext(inputs, cty.EmptyObjectVal, cty.EmptyObjectVal)
	for _, n := range g.Nodes {
		s := &nodeState{n: n, status: StatusPending}
		if outs, ok := kept[n.Name]; ok {
			s.status, s.outputs = StatusSucceeded, outs
		}
		p.nodes[n.Name] = s
	}
	for _, n := range g.Nodes {
		s := p.nodes[n.Name]
		if s.status != StatusPending {
			continue
		}
		for _, d := range n.Deps {
			if ds := p.nodes[d]; ds == nil || ds.status == StatusPending {
				s.waiting++
				p.dependents[d] = append(p.dependents[d], s)
			}
		}
		if s.waiting == 0 {
			p.ready = append(p.ready, s)
		}
	}
	return p
}

// Start returns the operations that begin the run. The slice is valid
// until the next call of a Plan method.
func (p *Plan) Start() []Op {
	p.ops = p.ops[:0]
	p.startReady()
	return p.ops
}

// Done records the result of a call the plan gave and returns what
// follows from it. The slice is valid until the next call of a Plan
// method.
func (p *Plan) Done(c *Call, r CallResult) []Op {
	p.ops = p.ops[:0]
	s := c.state
	if f := s.fan; f != nil && c.Parent != "" {
		f.outs[c.Index], f.errs[c.Index] = r.Outputs, r.Err
		f.running--
		f.left--
		p.startInstances(s)
		if f.left == 0 {
			p.endFan(s)
		}
	} else {
		p.end(s, r.Outputs, r.Err)
	}
	p.startReady()
	return p.ops
}

// Cancel stops the run: no node and no instance starts any more. The
// instances of running for_each nodes that have not started fail with
// err; the ops say which nodes that ends.
func (p *Plan) Cancel(err error) []Op {
	p.ops = p.ops[:0]
	if p.cancelled != nil {
		return p.ops
	}
	p.cancelled = err
	for _, n := range p.g.Nodes {
		s := p.nodes[n.Name]
		f := s.fan
		if f == nil || s.status != StatusRunning || f.next == len(f.calls) {
			continue
		}
		for ; f.next < len(f.calls); f.next++ {
			if _, ok := f.kept[f.next]; ok {
				continue
			}
			f.errs[f.next] = err
			f.left--
		}
		if f.left == 0 {
			p.endFan(s)
		}
	}
	return p.ops
}

// Hold stops the plan from starting nodes: the nodes running go on (a
// running for_each still starts its instances), the others wait. A
// driver that moves the run elsewhere (a Temporal workflow continuing
// as new) holds the plan, waits for the calls in flight, and starts the
// run again with a new Plan whose kept nodes are [Plan.Succeeded].
func (p *Plan) Hold() { p.held = true }

// KeepInstances gives the results of instances of the for_each node
// that ended in an earlier plan of the run, by instance index: when the
// node starts, those instances are not called again and count as ended
// with their results (a failed one as failed, for min_success_ratio). A
// driver that moves a held run elsewhere with a for_each running (a
// Temporal workflow continuing as new while the for_each's instances
// run sub-workflows) keeps the instances that ended, as it keeps the
// nodes that succeeded. Call it before Start.
func (p *Plan) KeepInstances(node string, results map[int]CallResult) {
	if len(results) == 0 {
		return
	}
	if p.keptInst == nil {
		p.keptInst = map[string]map[int]CallResult{}
	}
	p.keptInst[node] = results
}

// Release undoes Hold: the nodes that are ready start again (up to the
// parallelism). A driver releases a held plan when it gives up moving
// the run (a failure elsewhere in the run, say) and the plan must finish
// where it is. The slice is valid until the next call of a Plan method.
func (p *Plan) Release() []Op {
	p.ops = p.ops[:0]
	p.held = false
	p.startReady()
	return p.ops
}

// Complete reports whether every node has ended: succeeded, failed or
// skipped.
func (p *Plan) Complete() bool {
	for _, s := range p.nodes {
		if s.status == StatusPending || s.status == StatusRunning {
			return false
		}
	}
	return true
}

// Succeeded returns the outputs of the task nodes (tasks, for_each
// nodes, sub-workflow calls) that have succeeded, by name: kept outputs
// for [NewPlan]. A branch's nodes are left out: a new plan decides and
// joins again, from the same values, which skips the same arms.
func (p *Plan) Succeeded() map[string]map[string]cty.Value {
	out := map[string]map[string]cty.Value{}
	for _, n := range p.g.Nodes {
		if s := p.nodes[n.Name]; s.status == StatusSucceeded && n.Kind == KindTask {
			out[n.Name] = s.outputs
		}
	}
	return out
}

// startReady starts ready nodes, in the order they became ready, up to
// the parallelism, unless a node failed, the run was cancelled or the
// plan is held.
func (p *Plan) startReady() {
	for !p.failed && p.cancelled == nil && !p.held && len(p.ready) > 0 && p.running < p.limit {
		s := p.ready[0]
		p.ready = p.ready[1:]
		p.start(s)
	}
}

// start starts a node: a branch's decides or joins at once, a for_each
// expands into its instances, a task gets its call.
func (p *Plan) start(s *nodeState) {
	n := s.n
	s.status = StatusRunning
	p.running++
	switch {
	case n.Kind != KindTask:
		p.ops = append(p.ops, Op{Kind: OpStart, Node: n})
		outs, err := p.branchNode(n)
		p.end(s, outs, err)
	case n.ForEach != nil:
		calls, err := p.expand(s)
		if err != nil {
			p.ops = append(p.ops, Op{Kind: OpStart, Node: n})
			p.end(s, nil, err)
			return
		}
		limit := n.ForEach.MaxParallel
		if limit <= 0 || limit > p.limit {
			limit = p.limit
		}
		s.fan = &fanState{calls: calls, limit: limit, left: len(calls), outs: make([]map[string]cty.Value, len(calls)), errs: make([]error, len(calls))}
		if kept := p.keptInst[n.Name]; len(kept) > 0 {
			s.fan.kept = map[int]CallResult{}
			for i, r := range kept {
				if i >= 0 && i < len(calls) {
					s.fan.kept[i] = r
					s.fan.outs[i], s.fan.errs[i] = r.Outputs, r.Err
					s.fan.left--
				}
			}
		}
		p.ops = append(p.ops, Op{Kind: OpStart, Node: n, Instances: calls})
		p.startInstances(s)
		if s.fan.left == 0 {
			p.endFan(s)
		}
	default:
		var args *taskArgs
		if p.argsAhead != nil && len(n.Deps) == 0 {
			args = p.argsAhead(n)
		}
		var err error
		if args == nil {
			args, err = evalInputsIn(p.evalContext(n.Deps), n)
		}
		if err != nil {
			p.ops = append(p.ops, Op{Kind: OpStart, Node: n})
			p.end(s, nil, err)
			return
		}
		c := &Call{Name: n.Name, TaskID: n.TaskID(), Node: n, Inputs: args.json, Digests: args.digests, args: args, state: s}
		p.ops = append(p.ops, Op{Kind: OpStart, Node: n, Call: c})
	}
}

// startInstances starts a running for_each's next instances, up to its
// limit, unless the run was cancelled.
func (p *Plan) startInstances(s *nodeState) {
	f := s.fan
	for p.cancelled == nil && f.running < f.limit && f.next < len(f.calls) {
		if _, ok := f.kept[f.next]; ok {
			f.next++ // ended in an earlier plan (KeepInstances)
			continue
		}
		p.ops = append(p.ops, Op{Kind: OpCall, Node: s.n, Call: f.calls[f.next]})
		f.next++
		f.running++
	}
}

// end ends a node with its outputs or error, and makes ready the nodes
// that waited for it (and, after a decision, for the arms not chosen).
func (p *Plan) end(s *nodeState, outs map[string]cty.Value, err error) {
	p.running--
	if err != nil {
		s.status = StatusFailed
		p.failed = true
		p.ops = append(p.ops, Op{Kind: OpFail, Node: s.n, Err: err})
		return
	}
	s.status, s.outputs = StatusSucceeded, outs
	p.ops = append(p.ops, Op{Kind: OpSucceed, Node: s.n, Outputs: outs})
	resolved := []*nodeState{s}
	if s.n.Kind == KindDecision {
		// The arms not chosen are done too, without running.
		for _, n := range p.notChosen(s.n.Branch) {
			ns := p.nodes[n.Name]
			ns.status = StatusSkipped
			p.ops = append(p.ops, Op{Kind: OpSkip, Node: n})
			resolved = append(resolved, ns)
		}
	}
	for _, r := range resolved {
		for _, dep := range p.dependents[r.n.Name] {
			dep.waiting--
			if dep.waiting == 0 && dep.status == StatusPending {
				p.ready = append(p.ready, dep)
			}
		}
	}
}

// Outputs evaluates the workflow's outputs, once every node has
// succeeded or was skipped.
func (p *Plan) Outputs() (map[string]cty.Value, error) {
	outs := make(map[string]cty.Value, len(p.g.Outputs))
	if len(p.g.Outputs) == 0 {
		// Nothing to evaluate: the context would hold every task's
		// outputs (10,000 of them in issue 17's cached run).
		return outs, nil
	}
	deps := make([]string, 0, len(p.g.Nodes))
	for _, n := range p.g.Nodes {
		if p.nodes[n.Name].status == StatusSucceeded {
			deps = append(deps, n.Name)
		}
	}
	ectx := p.evalContext(deps)
	for _, o := range p.g.Outputs {
		v, diags := o.Expr.Value(ectx)
		if diags.HasErrors() {
			return outs, fmt.Errorf("evaluate output %q: %s", o.Name, diags.Error())
		}
		outs[o.Name] = v
	}
	return outs, nil
}

// FailureHandler returns the call of the workflow's failure handler
// after node failed with message (redacted by the driver): its inputs are
// the workflow's inputs and err, the failed node's name and
// "Error encountered while executing '<node>':\n  <message>" (Flytekit's
// wording). It returns nil when the workflow has no handler; an error
// when its inputs do not evaluate.
func (p *Plan) FailureHandler(node, message string) (*Call, error) {
	n := p.g.OnFailure
	if n == nil {
		return nil, nil
	}
	errVal := cty.ObjectVal(map[string]cty.Value{
		"failed_node": cty.StringVal(node),
		"message":     cty.StringVal(fmt.Sprintf("Error encountered while executing '%s':\n  %s", node, message)),
	})
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{"input": p.inputs, "err": errVal}}
	handler := *n
	handler.Inputs = nil
	for _, f := range n.Schema.Inputs {
		root := "input"
		if f.Name == "err" {
			root = "err"
		} else if !p.inputs.Type().HasAttribute(f.Name) {
			continue // optional, and the workflow has no such input
		}
		expr := traversalExpr(root)
		if root == "input" {
			expr = traversalExpr(root, f.Name)
		}
		handler.Inputs = append(handler.Inputs, &config.TaskInput{Name: f.Name, Expr: expr})
	}
	c := &Call{Name: n.Name, TaskID: n.TaskID(), Node: &handler}
	args, err := evalInputsIn(ectx, &handler)
	if err != nil {
		return c, err
	}
	c.Inputs, c.Digests, c.args = args.json, args.digests, args
	return c, nil
}

// evalContext returns the evaluation context for a node: the workflow's
// inputs and the outputs of the nodes it depends on that succeeded.
func (p *Plan) evalContext(deps []string) *hcl.EvalContext {
	if len(deps) == 0 {
		return p.rootCtx
	}
	tasks := make(map[string]cty.Value, len(deps))
	var branches map[string]cty.Value // most nodes follow no branch
	for _, d := range deps {
		s := p.nodes[d]
		switch {
		case s == nil || s.n.Kind == KindDecision || s.status != StatusSucceeded:
			// A decision has no outputs; a skipped task none to give.
		case s.n.Kind == KindJoin:
			if branches == nil {
				branches = map[string]cty.Value{}
			}
			branches[d] = cty.ObjectVal(s.outputs)
		default:
			tasks[d] = cty.ObjectVal(s.outputs)
		}
	}
	return evalContext(p.inputs, objectOrEmpty(tasks), objectOrEmpty(branches))
}

// objectOrEmpty is cty.ObjectVal(m), without a new object type for an
// empty m (a map and a type for every task of a chain, for a branch it
// follows none of).
func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// taskArgs are a task's evaluated inputs: the JSON object sent to the
// plugin, and a digest of each input's canonical value for the cache key.
type taskArgs struct {
	json    json.RawMessage
	digests map[string]string // input name -> hex SHA-256 of its canonical JSON
	// files are the inputs that hold files or dirs. json then has their
	// URIs; localFiles makes the JSON a plugin gets, with local paths.
	files   map[string]cty.Value
	encoded map[string][]byte // every input's canonical JSON, when files is set
}

// evalInputsIn evaluates the node's inputs in ectx. Their JSON is
// canonical (object keys sorted, numbers exact), so equal values have
// equal digests.
func evalInputsIn(ectx *hcl.EvalContext, n *Node) (*taskArgs, error) {
	// A slice, not a map: a map per task was a tenth of a cached
	// re-run's allocations (issue 17).
	encoded := make([]member, 0, len(n.Inputs))
	var files map[string]cty.Value
	for _, in := range n.Inputs {
		v, diags := in.Expr.Value(ectx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("evaluate input %q: %s", in.Name, diags.Error())
		}
		v, err := convert.Convert(v, n.InputTypes[in.Name])
		if err != nil {
			return nil, fmt.Errorf("input %q: must be %s: %v", in.Name, TypeString(n.InputTypes[in.Name]), err)
		}
		if v.IsNull() {
			continue // an optional input left out
		}
		if config.HasFiles(v.Type()) {
			if v, err = resolveInput(v); err != nil {
				return nil, fmt.Errorf("input %q: %v", in.Name, err)
			}
			if files == nil {
				files = map[string]cty.Value{}
			}
			files[in.Name] = v
		}
		data, err := ToJSON(v)
		if err != nil {
			return nil, fmt.Errorf("input %q: %v", in.Name, err)
		}
		encoded = append(encoded, member{in.Name, data})
	}
	encoded = sortMembers(encoded)
	args := &taskArgs{json: membersJSON(encoded), digests: make(map[string]string, len(encoded)), files: files}
	if files != nil {
		args.encoded = make(map[string][]byte, len(encoded))
		for _, m := range encoded {
			args.encoded[m.name] = m.data
		}
	}
	for _, m := range encoded {
		sum := sha256.Sum256(m.data)
		args.digests[m.name] = hex.EncodeToString(sum[:])
	}
	return args, nil
}

// member is one member of a JSON object: its name and its value's JSON.
type member struct {
	name string
	data []byte
}

// sortMembers sorts ms by name; of members of the same name, the last
// stays (as in a map).
func sortMembers(ms []member) []member {
	if len(ms) < 2 {
		return ms
	}
	slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.name, b.name) })
	out := ms[:0]
	for i, m := range ms {
		if i+1 < len(ms) && ms[i+1].name == m.name {
			continue
		}
		out = append(out, m)
	}
	return out
}

// membersJSON is objectJSON of members sorted by name, without duplicates:
// the same bytes.
func membersJSON(ms []member) json.RawMessage {
	size := 2
	for _, m := range ms {
		size += len(m.name) + 4 + len(m.data)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '{')
	for i, m := range ms {
		if i > 0 {
			buf = append(buf, ',')
		}
		if plainName(m.name) {
			buf = append(buf, '"')
			buf = append(buf, m.name...)
			buf = append(buf, '"')
		} else {
			key, _ := json.Marshal(m.name)
			buf = append(buf, key...)
		}
		buf = append(buf, ':')
		buf = append(buf, m.data...)
	}
	return append(buf, '}')
}

// plainName reports whether json.Marshal writes name as itself in quotes:
// letters, digits, '_' and '-' only (an identifier, as input names are).
func plainName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
