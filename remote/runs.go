package remote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// The runs of a namespace as `goflyte runs ... --remote` sees them: a
// run's workflow is found by its execution id (the workflow id) or its
// bare name ([Resolve]), listed through visibility ([List]), its record
// asked for with [QueryRecord] while it runs and taken from its result
// (or its failure's details) once it closed ([Record], [Follow]).

// ListQuery is the visibility query of goflyte runs (child workflows of
// sub-workflow calls included; [List] leaves them out).
const ListQuery = "WorkflowType = '" + WorkflowType + "'"

// RunInfo is what Temporal knows of a run's workflow.
type RunInfo struct {
	ID       string // the execution id (workflow id)
	RunID    string // Temporal's run id
	Workflow string // the goflyte workflow's name (memo), "" if unknown
	// Status is a sandbox status: running, succeeded, failed, cancelled,
	// or interrupted (terminated by hand).
	Status string
	Start  time.Time
	End    time.Time // zero while running
}

// NotFoundError is a run that the namespace does not have.
type NotFoundError struct {
	Run       string
	Namespace string
	// Suggest is a close execution id, "" for none.
	Suggest string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("no run %q in namespace %s", e.Run, e.Namespace)
	if e.Suggest != "" {
		msg += fmt.Sprintf("; did you mean %q?", e.Suggest)
	}
	return msg
}

// NotRunningError is a run that cannot be cancelled: it ended.
type NotRunningError struct{ ID, Status string }

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("run %s is not running: it %s", e.ID, e.Status)
}

// RunStatus maps a Temporal workflow status to a sandbox run status.
func RunStatus(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return sandbox.StatusRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return sandbox.StatusSucceeded
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return sandbox.StatusCancelled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return sandbox.StatusInterrupted
	}
	return sandbox.StatusFailed
}

// Describe returns what Temporal knows of the run id (its latest
// Temporal run); a run the namespace does not have is a [*NotFoundError].
func Describe(ctx context.Context, c client.Client, namespace, id string) (*RunInfo, error) {
	resp, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, &NotFoundError{Run: id, Namespace: namespace}
		}
		return nil, fmt.Errorf("describe run %s: %w", id, err)
	}
	wi := resp.GetWorkflowExecutionInfo()
	info := &RunInfo{
		ID:       wi.GetExecution().GetWorkflowId(),
		RunID:    wi.GetExecution().GetRunId(),
		Workflow: memoWorkflow(wi.GetMemo().GetFields()),
		Status:   RunStatus(wi.GetStatus()),
		Start:    wi.GetStartTime().AsTime(),
	}
	if wi.GetCloseTime() != nil {
		info.End = wi.GetCloseTime().AsTime()
	}
	info.Start = runStart(wi)
	return info, nil
}

// runStart is when the run of wi started: its Temporal run's start, or,
// when the run continued as new, its first Temporal run's (the memo
// MemoStart, which the workflow sets before it continues).
func runStart(wi *workflowpb.WorkflowExecutionInfo) time.Time {
	if p, ok := wi.GetMemo().GetFields()[MemoStart]; ok {
		var start time.Time
		if err := converter.GetDefaultDataConverter().FromPayload(p, &start); err == nil {
			return start
		}
	}
	return wi.GetStartTime().AsTime()
}

func memoWorkflow(fields map[string]*commonpb.Payload) string {
	p, ok := fields[MemoWorkflow]
	if !ok {
		return ""
	}
	var name string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &name); err != nil {
		return ""
	}
	return name
}

// Resolve returns the execution id of the run arg names: an execution id
// ("<project>:<domain>:<name>"), or a bare run name, tried first as
// "<project>:<domain>:<name>" with the project and domain given, then
// among every run of the namespace. A run that does not exist is a
// [*NotFoundError] that suggests a close id.
func Resolve(ctx context.Context, c client.Client, namespace, project, domain, arg string) (*RunInfo, error) {
	id := arg
	if !strings.Contains(arg, ":") {
		id = ExecutionID(project, domain, arg)
	}
	info, err := Describe(ctx, c, namespace, id)
	var nf *NotFoundError
	if err == nil || !errors.As(err, &nf) {
		return info, err
	}
	runs, lerr := List(ctx, c, 0)
	if lerr != nil {
		return nil, err
	}
	name := RunName(arg)
	var ids []string
	for _, r := range runs {
		if r.Name == name && !strings.Contains(arg, ":") {
			return Describe(ctx, c, namespace, r.ID)
		}
		ids = append(ids, r.ID)
	}
	nf.Run = arg
	nf.Suggest = suggest(arg, ids)
	return nil, nf
}

