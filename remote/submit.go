package remote

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// The submitting side of a remote run (`goflyte run --remote`): what the
// CLI validated becomes a [RunInput] ([WorkflowSources], [PluginRefs],
// [DataPrefixes]), [WaitForWorkers] checks that every queue the run needs
// has a worker polling it, and [Submit] starts the run's workflow.

// DefaultReadyWait is how long [WaitForWorkers] waits for pollers by
// default, so that `goflyte worker & goflyte run --remote ...` works.
const DefaultReadyWait = 10 * time.Second

// DefaultParallelism is the parallelism of a remote run when none is
// given (--parallelism): the most activities a run keeps in flight.
// Workers bound how many run at once with their own --concurrency.
const DefaultParallelism = 1000

// MemoWorkflow is the memo key of a run's workflow name, which
// `runs list --remote` shows without asking each run.
const MemoWorkflow = "goflyte.workflow"

// MemoStart is the memo key of a run's start, which a run's workflow
// sets when it continues as new (its later Temporal runs start later).
const MemoStart = "goflyte.start"

// ExecutionID returns "<project>:<domain>:<name>", a run's execution id
// and the Temporal workflow id of its workflow.
func ExecutionID(project, domain, name string) string {
	return project + ":" + domain + ":" + name
}

// RunName returns the run's name: the last part of an execution id, or
// id itself when it is a bare name.
func RunName(id string) string {
	return id[strings.LastIndexByte(id, ':')+1:]
}

// ConsoleURL is the console page of a run's workflow in Temporal's UI at
// endpoint (platform.console_endpoint):
// <endpoint>/namespaces/<ns>/workflows/<escaped id>/<run id>/history, or,
// with runID "", <endpoint>/namespaces/<ns>/workflows/<escaped id>, which
// the UI sends on to the workflow's latest Temporal run: the link goes
// on working when the run continues as new (a new run id), so goflyte
// prints that one. It is "" when endpoint is.
func ConsoleURL(endpoint, namespace, workflowID, runID string) string {
	if endpoint == "" {
		return ""
	}
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }
	link := fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(endpoint, "/"), esc(namespace), esc(workflowID))
	if runID == "" {
		return link
	}
	return link + "/" + esc(runID) + "/history"
}

