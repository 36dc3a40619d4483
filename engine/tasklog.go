package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// Task logs. Every line logged about one task execution is also kept in
// the run's sandbox, in one file per run whose lines name their task
// attempt (engine/sandbox TaskLogs),
// so that `goflyte runs logs` can show it after the run. Lines come from
// two places:
//
//   - The plugin. go-plugin forwards each JSON line a plugin logs on its
//     stderr to the logger the engine gave [Plugins], through the plugin
//     package's host logger, which redacts secret values and tidies the
//     fields. That logger is a [routeLogger]: it logs the line as before
//     (to the terminal) and hands lines with a "node" field to the
//     engine's [logRouter]. One plugin process serves many tasks, of many
//     runs, at once, so the line's own node and attempt fields say whose it
//     is: each task attempt claims its (node, attempt) in the router before
//     its plugin is called.
//   - The engine, about the task: attempt started, retried, result from
//     the cache, succeeded, failed with its error. The execution knows its
//     run and writes these straight to the run's log, redacted.
//
// Two runs of one Engine that run the same attempt of the same node at the
// same moment cannot be told apart by those fields (a `goflyte worker`
// runs tasks of many runs): while more than one run that has not ended
// claims a (node, attempt), its plugin lines go to no task log (they are
// still in the engine's log), rather than to the wrong run's.
//
// Only lines at or above sdk.logging_level are kept, as on the terminal:
// plugins are asked to log at that level, and a run whose tasks log
// nothing at it writes no log file at all.
//
// Why not hclog's InterceptLogger with a sink: NewInterceptLogger makes a
// new logger from options and cannot wrap the logger the engine is given,
// and its sinks see every line of the engine, under one mutex. Wrapping
// only the plugins' logger sees exactly the lines to route, after
// redaction, and costs the engine's own lines nothing.

// logRouter finds the run of a plugin's log line. It is safe for
// concurrent use.
type logRouter struct {
	mu sync.RWMutex
	// claims are the runs that claimed each (node, attempt), latest last.
	claims map[logClaim][]*runLog
	// pruned is when start last forgot the claims of runs that ended
	// lateLines ago (under mu).
	pruned time.Time
}

// pruneEvery is how often start forgets old claims. A `goflyte worker`
// starts a run for every task attempt and keeps its claims for
// lateLines: going over all of them on every start cost 0.1-0.3 ms of
// CPU a task in a fan-out of thousands (remote BenchmarkWorkerTask),
// under the lock that routes plugin lines. Once a second, a claim lives
// at most a second longer.
const pruneEvery = time.Second

type logClaim struct {
	node    string
	attempt int
}

// lateLines is how long a run's claims outlive it: a plugin's last lines
// may arrive just after its call returned (stderr and the gRPC answer
// are separate streams). Engine.Close drains the plugins first, so the
// CLI loses none.
const lateLines = 30 * time.Second

func newLogRouter() *logRouter { return &logRouter{claims: map[logClaim][]*runLog{}} }

// runLog is one run's task logs, shared by the executions of its
// sub-workflows and eager tasks.
type runLog struct {
	engine *Engine
	logs   *sandbox.TaskLogs
	level  hclog.Level
	ended  time.Time // under logRouter.mu; zero while the run goes on
	// single is the task of a single-task run, whose plugin lines carry
	// an empty node (sdk.ExecutionParams.Node); under logRouter.mu.
	single string
}

// start returns the task logs of a new run, logging at level, and forgets
// the claims of runs that ended a while ago.
func (r *logRouter) start(e *Engine, run *sandbox.Run, level string) *runLog {
	l := hclog.LevelFromString(level)
	if l == hclog.NoLevel {
		l = hclog.Warn // what plugins log at when not told
	}
	rl := &runLog{engine: e, logs: run.TaskLogs(), level: l}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.pruned) < pruneEvery {
		return rl
	}
	r.pruned = now
	for c, runs := range r.claims {
		kept := runs[:0]
		for _, old := range runs {
			if old.ended.IsZero() || now.Sub(old.ended) <= lateLines {
				kept = append(kept, old)
			}
		}
		if len(kept) == 0 {
			delete(r.claims, c)
		} else {
			r.claims[c] = kept
		}
	}
	return rl
}

