package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// These tests drive a Plan by hand: no plugin, provider or engine, only
// compiled graphs (CompileWorkflow with the fake plugin's schema as data)
// and results fed back in a chosen order.

// planGraph compiles the first workflow of src purely.
func planGraph(t *testing.T, src string) *Graph {
	t.Helper()
	w, lookup := loadSource(t, src)
	g, diags := CompileWorkflow(w, Sources{Schemas: pureSchemas(), Workflows: lookup})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return g
}

// answer gives a call's result: echo returns its input, add the sum,
// fail fails; anything else is the test's.
type answer func(c *Call) CallResult

func fakeAnswer(c *Call) CallResult {
	in := string(c.Inputs)
	switch c.Node.Task {
	case "echo":
		var s string
		fmt.Sscanf(strings.TrimPrefix(in, `{"s":`), "%q", &s)
		if strings.HasPrefix(s, "bad") {
			return CallResult{Err: fmt.Errorf("%s is bad", s)}
		}
		return CallResult{Outputs: map[string]cty.Value{"s": cty.StringVal(s + "!")}}
	case "fail":
		return CallResult{Err: errors.New("it failed")}
	}
	return CallResult{Outputs: map[string]cty.Value{}}
}

// trace drives p to the end: calls are answered one at a time, the
// oldest first (or the newest, with lifo). It returns one line per op.
func trace(p *Plan, ans answer, lifo bool) []string {
	var lines []string
	var queue []*Call
	take := func(ops []Op) {
		for _, op := range ops {
			switch op.Kind {
			case OpStart:
				line := "start " + op.Node.Name
				if op.Call != nil {
					line += " " + string(op.Call.Inputs)
					queue = append(queue, op.Call)
				}
				if op.Instances != nil {
					line += fmt.Sprintf(" (%d instances)", len(op.Instances))
				}
				lines = append(lines, line)
			case OpCall:
				lines = append(lines, "call "+op.Call.Name+" "+string(op.Call.Inputs))
				queue = append(queue, op.Call)
			case OpSucceed:
				line := "ok " + op.Node.Name
				for _, name := range sortedKeys(op.Outputs) {
					line += " " + name + "=" + jsonOf(op.Outputs[name])
				}
				for _, f := range op.Failed {
					line += " failed:" + FormatValue(f.Key)
				}
				lines = append(lines, line)
			case OpFail:
				lines = append(lines, "fail "+op.Node.Name+": "+op.Err.Error())
			case OpSkip:
				lines = append(lines, "skip "+op.Node.Name)
			}
		}
	}
	take(p.Start())
	for len(queue) > 0 {
		var c *Call
		if lifo {
			c, queue = queue[len(queue)-1], queue[:len(queue)-1]
		} else {
			c, queue = queue[0], queue[1:]
		}
		take(p.Done(c, ans(c)))
	}
	if outs, err := p.Outputs(); err == nil {
		for _, name := range sortedKeys(outs) {
			lines = append(lines, "output "+name+"="+jsonOf(outs[name]))
		}
	}
	return lines
}