// suggest returns the id closest to arg by its name, if close enough.
func suggest(arg string, ids []string) string {
	name := RunName(arg)
	best, bestD := "", len(name)/3+1
	for _, id := range ids {
		if d := levenshtein(name, RunName(id)); d < bestD {
			best, bestD = id, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// List returns the runs of the namespace, newest first (at most limit; 0:
// all), as `runs list` shows them. Child workflows (sub-workflow calls)
// are left out. Task counts are not known without asking each run and
// are nil.
func List(ctx context.Context, c client.Client, limit int) ([]sandbox.RunSummary, error) {
	var out []sandbox.RunSummary
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: ListQuery, NextPageToken: token, PageSize: 500})
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		for _, wi := range resp.GetExecutions() {
			if wi.GetParentExecution() != nil || wi.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
				// A sub-workflow's; or an earlier Temporal run of a run
				// that continued as new (its latest is listed).
				continue
			}
			s := sandbox.RunSummary{
				ID:       wi.GetExecution().GetWorkflowId(),
				Name:     RunName(wi.GetExecution().GetWorkflowId()),
				Workflow: memoWorkflow(wi.GetMemo().GetFields()),
				Status:   RunStatus(wi.GetStatus()),
				Start:    runStart(wi),
			}
			if wi.GetCloseTime() != nil {
				s.End = wi.GetCloseTime().AsTime()
				s.DurationMS = s.End.Sub(s.Start).Milliseconds()
			}
			out = append(out, s)
			if limit > 0 && len(out) == limit {
				return out, nil
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return out, nil
		}
	}
}

// Cancel asks the run id's workflow to cancel: it stops starting tasks,
// cancels the running ones and ends cancelled. A run that ended is a
// [*NotRunningError].
func Cancel(ctx context.Context, c client.Client, namespace, id string) error {
	info, err := Describe(ctx, c, namespace, id)
	if err != nil {
		return err
	}
	if info.Status != sandbox.StatusRunning {
		return &NotRunningError{ID: info.ID, Status: info.Status}
	}
	// No run id: the run's latest Temporal run, which may have
	// continued as new since Describe.
	if err := c.CancelWorkflow(ctx, info.ID, ""); err != nil {
		return fmt.Errorf("cancel %s: %w", info.ID, err)
	}
	return nil
}

// QueryRecordOf asks the run's workflow for its record so far
// ([QueryRecord]); runID "" asks its latest Temporal run, which answers
// for the whole run also after it continued as new.
func QueryRecordOf(ctx context.Context, c client.Client, id, runID string) (*sandbox.Record, error) {
	v, err := c.QueryWorkflow(ctx, id, runID, QueryRecord)
	if err != nil {
		return nil, fmt.Errorf("ask %s for its record: %w", id, err)
	}
	var rec sandbox.Record
	if err := v.Get(&rec); err != nil {
		return nil, fmt.Errorf("the record of %s: %w", id, err)
	}
	fillRecord(&rec, id)
	return &rec, nil
}

// Record returns the record of the run id: asked of its workflow while
// it runs, taken from its result (or its failure's details) once it
// ended, so that no worker is needed for a run that ended.
//
// A run that continues as new does not answer for a moment: its next
// Temporal run has not taken its first workflow task, or is restoring
// its state (ErrRestoring). Record then describes the run again and asks
// again, for up to RecordRetry, so that `runs show --remote` does not
// fail during the switch; a query that timed out (no worker answers) is
// not asked again.
func Record(ctx context.Context, c client.Client, namespace, id string) (*sandbox.Record, *RunInfo, error) {
	deadline := time.Now().Add(RecordRetry)
	for {
		info, err := Describe(ctx, c, namespace, id)
		if err != nil {
			return nil, nil, err
		}
		if info.Status != sandbox.StatusRunning {
			rec, err := finalRecord(ctx, c, info.ID, info.RunID, nil)
			return rec, info, err
		}
		rec, err := QueryRecordOf(ctx, c, info.ID, "")
		if err == nil || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
			return rec, info, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(recordRetryEvery):
		}
	}
}

// RecordRetry bounds how long Record asks a running run again whose
// query failed (a run continuing as new); recordRetryEvery is the pause
// between two tries.
const (
	RecordRetry      = 15 * time.Second
	recordRetryEvery = 100 * time.Millisecond
)

