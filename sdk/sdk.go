package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/plugin/jsonlog"
	"github.com/goflyte/goflyte/stats"
)

// Task is one task a plugin serves. Most tasks are written as a function
// and adapted with [Func]; implement Task directly only for what Func
// cannot express.
//
// A Task must be safe for concurrent use: the engine may run many
// executions of one task at once in one plugin process.
type Task interface {
	// Schema describes the task: its doc, kind, inputs and outputs. The
	// provider fills in the name from the key the task is served under.
	// It is called once, at start-up.
	Schema() plugin.TaskSchema
	// Execute runs the task. ctx carries the execution parameters
	// ([Params]) and is cancelled when the engine gives up on the task.
	// An error fails the task; see [AttrError] and [Retryable].
	Execute(ctx context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error)
}

// Options configure [ServeWithOptions]. The zero value is the default.
type Options struct {
	// Name is the plugin's name. "" means the name in the binary's file
	// name, goflyte-plugin-<name> (or the whole file name if it does not
	// have that form).
	Name string
	// Version is the plugin's version, which the engine records and puts
	// in cache keys. "" means the main module's version from the binary's
	// build information, or "devel" if it has none.
	Version string
}

// Serve serves tasks to the goflyte engine, keyed by task name. Call it
// from main and do nothing after it: under the engine it returns only when
// the engine shuts the plugin down. Run by hand, it prints that the binary
// is a plugin and exits with status 1.
//
// Serve panics on programmer mistakes, before serving anything: no tasks,
// a nil task, a task name that is not an identifier.
func Serve(tasks map[string]Task) {
	ServeWithOptions(Options{}, tasks)
}

