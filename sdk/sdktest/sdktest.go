// Package sdktest runs goflyte tasks in a test, in-process but over a real
// gRPC connection, so a task sees exactly what it would see under the
// engine: JSON inputs decoded by the sdk, execution parameters, and errors
// that cross the wire as *plugin.TaskError.
//
//	func TestSplit(t *testing.T) {
//		res, err := sdktest.Run(t, sdk.Func(split), map[string]any{"text": "a b"})
//		if err != nil {
//			t.Fatal(err)
//		}
//		var out splitOut
//		if err := res.Decode(&out); err != nil {
//			t.Fatal(err)
//		}
//		...
//	}
//
// It leaves process-level behaviour (start-up, a plugin that exits) to the
// engine's end-to-end tests.
package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

// Options configure [RunWithOptions]. Zero fields get defaults.
type Options struct {
	// Plugin is the plugin's name; default "test".
	Plugin string
	// Task is the name the task is served under; default "task".
	Task string
	// Params are the execution parameters sent with the request. Zero
	// fields default to: ExecutionID "local:local:local", ExecutionDate
	// now, WorkingDirectory a fresh t.TempDir(), Mode
	// ModeLocalTaskExecution, TaskID "<Plugin>.<Task>", Attempt 1.
	// EnableDeck is always set, unless DisableDeck is.
	Params plugin.Params
	// DisableDeck runs the task as without enable_deck = true: its decks
	// are not returned.
	DisableDeck bool
	// Context is the context of the call; nil means t.Context().
	Context context.Context
	// Secrets are sent to the task as the engine would send its resolved
	// secrets, keyed by "group/key" (or "group/version/key", or "key" for a
	// group-less secret).
	Secrets map[string]string
}

// Result is a task's result.
type Result struct {
	// Decks are the decks the task made (see sdk.Deck), in the order it
	// made them; set also when the task failed.
	Decks []plugin.Deck
	// Outputs are the outputs as encoding/json decodes them into any:
	// numbers are float64, lists []any, objects map[string]any.
	Outputs map[string]any
	// Raw is the outputs object as the task sent it.
	Raw json.RawMessage
	// Metrics are what the task recorded with sdk.Params(ctx).Stats().
	Metrics []plugin.Metric
}

// Decode decodes the outputs into v, typically a pointer to the task's
// output struct.
func (r *Result) Decode(v any) error {
	return json.Unmarshal(r.Raw, v)
}

// Run runs task once with inputs, which may be any value that encodes as a
// JSON object (a map[string]any, the task's input struct) or nil for none.
// It serves the task with sdk.NewProvider over an in-process gRPC
// connection that is closed when t ends.
//
// A task that fails returns an error that is a *plugin.TaskError (check
// with errors.As); the error values the task returned do not cross the
// wire, only their messages, diagnostics and retryable flag. The Result is
// then non-nil too and holds only the decks and metrics the task made.
// Inputs that do not encode as a JSON object fail the test.
func Run(t testing.TB, task sdk.Task, inputs any) (*Result, error) {
	t.Helper()
	return RunWithOptions(t, Options{}, task, inputs)
}

// RunWithOptions is [Run] with options: names, execution parameters and a
// context.
//
// Besides running the task, it checks the result against the task's
// schema and reports a mismatch with t.Errorf: an output the schema does
// not declare, or a required output that is missing.
func RunWithOptions(t testing.TB, opts Options, task sdk.Task, inputs any) (*Result, error) {
	t.Helper()
	if opts.Plugin == "" {
		opts.Plugin = "test"
	}
	if opts.Task == "" {
		opts.Task = "task"
	}
	if opts.Context == nil {
		opts.Context = t.Context()
	}
	p := opts.Params
	if p.ExecutionID == "" {
		p.ExecutionID = "local:local:local"
	}
	if p.ExecutionDate.IsZero() {
		p.ExecutionDate = time.Now().UTC()
	}
	if p.WorkingDirectory == "" {
		p.WorkingDirectory = t.TempDir()
	}
	if p.Mode == plugin.ModeUnspecified {
		p.Mode = plugin.ModeLocalTaskExecution
	}
	if p.TaskID == "" {
		p.TaskID = opts.Plugin + "." + opts.Task
	}
	if p.Attempt == 0 {
		p.Attempt = 1
	}
	p.EnableDeck = !opts.DisableDeck

	in, err := encodeInputs(inputs)
	if err != nil {
		t.Fatalf("sdktest: inputs: %v", err)
	}

	provider := sdk.NewProvider(opts.Plugin, "test", map[string]sdk.Task{opts.Task: task})
	host := plugin.TestProvider(t, provider)
	req := &plugin.ExecuteRequest{Task: opts.Task, Inputs: in, Params: p}
	for name, value := range opts.Secrets {
		parts := strings.Split(name, "/")
		var r plugin.SecretRequest
		switch len(parts) {
		case 1:
			r.Key = parts[0]
		case 2:
			r.Group, r.Key = parts[0], parts[1]
		case 3:
			r.Group, r.Version, r.Key = parts[0], parts[1], parts[2]
		default:
			t.Fatalf("sdktest: secret name %q: want group/key, group/version/key or key", name)
		}
		req.Secrets = append(req.Secrets, plugin.Secret{SecretRequest: r, Value: []byte(value)})
	}
	res, err := host.Execute(opts.Context, req)
	if err != nil {
		var te *plugin.TaskError
		if !errors.As(err, &te) {
			return nil, err
		}
		r := &Result{}
		if res != nil {
			r.Decks, r.Metrics = res.Decks, res.Metrics
		}
		return r, err
	}
	r := &Result{Raw: res.Outputs, Decks: res.Decks, Metrics: res.Metrics}
	if err := json.Unmarshal(res.Outputs, &r.Outputs); err != nil || r.Outputs == nil {
		t.Errorf("sdktest: task %q: outputs are not a JSON object: %s", opts.Task, res.Outputs)
		return r, nil
	}
	checkOutputs(t, opts.Task, task.Schema(), r.Outputs)
	return r, nil
}

func encodeInputs(inputs any) (json.RawMessage, error) {
	if inputs == nil {
		return json.RawMessage(`{}`), nil
	}
	data, err := json.Marshal(inputs)
	if err != nil {
		return nil, err
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &notObjectError{data: data}
	}
	return data, nil
}

type notObjectError struct{ data []byte }

func (e *notObjectError) Error() string {
	return "want a value that encodes as a JSON object, got " + string(e.data)
}

func checkOutputs(t testing.TB, task string, schema plugin.TaskSchema, outputs map[string]any) {
	t.Helper()
	for name := range outputs {
		if _, ok := schema.Output(name); !ok {
			t.Errorf("sdktest: task %q returned output %q, which its schema does not declare", task, name)
		}
	}
	for _, f := range schema.Outputs {
		if _, ok := outputs[f.Name]; !ok && !f.Optional {
			t.Errorf("sdktest: task %q did not return its required output %q", task, f.Name)
		}
	}
}
