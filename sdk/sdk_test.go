package sdk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

type nameIn struct {
	Name string `json:"name"`
}

type greeting struct {
	Greeting string `json:"greeting"`
}

func greet(_ context.Context, in nameIn) (greeting, error) {
	return greeting{Greeting: "hello, " + in.Name}, nil
}

func explode(_ context.Context, in nameIn) (greeting, error) {
	var m map[string]int
	if in.Name == "nil map" {
		//lint:ignore SA5000 a deliberate runtime error, recovered by the sdk
		m["x"] = 1
	}
	panic("boom: " + in.Name)
}

func TestDescribe(t *testing.T) {
	p := plugin.TestProvider(t, sdk.NewProvider("demo", "1.2.0", map[string]sdk.Task{
		"greet":   sdk.Func(greet).WithDoc("Greets someone."),
		"explode": sdk.Func(explode),
	}))
	got, err := p.Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	in := []plugin.Field{{Name: "name", Type: "string"}}
	out := []plugin.Field{{Name: "greeting", Type: "string"}}
	want := &plugin.Schema{
		Name:                 "demo",
		Version:              "1.2.0",
		LazyWorkingDirectory: true,
		Tasks: []plugin.TaskSchema{ // sorted by name
			{Name: "explode", Kind: plugin.KindPlain, Inputs: in, Outputs: out},
			{Name: "greet", Doc: "Greets someone.", Kind: plugin.KindPlain, Inputs: in, Outputs: out},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema mismatch (-want +got):\n%s", diff)
	}
}

func TestDefaultVersion(t *testing.T) {
	s, err := sdk.NewProvider("demo", "", map[string]sdk.Task{"greet": sdk.Func(greet)}).Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.Version == "" {
		t.Error("no default version")
	}
}

func TestWithDocCopies(t *testing.T) {
	f := sdk.Func(greet)
	a, b := f.WithDoc("A."), f.WithDoc("B.")
	if a.Schema().Doc != "A." || b.Schema().Doc != "B." || f.Schema().Doc != "" {
		t.Error("WithDoc changed the task it was called on")
	}
}

// TestPanicRecovered checks that a panicking task fails with a TaskError
// that starts with "panic: " and carries a stack, and that the plugin
// keeps serving.
func TestPanicRecovered(t *testing.T) {
	p := plugin.TestProvider(t, sdk.NewProvider("demo", "1", map[string]sdk.Task{
		"greet":   sdk.Func(greet),
		"explode": sdk.Func(explode),
	}))
	for _, tc := range []struct{ name, prefix string }{
		{"x", "panic: boom: x\n\n"},
		{"nil map", "panic: assignment to entry in nil map\n\n"},
	} {
		_, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "explode", Inputs: []byte(`{"name":"` + tc.name + `"}`)})
		var te *plugin.TaskError
		if !errors.As(err, &te) {
			t.Fatalf("got %v (%T), want a *plugin.TaskError", err, err)
		}
		t.Log(te.Message)
		if !strings.HasPrefix(te.Message, tc.prefix) {
			t.Errorf("message %q does not start with %q", te.Message, tc.prefix)
		}
		// The trace shows the task function and not the gRPC machinery.
		if !strings.Contains(te.Message, "sdk_test.explode") || strings.Contains(te.Message, "grpc") {
			t.Errorf("stack trace is not cut to the task's frames:\n%s", te.Message)
		}
	}
	res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "greet", Inputs: []byte(`{"name":"again"}`)})
	if err != nil {
		t.Fatalf("after a panic: %v", err)
	}
	if string(res.Outputs) != `{"greeting":"hello, again"}` {
		t.Errorf("after a panic: outputs %s", res.Outputs)
	}
}

func TestUnknownTask(t *testing.T) {
	p := sdk.NewProvider("demo", "1", map[string]sdk.Task{"greet": sdk.Func(greet)})
	_, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "nope", Inputs: []byte(`{}`)})
	var te *plugin.TaskError
	if !errors.As(err, &te) {
		t.Errorf("got %v, want a *plugin.TaskError", err)
	}
}

func TestConcurrentExecutions(t *testing.T) {
	p := plugin.TestProvider(t, sdk.NewProvider("demo", "1", map[string]sdk.Task{"greet": sdk.Func(greet)}))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := strings.Repeat("x", i)
			res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{
				Task: "greet", Inputs: []byte(`{"name":"` + name + `"}`),
				Params: plugin.Params{Attempt: 1, LogLevel: []string{"debug", "info", ""}[i%3]},
			})
			if err != nil {
				t.Error(err)
				return
			}
			if want := `{"greeting":"hello, ` + name + `"}`; string(res.Outputs) != want {
				t.Errorf("got %s, want %s", res.Outputs, want)
			}
		})
	}
	wg.Wait()
}

// customTask is a hand-written Task, to check that NewProvider fills in
// the name and that a custom task gets params and error conversion too.
type customTask struct{}

func (customTask) Schema() plugin.TaskSchema {
	return plugin.TaskSchema{Name: "ignored", Inputs: []plugin.Field{{Name: "x", Type: "number"}}}
}

func (customTask) Execute(ctx context.Context, _ *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	if sdk.Params(ctx).Node != "n1" {
		return nil, errors.New("no params")
	}
	return nil, sdk.AttrError("x", "Bad x", "x is bad.")
}

func TestCustomTask(t *testing.T) {
	p := sdk.NewProvider("demo", "1", map[string]sdk.Task{"custom": customTask{}})
	s, _ := p.Describe(t.Context())
	if s.Tasks[0].Name != "custom" {
		t.Errorf("task name %q, want the map key", s.Tasks[0].Name)
	}
	_, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "custom", Params: plugin.Params{Node: "n1"}})
	var te *plugin.TaskError
	if !errors.As(err, &te) || len(te.Diagnostics) != 1 || te.Diagnostics[0].Attribute != "x" {
		t.Errorf("got %#v, want a TaskError with a diagnostic on x", err)
	}
}

func TestNewProviderPanics(t *testing.T) {
	tests := []struct {
		name    string
		tasks   map[string]sdk.Task
		mention string
	}{
		{"no tasks", nil, "no tasks"},
		{"nil task", map[string]sdk.Task{"split": nil}, "split"},
		{"empty name", map[string]sdk.Task{"ok": sdk.Func(greet), "": sdk.Func(greet)}, `""`},
		{"name with a dot", map[string]sdk.Task{"text.split": sdk.Func(greet)}, "text.split"},
		{"name starting with a digit", map[string]sdk.Task{"1split": sdk.Func(greet)}, "1split"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := panicMessage(func() { sdk.NewProvider("demo", "1", tc.tasks) })
			if msg == "" {
				t.Fatal("did not panic")
			}
			t.Log(msg)
			if !strings.Contains(msg, tc.mention) {
				t.Errorf("panic message %q does not mention %q", msg, tc.mention)
			}
		})
	}
}

func TestTaskNames(t *testing.T) {
	for _, name := range []string{"split", "_x", "to-upper", "A1_b-2"} {
		sdk.NewProvider("demo", "1", map[string]sdk.Task{name: sdk.Func(greet)})
	}
}
