package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/goflyte/goflyte/plugin"
)

// fakeProvider is an in-process plugin for unit tests of the engine: each
// task is a Go func over decoded JSON. The real subprocess path is covered
// by the end-to-end tests in cmd/goflyte.
type fakeProvider struct {
	schema *plugin.Schema
	funcs  map[string]func(ctx context.Context, in map[string]any, p plugin.Params) (map[string]any, error)

	mu       sync.Mutex
	calls    []plugin.ExecuteRequest
	inFlight atomic.Int32
	maxIn    atomic.Int32
	counter  atomic.Int32

	failFlaky atomic.Bool
	retries   atomic.Int32
	metered   atomic.Int32
	release   chan struct{} // closed when the test ends: hang returns
}

func (f *fakeProvider) Describe(context.Context) (*plugin.Schema, error) { return f.schema, nil }

func (f *fakeProvider) Execute(ctx context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, *req)
	f.mu.Unlock()
	fn := f.funcs[req.Task]
	var in map[string]any
	if err := json.Unmarshal(req.Inputs, &in); err != nil {
		return nil, err
	}
	switch req.Task {
	case "secrets", "needs":
		// Report the names of the secrets sent and the total length of
		// their values (never the values).
		names := []string{}
		total := 0
		for _, sec := range req.Secrets {
			names = append(names, sec.SecretRequest.String())
			total += len(sec.Value)
		}
		fn = func(context.Context, map[string]any, plugin.Params) (map[string]any, error) {
			return map[string]any{"names": names, "total": total}, nil
		}
	case "dyn":
		var in map[string]any
		_ = json.Unmarshal(req.Inputs, &in)
		return &plugin.ExecuteResult{Workflow: fmt.Sprintf(`workflow "g" {
  task "e" {
    uses   = "fake.echo"
    inputs = { s = %q }
  }
  task "p" { uses = "fake.params" }
  output "s" { value = "${task.e.s}!" }
  output "mode" { value = task.p.mode }
}`, in["s"])}, nil
	case "dyn_nested":
		return &plugin.ExecuteResult{Workflow: `workflow "outer" {
  task "inner" {
    uses   = "fake.dyn"
    inputs = { s = "deep" }
  }
  output "s" { value = task.inner.s }
}`}, nil
	case "dyn_bad":
		return &plugin.ExecuteResult{Workflow: `workflow "bad" {
  task "x" { uses = "nope.task" }
  output "s" { value = "x" }
}`}, nil
	case "eager":
		// Runs fake.echo n times at once through the host, and
		// fake.params once to report the children's mode.
		var in map[string]any
		_ = json.Unmarshal(req.Inputs, &in)
		n := int(in["n"].(float64))
		results := make([]string, n+1)
		errs := make([]error, n+1)
		var wg sync.WaitGroup
		for i := 0; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				task, inputs := "fake.echo", fmt.Sprintf(`{"s":"child %d"}`, i)
				if i == n {
					task, inputs = "fake.params", `{}`
				}
				out, err := req.Host.RunTask(ctx, req.CallID, task, json.RawMessage(inputs))
				results[i], errs[i] = string(out), err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		data, _ := json.Marshal(map[string]any{"results": results})
		return &plugin.ExecuteResult{Outputs: data}, nil
	case "metered":
		// Records metrics, as the sdk does, and returns them also when it
		// fails: retryably until called more than fails times.
		var in map[string]any
		_ = json.Unmarshal(req.Inputs, &in)
		calls := f.metered.Add(1)
		res := &plugin.ExecuteResult{Metrics: []plugin.Metric{
			{Name: "calls", Kind: plugin.Counter, Tags: map[string]string{"k": "v"}, Value: 1, Count: 1},
			{Name: "statsd", Kind: plugin.Gauge, Value: boolFloat(req.Params.StatsD != nil), Count: 1},
		}}
		if int(calls) <= int(in["fails"].(float64)) {
			return res, &plugin.TaskError{Message: "try again", Retryable: true}
		}
		res.Outputs, _ = json.Marshal(map[string]any{"calls": calls})
		return res, nil
	case "reveal": // a careless task: returns its secrets as an output
		var all []string
		for _, sec := range req.Secrets {
			all = append(all, string(sec.Value))
		}
		data, _ := json.Marshal(map[string]any{"x": "token=" + strings.Join(all, ",")})
		return &plugin.ExecuteResult{Outputs: data}, nil
	case "leak":
		var all []string
		for _, sec := range req.Secrets {
			all = append(all, string(sec.Value))
		}
		return nil, &plugin.TaskError{Message: "cannot log in with " + strings.Join(all, ","),
			Diagnostics: []plugin.Diagnostic{{Summary: "bad token", Detail: "the token " + strings.Join(all, ",") + " was refused"}}}
	}
	if fn == nil {
		return nil, &plugin.TaskError{Message: "no such task " + req.Task}
	}
	out, err := fn(ctx, in, req.Params)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(out)
	return &plugin.ExecuteResult{Outputs: data}, err
}

