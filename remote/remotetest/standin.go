package remotetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
)

// This file is a stand-in for the interpreter workflow and the workers,
// for the tests of the submitting side (`goflyte run --remote`, `runs ...
// --remote`) until the real ones are merged: it is a fake, and says so.
// It registers a workflow under remote.WorkflowType that walks the tasks
// of the run's main workflow (parsed from RunInput.Sources, no plugin is
// called) in declaration order, one record change every Step, answers
// remote.QueryRecord with its record so far, and ends as the real
// workflow does: the final record as its result, or, for a failed run, an
// ApplicationError whose details are the record; a cancelled run returns
// the cancellation, its record (status cancelled) still queryable, as the
// interpreter on the rflow branch does.

// Behavior says what the stand-in does with one run.
type Behavior struct {
	// Step is the time between two changes of the record.
	Step time.Duration
	// Fail names a task that fails with the error "boom"; the tasks after
	// it are skipped and the run fails.
	Fail string
	// Hold keeps the first task that starts running until the run is
	// cancelled.
	Hold bool
	// Outputs are the run's outputs when it succeeds, TaskOutputs those
	// of the tasks that succeed, by task.
	Outputs     map[string]json.RawMessage
	TaskOutputs map[string]json.RawMessage
	// Logs gives each task the data-store URI of one log,
	// "<DataPrefix>/logs/<task>.log" (the test puts the object there).
	Logs bool
	// OmitNested says of each task that ran that its record left out 2
	// nested calls (TaskRecord.NestedOmitted), as the interpreter's does
	// past remote.MaxNestedRecords: their logs are only in the bucket.
	OmitNested bool
}

// StandIn is the stand-in's configuration: Behave picks the behavior of
// each run from its input (it runs inside the workflow: it must be a pure
// function of in).
type StandIn struct {
	Behave func(in remote.RunInput) Behavior
}

// Inputs records the RunInputs the stand-in was started with, by
// execution id (set by StartStandIn; read it once the run is submitted).
type Inputs struct {
	ch chan remote.RunInput
}

// Next returns the next RunInput a run was started with, waiting up to
// 10 s.
func (in *Inputs) Next(t testing.TB) remote.RunInput {
	t.Helper()
	select {
	case r := <-in.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no run reached the stand-in workflow within 10s")
		return remote.RunInput{}
	}
}

// StartStandIn starts, in the test process, a worker on taskQueue that
// runs the stand-in workflow, and stops it in t.Cleanup. The returned
// Inputs hands over each RunInput the workflow started with.
func StartStandIn(t testing.TB, c client.Client, taskQueue string, s StandIn) *Inputs {
	t.Helper()
	got := &Inputs{ch: make(chan remote.RunInput, 64)}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in remote.RunInput) (*sandbox.Record, error) {
		return standIn(ctx, in, s)
	}, workflow.RegisterOptions{Name: remote.WorkflowType})
	// The workflow reports its input through a local activity: the only
	// way out of a workflow that keeps it deterministic.
	w.RegisterActivityWithOptions(func(_ context.Context, in remote.RunInput) error {
		got.ch <- in
		return nil
	}, activityOptions("standin.report"))
	if err := w.Start(); err != nil {
		t.Fatalf("start the stand-in worker: %v", err)
	}
	t.Cleanup(w.Stop)
	return got
}

// ServePlugins starts, in the test process, a worker that polls the
// queue of each plugin (remote.PluginQueue) with a no-op activity, as a
// `goflyte worker` serving them would, and stops it in t.Cleanup. It
// stands in for the workers' readiness only: the stand-in workflow calls
// no activity there.
func ServePlugins(t testing.TB, c client.Client, taskQueue string, plugins ...string) {
	t.Helper()
	for _, p := range plugins {
		w := worker.New(c, remote.PluginQueue(taskQueue, p), worker.Options{})
		w.RegisterActivityWithOptions(func(context.Context) error { return nil }, activityOptions("standin.noop"))
		if err := w.Start(); err != nil {
			t.Fatalf("start a worker for plugin %s: %v", p, err)
		}
		t.Cleanup(w.Stop)
	}
}

func activityOptions(name string) activity.RegisterOptions {
	return activity.RegisterOptions{Name: name}
}