// WorkflowSources returns the sources of a run of w: the bytes of w's file
// and of every file whose workflows w calls (sub-workflow calls and
// workflow failure handlers, at any depth, found through lookup), by
// path as the workflows name them (config.Workflow.File). read reads a
// file; nil means os.ReadFile.
func WorkflowSources(w *config.Workflow, lookup engine.WorkflowLookup, read func(string) ([]byte, error)) (map[string]string, error) {
	if read == nil {
		read = os.ReadFile
	}
	sources := map[string]string{}
	seen := map[string]bool{}
	var walk func(w *config.Workflow) error
	walk = func(w *config.Workflow) error {
		if w == nil || seen[w.Name] {
			return nil
		}
		seen[w.Name] = true
		if w.File == "" {
			return fmt.Errorf("workflow %q has no file", w.Name)
		}
		if _, ok := sources[w.File]; !ok {
			data, err := read(w.File)
			if err != nil {
				return fmt.Errorf("the source of workflow %q: %w", w.Name, err)
			}
			sources[w.File] = string(data)
		}
		if lookup == nil {
			return nil
		}
		var called []string
		for _, t := range w.Tasks {
			if t.UsesWorkflow != "" {
				called = append(called, t.UsesWorkflow)
			}
		}
		if w.OnFailureWorkflow != "" {
			called = append(called, w.OnFailureWorkflow)
		}
		for _, name := range called {
			if err := walk(lookup(name)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(w); err != nil {
		return nil, err
	}
	return sources, nil
}

// PluginSource gives plugins' schemas and binaries; *engine.Plugins is one.
type PluginSource interface {
	Get(ctx context.Context, name string) (plugin.Provider, *plugin.Schema, error)
	Path(name string) (string, bool)
}

// PluginRefs returns the schema and the binary's SHA-256 of each named
// plugin, as a run validated against them is submitted. A plugin listed
// in lock (goflyte.lock.hcl; nil for none) gets the lock's digest; any
// other plugin its binary's. A plugin with no binary (one registered in
// process, in tests) gets "".
func PluginRefs(ctx context.Context, plugins PluginSource, names []string, lock *config.Lock) (map[string]PluginRef, error) {
	refs := make(map[string]PluginRef, len(names))
	for _, name := range names {
		_, schema, err := plugins.Get(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		ref := PluginRef{Schema: schema}
		if locked, ok := lockedDigest(lock, name); ok {
			ref.SHA256 = locked
		} else if path, ok := plugins.Path(name); ok {
			if ref.SHA256, err = engine.FileSHA256(path); err != nil {
				return nil, fmt.Errorf("checksum of plugin %q: %w", name, err)
			}
		}
		refs[name] = ref
	}
	return refs, nil
}

func lockedDigest(lock *config.Lock, name string) (string, bool) {
	if lock == nil {
		return "", false
	}
	p, ok := lock.Plugins[name]
	if !ok || p.SHA256 == "" {
		return "", false
	}
	return p.SHA256, true
}

// BucketSchemes are the data stores a remote run may use: workers on
// other machines must reach it.
var BucketSchemes = []string{"s3", "gs", "azblob"}

// PrefixError is a raw_output_data_prefix that a remote run cannot use:
// missing, or on this machine.
type PrefixError struct{ Prefix string }

func (e *PrefixError) Error() string {
	what := "no raw_output_data_prefix is set"
	if e.Prefix != "" {
		what = fmt.Sprintf("raw_output_data_prefix %q is on this machine", e.Prefix)
	}
	return what + ": a remote run keeps its files, logs, decks, large values and the cache in a bucket that every worker reaches. " +
		"Set local.raw_output_data_prefix in flyte.hcl (FLYTE_LOCAL_RAW_OUTPUT_DATA_PREFIX, or --raw-output-data-prefix) to s3://bucket/prefix, gs://bucket/prefix or azblob://container/prefix"
}

// DataPrefixes returns a run's DataPrefix, "<prefix>/<run name>", and its
// CachePrefix, "<prefix>/cache" ("" when cache is false), for the
// raw_output_data_prefix prefix, which must be a bucket
// ([BucketSchemes]); otherwise the error is a [*PrefixError].
func DataPrefixes(prefix, runName string, cache bool) (data, cachePrefix string, err error) {
	scheme, rest, ok := strings.Cut(prefix, "://")
	if !ok || !slices.Contains(BucketSchemes, scheme) || rest == "" {
		return "", "", &PrefixError{Prefix: prefix}
	}
	base, query, _ := strings.Cut(prefix, "?")
	base = strings.TrimRight(base, "/")
	join := func(p string) string {
		if query != "" {
			return base + "/" + p + "?" + query
		}
		return base + "/" + p
	}
	data = join(runName)
	if cache {
		cachePrefix = join("cache")
	}
	return data, cachePrefix, nil
}

// MissingWorkersError says which queues of a run had no worker polling
// them: the workflow queue (no worker at all) and the plugins' queues.
type MissingWorkersError struct {
	Namespace string
	// WorkflowQueue is the workflow task queue when no worker polls it.
	WorkflowQueue string
	// Plugins are the plugins no worker serves, sorted.
	Plugins []string
	Waited  time.Duration
}

func (e *MissingWorkersError) Error() string {
	var parts []string
	if e.WorkflowQueue != "" {
		parts = append(parts, fmt.Sprintf("no worker polls the task queue %q", e.WorkflowQueue))
	}
	if len(e.Plugins) > 0 {
		parts = append(parts, fmt.Sprintf("no worker serves the plugin%s %s", plural(len(e.Plugins)), strings.Join(e.Plugins, ", ")))
	}
	return fmt.Sprintf("%s in namespace %s (waited %s): start `goflyte worker` on a machine that has %s, with the same platform.namespace and platform.task_queue",
		strings.Join(parts, " and "), e.Namespace, e.Waited.Round(time.Second), pluginsPhrase(e.Plugins))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func pluginsPhrase(p []string) string {
	if len(p) == 0 {
		return "the run's plugins"
	}
	if len(p) == 1 {
		return "that plugin"
	}
	return "those plugins"
}

// WaitForWorkers checks that a worker polls the workflow task queue
// taskQueue and each plugin's queue ([PluginQueue]), asking the server
// (DescribeTaskQueue) every half second for up to wait. It returns nil as
// soon as every queue has a poller, a [*MissingWorkersError] naming what is
// still missing after wait, or the server's error.
func WaitForWorkers(ctx context.Context, c client.Client, namespace, taskQueue string, plugins []string, wait time.Duration) error {
	return waitForPollers(ctx, c, namespace, taskQueue, true, plugins, wait, nil)
}

// waitForPollers is WaitForWorkers; the workflow queue is checked only
// with workflows set, and tick (if not nil) is called before each wait.
func waitForPollers(ctx context.Context, c client.Client, namespace, taskQueue string, workflows bool, plugins []string, wait time.Duration, tick func()) error {
	start := time.Now()
	deadline := start.Add(wait)
	for {
		missing := &MissingWorkersError{Namespace: namespace}
		if workflows {
			ok, err := hasPoller(ctx, c, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
			if err != nil {
				return err
			}
			if !ok {
				missing.WorkflowQueue = taskQueue
			}
		}
		for _, p := range plugins {
			ok, err := hasPoller(ctx, c, PluginQueue(taskQueue, p), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
			if err != nil {
				return err
			}
			if !ok {
				missing.Plugins = append(missing.Plugins, p)
			}
		}
		if missing.WorkflowQueue == "" && len(missing.Plugins) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			sort.Strings(missing.Plugins)
			missing.Waited = time.Since(start)
			return missing
		}
		if tick != nil {
			tick()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(500*time.Millisecond, time.Until(deadline))):
		}
	}
}

// pollerFresh is how recent a poll must be to count: the server keeps
// pollers it saw in the last minutes, also those of workers that are gone.
const pollerFresh = time.Minute

func hasPoller(ctx context.Context, c client.Client, queue string, typ enumspb.TaskQueueType) (bool, error) {
	resp, err := c.DescribeTaskQueue(ctx, queue, typ)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return false, nil
		}
		return false, fmt.Errorf("describe task queue %s: %w", queue, err)
	}
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t == nil || time.Since(t.AsTime()) < pollerFresh {
			return true, nil
		}
	}
	return false, nil
}

// AlreadyExistsError is a submission whose execution id is taken.
type AlreadyExistsError struct{ ID string }

func (e *AlreadyExistsError) Error() string {
	return fmt.Sprintf("a run with the execution id %s exists already", e.ID)
}

// Submit starts the workflow of the run in, on the task queue
// in.TaskQueue, with the execution id as its workflow id and a reuse
// policy that refuses a duplicate ([*AlreadyExistsError]). It returns the
// Temporal run id.
func Submit(ctx context.Context, c client.Client, in *RunInput) (string, error) {
	opts := client.StartWorkflowOptions{
		ID:                                       in.ExecutionID,
		TaskQueue:                                in.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{MemoWorkflow: in.Workflow},
	}
	run, err := c.ExecuteWorkflow(ctx, opts, WorkflowType, in)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return "", &AlreadyExistsError{ID: in.ExecutionID}
		}
		return "", fmt.Errorf("submit %s: %w", in.ExecutionID, err)
	}
	return run.GetRunID(), nil
}

// StartedInput returns the RunInput a run's workflow was started with,
// from the first event of its history.
func StartedInput(ctx context.Context, c client.Client, workflowID, runID string) (*RunInput, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return nil, fmt.Errorf("run %s has no history", workflowID)
	}
	ev, err := it.Next()
	if err != nil {
		return nil, fmt.Errorf("the history of %s: %w", workflowID, err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil || len(attrs.GetInput().GetPayloads()) == 0 {
		return nil, fmt.Errorf("run %s: its first event is not a start with an input", workflowID)
	}
	var in RunInput
	if err := converter.GetDefaultDataConverter().FromPayload(attrs.GetInput().GetPayloads()[0], &in); err != nil {
		return nil, fmt.Errorf("run %s: its input is not a goflyte RunInput: %w", workflowID, err)
	}
	return &in, nil
}