func jsonOf(v cty.Value) string {
	data, err := ToJSON(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		inputs map[string]cty.Value
		par    int
		lifo   bool
		want   []string
	}{
		{
			name: "chain",
			src: `workflow "w" {
  input "s" { type = string }
  task "a" {
    uses   = "fake.echo"
    inputs = { s = input.s }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = task.a.s }
  }
  output "s" { value = task.b.s }
}`,
			inputs: map[string]cty.Value{"s": cty.StringVal("x")},
			par:    4,
			want: []string{
				`start a {"s":"x"}`, `ok a s="x!"`,
				`start b {"s":"x!"}`, `ok b s="x!!"`,
				`output s="x!!"`,
			},
		},
		{
			name: "fan-out within the parallelism",
			src: `workflow "w" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "a" }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = "b" }
  }
  task "c" {
    uses   = "fake.echo"
    inputs = { s = "c" }
  }
  task "join" {
    uses   = "fake.echo"
    inputs = { s = "${task.a.s}${task.b.s}${task.c.s}" }
  }
}`,
			par: 2,
			want: []string{
				`start a {"s":"a"}`, `start b {"s":"b"}`,
				`ok a s="a!"`, `start c {"s":"c"}`,
				`ok b s="b!"`, `ok c s="c!"`,
				`start join {"s":"a!b!c!"}`, `ok join s="a!b!c!!"`,
			},
		},
		{
			name: "a failure starts nothing new",
			src: `workflow "w" {
  task "a" {
    uses   = "fake.fail"
    inputs = { message = "m" }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = "b" }
  }
  task "c" {
    uses   = "fake.echo"
    inputs = { s = "c" }
  }
}`,
			par: 2,
			want: []string{
				`start a {"message":"m"}`, `start b {"s":"b"}`,
				`fail a: it failed`, `ok b s="b!"`,
			},
		},
		{
			name: "for_each with max_parallel, min_success_ratio met",
			src: `workflow "w" {
  input "xs" { type = list(string) }
  task "e" {
    uses              = "fake.echo"
    for_each          = input.xs
    max_parallel      = 2
    min_success_ratio = 0.5
    inputs            = { s = each.value }
  }
  output "s" { value = task.e.s }
}`,
			inputs: map[string]cty.Value{"xs": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("bad1"), cty.StringVal("c"), cty.StringVal("d")})},
			par:    8,
			want: []string{
				`start e (4 instances)`, `call e@0 {"s":"a"}`, `call e@1 {"s":"bad1"}`,
				`call e@2 {"s":"c"}`, `call e@3 {"s":"d"}`,
				`ok e s=["a!",null,"c!","d!"] failed:1`,
				`output s=["a!",null,"c!","d!"]`,
			},
		},
		{
			name: "for_each below min_success_ratio, by key",
			src: `workflow "w" {
  input "m" { type = map(string) }
  task "e" {
    uses              = "fake.echo"
    for_each          = input.m
    min_success_ratio = 0.9
    inputs            = { s = each.value }
  }
}`,
			inputs: map[string]cty.Value{"m": cty.MapVal(map[string]cty.Value{"k1": cty.StringVal("bad"), "k2": cty.StringVal("y")})},
			par:    1,
			want: []string{
				`start e (2 instances)`, `call e@0 {"s":"bad"}`, `call e@1 {"s":"y"}`,
				`fail e: 1 of 2 instances failed (min_success_ratio 0.9); the first: bad is bad`,
			},
		},
		{
			name: "branch chooses, skips the other arm",
			src: `workflow "w" {
  input "n" { type = number }
  branch "b" {
    case {
      if = input.n > 1
      task "big" {
        uses   = "fake.echo"
        inputs = { s = "big" }
      }
      output "s" { value = task.big.s }
    }
    default {
      task "small" {
        uses   = "fake.echo"
        inputs = { s = "small" }
      }
      output "s" { value = task.small.s }
    }
  }
  output "s" { value = branch.b.s }
}`,
			inputs: map[string]cty.Value{"n": cty.NumberIntVal(5)},
			par:    4,
			want: []string{
				`start b.if`, `ok b.if case=1`, `skip small`,
				`start big {"s":"big"}`, `ok big s="big!"`,
				`start b`, `ok b s="big!"`,
				`output s="big!"`,
			},
		},
		{
			name: "branch fail",
			src: `workflow "w" {
  input "n" { type = number }
  branch "b" {
    case {
      if   = input.n < 0
      fail = "negative"
    }
    default {
      task "t" {
        uses   = "fake.echo"
        inputs = { s = "t" }
      }
    }
  }
}`,
			inputs: map[string]cty.Value{"n": cty.NumberIntVal(-1)},
			par:    4,
			want:   []string{`start b.if`, `fail b.if: negative`},
		},
		{
			name: "sub-workflow call is one call",
			src: `workflow "w" {
  task "c" {
    uses   = workflow.sub
    inputs = { s = "x" }
  }
  output "s" { value = task.c.s }
}
workflow "sub" {
  input "s" { type = string }
  task "u" {
    uses   = "fake.echo"
    inputs = { s = input.s }
  }
  output "s" { value = task.u.s }
}`,
			par: 4,
			want: []string{
				`start c {"s":"x"}`, `ok c s="sub(x)"`, `output s="sub(x)"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := planGraph(t, tt.src)
			ans := func(c *Call) CallResult {
				if c.Node.Sub != nil {
					// The driver runs the called graph with a plan of its
					// own.
					sub := NewPlan(c.Node.Sub, map[string]cty.Value{"s": cty.StringVal("x")}, 1, nil)
					if got := strings.Join(trace(sub, fakeAnswer, false), "|"); got != `start u {"s":"x"}|ok u s="x!"|output s="x!"` {
						t.Errorf("sub-workflow trace: %s", got)
					}
					return CallResult{Outputs: map[string]cty.Value{"s": cty.StringVal("sub(x)")}}
				}
				return fakeAnswer(c)
			}
			got := trace(NewPlan(g, tt.inputs, tt.par, nil), ans, tt.lifo)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
		})
	}
}

// max_parallel bounds a for_each's instances in flight; the for_each
// holds one of the parallelism's slots, so "third" starts when "other"
// ends.
func TestPlanForEachMaxParallel(t *testing.T) {
	g := planGraph(t, `workflow "w" {
  input "xs" { type = list(string) }
  task "e" {
    uses         = "fake.echo"
    for_each     = input.xs
    max_parallel = 2
    inputs       = { s = each.value }
  }
  task "other" {
    uses   = "fake.echo"
    inputs = { s = "o" }
  }
  task "third" {
    uses   = "fake.echo"
    inputs = { s = "t" }
  }
}`)
	var xs []cty.Value
	for i := range 5 {
		xs = append(xs, cty.StringVal(fmt.Sprint(i)))
	}
	p := NewPlan(g, map[string]cty.Value{"xs": cty.ListVal(xs)}, 2, nil)
	var inFlight []*Call
	instances, most, calls := 0, 0, 0
	var started []string
	collect := func(ops []Op) {
		for _, op := range ops {
			if op.Call != nil {
				inFlight = append(inFlight, op.Call)
				started = append(started, op.Call.Name)
				if op.Call.Parent != "" {
					instances++
				}
			}
		}
	}
	collect(p.Start())
	for len(inFlight) > 0 {
		most = max(most, instances)
		c := inFlight[len(inFlight)-1] // the newest first: "other" stays in flight
		inFlight = inFlight[:len(inFlight)-1]
		if c.Parent != "" {
			instances--
		}
		calls++
		collect(p.Done(c, fakeAnswer(c)))
	}
	if most != 2 || calls != 7 {
		t.Errorf("at most %d instances in flight (want 2), %d calls (want 7)", most, calls)
	}
	if got := strings.Join(started, " "); got != "e@0 e@1 other third e@2 e@3 e@4" {
		t.Errorf("calls started in order %s", got)
	}
}

// Cancelling fails the instances not started and starts nothing.
func TestPlanCancel(t *testing.T) {
	g := planGraph(t, `workflow "w" {
  input "xs" { type = list(string) }
  task "e" {
    uses         = "fake.echo"
    for_each     = input.xs
    max_parallel = 1
    inputs       = { s = each.value }
  }
  task "after" {
    uses   = "fake.echo"
    inputs = { s = task.e.s[0] }
  }
}`)
	p := NewPlan(g, map[string]cty.Value{"xs": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})}, 4, nil)
	ops := p.Start()
	first := ops[len(ops)-1].Call
	if ops := p.Cancel(errCancelled); len(ops) != 0 {
		t.Errorf("cancel with an instance in flight: %v", ops)
	}
	ops = p.Done(first, fakeAnswer(first))
	if len(ops) != 1 || ops[0].Kind != OpFail || !errors.Is(ops[0].Err, errCancelled) || len(ops[0].Failed) != 1 {
		t.Errorf("after the last instance returned: %+v", ops)
	}
}

var errCancelled = errors.New("cancelled")

// The failure handler's call gets the workflow's inputs and err.
func TestPlanFailureHandler(t *testing.T) {
	g := planGraph(t, `workflow "w" {
  input "s" { type = string }
  on_failure = "fake.echo"
  task "a" {
    uses   = "fake.fail"
    inputs = { message = input.s }
  }
}`)
	p := NewPlan(g, map[string]cty.Value{"s": cty.StringVal("in")}, 1, nil)
	if got := trace(p, fakeAnswer, false); len(got) != 2 || got[1] != "fail a: it failed" {
		t.Fatalf("trace %v", got)
	}
	c, err := p.FailureHandler("a", "it failed")
	if err != nil || c == nil || c.Name != OnFailureNode || string(c.Inputs) != `{"s":"in"}` {
		t.Errorf("handler call %+v, %v", c, err)
	}
}

// A dynamic task's workflow compiles purely with the schemas given, and
// its outputs convert to the task's.
func TestPlanDynamic(t *testing.T) {
	n := &Node{Name: "dyn", OutputTypes: map[string]cty.Type{"s": cty.String}, EnableDeck: true, DeckFields: []string{"input"}}
	w, err := ParseDynamic(`workflow "g" {
  task "e" {
    uses   = "fake.echo"
    inputs = { s = "d" }
  }
  output "s" { value = task.e.s }
}`, "dynamic task dyn")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DynamicGraph(n, w, Sources{}); err == nil || !strings.Contains(err.Error(), "no schema was given") {
		t.Errorf("without schemas: %v", err)
	}
	g, err := DynamicGraph(n, w, Sources{Schemas: pureSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Nodes[0].EnableDeck {
		t.Error("the dynamic task's decks do not reach its children")
	}
	p := NewPlan(g, nil, 1, nil)
	if got := strings.Join(trace(p, fakeAnswer, false), "|"); got != `start e {"s":"d"}|ok e s="d!"|output s="d!"` {
		t.Errorf("trace %s", got)
	}
	outs, _ := p.Outputs()
	if _, err := DynamicOutputs(&Node{OutputTypes: map[string]cty.Type{"x": cty.Number}}, outs); err == nil {
		t.Error("a missing output converted")
	}
	if got, err := DynamicOutputs(n, outs); err != nil || got["s"].AsString() != "d!" {
		t.Errorf("outputs %v, %v", got, err)
	}
}

// The same graph, inputs and order of results give the same operations;
// another order of results may give another.
func TestPlanDeterministic(t *testing.T) {
	src := `workflow "w" {
  input "xs" { type = map(string) }
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "a" }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = "b" }
  }
  task "e" {
    uses     = "fake.echo"
    for_each = input.xs
    inputs   = { s = "${each.key}${task.a.s}" }
  }
  task "z" {
    uses   = "fake.echo"
    inputs = { s = "${task.b.s}${jsonencode(task.e.s)}" }
  }
  output "z" { value = task.z.s }
}`
	xs := map[string]cty.Value{}
	for i := range 20 {
		xs[fmt.Sprintf("k%02d", i)] = cty.StringVal("v")
	}
	inputs := map[string]cty.Value{"xs": cty.MapVal(xs)}
	for _, lifo := range []bool{false, true} {
		first := trace(NewPlan(planGraph(t, src), inputs, 3, nil), fakeAnswer, lifo)
		for range 5 {
			again := trace(NewPlan(planGraph(t, src), inputs, 3, nil), fakeAnswer, lifo)
			if diff := cmp.Diff(first, again); diff != "" {
				t.Fatalf("lifo=%v: another sequence (-first +again):\n%s", lifo, diff)
			}
		}
		if last := first[len(first)-1]; !strings.HasPrefix(last, "output z=") {
			t.Errorf("lifo=%v: the run did not finish: %v", lifo, first)
		}
	}
}

// Nodes kept from a resumed run do not run; what depends on them starts
// at once, with their outputs.
func TestPlanKept(t *testing.T) {
	g := planGraph(t, `workflow "w" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "a" }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = task.a.s }
  }
  output "s" { value = task.b.s }
}`)
	kept := map[string]map[string]cty.Value{"a": {"s": cty.StringVal("kept")}}
	got := trace(NewPlan(g, nil, 1, kept), fakeAnswer, false)
	want := []string{`start b {"s":"kept"}`, `ok b s="kept!"`, `output s="kept!"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
}

