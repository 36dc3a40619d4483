package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/goflyte/goflyte/engine"
)

// ServeWorkflows returns the WorkerOptions.Workflows hook of a worker
// that also runs runs' interpreter workflows: it registers
// RegisterWorkflow's workflows and the local activity
// ActivityLoadOutputs, which reads a task's outputs that travelled as a
// reference from e's data store (e.Storage).
func ServeWorkflows(e *engine.Engine) func(worker.WorkflowRegistry) {
	return func(r worker.WorkflowRegistry) {
		RegisterWorkflow(r)
		if ar, ok := r.(worker.ActivityRegistry); ok {
			ar.RegisterActivityWithOptions(LoadOutputs(e), activity.RegisterOptions{Name: ActivityLoadOutputs})
		}
	}
}

// LoadOutputs returns the ActivityLoadOutputs activity over e's data
// store: it fetches the object at uri (TaskOutput.OutputsRef) and returns
// it as JSON.
func LoadOutputs(e *engine.Engine) func(context.Context, string) (json.RawMessage, error) {
	return func(ctx context.Context, uri string) (json.RawMessage, error) {
		if e.Storage == nil {
			return nil, fmt.Errorf("load outputs %s: the worker has no data store", uri)
		}
		dir, err := os.MkdirTemp("", "goflyte-outputs-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		dst := filepath.Join(dir, "outputs.json")
		if err := e.Storage.Fetch(ctx, uri, dst, false); err != nil {
			return nil, fmt.Errorf("load outputs %s: %w", uri, err)
		}
		data, err := os.ReadFile(dst)
		if err != nil {
			return nil, err
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("load outputs %s: not JSON", uri)
		}
		return json.RawMessage(data), nil
	}
}