func (f *fakeProvider) callsOf(task string) []plugin.ExecuteRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []plugin.ExecuteRequest
	for _, c := range f.calls {
		if c.Task == task {
			out = append(out, c)
		}
	}
	return out
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func field(name, ty string) plugin.Field { return plugin.Field{Name: name, Type: ty} }

// newFake returns the "fake" plugin used by the engine tests.
func newFake() *fakeProvider {
	f := &fakeProvider{
		release: make(chan struct{}),
		schema: &plugin.Schema{Name: "fake", Version: "1.0.0", Tasks: []plugin.TaskSchema{
			{Name: "echo", Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string")}},
			{Name: "add", Inputs: []plugin.Field{field("a", "number"), field("b", "number")}, Outputs: []plugin.Field{field("sum", "number")}},
			{Name: "words", Inputs: []plugin.Field{field("text", "string")}, Outputs: []plugin.Field{field("words", "list(string)")}},
			{Name: "count", Inputs: []plugin.Field{field("words", "list(string)")}, Outputs: []plugin.Field{field("n", "number")}},
			{Name: "fail", Inputs: []plugin.Field{field("message", "string")}, Outputs: []plugin.Field{field("never", "string")}},
			{Name: "opt", Inputs: []plugin.Field{field("x", "number"), {Name: "label", Type: "string", Optional: true}}, Outputs: []plugin.Field{field("label", "string")}},
			{Name: "params", Outputs: []plugin.Field{field("id", "string"), field("dir", "string"), field("mode", "string"), field("date", "string"), field("node", "string")}},
			{Name: "barrier", Inputs: []plugin.Field{field("n", "number")}, Outputs: []plugin.Field{field("ok", "bool")}},
			{Name: "bad", Outputs: []plugin.Field{field("n", "number")}},
			{Name: "secrets", Outputs: []plugin.Field{field("names", "list(string)"), field("total", "number")}},
			{Name: "needs", Outputs: []plugin.Field{field("names", "list(string)")}, Secrets: []plugin.SecretRequest{{Group: "plugin", Key: "token"}}},
			{Name: "leak", Outputs: []plugin.Field{field("x", "string")}},
			{Name: "reveal", Outputs: []plugin.Field{field("x", "string")}},
			{Name: "echo2", Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string")}},
			{Name: "counter", Inputs: []plugin.Field{field("x", "any"), {Name: "note", Type: "string", Optional: true}}, Outputs: []plugin.Field{field("n", "number")}},
			{Name: "memo", Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string")}, Cacheable: true, CacheVersion: "p1"},
			{Name: "flaky", Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string")}},
			{Name: "metered", Inputs: []plugin.Field{field("fails", "number")}, Outputs: []plugin.Field{field("calls", "number")}},
			{Name: "retryable", Inputs: []plugin.Field{field("fails", "number")}, Outputs: []plugin.Field{field("calls", "number")}},
			{Name: "hang", Outputs: []plugin.Field{field("x", "string")}},
			{Name: "slowctx", Outputs: []plugin.Field{field("x", "string")}},
			{Name: "failif", Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string")}},
			{Name: "onfail", Inputs: []plugin.Field{field("err", "object({failed_node=string,message=string})"), {Name: "text", Type: "string", Optional: true}}, Outputs: []plugin.Field{field("seen", "string")}},
			{Name: "needs_x", Inputs: []plugin.Field{field("err", "any"), field("x", "number")}},
			{Name: "dyn", Kind: plugin.KindDynamic, Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string"), field("mode", "string")}},
			{Name: "dyn_nested", Kind: plugin.KindDynamic, Outputs: []plugin.Field{field("s", "string")}},
			{Name: "dyn_bad", Kind: plugin.KindDynamic, Outputs: []plugin.Field{field("s", "string")}},
			{Name: "eager", Kind: plugin.KindEager, Inputs: []plugin.Field{field("n", "number")}, Outputs: []plugin.Field{field("results", "list(string)")}},
			{Name: "picky", Inputs: []plugin.Field{field("x", "number")}, Outputs: []plugin.Field{field("x", "number")}},
		}},
	}
	var barrierMu sync.Mutex
	barrierCh := map[int]chan struct{}{}
	barrierCount := map[int]int{}
	f.funcs = map[string]func(context.Context, map[string]any, plugin.Params) (map[string]any, error){
		"echo": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return map[string]any{"s": in["s"]}, nil
		},
		"add": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return map[string]any{"sum": in["a"].(float64) + in["b"].(float64)}, nil
		},
		"words": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			var words []string
			word := ""
			for _, r := range in["text"].(string) + " " {
				if r == ' ' {
					if word != "" {
						words = append(words, word)
					}
					word = ""
					continue
				}
				word += string(r)
			}
			return map[string]any{"words": words}, nil
		},
		"count": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return map[string]any{"n": len(in["words"].([]any))}, nil
		},
		"fail": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return nil, &plugin.TaskError{Message: in["message"].(string)}
		},
		"opt": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			label, ok := in["label"].(string)
			if !ok {
				label = "(none)"
			}
			return map[string]any{"label": label}, nil
		},
		"params": func(_ context.Context, _ map[string]any, p plugin.Params) (map[string]any, error) {
			return map[string]any{"id": p.ExecutionID, "dir": p.WorkingDirectory, "mode": p.Mode.String(), "date": p.ExecutionDate.Format("2006-01-02T15:04:05.000000000Z07:00"), "node": p.Node}, nil
		},
		// barrier returns only once n calls are in it at the same time,
		// which proves that n tasks really run in parallel.
		"barrier": func(ctx context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			n := int(in["n"].(float64))
			barrierMu.Lock()
			ch, ok := barrierCh[n]
			if !ok {
				ch = make(chan struct{})
				barrierCh[n] = ch
			}
			barrierCount[n]++
			if barrierCount[n] == n {
				close(ch)
			}
			barrierMu.Unlock()
			select {
			case <-ch:
				return map[string]any{"ok": true}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		"echo2": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return map[string]any{"s": in["s"]}, nil
		},
		"memo": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return map[string]any{"s": in["s"]}, nil
		},
		// counter returns how many times it has been called, so a test can
		// tell a cached result from a fresh one.
		"counter": func(context.Context, map[string]any, plugin.Params) (map[string]any, error) {
			return map[string]any{"n": f.counter.Add(1)}, nil
		},
		// flaky fails while failFlaky is set.
		"flaky": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			if f.failFlaky.Load() {
				return nil, &plugin.TaskError{Message: "flaky failed"}
			}
			return map[string]any{"s": in["s"]}, nil
		},
		// retryable fails with a retryable error until it has been called
		// more than fails times.
		"retryable": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			calls := f.retries.Add(1)
			if int(calls) <= int(in["fails"].(float64)) {
				return nil, &plugin.TaskError{Message: "try again", Retryable: true}
			}
			return map[string]any{"calls": calls}, nil
		},
		// hang ignores cancellation.
		"hang": func(context.Context, map[string]any, plugin.Params) (map[string]any, error) {
			<-f.release
			return map[string]any{"x": "late"}, nil
		},
		// slowctx returns when its context ends.
		"slowctx": func(ctx context.Context, _ map[string]any, _ plugin.Params) (map[string]any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		"failif": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			if in["s"] == "bad" {
				return nil, &plugin.TaskError{Message: "bad element"}
			}
			return map[string]any{"s": in["s"]}, nil
		},
		"onfail": func(_ context.Context, in map[string]any, _ plugin.Params) (map[string]any, error) {
			return map[string]any{"seen": "ok"}, nil
		},
		"picky": func(context.Context, map[string]any, plugin.Params) (map[string]any, error) {
			return nil, &plugin.TaskError{Diagnostics: []plugin.Diagnostic{{Summary: "Too small", Detail: "x must be big.", Attribute: "x"}}}
		},
		"bad": func(context.Context, map[string]any, plugin.Params) (map[string]any, error) {
			return map[string]any{"n": "not a number"}, nil
		},
	}
	return f
}
