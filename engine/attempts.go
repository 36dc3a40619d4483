package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// maxBackoff caps the wait between attempts.
const maxBackoff = 30 * time.Second

// TimeoutError is a task attempt that ran longer than the task's timeout.
type TimeoutError struct {
	Timeout time.Duration
	// Killed reports that the plugin did not return within the grace
	// period after its context ended, so its process was killed.
	Killed bool
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s", e.Timeout)
	if e.Killed {
		msg += "; the plugin did not stop within the grace period, so its process was killed (it is restarted for the next task)"
	}
	return msg
}

// attempts runs a task, trying it again after a retryable failure as its
// retry policy allows, with exponential backoff.
func (x *execution) attempts(ctx context.Context, n *Node, tr *TaskRun, args *taskArgs) (map[string]cty.Value, json.RawMessage, error) {
	recorded := x.tasks[n.Name] == tr // not an instance of a for_each
	for attempt := 1; ; attempt++ {
		tr.Attempts = attempt
		start := time.Now()
		outs, raw, err := x.attempt(ctx, n, tr, args)
		if recorded {
			tr.AttemptTimes = append(tr.AttemptTimes, sandbox.AttemptTime{Start: start, End: time.Now()})
		}
		if err == nil || attempt > n.Retries || ctx.Err() != nil || !retryable(err) {
			return outs, raw, err
		}
		wait := RetryWait(n.Backoff, attempt)
		x.taskStats(n, tr).Incr(MetricRetries)
		msg := x.engine.Redact(err.Error())
		tr.AttemptErrors = append(tr.AttemptErrors, msg)
		if recorded {
			x.recordTask(n, tr)
		}
		x.engine.Logger.Warn("task attempt failed; retrying", "task", n.Name, "attempt", attempt, "attempts", n.Retries+1, "wait", wait, "error", msg)
		x.logTask(hclog.Warn, n, attempt, "task attempt failed; retrying", "attempts", n.Retries+1, "wait", wait, "error", msg)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// retryable reports whether another attempt may succeed: the plugin said
// so, the plugin process died, or the attempt timed out. A task's own
// error, a missing secret or invalid outputs are not retried.
func retryable(err error) bool {
	var te *plugin.TaskError
	var pe *plugin.ProcessError
	var to *TimeoutError
	switch {
	case errors.As(err, &to), errors.As(err, &pe):
		return true
	case errors.As(err, &te):
		return te.Retryable
	}
	return false
}

// attempt runs one attempt, bounded by the task's timeout. When the
// attempt's context ends (the timeout, or the run's cancellation) the task
// gets the grace period to stop; if it is still running in its plugin
// then, the plugin process is killed (and replaced for later tasks), so
// that a task that ignores cancellation cannot hang on or pile up.
func (x *execution) attempt(ctx context.Context, n *Node, tr *TaskRun, args *taskArgs) (map[string]cty.Value, json.RawMessage, error) {
	client, schema, err := x.engine.Plugins.Get(ctx, n.Plugin)
	if err != nil {
		return nil, nil, err
	}
	// The running plugin decides whether it makes the working directory:
	// one built with an older sdk gets it made, whatever the compiled
	// graph assumed.
	lazyDir := schema != nil && schema.LazyWorkingDirectory && !n.EnableDeck
	actx, cancel := ctx, context.CancelFunc(func() {})
	if n.Timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, n.Timeout)
	}
	defer cancel()

	type result struct {
		outs map[string]cty.Value
		raw  json.RawMessage
		dir  string
		err  error
	}
	done := make(chan result, 1)
	attempt, callID := tr.Attempts, newCallID()
	rec := x.taskStats(n, tr)
	start := time.Now()
	defer func() { rec.Timing(MetricTaskDuration, time.Since(start)) }()
	x.claimLog(n, attempt)
	x.logTask(hclog.Debug, n, attempt, "task attempt started", "plugin", n.Plugin)
	var r result
	returned, killed := true, false
	if callsInline(client, n) {
		// No goroutine to hand the call to and its result back from: a
		// chain's step is mostly such hand-offs.
		r.outs, r.raw, r.dir, r.err = x.call(actx, n, attempt, callID, args, client, lazyDir, rec)
	} else {
		go func() {
			outs, raw, dir, err := x.call(actx, n, attempt, callID, args, client, lazyDir, rec)
			done <- result{outs, raw, dir, err}
		}()
		select {
		case r = <-done:
		case <-actx.Done():
			// A plugin over gRPC returns at once; an in-process provider
			// returns when its task does.
			select {
			case r = <-done:
			case <-time.After(x.opts.Grace):
				r, returned = result{err: context.Cause(actx)}, false
			}
		}
	}
	if actx.Err() != nil && !x.stopped(client, callID, returned) {
		killed = true
		x.engine.Logger.Warn("task did not stop within the grace period; killing its plugin", "plugin", n.Plugin, "task", n.Name, "grace", x.opts.Grace)
		x.logTask(hclog.Warn, n, attempt, "task did not stop within the grace period; killing its plugin", "plugin", n.Plugin, "grace", x.opts.Grace)
		x.engine.Plugins.Kill(n.Plugin, client)
	}
	if r.dir != "" {
		tr.WorkDir = r.dir
	}
	if _, hasDeadline := actx.Deadline(); r.err != nil && hasDeadline && actx.Err() == nil && isDeadline(r.err) {
		// gRPC enforces the deadline it was sent (the task's timeout or
		// the run's) and may answer a hair before the context's own timer
		// fires: the deadline is due, so wait for it.
		select {
		case <-actx.Done():
		case <-time.After(time.Second):
		}
		if actx.Err() != nil && !x.stopped(client, callID, true) {
			killed = true
			x.engine.Plugins.Kill(n.Plugin, client)
		}
	}
	switch {
	case r.err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded):
		r.err = &TimeoutError{Timeout: n.Timeout, Killed: killed}
	case r.err != nil && ctx.Err() != nil:
		r.err = ctx.Err()
	}
	return r.outs, r.raw, r.err
}

// callsInline reports whether an attempt may make its call in its own
// goroutine: the call returns as soon as the attempt's context ends, so
// the attempt need not be able to give up on it after the grace period.
// That holds for a plain or eager task of a plugin process (gRPC returns
// a call whose context ended at once; whether the task still runs in the
// plugin is asked after, as for any call) that has no secrets to look up
// and no file outputs to store, which wait on other services. An
// in-process provider returns when its task does, and a dynamic task's
// call runs its whole returned workflow: those keep the goroutine.
func callsInline(client plugin.Provider, n *Node) bool {
	if _, ok := client.(*plugin.Client); !ok {
		return false
	}
	if n.Schema != nil && n.Schema.Kind == plugin.KindDynamic {
		return false
	}
	return len(n.Secrets) == 0 && !hasFileOutputs(n)
}

// stopped waits up to the grace period for a cancelled call to stop
// running in its plugin, and reports whether it did. A provider that
// cannot tell (an in-process one) has stopped if its call returned.
func (x *execution) stopped(client plugin.Provider, callID string, returned bool) bool {
	t, ok := client.(plugin.Tracker)
	if !ok {
		return returned
	}
	deadline := time.Now().Add(x.opts.Grace)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		running, err := t.Running(ctx, callID)
		cancel()
		if err != nil || !running {
			return err == nil // an unreachable plugin is killed too
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newCallID returns a random id for one call to a plugin.
func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isDeadline reports whether err is a deadline running out, as a context
// error or a gRPC status.
func isDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}