// ServeWithOptions is [Serve] with options, for instance an explicit
// version.
func ServeWithOptions(opts Options, tasks map[string]Task) {
	name := opts.Name
	if name == "" {
		name = plugin.NameFromPath(os.Args[0])
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	p := newProvider(name, opts.Version, tasks)
	plugin.Serve(p, plugin.ServeOptions{Logger: p.logger})
}

// NewProvider returns the [plugin.Provider] that [Serve] serves: it
// describes tasks under the plugin name and version and runs them. It is
// for tests and examples that want a plugin without a process (sdktest is
// built on it). version "" means the default of [Options.Version].
//
// It panics on programmer mistakes: no tasks, a nil task, a task name that
// does not match [A-Za-z_][A-Za-z0-9_-]*.
//
// The provider's Execute puts the execution parameters into the task's
// context, recovers a panicking task into a *plugin.TaskError (see the
// package documentation), and returns every task failure as a
// *plugin.TaskError.
func NewProvider(name, version string, tasks map[string]Task) plugin.Provider {
	return newProvider(name, version, tasks)
}

type provider struct {
	schema plugin.Schema
	tasks  map[string]Task
	logger hclog.Logger // the plugin's base logger, JSON on the real stderr

	logMu   sync.Mutex // shared by all loggers: one line per write
	mu      sync.Mutex
	loggers map[hclog.Level]hclog.Logger // base loggers at other levels, made on demand

	// statsd holds one client (one socket) per StatsD endpoint, made on
	// first use and kept for the process; nil for an endpoint that failed.
	statsd map[plugin.StatsD]*stats.Client
}

var _ plugin.Provider = (*provider)(nil)

func newProvider(name, version string, tasks map[string]Task) *provider {
	if len(tasks) == 0 {
		panic("sdk: no tasks to serve; pass a map from task name to task, e.g. map[string]sdk.Task{\"split\": sdk.Func(split)}")
	}
	if version == "" {
		version = defaultVersion()
	}
	p := &provider{
		schema:  plugin.Schema{Name: name, Version: version},
		tasks:   make(map[string]Task, len(tasks)),
		loggers: map[hclog.Level]hclog.Logger{},
	}
	names := make([]string, 0, len(tasks))
	for n := range tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := tasks[n]
		if !isIdentifier(n) {
			panic(fmt.Sprintf("sdk: task name %q is not an identifier; use letters, digits, '_' and '-', starting with a letter or '_'", n))
		}
		if t == nil {
			panic(fmt.Sprintf("sdk: task %q is nil; pass sdk.Func(yourFunction) or another sdk.Task", n))
		}
		s := t.Schema()
		s.Name = n
		p.schema.Tasks = append(p.schema.Tasks, s)
		p.tasks[n] = t
	}
	level := hclog.LevelFromString(os.Getenv(plugin.LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	p.logger = p.newLogger(level)
	p.loggers[level] = p.logger
	return p
}

// newLogger returns a logger like plugin.NewPluginLogger's, JSON on stderr,
// but one that writes to the process's real stderr even when it is made
// after go-plugin has replaced os.Stderr, at the given level.
func (p *provider) newLogger(level hclog.Level) hclog.Logger {
	return jsonlog.New(jsonlog.Options{
		Name:   p.schema.Name,
		Level:  level,
		Output: processStderr,
		Mutex:  &p.logMu,
	})
}

// loggerFor returns the base logger at the level the engine asked for in
// the request ("" means the process's level).
func (p *provider) loggerFor(levelName string) hclog.Logger {
	level := hclog.LevelFromString(levelName)
	if level == hclog.NoLevel {
		return p.logger
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.loggers[level]
	if !ok {
		l = p.newLogger(level)
		p.loggers[level] = l
	}
	return l
}

// Describe implements plugin.Provider. Tasks are listed by name.
func (p *provider) Describe(context.Context) (*plugin.Schema, error) {
	s := p.schema
	// The sdk makes a task's working directory when the task first asks
	// for its params (Params), if the engine leaves it to the plugin.
	s.LazyWorkingDirectory = true
	s.Tasks = make([]plugin.TaskSchema, len(p.schema.Tasks))
	for i, t := range p.schema.Tasks {
		t.Inputs = append([]plugin.Field(nil), t.Inputs...)
		t.Outputs = append([]plugin.Field(nil), t.Outputs...)
		t.Secrets = append([]plugin.SecretRequest(nil), t.Secrets...)
		s.Tasks[i] = t
	}
	return &s, nil
}

// Execute implements plugin.Provider.
func (p *provider) Execute(ctx context.Context, req *plugin.ExecuteRequest) (res *plugin.ExecuteResult, err error) {
	if req == nil {
		return nil, errors.New("sdk: nil ExecuteRequest")
	}
	t, ok := p.tasks[req.Task]
	if !ok {
		return nil, &plugin.TaskError{Message: fmt.Sprintf("plugin %q has no task %q; it serves: %s",
			p.schema.Name, req.Task, strings.Join(p.schema.TaskNames(), ", "))}
	}
	params := &ExecutionParams{
		ExecutionID:      req.Params.ExecutionID,
		ExecutionDate:    req.Params.ExecutionDate,
		WorkingDirectory: req.Params.WorkingDirectory,
		Mode:             req.Params.Mode,
		TaskID:           req.Params.TaskID,
		Node:             req.Params.Node,
		Attempt:          req.Params.Attempt,
		Logger:           p.loggerFor(req.Params.LogLevel).With("task", req.Task, "node", req.Params.Node, "attempt", req.Params.Attempt),
		Stderr:           processStderr,
		TmpDir:           req.Params.TmpDir,
		RawOutputPrefix:  req.Params.RawOutputPrefix,
		EnableDeck:       req.Params.EnableDeck,
		secrets:          req.Secrets,
		callID:           req.CallID,
		stats:            stats.NewRecorder(stats.RecorderOptions{Client: p.statsClient(req.Params.StatsD)}),
	}
	if params.TmpDir == "" {
		params.TmpDir = os.TempDir()
	}
	if req.Params.MakeWorkingDirectory && params.WorkingDirectory != "" {
		params.workdir = &lazyDir{path: params.WorkingDirectory}
		if _, ok := t.(paramsOnly); !ok {
			// A Task of its own reads req.Params.WorkingDirectory, past
			// Params: make it now.
			if err := params.workdir.make(); err != nil {
				return nil, &plugin.TaskError{Message: err.Error()}
			}
		}
	}
	cpDest := req.Params.CheckpointDir
	switch {
	case cpDest != "":
	case params.WorkingDirectory != "":
		// An engine that does not say: keep the checkpoint in the
		// working directory, as Flytekit does locally.
		cpDest = filepath.Join(params.WorkingDirectory, "__cp")
	default:
		cpDest = filepath.Join(os.TempDir(), "goflyte-checkpoint-"+randomHex())
	}
	params.checkpoint = newCheckpoint(cpDest, req.Params.PrevCheckpointDir, params.TmpDir)
	params.decks = &deckSet{enabled: req.Params.EnableDeck, logger: params.Logger, task: req.Task}
	if t.Schema().Kind == plugin.KindEager {
		params.host = req.Host
	}
	// Runs last, after the recover below: metrics go back on success,
	// failure and panic alike, and so does what became of a working
	// directory left to the plugin.
	defer func() { res = withMetrics(res, params.stats) }()
	defer func() { res = withWorkdir(res, params.workdir.report()) }()
	defer func() {
		if v := recover(); v != nil {
			msg := fmt.Sprintf("panic: %v\n\n%s", v, trimStack(debug.Stack()))
			fmt.Fprintf(processStderr, "%s\n", msg)
			res, err = params.decks.withDecks(nil), &plugin.TaskError{Message: msg}
		}
	}()
	res, err = t.Execute(withParams(ctx, params), req)
	if err == nil && params.workdir != nil && params.workdir.err != nil {
		// Params could not make the directory the task was promised.
		err = params.workdir.err
	}
	if err != nil {
		// Decks count for a failed task too (plugin.ExecuteResult).
		return params.decks.withDecks(nil), taskError(err)
	}
	if res == nil {
		return params.decks.withDecks(nil), &plugin.TaskError{Message: fmt.Sprintf("task %q returned no result and no error", req.Task)}
	}
	return params.decks.withDecks(res), nil
}

// paramsOnly is a Task of the sdk's own (Func, Dynamic) whose function
// reaches its working directory only through Params, which makes it.
type paramsOnly interface{ paramsOnly() }

// statsClient returns the process's StatsD client for the endpoint, or
// nil when there is none or it cannot be reached (said once in the log).
func (p *provider) statsClient(endpoint *plugin.StatsD) *stats.Client {
	if endpoint == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.statsd[*endpoint]
	if !ok {
		var err error
		if c, err = stats.Dial(*endpoint); err != nil {
			p.logger.Warn("metrics stay local: cannot set up StatsD", "error", err)
		}
		if p.statsd == nil {
			p.statsd = map[plugin.StatsD]*stats.Client{}
		}
		p.statsd[*endpoint] = c
	}
	return c
}

// withMetrics adds the recorded metrics to res, making a result to carry
// them if the task failed without one.
func withMetrics(res *plugin.ExecuteResult, rec *stats.Recorder) *plugin.ExecuteResult {
	ms := rec.Metrics()
	if len(ms) == 0 {
		return res
	}
	if res == nil {
		res = &plugin.ExecuteResult{}
	}
	res.Metrics = append(res.Metrics, ms...)
	return res
}

// withWorkdir returns res saying w of the call's working directory
// (plugin.ExecuteResult.Workdir).
func withWorkdir(res *plugin.ExecuteResult, w plugin.WorkdirReport) *plugin.ExecuteResult {
	if w == plugin.WorkdirUnreported {
		return res
	}
	if res == nil {
		res = &plugin.ExecuteResult{}
	}
	res.Workdir = w
	return res
}

// trimStack cuts a goroutine stack trace taken in a deferred recover down
// to the frames between the panic and the provider: the task's own code.
func trimStack(stack []byte) string {
	lines := strings.Split(strings.TrimRight(string(stack), "\n"), "\n")
	if len(lines) < 2 {
		return string(stack)
	}
	header, frames := lines[0], lines[1:]
	// Frames come in pairs: "pkg.func(args)" then "\tfile:line +0x..".
	start := 0
	for i := 0; i+1 < len(frames); i += 2 {
		if strings.HasPrefix(frames[i], "panic(") {
			start = i + 2
		}
	}
	end := len(frames)
	for i := start; i < len(frames); i += 2 {
		if strings.HasPrefix(frames[i], "github.com/goflyte/goflyte/sdk.(*provider).Execute") {
			end = i
			break
		}
	}
	if start >= end {
		return string(stack)
	}
	return header + "\n" + strings.Join(frames[start:end], "\n")
}

// defaultVersion is the main module's version from the build information,
// or "devel".
func defaultVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "devel"
}
