package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.temporal.io/sdk/client"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
)

// `goflyte run --remote`: the run is validated here exactly as a local
// one, then submitted to Temporal as a remote.RunInput and followed
// through its workflow's record (remote.Follow), whose changes become the
// events a local run gives the progress renderer.

// remoteRunOptions are the flags of `run --remote`.
type remoteRunOptions struct {
	pos         []string
	task        string // --task PLUGIN.TASK: a single task's run
	text        map[string]string
	fromFile    map[string]json.RawMessage
	parallelism int
	timeout     time.Duration
	resume      string
	from        string
	asJSON      bool
	quiet       bool
	detach      bool
	download    string
}

// followEvery is how often a followed run's workflow is asked for its
// record.
const followEvery = 250 * time.Millisecond

// dialPlatform connects to the Temporal frontend of cfg.
func (c *cli) dialPlatform(ctx context.Context, cfg *config.Config) (client.Client, remote.Options, error) {
	o := platformOptions(cfg, c.logger(cfg))
	cl, err := remote.Dial(ctx, o)
	if err != nil {
		return nil, o, err
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.TaskQueue == "" {
		o.TaskQueue = "goflyte"
	}
	o.URL = strings.TrimPrefix(o.URL, "dns:///")
	return cl, o, nil
}

func (c *cli) runRemote(ctx context.Context, cfg *config.Config, opts remoteRunOptions) error {
	eng := c.newEngine(cfg)
	defer eng.Close()

	var cl client.Client
	var po remote.Options
	var g *engine.Graph
	var wf *config.Workflow
	var lookup engine.WorkflowLookup
	var resume remoteResumed
	fromFile := opts.fromFile
	if opts.resume != "" {
		var err error
		if cl, po, err = c.dialPlatform(ctx, cfg); err != nil {
			return err
		}
		defer cl.Close()
		if resume, err = c.loadRemoteResume(ctx, eng, cfg, cl, po.Namespace, opts.resume, opts.from); err != nil {
			return err
		}
		g, wf, lookup, fromFile = resume.g, resume.wf, resume.lookup, resume.inputs
		if wf == nil {
			opts.task = g.Name // a task run's graph is named after its task
		}
	} else if opts.task != "" {
		var err error
		if g, err = eng.TaskGraph(ctx, opts.task); err != nil {
			return &usageError{err.Error()}
		}
	} else {
		var diags hcl.Diagnostics
		var err error
		wf, diags, err = c.loadWorkflowArg(cfg, opts.pos)
		if err != nil {
			return err
		}
		lookup = c.workflowLookup(cfg, wf.File)
		eng.Workflows = lookup
		var more hcl.Diagnostics
		g, more = eng.Compile(ctx, wf)
		diags = append(diags, more...)
		if diags.HasErrors() {
			return &diagError{diags: diags}
		}
		c.warn(diags)
	}
	values, err := g.ParseInputs(opts.text, fromFile)
	if err != nil {
		return err
	}
	now := time.Now()
	name := sandbox.NewRunName(now)
	dataPrefix, cachePrefix, err := remote.DataPrefixes(cfg.Local.RawOutputDataPrefix, name, cfg.Local.CacheEnabled)
	if err != nil {
		return usagef("run --remote: %v", err)
	}
	var sources map[string]string
	var plugins []string
	if opts.task != "" {
		plugins = []string{g.Nodes[0].Plugin}
	} else {
		if sources, err = remote.WorkflowSources(wf, lookup, nil); err != nil {
			return err
		}
		plugins = engine.PluginsUsed(wf, lookup)
	}
	lock := c.loadLockFile(cfg)
	refs, err := remote.PluginRefs(ctx, eng.Plugins, plugins, lock)
	if err != nil {
		return err
	}
	if g.HasDynamic() || g.HasEager() {
		// A dynamic task's workflow may use any plugin: the run carries
		// the schema and digest of every plugin this machine has, so that
		// it compiles even where the dynamic task's worker lacks one. Its
		// worker checks that they are served (remote.DynamicReadyWait).
		// An eager task may call any plugin's task too: the run says
		// which plugins it was validated against.
		c.addLocalPlugins(ctx, eng, refs, lock)
	}
	parallelism := opts.parallelism
	if parallelism == 0 {
		parallelism = remote.DefaultParallelism
	}
	in := &remote.RunInput{
		ExecutionID:    remote.ExecutionID(cfg.Local.Project, cfg.Local.Domain, name),
		ExecutionDate:  now.UTC(),
		Workflow:       g.Name,
		Task:           opts.task,
		Sources:        sources,
		Plugins:        refs,
		DataPrefix:     dataPrefix,
		CachePrefix:    cachePrefix,
		CacheOverwrite: cfg.Local.CacheOverwrite,
		Parallelism:    parallelism,
		Timeout:        opts.timeout,
		ResumedFrom:    resume.from,
	}
	if wf != nil {
		in.Main, in.Workflow = wf.File, wf.Name
	}
	// GOFLYTE_REMOTE_CONTINUE_AFTER=N (tests, tuning): the run's workflow
	// continues as new after N events of history, not
	// remote.ContinueAsNewAt.
	if n, err := strconv.Atoi(os.Getenv("GOFLYTE_REMOTE_CONTINUE_AFTER")); err == nil && n > 0 {
		in.ContinueAfter = n
	}
	if cl == nil {
		if cl, po, err = c.dialPlatform(ctx, cfg); err != nil {
			return err
		}
		defer cl.Close()
	}
	in.TaskQueue = po.TaskQueue
	if err := remote.WaitForWorkers(ctx, cl, po.Namespace, po.TaskQueue, plugins, remote.DefaultReadyWait); err != nil {
		var mw *remote.MissingWorkersError
		if errors.As(err, &mw) {
			return usagef("run --remote: nothing submitted: %v", err)
		}
		return err
	}
	// Every plugin's queue has a poller: the tasks need not bound their
	// wait for one (RunInput.Polled).
	in.Polled = plugins
	// Inputs last: local files go to the data store, which is only worth
	// it once the run can start.
	if in.Inputs, in.InputRefs, err = c.remoteInputs(ctx, cfg, g, values, dataPrefix); err != nil {
		return err
	}
	if in.Resume, in.ResumeRefs, err = c.remoteResume(ctx, cfg, resume.kept, resume.refs, dataPrefix); err != nil {
		return err
	}
	runID, err := remote.Submit(ctx, cl, in)
	if err != nil {
		return err
	}
	// The run's page, not its first Temporal run's: it stays right when
	// the run continues as new.
	link := remote.ConsoleURL(cfg.Platform.ConsoleEndpoint, po.Namespace, in.ExecutionID, "")
	fmt.Fprintf(c.stderr, "Submitted %s to %s (namespace %s)\n", in.ExecutionID, po.URL, po.Namespace)
	if link != "" {
		fmt.Fprintf(c.stderr, "Console: %s\n", link)
	}
	if opts.detach {
		if opts.asJSON {
			return writeJSON(c.stdout, map[string]string{"execution_id": in.ExecutionID, "console_url": link})
		}
		fmt.Fprintln(c.stdout, in.ExecutionID)
		return nil
	}
	p := newProgress(c.stderr, c.isTTY(), opts.quiet)
	rp := &recordProgress{observe: p.observe}
	rec, err := remote.Follow(ctx, cl, in.ExecutionID, runID, followEvery, rp.update)
	p.stop()
	if err != nil {
		if ctx.Err() != nil {
			c.detached(in.ExecutionID)
			if opts.asJSON {
				// As --detach would have printed: a script learns the id.
				_ = writeJSON(c.stdout, map[string]string{"execution_id": in.ExecutionID, "console_url": link})
			}
			return &exitError{code: exitCancel}
		}
		return err
	}
	// Not shownRecord: the result shows no task's outputs.
	if rec, err = c.wholeRecord(ctx, cfg, rec); err != nil {
		return err
	}
	return c.finishRemote(ctx, cfg, g, rec, in, link, opts, eng.Redact)
}

// addLocalPlugins adds to refs the plugins in sdk.plugin_dirs that it
// lacks; one that cannot be described is left out (the run may not use
// it), with a debug line.
func (c *cli) addLocalPlugins(ctx context.Context, eng *engine.Engine, refs map[string]remote.PluginRef, lock *config.Lock) {
	names, err := eng.Plugins.Names()
	if err != nil {
		eng.Logger.Debug("run --remote: cannot list the plugins for dynamic tasks", "error", err)
		return
	}
	for _, name := range names {
		if _, ok := refs[name]; ok {
			continue
		}
		more, err := remote.PluginRefs(ctx, eng.Plugins, []string{name}, lock)
		if err != nil {
			eng.Logger.Debug("run --remote: plugin left out of the run's plugins", "plugin", name, "error", eng.Redact(err.Error()))
			continue
		}
		refs[name] = more[name]
	}
}

// detached says that the run goes on after Ctrl-C, and how to follow it.
func (c *cli) detached(id string) {
	fmt.Fprintf(c.stderr, "\nDetached: run %s goes on remotely.\n  follow it:  goflyte runs show --remote %s --watch\n  cancel it:  goflyte runs cancel --remote %s\n", id, id, id)
}

// finishRemote prints a remote run's result as a local run's, and maps
// its status to the exit code.
func (c *cli) finishRemote(ctx context.Context, cfg *config.Config, g *engine.Graph, rec *sandbox.Record, in *remote.RunInput, link string, opts remoteRunOptions, redact func(string) string) error {
	res := recordResult(rec, g, in.DataPrefix)
	res.ExecutionDate = in.ExecutionDate
	if opts.download != "" && res.Status == engine.StatusSucceeded {
		if err := c.downloadOutputs(ctx, cfg, g, rec, opts.download); err != nil {
			return err
		}
	}
	if opts.asJSON {
		out := remoteResultOut{resultOut: resultJSON(res), ConsoleURL: link}
		var buf bytes.Buffer
		if err := writeJSON(&buf, out); err != nil {
			return err
		}
		if _, err := io.WriteString(c.stdout, redact(buf.String())); err != nil {
			return err
		}
	} else {
		printResult(c, res, redact)
		if link != "" {
			fmt.Fprintf(c.stderr, "  console   %s\n", link)
		}
	}
	return c.statusExit(res, opts.asJSON)
}

// statusExit maps a run's status to the exit code, reporting its error.
func (c *cli) statusExit(res *engine.Result, asJSON bool) error {
	switch res.Status {
	case engine.StatusSucceeded:
		return nil
	case engine.StatusCancelled:
		if !asJSON {
			fmt.Fprintf(c.stderr, "Error: %v\n", res.Err)
		}
		return &exitError{code: exitCancel}
	default:
		if !asJSON {
			c.reportRunError(res.Err)
		}
		return &exitError{code: exitFailed}
	}
}

// remoteResultOut is the --json result of a remote run: a local run's
// keys (run_dir is the run's data-store URI) and its console link.
type remoteResultOut struct {
	resultOut
	ConsoleURL string `json:"console_url"`
}

// recordResult turns a remote run's record into the result a local run
// returns, for the same rendering: outputs typed by g's outputs.
func recordResult(rec *sandbox.Record, g *engine.Graph, runDir string) *engine.Result {
	res := &engine.Result{
		ExecutionID:   rec.ID,
		ExecutionDate: rec.Start,
		RunDir:        runDir,
		Workflow:      rec.Workflow,
		Status:        engine.Status(rec.Status),
		Start:         rec.Start,
		End:           rec.End,
		Deck:          rec.Deck,
	}
	if res.Workflow == "" && g != nil {
		res.Workflow = g.Name
	}
	if rec.Status == sandbox.StatusInterrupted {
		res.Status = engine.StatusFailed
	}
	if rec.Error != "" {
		res.Err = errors.New(rec.Error)
	} else if res.Status != engine.StatusSucceeded {
		res.Err = fmt.Errorf("the run %s", rec.Status)
	}
	if res.Status == engine.StatusSucceeded && len(rec.Outputs) > 0 {
		res.Outputs = map[string]cty.Value{}
		types := map[string]cty.Type{}
		if g != nil {
			for _, o := range g.Outputs {
				types[o.Name] = o.Type
			}
		}
		for name, raw := range rec.Outputs {
			ty, ok := types[name]
			if !ok {
				ty = cty.DynamicPseudoType
			}
			v, err := engine.FromJSON(raw, ty)
			if err != nil {
				v = cty.StringVal(string(raw))
			}
			res.Outputs[name] = v
		}
	}
	for _, t := range rec.Tasks {
		res.Tasks = append(res.Tasks, recordTaskRun(t))
	}
	return res
}

// recordTaskRun is a task's record as the task run a local run has.
func recordTaskRun(t sandbox.TaskRecord) *engine.TaskRun {
	tr := &engine.TaskRun{Node: t.Name, TaskID: t.Task, Status: engine.Status(t.Status), Attempts: t.Attempts, WorkDir: t.WorkDir,
		Start: t.Start, End: t.End, Cache: t.Cache, CacheKey: t.CacheKey, CacheReason: t.CacheReason,
		AttemptErrors: t.AttemptErrors, AttemptTimes: t.AttemptTimes, Instances: t.Instances, FailedInstances: t.FailedInstances,
		Children: t.Children, OutputsJSON: t.Outputs, Resumed: t.Resumed, Deck: t.Deck}
	if t.Error != "" {
		tr.Err = errors.New(t.Error)
	}
	return tr
}

// recordProgress turns a followed run's record snapshots into the events
// of a local run: a task that started, then one that ended (succeeded,
// failed or cancelled), each once, in the record's order. The calls
// nested below a task (TaskRecord.Nested) get the lines a local run
// prints for them, between the task's start and end: the tasks of
// sub-workflows, dynamic workflows and eager tasks, not for_each
// instances (a local run prints none for those).
type recordProgress struct {
	observe func(engine.Event)
	seen    map[string]string // task -> the status last shown: running or ended
}

func (p *recordProgress) update(rec *sandbox.Record) {
	if p.seen == nil {
		p.seen = map[string]string{}
	}
	done := 0
	for _, t := range rec.Tasks {
		if ended(t.Status) {
			done++
		}
	}
	res := recordResult(rec, nil, "")
	for i, t := range rec.Tasks {
		tr := res.Tasks[i]
		p.show(t, tr, done, len(rec.Tasks), true)
		for _, nt := range t.Nested {
			if instance(nt.Name) {
				continue
			}
			p.show(nt, recordTaskRun(nt), done, len(rec.Tasks), false)
		}
		p.show(t, tr, done, len(rec.Tasks), false)
	}
}

// show gives the events of task t not shown yet: its start, then its
// end (unless onlyStart).
func (p *recordProgress) show(t sandbox.TaskRecord, tr *engine.TaskRun, done, total int, onlyStart bool) {
	was := p.seen[t.Name]
	switch {
	case t.Status == sandbox.StatusRunning && was == "":
		p.seen[t.Name] = "running"
		p.observe(engine.Event{Kind: engine.EventStarted, Task: tr, Done: done, Total: total})
	case ended(t.Status) && t.Status != sandbox.StatusSkipped && was != "ended":
		if was == "" {
			p.seen[t.Name] = "running"
			p.observe(engine.Event{Kind: engine.EventStarted, Task: tr, Done: done, Total: total})
		}
		if onlyStart {
			return
		}
		p.seen[t.Name] = "ended"
		kind := engine.EventSucceeded
		if t.Status != sandbox.StatusSucceeded {
			kind = engine.EventFailed
		}
		p.observe(engine.Event{Kind: kind, Task: tr, Done: done, Total: total})
	}
}

// instance reports whether a nested call's name is a for_each
// instance's ("t@2", "call+t@2").
func instance(name string) bool {
	return strings.Contains(name[strings.LastIndexByte(name, '+')+1:], "@")
}

func ended(status string) bool {
	switch status {
	case sandbox.StatusSucceeded, sandbox.StatusFailed, sandbox.StatusCancelled, sandbox.StatusSkipped, sandbox.StatusInterrupted:
		return true
	}
	return false
}

// loadLockFile returns goflyte.lock.hcl's pins (nil without one, or with
// --lock=false): a remote run is submitted with the locked digests.
func (c *cli) loadLockFile(cfg *config.Config) *config.Lock {
	if !c.lock {
		return nil
	}
	wd, _ := os.Getwd()
	lock, diags := c.parser.LoadLock(config.LockPath(cfg, wd))
	if diags.HasErrors() {
		return nil // newEngine said so, and trusts no plugin
	}
	return lock
}

// remoteInputs returns the run's inputs as JSON. A file or dir input
// given as a local path is put in the data store first (under
// <data prefix>/inputs/<input>/), since workers on other machines cannot
// read it; a local file inside a collection is refused. An input larger
// than remote.InlineLimit is put in the data store too (under
// <data prefix>/inputs/<input>.json) and given in refs by its URI: the
// run's input travels through Temporal, which refuses a payload above
// about 2 MB.
func (c *cli) remoteInputs(ctx context.Context, cfg *config.Config, g *engine.Graph, values map[string]cty.Value, dataPrefix string) (out map[string]json.RawMessage, refs map[string]string, err error) {
	out = make(map[string]json.RawMessage, len(values))
	var st *datastore.Store
	open := func() error {
		if st != nil {
			return nil
		}
		var err error
		st, err = datastore.Open(ctx, dataPrefix, storageFor(cfg, c.logger(cfg)).opts)
		return err
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for _, in := range g.Inputs {
		v, ok := values[in.Name]
		if !ok {
			continue
		}
		if config.IsFileType(in.Type) && !v.IsNull() && v.IsKnown() {
			ref := v.EncapsulatedValue().(*config.FileRef)
			if ref.Local != "" && (ref.URI == "" || strings.HasPrefix(ref.URI, "file://")) {
				if err := open(); err != nil {
					return nil, nil, fmt.Errorf("input %q: %w", in.Name, err)
				}
				key := path.Join("inputs", in.Name, filepath.Base(ref.Local))
				var uri string
				var err error
				if in.Type == config.DirType {
					uri, err = st.PutDir(ctx, key, ref.Local)
				} else {
					uri, err = st.PutFile(ctx, key, ref.Local)
				}
				if err != nil {
					return nil, nil, fmt.Errorf("input %q: put %s in the data store: %w", in.Name, ref.Local, err)
				}
				v = cty.CapsuleVal(in.Type, &config.FileRef{URI: uri})
			}
		}
		data, err := engine.ToJSON(v)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		if bytes.Contains(data, []byte(`"file://`)) {
			return nil, nil, usagef("run --remote: input %q holds a local file or dir inside a collection, which workers on other machines cannot read: put it in the bucket and pass its URI (s3://, gs://, azblob://)", in.Name)
		}
		if len(data) > remote.InlineLimit {
			if err := open(); err != nil {
				return nil, nil, fmt.Errorf("input %q: %w", in.Name, err)
			}
			uri, err := engine.PutBytes(ctx, st, path.Join("inputs", in.Name+".json"), data)
			if err != nil {
				return nil, nil, fmt.Errorf("input %q (%d bytes): put it in the data store: %w", in.Name, len(data), err)
			}
			if refs == nil {
				refs = map[string]string{}
			}
			refs[in.Name] = uri
			continue
		}
		out[in.Name] = data
	}
	return out, refs, nil
}

// remoteResume splits the outputs a resumed run keeps (by node name)
// into those that travel in its RunInput (Resume) and those larger than
// remote.InlineLimit, which travel as data-store URIs (ResumeRefs): the
// earlier run's reference when its workflow held them (refs), else
// stored under the new run's dataPrefix.
func (c *cli) remoteResume(ctx context.Context, cfg *config.Config, kept map[string]json.RawMessage, refs map[string]string, dataPrefix string) (inline map[string]json.RawMessage, byRef map[string]string, err error) {
	var st *datastore.Store
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for _, name := range slices.Sorted(maps.Keys(kept)) {
		data := kept[name]
		if len(data) <= remote.InlineLimit {
			if inline == nil {
				inline = map[string]json.RawMessage{}
			}
			inline[name] = data
			continue
		}
		if byRef == nil {
			byRef = map[string]string{}
		}
		if uri := refs[name]; uri != "" {
			byRef[name] = uri
			continue
		}
		if st == nil {
			if st, err = datastore.Open(ctx, dataPrefix, storageFor(cfg, c.logger(cfg)).opts); err != nil {
				return nil, nil, fmt.Errorf("run --resume: the outputs of task %q: %w", name, err)
			}
		}
		if byRef[name], err = engine.PutBytes(ctx, st, path.Join("_resume", name+".json"), data); err != nil {
			return nil, nil, fmt.Errorf("run --resume: the outputs of task %q (%d bytes): put them in the data store: %w", name, len(data), err)
		}
	}
	return inline, byRef, nil
}

// downloadOutputs fetches the run's file and dir outputs into dir
// (--download): each as dir/<output>/<base name of its object>.
func (c *cli) downloadOutputs(ctx context.Context, cfg *config.Config, g *engine.Graph, rec *sandbox.Record, dir string) error {
	st := storageFor(cfg, c.logger(cfg))
	for _, o := range g.Outputs {
		if !config.IsFileType(o.Type) {
			continue
		}
		raw, ok := rec.Outputs[o.Name]
		if !ok {
			continue
		}
		var uri string
		if err := json.Unmarshal(raw, &uri); err != nil || uri == "" {
			continue
		}
		dst := filepath.Join(dir, o.Name, path.Base(strings.SplitN(uri, "?", 2)[0]))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := st.Fetch(ctx, uri, dst, o.Type == config.DirType); err != nil {
			return fmt.Errorf("--download: output %q: %w", o.Name, err)
		}
		fmt.Fprintf(c.stderr, "Downloaded %s: %s\n", o.Name, dst)
	}
	return nil
}

// remoteResumed is what loadRemoteResume found of the earlier run.
type remoteResumed struct {
	g      *engine.Graph
	wf     *config.Workflow // nil for a task run (run --remote --task)
	lookup engine.WorkflowLookup
	inputs map[string]json.RawMessage // the earlier run's inputs
	// kept are the outputs the engine's resume rules keep, by node name.
	// They may be larger than remote.InlineLimit: refs are the data-store
	// URIs of those that the earlier run's workflow held by reference
	// (remoteResume splits them).
	kept map[string]json.RawMessage
	refs map[string]string
	from string // the earlier run's execution id
}

// loadRemoteResume prepares `run --remote --resume RUN [--from TASK]`:
// the earlier remote run's record and start input give the workflow
// (compiled afresh from its file, as a local resume does), the inputs and
// the outputs that the engine's resume rules keep.
func (c *cli) loadRemoteResume(ctx context.Context, eng *engine.Engine, cfg *config.Config, cl client.Client, ns, arg, from string) (remoteResumed, error) {
	var r remoteResumed
	info, err := remote.Resolve(ctx, cl, ns, cfg.Local.Project, cfg.Local.Domain, arg)
	if err != nil {
		return r, remoteUsage("run --resume", err)
	}
	rec, info, err := remote.Record(ctx, cl, ns, info.ID)
	if err == nil {
		rec, err = c.wholeRecord(ctx, cfg, rec)
	}
	if err != nil {
		return r, err
	}
	switch {
	case rec.Status == sandbox.StatusRunning:
		return r, usagef("run --resume: %s is still running (goflyte runs cancel --remote %s)", rec.ID, rec.Name)
	case rec.Status == sandbox.StatusSucceeded && from == "":
		return r, usagef("run --resume: %s succeeded: nothing to resume (add --from TASK to re-run a task and what follows it)", rec.ID)
	}
	start, err := remote.StartedInput(ctx, cl, info.ID, info.RunID)
	if err != nil {
		return r, err
	}
	if start.Task != "" {
		// A task run (run --remote --task): wf stays nil.
		if r.g, err = eng.TaskGraph(ctx, start.Task); err != nil {
			return r, err
		}
	} else {
		var diags hcl.Diagnostics
		r.wf, diags, err = c.loadWorkflowArg(cfg, []string{start.Main, start.Workflow})
		if err != nil {
			return r, fmt.Errorf("run --resume: the workflow of %s: %w", rec.ID, err)
		}
		r.lookup = c.workflowLookup(cfg, r.wf.File)
		eng.Workflows = r.lookup
		var more hcl.Diagnostics
		r.g, more = eng.Compile(ctx, r.wf)
		if diags = append(diags, more...); diags.HasErrors() {
			return r, &diagError{diags: diags}
		}
	}
	// Outputs the workflow held by reference are read to be checked as
	// a local resume checks them; the new run keeps their references.
	r.refs = map[string]string{}
	for _, t := range rec.Tasks {
		if t.OutputsRef != "" {
			r.refs[t.Name] = t.OutputsRef
		}
	}
	if rec, err = c.resolveTaskOutputs(ctx, cfg, rec); err != nil {
		return r, fmt.Errorf("run --resume: %w", err)
	}
	raw, err := engine.KeptOutputs(r.g, &engine.Resume{Record: rec, From: from})
	if err != nil {
		return r, err
	}
	r.kept = make(map[string]json.RawMessage, len(raw))
	for name, data := range raw {
		r.kept[name] = data
	}
	// The run's inputs above the inline limit are in the bucket.
	runInputs := start.Inputs
	if len(start.InputRefs) > 0 {
		runInputs = maps.Clone(start.Inputs)
		if runInputs == nil {
			runInputs = map[string]json.RawMessage{}
		}
		for _, name := range slices.Sorted(maps.Keys(start.InputRefs)) {
			data, err := c.fetchBytes(ctx, cfg, start.InputRefs[name])
			if err != nil {
				return r, fmt.Errorf("run --resume: input %q of %s: %w", name, rec.ID, err)
			}
			runInputs[name] = data
		}
	}
	r.inputs, r.from = runInputs, rec.ID
	return r, nil
}

// remoteUsage makes a run the namespace does not have a usage error.
func remoteUsage(cmd string, err error) error {
	var nf *remote.NotFoundError
	var nr *remote.NotRunningError
	if errors.As(err, &nf) || errors.As(err, &nr) {
		return usagef("%s: %v", cmd, err)
	}
	return err
}
