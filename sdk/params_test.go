package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// resumable counts to n in steps, one step per attempt, and keeps its
// place in the checkpoint: each attempt but the last fails.
var resumable = sdk.Func(func(ctx context.Context, in struct {
	N int `json:"n"`
}) (struct{ Steps []string }, error) {
	cp := sdk.Params(ctx).Checkpoint()
	state, err := cp.Read()
	if err != nil {
		return struct{ Steps []string }{}, err
	}
	steps := strings.Fields(string(state))
	steps = append(steps, fmt.Sprintf("attempt%d", sdk.Params(ctx).Attempt))
	if err := cp.Write([]byte(strings.Join(steps, " "))); err != nil {
		return struct{ Steps []string }{}, err
	}
	if len(steps) < in.N {
		return struct{ Steps []string }{}, sdk.Retryable(errors.New("not done yet"))
	}
	return struct{ Steps []string }{steps}, nil
})

func TestCheckpointAcrossAttempts(t *testing.T) {
	cps := t.TempDir()
	var prev string
	for attempt := 1; attempt <= 3; attempt++ {
		dest := filepath.Join(cps, fmt.Sprintf("count.%d", attempt))
		res, err := sdktest.RunWithOptions(t, sdktest.Options{Params: plugin.Params{
			Attempt: attempt, WorkingDirectory: t.TempDir(), TmpDir: t.TempDir(),
			CheckpointDir: dest, PrevCheckpointDir: prev,
		}}, resumable, map[string]any{"n": 3})
		if attempt < 3 {
			var te *plugin.TaskError
			if !errors.As(err, &te) || !te.Retryable {
				t.Fatalf("attempt %d: %v, want a retryable task error", attempt, err)
			}
			prev = dest
			continue
		}
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		var out struct{ Steps []string }
		if err := res.Decode(&out); err != nil {
			t.Fatal(err)
		}
		if want := []string{"attempt1", "attempt2", "attempt3"}; !slices.Equal(out.Steps, want) {
			t.Errorf("steps = %v, want %v", out.Steps, want)
		}
	}
}

func TestRandomLocalDir(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "run", "tmp") // made on first use
	task := sdk.Func(func(ctx context.Context, _ struct{}) (struct{ A, B string }, error) {
		a, err := sdk.Params(ctx).RandomLocalDir()
		if err != nil {
			return struct{ A, B string }{}, err
		}
		b, err := sdk.Params(ctx).RandomLocalDir()
		return struct{ A, B string }{a, b}, err
	})
	res, err := sdktest.RunWithOptions(t, sdktest.Options{Params: plugin.Params{TmpDir: tmp}}, task, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ A, B string }
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{out.A, out.B} {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || filepath.Dir(dir) != tmp {
			t.Errorf("RandomLocalDir() = %q (%v), want a new directory in %s", dir, err, tmp)
		}
		if fi != nil && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", dir, fi.Mode().Perm())
		}
	}
	if out.A == out.B {
		t.Errorf("two calls gave the same directory %s", out.A)
	}
}

func TestParamsOutsideATaskCheckpoint(t *testing.T) {
	// The checkpoint saves into a new directory of the system's temporary
	// directory: this test's own, so that it leaves nothing behind.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	p := sdk.Params(context.Background())
	cp := p.Checkpoint()
	if cp == nil || cp.PrevExists() {
		t.Fatalf("Checkpoint() outside a task = %v, want one with nothing to restore", cp)
	}
	if b, err := cp.Read(); b != nil || err != nil {
		t.Errorf("Read() = %q, %v", b, err)
	}
	if err := cp.Write([]byte("x")); err != nil {
		t.Errorf("Write outside a task: %v", err)
	}
	if saved, _ := filepath.Glob(filepath.Join(tmp, "goflyte-checkpoint-*", "_dst_cp")); len(saved) != 1 {
		t.Errorf("checkpoint files under $TMPDIR = %q, want one", saved)
	}
	if sdk.Params(context.Background()).Checkpoint() == cp {
		t.Error("two Params outside a task share one checkpoint")
	}
}