// claim routes the plugin's lines of node's attempt to rl. node is the
// node the plugin was told (Params.Node), "" for the task of a single-task
// run; name is the task's name in the run, which names its log.
func (r *logRouter) claim(rl *runLog, node, name string, attempt int) {
	r.mu.Lock()
	key := logClaim{node, attempt}
	runs := r.claims[key]
	for i, old := range runs {
		if old == rl {
			runs = append(runs[:i], runs[i+1:]...)
			break
		}
	}
	r.claims[key] = append(runs, rl)
	if node == "" {
		rl.single = name
	}
	r.mu.Unlock()
}

// end writes out rl's files. Lines that arrive later still reach them.
func (r *logRouter) end(rl *runLog) {
	r.mu.Lock()
	rl.ended = time.Now()
	r.mu.Unlock()
	if err := rl.logs.Close(); err != nil {
		rl.engine.warnOnce("task-log", "could not write a task log", "error", err)
	}
}

// reset forgets every claim (Engine.Close, after the plugins are gone).
func (r *logRouter) reset() {
	r.mu.Lock()
	clear(r.claims)
	r.mu.Unlock()
}

// route keeps a plugin's line if it names a task attempt claimed by a run.
// args are key/value pairs, implied ones first.
func (r *logRouter) route(pluginName string, level hclog.Level, msg string, args []any) {
	var node, task string
	attempt := 0
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "node":
			node, _ = args[i+1].(string)
		case "attempt":
			attempt = toInt(args[i+1])
		case "task":
			task, _ = args[i+1].(string)
		}
	}
	if node == "" && task == "" {
		return // not about a task: the engine's or go-plugin's own line
	}
	if attempt == 0 {
		attempt = 1
	}
	r.mu.RLock()
	rl := owner(r.claims[logClaim{node, attempt}])
	if rl != nil && node == "" {
		node = rl.single // a single-task run's task
	}
	r.mu.RUnlock()
	if rl == nil || level < rl.level || node == "" {
		return
	}
	line := &sandbox.LogLine{
		Time: time.Now(), Level: levelName(level), Source: sandbox.LogSourcePlugin,
		Logger: pluginName, Node: node, Attempt: attempt, Msg: msg,
		Fields: fields(args, nil),
	}
	if task != "" && pluginName != "" {
		line.Task = pluginName + "." + task
	}
	rl.write(line)
}

// owner is the run a line claimed by runs belongs to: the one that has
// not ended, or, when all have, the latest (a late line); nil when
// several have not ended (the line cannot be told apart). Under
// logRouter.mu.
func owner(runs []*runLog) *runLog {
	var live *runLog
	for _, rl := range runs {
		if rl.ended.IsZero() {
			if live != nil {
				return nil
			}
			live = rl
		}
	}
	if live != nil {
		return live
	}
	if len(runs) > 0 {
		return runs[len(runs)-1]
	}
	return nil
}

func (rl *runLog) write(line *sandbox.LogLine) {
	if err := rl.logs.Write(line); err != nil {
		rl.engine.warnOnce("task-log", "could not write a task log", "error", err)
	}
}

// claimLog routes the plugin's log lines of n's attempt to this run.
func (x *execution) claimLog(n *Node, attempt int) {
	if x.logs != nil {
		x.engine.logs.claim(x.logs, x.paramsNode(n), x.prefix+n.Name, attempt)
	}
}

