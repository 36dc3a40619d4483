package sdktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

type countIn struct {
	Words []string `json:"words"`
}

type countOut struct {
	N      int `json:"n"`
	Unique int `json:"unique"`
}

func count(_ context.Context, in countIn) (countOut, error) {
	seen := map[string]bool{}
	for _, w := range in.Words {
		seen[w] = true
	}
	return countOut{N: len(in.Words), Unique: len(seen)}, nil
}

func TestRun(t *testing.T) {
	res, err := sdktest.Run(t, sdk.Func(count), map[string]any{"words": []string{"a", "b", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"n": 3.0, "unique": 2.0}, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	var out countOut
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out != (countOut{N: 3, Unique: 2}) {
		t.Errorf("decoded %+v", out)
	}
}

func TestRunStructInputs(t *testing.T) {
	res, err := sdktest.Run(t, sdk.Func(count), countIn{Words: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["n"] != 1.0 {
		t.Errorf("outputs %v", res.Outputs)
	}
}

func TestRunTaskError(t *testing.T) {
	task := sdk.Func(func(context.Context, struct{}) (struct{}, error) {
		return struct{}{}, sdk.Retryable(errors.New("try again"))
	})
	_, err := sdktest.Run(t, task, nil)
	var te *plugin.TaskError
	if !errors.As(err, &te) || te.Message != "try again" || !te.Retryable {
		t.Errorf("got %#v, want a retryable TaskError", err)
	}
}

type paramsOut struct {
	Dir     string `json:"dir"`
	Mode    string `json:"mode"`
	TaskID  string `json:"task_id"`
	Attempt int    `json:"attempt"`
}

var paramsTask = sdk.Func(func(ctx context.Context, _ struct{}) (paramsOut, error) {
	p := sdk.Params(ctx)
	return paramsOut{Dir: p.WorkingDirectory, Mode: p.Mode.String(), TaskID: p.TaskID, Attempt: p.Attempt}, nil
})

func TestRunDefaultParams(t *testing.T) {
	var dirs []string
	for range 2 {
		res, err := sdktest.Run(t, paramsTask, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out paramsOut
		if err := res.Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out.Mode != "LOCAL_TASK_EXECUTION" || out.TaskID != "test.task" || out.Attempt != 1 {
			t.Errorf("unexpected defaults %+v", out)
		}
		if fi, err := os.Stat(out.Dir); err != nil || !fi.IsDir() {
			t.Errorf("working directory %q: %v", out.Dir, err)
		}
		dirs = append(dirs, out.Dir)
	}
	if dirs[0] == dirs[1] {
		t.Error("two runs shared a working directory")
	}
}

func TestRunWithOptions(t *testing.T) {
	dir := t.TempDir()
	res, err := sdktest.RunWithOptions(t, sdktest.Options{
		Plugin: "text",
		Task:   "env",
		Params: plugin.Params{WorkingDirectory: dir, Mode: sdk.ModeLocalWorkflowExecution, Attempt: 3},
	}, paramsTask, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"dir": dir, "mode": "LOCAL_WORKFLOW_EXECUTION", "task_id": "text.env", "attempt": 3.0}
	if diff := cmp.Diff(want, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
}

func TestRunCancelledContext(t *testing.T) {
	task := sdk.Func(func(ctx context.Context, _ struct{}) (struct{}, error) {
		<-ctx.Done()
		return struct{}{}, ctx.Err()
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := sdktest.RunWithOptions(t, sdktest.Options{Context: ctx}, task, nil)
	if err == nil {
		t.Error("a cancelled run succeeded")
	}
}

// recorder is a testing.TB that records failures instead of failing the
// test, to check what sdktest reports.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// runRecorded runs fn with a recorder on its own goroutine, so that Fatalf
// can end it.
func runRecorded(t *testing.T, fn func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r.failures
}

// undeclared is a hand-written task whose result does not match its schema.
type undeclared struct{}

func (undeclared) Schema() plugin.TaskSchema {
	return plugin.TaskSchema{Outputs: []plugin.Field{{Name: "n", Type: "number"}}}
}

func (undeclared) Execute(context.Context, *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	return &plugin.ExecuteResult{Outputs: json.RawMessage(`{"m": 1}`)}, nil
}

func TestRunChecksOutputsAgainstSchema(t *testing.T) {
	failures := runRecorded(t, func(tb testing.TB) { sdktest.Run(tb, undeclared{}, nil) })
	if len(failures) != 2 { // "m" is not declared; "n" is missing
		t.Errorf("got failures %q, want two", failures)
	}
}

func TestRunInputsNotAnObject(t *testing.T) {
	for _, inputs := range []any{[]int{1}, "text", func() {}} {
		failures := runRecorded(t, func(tb testing.TB) { sdktest.Run(tb, sdk.Func(count), inputs) })
		if len(failures) != 1 {
			t.Errorf("inputs %T: got failures %q, want one", inputs, failures)
		}
	}
}