// CallResult says whether a failure is worth another attempt.
func TestCallResultRetryable(t *testing.T) {
	tests := []struct {
		r    CallResult
		want bool
	}{
		{CallResult{}, false},
		{CallResult{Err: errors.New("no")}, false},
		{CallResult{Err: &TimeoutError{Timeout: time.Second}}, true},
	}
	for _, tt := range tests {
		if got := tt.r.Retryable(); got != tt.want {
			t.Errorf("%v: Retryable() = %v", tt.r.Err, got)
		}
	}
}

// A held plan starts no node, but the running ones finish (a running
// for_each starts its other instances); a new plan kept with what
// succeeded then finishes the run as one plan would have, and no call
// is made twice. This is how a Temporal workflow continues as new.
func TestPlanHoldAndContinue(t *testing.T) {
	src := `workflow "w" {
  input "xs" { type = list(string) }
  input "n"  { type = number }
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "a" }
  }
  task "e" {
    uses         = "fake.echo"
    for_each     = input.xs
    max_parallel = 2
    inputs       = { s = "${each.value}${task.a.s}" }
  }
  branch "b" {
    case {
      if = input.n > 1
      task "big" {
        uses   = "fake.echo"
        inputs = { s = "big${task.a.s}" }
      }
      output "s" { value = task.big.s }
    }
    default {
      task "small" {
        uses   = "fake.echo"
        inputs = { s = "small" }
      }
      output "s" { value = task.small.s }
    }
  }
  task "z" {
    uses   = "fake.echo"
    inputs = { s = "${branch.b.s}${jsonencode(task.e.s)}" }
  }
  output "z" { value = task.z.s }
}`
	inputs := map[string]cty.Value{"xs": cty.ListVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y"), cty.StringVal("w")}), "n": cty.NumberIntVal(5)}
	whole := trace(NewPlan(planGraph(t, src), inputs, 4, nil), fakeAnswer, false)
	for holdAfter := 0; holdAfter < 5; holdAfter++ { // the 6th call, z, is the last
		t.Run(fmt.Sprint(holdAfter), func(t *testing.T) {
			g := planGraph(t, src)
			p := NewPlan(g, inputs, 4, nil)
			calls := map[string]int{}
			var queue []*Call
			take := func(ops []Op) {
				for _, op := range ops {
					if op.Call != nil && (op.Kind == OpStart || op.Kind == OpCall) {
						queue = append(queue, op.Call)
					}
				}
			}
			take(p.Start())
			for done := 0; len(queue) > 0; done++ {
				if done == holdAfter {
					p.Hold()
				}
				c := queue[0]
				queue = queue[1:]
				calls[c.Name]++
				take(p.Done(c, fakeAnswer(c)))
			}
			if p.Complete() {
				t.Fatalf("the held plan completed")
			}
			kept := p.Succeeded()
			for _, name := range []string{"b.if", "b"} {
				if _, ok := kept[name]; ok {
					t.Errorf("branch node %q kept", name)
				}
			}
			rest := trace(NewPlan(planGraph(t, src), inputs, 4, kept), func(c *Call) CallResult {
				calls[c.Name]++
				return fakeAnswer(c)
			}, false)
			if got, want := rest[len(rest)-1], whole[len(whole)-1]; got != want {
				t.Errorf("continued run ends %q, want %q", got, want)
			}
			for name, n := range calls {
				if n != 1 {
					t.Errorf("call %s made %d times", name, n)
				}
			}
			if len(calls) != 6 { // a, e@0..2, big, z
				t.Errorf("calls %v", calls)
			}
		})
	}
}

// A released plan goes on where its hold stopped it: the nodes that
// became ready while it was held start, and the run ends as a plan
// never held would, every call made once.
func TestPlanRelease(t *testing.T) {
	src := `workflow "w" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "a" }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = "${task.a.s}b" }
  }
  task "c" {
    uses   = "fake.echo"
    inputs = { s = "${task.b.s}c" }
  }
  output "c" { value = task.c.s }
}`
	p := NewPlan(planGraph(t, src), nil, 4, nil)
	calls := map[string]int{}
	var queue []*Call
	take := func(ops []Op) {
		for _, op := range ops {
			if op.Call != nil && (op.Kind == OpStart || op.Kind == OpCall) {
				queue = append(queue, op.Call)
			}
		}
	}
	take(p.Start())
	p.Hold()
	c := queue[0]
	queue = queue[1:]
	calls[c.Name]++
	take(p.Done(c, fakeAnswer(c)))
	if len(queue) != 0 || p.Complete() {
		t.Fatalf("the held plan started %d calls", len(queue))
	}
	take(p.Release())
	if len(queue) != 1 || queue[0].Name != "b" {
		t.Fatalf("released: %d calls", len(queue))
	}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		calls[c.Name]++
		take(p.Done(c, fakeAnswer(c)))
	}
	outs, err := p.Outputs()
	if err != nil || !p.Complete() {
		t.Fatalf("released plan: complete %v, %v", p.Complete(), err)
	}
	if got := FormatValue(outs["c"]); got != "a!b!c!" {
		t.Errorf("released run's output %s, want a!b!c!", got)
	}
	for name, n := range calls {
		if n != 1 {
			t.Errorf("call %s made %d times", name, n)
		}
	}
}