// logTask keeps an engine line about an attempt of n in the run's task
// log (not on the terminal), redacted, if it is at or above the run's
// level. args are key/value pairs.
func (x *execution) logTask(level hclog.Level, n *Node, attempt int, msg string, args ...any) {
	if x.logs == nil || level < x.logs.level {
		return
	}
	e := x.engine
	x.logs.write(&sandbox.LogLine{
		Time: time.Now(), Level: levelName(level), Source: sandbox.LogSourceEngine,
		Logger: e.Logger.Name(), Node: x.prefix + n.Name, Attempt: max(attempt, 1),
		Task: n.TaskID(), Msg: e.Redact(msg), Fields: fields(args, e.Redact),
	})
}

// logEnd keeps the engine's line about how a task (or a for_each
// instance) ended: err is what its execution returned.
func (x *execution) logEnd(n *Node, tr *TaskRun, err error) {
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		x.logTask(hclog.Warn, n, tr.Attempts, "task cancelled")
	case err != nil:
		x.logTask(hclog.Error, n, tr.Attempts, "task failed", "error", err)
	case tr.Cache == CacheHit:
		x.logTask(hclog.Info, n, tr.Attempts, "task result taken from the cache", "key", tr.CacheKey)
	case n.Kind == KindTask && !tr.Start.IsZero():
		x.logTask(hclog.Info, n, tr.Attempts, "task succeeded", "duration", time.Since(tr.Start).Round(time.Millisecond))
	case n.Kind == KindTask:
		x.logTask(hclog.Info, n, tr.Attempts, "task succeeded")
	}
}

// fields turns log arguments into a line's fields, leaving out node and
// attempt (the line has them) and task. Values become what JSON can hold;
// with redact, strings and errors are redacted.
func fields(args []any, redact func(string) string) map[string]any {
	var m map[string]any
	for i := 0; i+1 < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok {
			k = fmt.Sprint(args[i])
		}
		if k == "node" || k == "attempt" || k == "task" {
			continue
		}
		if m == nil {
			m = make(map[string]any, len(args)/2)
		}
		m[k] = fieldValue(args[i+1], redact)
	}
	return m
}

func fieldValue(v any, redact func(string) string) any {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	switch x := v.(type) {
	case nil, bool, float64, float32, int, int64, int32, uint, uint64, uint32, map[string]any, []any:
		return x // from JSON, or numbers: as they are
	case string:
		return redact(x)
	case error:
		return redact(x.Error())
	case fmt.Stringer: // time.Duration among others
		return redact(x.String())
	default:
		return redact(fmt.Sprint(x))
	}
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64: // from a plugin's JSON line
		return int(x)
	case string:
		var n int
		_, _ = fmt.Sscan(x, &n)
		return n
	}
	return 0
}

// levelName is the level as hclog writes it: "trace" ... "error".
func levelName(l hclog.Level) string { return l.String() }

// routeLogger is the logger the engine gives Plugins: the engine's logger,
// plus routing of task lines to the runs' task logs.
type routeLogger struct {
	hclog.Logger
	router *logRouter
	plugin string // the plugin's name: the first Named below the engine's
	with   []any  // implied arguments (With)
}

var _ hclog.Logger = routeLogger{}

func (l routeLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, args...)
	if len(l.with) > 0 {
		args = append(append([]any(nil), l.with...), args...)
	}
	l.router.route(l.plugin, level, msg, args)
}

func (l routeLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l routeLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l routeLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l routeLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l routeLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l routeLogger) With(args ...any) hclog.Logger {
	l.Logger = l.Logger.With(args...)
	l.with = append(append([]any(nil), l.with...), args...)
	return l
}

func (l routeLogger) Named(name string) hclog.Logger {
	l.Logger = l.Logger.Named(name)
	if l.plugin == "" {
		l.plugin = name
	} else {
		l.plugin += "." + name
	}
	return l
}

func (l routeLogger) ResetNamed(name string) hclog.Logger {
	l.Logger = l.Logger.ResetNamed(name)
	l.plugin = name
	return l
}