func standIn(ctx workflow.Context, in remote.RunInput, s StandIn) (*sandbox.Record, error) {
	b := Behavior{Step: 100 * time.Millisecond}
	if s.Behave != nil {
		b = s.Behave(in)
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.ExecuteLocalActivity(lctx, "standin.report", in).Get(lctx, nil); err != nil {
		return nil, err
	}
	rec := &sandbox.Record{
		ID: in.ExecutionID, Name: remote.RunName(in.ExecutionID), Workflow: in.Workflow, File: in.Main,
		Mode: "remote", Inputs: in.Inputs, Status: sandbox.StatusRunning, Start: workflow.Now(ctx), ResumedFrom: in.ResumedFrom,
	}
	if err := workflow.SetQueryHandler(ctx, remote.QueryRecord, func() (*sandbox.Record, error) { return rec, nil }); err != nil {
		return nil, err
	}
	wf, diags := config.NewParser().LoadWorkflowSource([]byte(in.Sources[in.Main]), in.Main)
	if diags.HasErrors() || wf == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("stand-in: %s: %v", in.Main, diags), "standin", nil)
	}
	var w *config.Workflow
	for _, x := range wf.Workflows {
		if x.Name == in.Workflow {
			w = x
		}
	}
	if w == nil {
		return nil, temporal.NewNonRetryableApplicationError("stand-in: no workflow "+in.Workflow, "standin", nil)
	}
	for _, t := range w.Tasks {
		tr := sandbox.TaskRecord{Name: t.Name, Task: t.Uses, Status: sandbox.StatusPending, Deps: t.Deps, Digest: t.Digest}
		if out, ok := in.Resume[t.Name]; ok {
			tr.Status, tr.Resumed, tr.Outputs = sandbox.StatusSucceeded, true, out
		}
		rec.Tasks = append(rec.Tasks, tr)
	}
	failed := false
	for i := range rec.Tasks {
		t := &rec.Tasks[i]
		if t.Resumed {
			continue
		}
		if failed {
			t.Status = sandbox.StatusSkipped
			continue
		}
		if err := workflow.Sleep(ctx, b.Step); err != nil {
			return cancelled(ctx, rec)
		}
		t.Status, t.Start, t.Attempts = sandbox.StatusRunning, workflow.Now(ctx), 1
		if b.OmitNested {
			t.NestedOmitted = 2
		}
		if b.Logs {
			t.LogURIs = []string{in.DataPrefix + "/logs/" + t.Name + ".log"}
		}
		if b.Hold {
			if err := workflow.Await(ctx, func() bool { return false }); err != nil {
				return cancelled(ctx, rec)
			}
		}
		if err := workflow.Sleep(ctx, b.Step); err != nil {
			return cancelled(ctx, rec)
		}
		t.End = workflow.Now(ctx)
		if t.Name == b.Fail {
			t.Status, t.Error = sandbox.StatusFailed, "boom"
			failed = true
			rec.Error = fmt.Sprintf("task %q (%s) failed: boom", t.Name, t.Task)
			continue
		}
		t.Status, t.Outputs = sandbox.StatusSucceeded, b.TaskOutputs[t.Name]
	}
	rec.End = workflow.Now(ctx)
	if failed {
		rec.Status = sandbox.StatusFailed
		return nil, temporal.NewNonRetryableApplicationError(rec.Error, "goflyte.RunFailed", nil, rec)
	}
	rec.Status, rec.Outputs = sandbox.StatusSucceeded, b.Outputs
	return rec, nil
}

// cancelled ends a cancelled run: its record ends cancelled (for the
// query), and the workflow returns the cancellation.
func cancelled(ctx workflow.Context, rec *sandbox.Record) (*sandbox.Record, error) {
	if !errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return nil, ctx.Err()
	}
	rec.Status, rec.Error, rec.End = sandbox.StatusCancelled, "run cancelled", workflow.Now(ctx)
	for i := range rec.Tasks {
		switch rec.Tasks[i].Status {
		case sandbox.StatusRunning:
			rec.Tasks[i].Status = sandbox.StatusCancelled
		case sandbox.StatusPending:
			rec.Tasks[i].Status = sandbox.StatusSkipped
		}
	}
	return nil, ctx.Err()
}
