package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

func runCommand() *command {
	return &command{
		name:    "run",
		args:    "FILE [WORKFLOW] | NAME | --task PLUGIN.TASK  [flags]",
		summary: "Run a workflow (or a single task) locally, or on Temporal workers with --remote",
		help: `
Runs a workflow from a file (WORKFLOW names one when the file has several),
or by name from sdk.workflow_packages, or a single plugin task with --task.
Ready tasks run in parallel; after the first failure no new task starts.

Remote runs (--remote): the workflow is validated here exactly as for a
local run, then submitted to the Temporal frontend in platform.url
(namespace platform.namespace, task queue platform.task_queue) and run by
goflyte worker processes; progress, outputs, --json and exit codes are a
local run's. The execution id and the console link (from
platform.console_endpoint) are printed on stderr at submission; --json
adds console_url, and run_dir is the run's data-store URI. A remote run
needs a bucket: its files, logs, decks and large values go to
<raw_output_data_prefix>/<run name>, its cache entries to
<raw_output_data_prefix>/cache (none with --no-cache). Before submitting,
goflyte waits up to 10s for a worker of every plugin the run uses. Ctrl-C
detaches: the run goes on (goflyte runs show --remote RUN --watch follows
it, goflyte runs cancel --remote RUN stops it). --resume RUN takes a
remote run's id or name.

Flags:
  --input NAME=VALUE   an input value (repeatable). Strings are taken as
                       they are, numbers and bools are parsed, lists, maps
                       and objects are JSON: --input 'words=["a","b"]'.
                       A file or dir is a local path or a URI:
                       s3://, gs://, azblob:// or file://
  --inputs-file FILE   a JSON object of input values (--input wins)
  --task PLUGIN.TASK   run one task of a plugin (LOCAL_TASK_EXECUTION);
                       with --remote, on a worker that serves the plugin
  --parallelism N      tasks to run at once (default: the CPU count; with
                       --remote, 1000)
  --json               print one JSON object on stdout: execution_id,
                       status, outputs, tasks
  --no-cache           neither read nor write the local cache
                       (local.cache_enabled = false for this run)
  --overwrite-cache    run cached tasks anyway and replace their entries
                       (local.cache_overwrite = true for this run)
  --explain            say why each cached task missed the cache
  --timeout D          cancel the run after D (e.g. 10m); tasks get their
                       context cancelled, as with Ctrl-C
  --grace D            how long a cancelled or timed-out task may take to
                       return before its plugin process is killed
                       (default 5s)
  --resume RUN         re-run a failed or interrupted run (its id or name,
                       see goflyte runs list): tasks that succeeded keep
                       their outputs; the rest run, with the same inputs
  --from TASK          with --resume: re-run TASK and everything downstream
                       of it, even if they succeeded
  --raw-output-data-prefix URI
                       keep the files and dirs tasks return under URI
                       (s3://bucket/prefix, gs://, azblob://, or a local
                       directory) instead of the run's sandbox directory
                       (local.raw_output_data_prefix for this run)
  -q, --quiet          no progress lines
  --remote             run on Temporal workers (goflyte worker) instead of
                       this machine: see "Remote runs" above
  --detach             with --remote: print the execution id on stdout
                       (with --json: {"execution_id", "console_url"}) as
                       soon as the run is submitted, and exit 0
  --download DIR       with --remote: fetch the file and dir outputs into
                       DIR/<output>/ when the run succeeded

Exit codes: 0 succeeded, 1 the run failed, 2 bad arguments, configuration
or workflow (with --remote also: no bucket, or no worker for a plugin;
nothing was submitted), 130 interrupted (with --remote: detached, the run
goes on).`,
		run: runRun,
	}
}

