package sdk_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

type seenParams struct {
	ExecutionID      string    `json:"execution_id"`
	ExecutionDate    time.Time `json:"execution_date"`
	WorkingDirectory string    `json:"working_directory"`
	Mode             int       `json:"mode"`
	TaskID           string    `json:"task_id"`
	Node             string    `json:"node"`
	Attempt          int       `json:"attempt"`
	HasLogger        bool      `json:"has_logger"`
}

// paramsTask reports the execution parameters it sees.
var paramsTask = sdk.Func(func(ctx context.Context, _ struct{}) (seenParams, error) {
	p := sdk.Params(ctx)
	p.Logger.Info("reporting params")
	return seenParams{
		ExecutionID:      p.ExecutionID,
		ExecutionDate:    p.ExecutionDate,
		WorkingDirectory: p.WorkingDirectory,
		Mode:             int(p.Mode),
		TaskID:           p.TaskID,
		Node:             p.Node,
		Attempt:          p.Attempt,
		HasLogger:        p.Logger != nil && p.Stderr != nil,
	}, nil
})

func TestParams(t *testing.T) {
	date := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	dir := t.TempDir()
	res, err := sdktest.RunWithOptions(t, sdktest.Options{
		Plugin: "text",
		Task:   "env",
		Params: plugin.Params{
			ExecutionID:      "proj:dev:abc123",
			ExecutionDate:    date,
			WorkingDirectory: dir,
			Mode:             sdk.ModeLocalWorkflowExecution,
			TaskID:           "text.env",
			Node:             "report",
			Attempt:          2,
			LogLevel:         "debug",
		},
	}, paramsTask, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got seenParams
	if err := res.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := seenParams{
		ExecutionID:      "proj:dev:abc123",
		ExecutionDate:    date,
		WorkingDirectory: dir,
		Mode:             int(sdk.ModeLocalWorkflowExecution),
		TaskID:           "text.env",
		Node:             "report",
		Attempt:          2,
		HasLogger:        true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("params mismatch (-want +got):\n%s", diff)
	}
}

func TestParamsSdktestDefaults(t *testing.T) {
	before := time.Now().Add(-time.Second)
	res, err := sdktest.Run(t, paramsTask, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got seenParams
	if err := res.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.ExecutionID != "local:local:local" || got.Mode != int(sdk.ModeLocalTaskExecution) ||
		got.TaskID != "test.task" || got.Attempt != 1 || got.ExecutionDate.Before(before) {
		t.Errorf("unexpected default params: %+v", got)
	}
	if fi, err := os.Stat(got.WorkingDirectory); err != nil || !fi.IsDir() {
		t.Errorf("working directory %q: %v", got.WorkingDirectory, err)
	}
}

func TestParamsOutsideTask(t *testing.T) {
	p := sdk.Params(context.Background())
	if p.ExecutionID != "local:local:local" || p.Mode != sdk.ModeUnspecified || p.Attempt != 1 ||
		p.WorkingDirectory != os.TempDir() || p.Logger == nil || p.Stderr == nil {
		t.Errorf("unexpected defaults: %+v", p)
	}
	if d := time.Since(p.ExecutionDate); d < 0 || d > time.Hour {
		t.Errorf("ExecutionDate %v is not about now", p.ExecutionDate)
	}
	// Each call returns its own copy.
	p.ExecutionID = "changed"
	if sdk.Params(context.Background()).ExecutionID != "local:local:local" {
		t.Error("changing the defaults of one call changed those of the next")
	}
}

func TestModeConstants(t *testing.T) {
	if sdk.ModeLocalWorkflowExecution.String() != "LOCAL_WORKFLOW_EXECUTION" || sdk.ModeLocalTaskExecution != plugin.ModeLocalTaskExecution {
		t.Error("sdk modes differ from plugin modes")
	}
}