// A new plan given a for_each's instances that ended in an earlier plan
// (KeepInstances) calls only the others, counts the kept ones, failed
// ones included, and ends as one plan would have.
func TestPlanKeepInstances(t *testing.T) {
	src := `workflow "w" {
  input "xs" { type = list(string) }
  task "e" {
    uses              = "fake.echo"
    for_each          = input.xs
    max_parallel      = 2
    min_success_ratio = 0.5
    inputs            = { s = each.value }
  }
  task "z" {
    uses   = "fake.echo"
    inputs = { s = jsonencode(task.e.s) }
  }
  output "z" { value = task.z.s }
}`
	xs := cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("bad1"), cty.StringVal("c"), cty.StringVal("d")})
	inputs := map[string]cty.Value{"xs": xs}
	whole := trace(NewPlan(planGraph(t, src), inputs, 4, nil), fakeAnswer, false)
	result := func(i int) CallResult {
		s := xs.Index(cty.NumberIntVal(int64(i))).AsString()
		return fakeAnswer(&Call{Node: &Node{Task: "echo"}, Inputs: json.RawMessage(fmt.Sprintf(`{"s":%q}`, s))})
	}
	for _, tc := range []struct {
		name  string
		kept  []int
		calls string
	}{
		{"none", nil, "e@0 e@1 e@2 e@3 z"},
		{"the first", []int{0}, "e@1 e@2 e@3 z"},
		{"a failed one", []int{1}, "e@0 e@2 e@3 z"},
		{"not in order", []int{3, 1}, "e@0 e@2 z"},
		{"all", []int{0, 1, 2, 3}, "z"},
		{"out of range", []int{7}, "e@0 e@1 e@2 e@3 z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(planGraph(t, src), inputs, 4, nil)
			kept := map[int]CallResult{}
			for _, i := range tc.kept {
				if i < 4 {
					kept[i] = result(i)
				} else {
					kept[i] = CallResult{}
				}
			}
			p.KeepInstances("e", kept)
			var calls []string
			lines := trace(p, func(c *Call) CallResult {
				calls = append(calls, c.Name)
				return fakeAnswer(c)
			}, false)
			if got := strings.Join(calls, " "); got != tc.calls {
				t.Errorf("calls %s, want %s", got, tc.calls)
			}
			var got, want []string
			for _, l := range lines {
				if !strings.HasPrefix(l, "call ") && !strings.HasPrefix(l, "start ") {
					got = append(got, l)
				}
			}
			for _, l := range whole {
				if !strings.HasPrefix(l, "call ") && !strings.HasPrefix(l, "start ") {
					want = append(want, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("ops\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// Cancelling a for_each with kept instances fails only those not
// started and not kept.
func TestPlanKeepInstancesCancel(t *testing.T) {
	g := planGraph(t, `workflow "w" {
  input "xs" { type = list(string) }
  task "e" {
    uses         = "fake.echo"
    for_each     = input.xs
    max_parallel = 1
    inputs       = { s = each.value }
  }
}`)
	p := NewPlan(g, map[string]cty.Value{"xs": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b"), cty.StringVal("c")})}, 4, nil)
	p.KeepInstances("e", map[int]CallResult{1: {Outputs: map[string]cty.Value{"s": cty.StringVal("b!")}}})
	ops := p.Start()
	first := ops[len(ops)-1].Call
	if first == nil || first.Name != "e@0" {
		t.Fatalf("first call %+v", ops)
	}
	p.Cancel(errCancelled)
	ops = p.Done(first, fakeAnswer(first))
	if len(ops) != 1 || ops[0].Kind != OpFail || len(ops[0].Failed) != 1 || FormatValue(ops[0].Failed[0].Key) != "2" {
		t.Errorf("after the last instance returned: %+v", ops)
	}
}