func runRun(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("run")
	var inputs multiFlag
	fs.Var(&inputs, "input", "")
	inputsFile := fs.String("inputs-file", "", "")
	taskID := fs.String("task", "", "")
	parallelism := fs.Int("parallelism", 0, "")
	asJSON := fs.Bool("json", false, "")
	noCache := fs.Bool("no-cache", false, "")
	overwriteCache := fs.Bool("overwrite-cache", false, "")
	explain := fs.Bool("explain", false, "")
	timeout := fs.Duration("timeout", 0, "")
	grace := fs.Duration("grace", engine.DefaultGrace, "")
	resume := fs.String("resume", "", "")
	from := fs.String("from", "", "")
	quiet := fs.Bool("quiet", false, "")
	fs.BoolVar(quiet, "q", false, "")
	dataPrefix := fs.String("raw-output-data-prefix", "", "")
	remoteRun := fs.Bool("remote", false, "")
	detach := fs.Bool("detach", false, "")
	download := fs.String("download", "", "")
	min, max := 1, 2
	if hasFlag(args, "task") || hasFlag(args, "resume") {
		min, max = 0, 0
	}
	pos, err := c.parseArgs(fs, args, min, max)
	if err != nil {
		return err
	}
	if *parallelism < 0 {
		return usagef("run: --parallelism must be at least 1")
	}
	if *from != "" && *resume == "" {
		return usagef("run: --from TASK goes with --resume RUN")
	}
	if *resume != "" && (len(inputs) > 0 || *inputsFile != "" || *taskID != "") {
		return usagef("run: --resume reuses the run's workflow and inputs; it takes no --input, --inputs-file or --task")
	}
	if !*remoteRun && (*detach || *download != "") {
		return usagef("run: --detach and --download go with --remote")
	}
	if *remoteRun {
		switch {
		case *explain:
			return usagef("run --remote: --explain is for local runs (the cache's reasons are in the run's record: goflyte runs show --remote RUN)")
		case hasFlag(args, "grace"):
			return usagef("run --remote: --grace is for local runs; workers take their own (goflyte worker --grace)")
		case *detach && *download != "":
			return usagef("run --remote: --download waits for the outputs; it does not go with --detach")
		}
	}
	text := map[string]string{}
	for _, kv := range inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("run: --input takes NAME=VALUE, got %q", kv)
		}
		text[k] = v
	}
	var fromFile map[string]json.RawMessage
	if *inputsFile != "" {
		data, err := os.ReadFile(*inputsFile)
		if err != nil {
			return usagef("run: --inputs-file: %v", err)
		}
		if diags := config.CheckJSONNesting(data, *inputsFile); diags.HasErrors() {
			return &diagError{diags: diags}
		}
		if err := json.Unmarshal(data, &fromFile); err != nil {
			return usagef("run: --inputs-file %s is not a JSON object: %v", *inputsFile, err)
		}
	}

	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if *noCache {
		if err := cfg.Override("local.cache_enabled", "false", "--no-cache"); err != nil {
			return err
		}
	}
	if *overwriteCache {
		if err := cfg.Override("local.cache_overwrite", "true", "--overwrite-cache"); err != nil {
			return err
		}
	}
	if *dataPrefix != "" {
		if err := cfg.Override("local.raw_output_data_prefix", *dataPrefix, "--raw-output-data-prefix"); err != nil {
			return usagef("run: %v", err)
		}
	}
	if *remoteRun {
		return c.runRemote(ctx, cfg, remoteRunOptions{pos: pos, task: *taskID, text: text, fromFile: fromFile, parallelism: *parallelism, timeout: *timeout,
			resume: *resume, from: *from, asJSON: *asJSON, quiet: *quiet, detach: *detach, download: *download})
	}
	eng := c.newEngine(cfg)
	defer eng.Close()
	sweep(cfg, eng.Logger)

	var g *engine.Graph
	var resumeFrom *engine.Resume
	if *resume != "" {
		g, resumeFrom, fromFile, err = c.loadResume(ctx, eng, cfg, *resume, *from)
		if err != nil {
			return err
		}
	} else if *taskID != "" {
		g, err = eng.TaskGraph(ctx, *taskID)
		if err != nil {
			return &usageError{err.Error()}
		}
	} else if g = c.cachedGraph(ctx, eng, cfg, pos); g == nil {
		wf, diags, err := c.loadWorkflowArg(cfg, pos)
		if err != nil {
			return err
		}
		eng.Workflows = c.workflowLookup(cfg, wf.File)
		var more hcl.Diagnostics
		g, more = eng.Compile(ctx, wf)
		diags = append(diags, more...)
		if diags.HasErrors() {
			return &diagError{diags: diags}
		}
		c.warn(diags)
		if len(diags) == 0 {
			c.keepGraph(ctx, eng, pos, g)
		}
	}
	values, err := g.ParseInputs(text, fromFile)
	if err != nil {
		return err
	}

	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, *timeout, fmt.Errorf("the run timed out after %s (--timeout)", *timeout))
		defer cancel()
	}
	p := newProgress(c.stderr, c.isTTY(), *quiet)
	res, err := eng.Run(ctx, g, engine.RunOptions{
		Inputs:      values,
		Parallelism: *parallelism,
		Observer:    p.observe,
		Started: func(run string) {
			if link := consoleLink(sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}, run); link != "" && !*asJSON {
				fmt.Fprintf(c.stderr, "Console: %s\n", link)
			}
		},
		Explain: *explain,
		Resume:  resumeFrom,
		Grace:   *grace,
	})
	p.stop()
	if err != nil {
		return err
	}
	// A task may return a secret as an output or put one in its error: the
	// engine redacts its errors, and everything printed here is redacted
	// too. (Downstream tasks still get the real values.)
	if *asJSON {
		var buf bytes.Buffer
		if err := writeJSON(&buf, resultJSON(res)); err != nil {
			return err
		}
		if _, err := io.WriteString(c.stdout, eng.Redact(buf.String())); err != nil {
			return err
		}
	} else {
		printResult(c, res, eng.Redact)
	}
	switch res.Status {
	case engine.StatusSucceeded:
		return nil
	case engine.StatusCancelled:
		if !*asJSON {
			fmt.Fprintf(c.stderr, "Error: %v\n", res.Err)
		}
		return &exitError{code: exitCancel}
	default:
		if !*asJSON {
			c.reportRunError(res.Err)
		}
		return &exitError{code: exitFailed}
	}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