// Follow calls onRecord with each new record of the run (asking its
// workflow every `every`) until the workflow ends, and returns the final
// record: the workflow's result, or the record in its failure's details.
// runID is the Temporal run to follow from: when it continues as new,
// Follow follows the chain of runs (the queries go to the latest).
// A workflow that ended without one (terminated, timed out by Temporal)
// gives the last record seen, ended with the cause. Cancelling ctx stops
// following (the run goes on) and returns ctx's error.
func Follow(ctx context.Context, c client.Client, id, runID string, every time.Duration, onRecord func(*sandbox.Record)) (*sandbox.Record, error) {
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	type result struct {
		rec *sandbox.Record
		err error
	}
	getCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	var rec sandbox.Record
	go func() {
		err := c.GetWorkflow(getCtx, id, runID).Get(getCtx, &rec)
		done <- result{&rec, err}
	}()
	var last *sandbox.Record
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r := <-done:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if r.err != nil {
				// The last word: a final query, for a run whose failure
				// carries no record.
				qctx, qcancel := context.WithTimeout(ctx, closedQueryTimeout)
				if snap, err := QueryRecordOf(qctx, c, id, ""); err == nil {
					last = snap
				}
				qcancel()
			}
			final, err := closeRecord(r.rec, r.err, id, last)
			if err != nil {
				return nil, err
			}
			if onRecord != nil {
				onRecord(final)
			}
			return final, nil
		case <-tick.C:
			qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
			snap, err := QueryRecordOf(qctx, c, id, "")
			qcancel()
			// A query fails while no worker has taken the first workflow
			// task yet, and races the end: the result says the rest.
			if err == nil && (last == nil || !reflect.DeepEqual(last, snap)) {
				last = snap
				if onRecord != nil {
					onRecord(snap)
				}
			}
			tick.Reset(every)
		}
	}
}

// finalRecord returns the record of a closed run.
func finalRecord(ctx context.Context, c client.Client, id, runID string, last *sandbox.Record) (*sandbox.Record, error) {
	var rec sandbox.Record
	err := c.GetWorkflow(ctx, id, runID).Get(ctx, &rec)
	if last == nil && err != nil {
		// A run cancelled through Temporal ends with no record in its
		// failure; its workflow still answers the query (a worker
		// replays it). Without a worker, what Temporal says is all.
		qctx, cancel := context.WithTimeout(ctx, closedQueryTimeout)
		last, _ = QueryRecordOf(qctx, c, id, "")
		cancel()
	}
	return closeRecord(&rec, err, id, last)
}

// closedQueryTimeout bounds asking a closed run's workflow for its record.
const closedQueryTimeout = 5 * time.Second

// closeRecord turns a workflow's outcome into its final record.
func closeRecord(rec *sandbox.Record, err error, id string, last *sandbox.Record) (*sandbox.Record, error) {
	if err == nil {
		fillRecord(rec, id)
		if rec.Status == "" || rec.Status == sandbox.StatusRunning {
			rec.Status = sandbox.StatusSucceeded
		}
		return rec, nil
	}
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		return nil, fmt.Errorf("the result of %s: %w", id, err)
	}
	var details sandbox.Record
	status, msg := sandbox.StatusFailed, errors.Unwrap(wee)
	var ae *temporal.ApplicationError
	var ce *temporal.CanceledError
	var te *temporal.TerminatedError
	var to *temporal.TimeoutError
	switch {
	case errors.As(err, &ae):
		if ae.HasDetails() && ae.Details(&details) == nil && details.Status != "" {
			fillRecord(&details, id)
			return &details, nil
		}
	case errors.As(err, &ce):
		status = sandbox.StatusCancelled
		if ce.HasDetails() && ce.Details(&details) == nil && details.Status != "" {
			fillRecord(&details, id)
			return &details, nil
		}
	case errors.As(err, &te):
		status = sandbox.StatusInterrupted
		msg = errors.New("the run's workflow was terminated")
	case errors.As(err, &to):
		msg = fmt.Errorf("the run's workflow timed out (%v)", to.TimeoutType())
	}
	out := &sandbox.Record{}
	if last != nil {
		*out = *last
		out.Tasks = append([]sandbox.TaskRecord(nil), last.Tasks...)
	}
	fillRecord(out, id)
	out.Status = status
	if msg != nil && out.Error == "" {
		out.Error = msg.Error() // the record's own error says more
	}
	if out.End.IsZero() {
		out.End = time.Now()
	}
	for i := range out.Tasks {
		if t := &out.Tasks[i]; t.Status == sandbox.StatusRunning || t.Status == sandbox.StatusPending {
			t.Status = status
			if status == sandbox.StatusFailed {
				t.Status = sandbox.StatusCancelled
			}
		}
	}
	return out, nil
}

// fillRecord sets the id and name of a record that lacks them.
func fillRecord(rec *sandbox.Record, id string) {
	if rec.ID == "" {
		rec.ID = id
	}
	if rec.Name == "" {
		rec.Name = RunName(rec.ID)
	}
}