type taskJSON struct {
	Name       string `json:"name"`
	Task       string `json:"task"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	WorkDir    string `json:"work_dir,omitempty"`
	Error      string `json:"error,omitempty"`
	// Cache is "hit", "miss" or "overwrite" for a cached task.
	Cache       string `json:"cache,omitempty"`
	CacheKey    string `json:"cache_key,omitempty"`
	CacheReason string `json:"cache_reason,omitempty"`
	// Instances and InstanceCacheHits count a for_each task's instances
	// and those that came from the cache.
	Instances         int      `json:"instances,omitempty"`
	InstanceCacheHits int      `json:"instance_cache_hits,omitempty"`
	FailedInstances   []string `json:"failed_instances,omitempty"`
	// Children are the tasks an eager task ran.
	Children []string `json:"children,omitempty"`
	// Deck is the task's deck page (enable_deck).
	Deck string `json:"deck,omitempty"`
}

type resultOut struct {
	ExecutionID   string         `json:"execution_id"`
	ExecutionDate time.Time      `json:"execution_date"`
	Workflow      string         `json:"workflow"`
	Status        string         `json:"status"`
	Outputs       map[string]any `json:"outputs"`
	Error         string         `json:"error,omitempty"`
	DurationMS    int64          `json:"duration_ms"`
	RunDir        string         `json:"run_dir"`
	Deck          string         `json:"deck,omitempty"`
	Tasks         []taskJSON     `json:"tasks"`
}

func resultJSON(res *engine.Result) resultOut {
	out := resultOut{
		ExecutionID:   res.ExecutionID,
		ExecutionDate: res.ExecutionDate.UTC(),
		Workflow:      res.Workflow,
		Status:        string(res.Status),
		Outputs:       map[string]any{},
		DurationMS:    res.End.Sub(res.Start).Milliseconds(),
		RunDir:        res.RunDir,
		Deck:          res.Deck,
		Tasks:         []taskJSON{},
	}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	for name, v := range res.Outputs {
		gv, err := engine.ToGo(v)
		if err != nil {
			gv = nil
		}
		out.Outputs[name] = gv
	}
	for _, t := range res.Tasks {
		tj := taskJSON{Name: t.Node, Task: t.TaskID, Status: string(t.Status), Attempts: t.Attempts, DurationMS: t.Duration().Milliseconds(), WorkDir: t.WorkDir,
			Cache: t.Cache, CacheKey: t.CacheKey, CacheReason: t.CacheReason,
			Instances: t.Instances, InstanceCacheHits: t.InstanceCacheHits, FailedInstances: t.FailedInstances, Children: t.Children, Deck: t.Deck}
		if t.Err != nil {
			var te *engine.TaskError
			if errors.As(t.Err, &te) {
				tj.Error = te.Err.Error()
			} else {
				tj.Error = t.Err.Error()
			}
		}
		out.Tasks = append(out.Tasks, tj)
	}
	return out
}

func printResult(c *cli, res *engine.Result, redact func(string) string) {
	w := c.stdout
	if res.Status == engine.StatusSucceeded {
		if len(res.Outputs) > 0 {
			fmt.Fprintln(w, "Outputs:")
			for _, name := range sortedValueKeys(res.Outputs) {
				fmt.Fprintf(w, "  %s = %s\n", name, redact(engine.FormatValue(res.Outputs[name])))
			}
		}
	}
	counts := map[engine.Status]int{}
	cached := 0
	for _, t := range res.Tasks {
		counts[t.Status]++
		if t.Cache == engine.CacheHit {
			cached++
		}
		cached += t.InstanceCacheHits
	}
	var parts []string
	for _, s := range []engine.Status{engine.StatusSucceeded, engine.StatusFailed, engine.StatusCancelled, engine.StatusSkipped} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if cached > 0 {
		parts = append(parts, fmt.Sprintf("%d from the cache", cached))
	}
	fmt.Fprintf(c.stderr, "\n%s %s in %s (%s)\n  execution %s\n  sandbox   %s\n",
		res.Workflow, res.Status, roundDuration(res.End.Sub(res.Start)), strings.Join(parts, ", "), res.ExecutionID, res.RunDir)
	if res.Deck != "" {
		fmt.Fprintf(c.stderr, "  deck      %s\n", res.Deck)
	}
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond / 10).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func sortedValueKeys[V any](m map[string]V) []string {
	s := make(map[string]string, len(m))
	for k := range m {
		s[k] = k
	}
	return sortedStrings(s)
}

// reportRunError prints why a run failed. A plugin's problems with
// particular inputs are shown at those inputs in the workflow file.
func (c *cli) reportRunError(err error) {
	var te *engine.TaskError
	if errors.As(err, &te) && len(te.Diagnostics) > 0 {
		fmt.Fprintf(c.stderr, "Error: task %q (%s) failed:\n", te.Node, te.TaskID)
		c.writeDiags(te.Diagnostics)
		return
	}
	fmt.Fprintf(c.stderr, "Error: %v\n", err)
}

// loadResume prepares `goflyte run --resume RUN [--from TASK]`: the run's
// record, its workflow (compiled afresh from its file) and its inputs.
func (c *cli) loadResume(ctx context.Context, eng *engine.Engine, cfg *config.Config, id, from string) (*engine.Graph, *engine.Resume, map[string]json.RawMessage, error) {
	sb := sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}
	rec, err := sb.LoadRecord(id)
	if err != nil {
		return nil, nil, nil, usagef("run --resume: %v", err)
	}
	switch {
	case rec.Status == sandbox.StatusRunning:
		return nil, nil, nil, usagef("run --resume: %s is still running (pid %d)", rec.ID, rec.PID)
	case rec.Status == sandbox.StatusSucceeded && from == "":
		return nil, nil, nil, usagef("run --resume: %s succeeded: nothing to resume (add --from TASK to re-run a task and what follows it)", rec.ID)
	}
	var g *engine.Graph
	if rec.File == "" {
		g, err = eng.TaskGraph(ctx, rec.Workflow)
		if err != nil {
			return nil, nil, nil, err
		}
	} else {
		wf, diags, err := c.loadWorkflowArg(cfg, []string{rec.File, rec.Workflow})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("run --resume: the workflow of %s: %w", rec.ID, err)
		}
		eng.Workflows = c.workflowLookup(cfg, wf.File)
		var more hcl.Diagnostics
		g, more = eng.Compile(ctx, wf)
		if diags = append(diags, more...); diags.HasErrors() {
			return nil, nil, nil, &diagError{diags: diags}
		}
	}
	return g, &engine.Resume{Record: rec, RunDir: sb.RunDir(rec.Name), From: from}, rec.Inputs, nil
}

// sweep closes the records of runs that were interrupted (killed, crashed,
// the machine went down) and says so, once: the next run is where a user
// looks. Their plugins died with them (see plugin.Launch).
func sweep(cfg *config.Config, logger hclog.Logger) {
	swept, errs := sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}.Sweep()
	for _, rec := range swept {
		logger.Warn(fmt.Sprintf("run %s (workflow %s) was interrupted; cleaned up after it. Continue it with: goflyte run --resume %s",
			rec.Name, rec.Workflow, rec.Name))
	}
	for _, err := range errs {
		logger.Warn(err.Error())
	}
}
