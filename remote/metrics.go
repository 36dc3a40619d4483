package remote

import (
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/stats"
)

// Task metrics in a remote run's record. A local record's task has the
// task's own metrics (its plugin's counters, gauges and timers, over all
// attempts) and the engine's (engine.Metric*: a timer of each attempt,
// the cache lookups, the retries, a failure), aggregated by series. The
// worker sends only the task's own (TaskOutput.Metrics, TaskFailure's):
// the engine's say again what an attempt's start, end and cache outcome
// say, which the workflow has, so it makes them from those, and no byte
// is added to a task's events. Pure functions of their arguments: the
// workflow calls them.

// addMetrics folds an attempt's own metrics and the engine's that the
// workflow tells from it into the metrics of t, a task's record; node
// tags the engine's, as locally ("<prefix><name>").
func addMetrics(t *sandbox.TaskRecord, n *engine.Node, node string, add func(r *stats.Recorder), own []plugin.Metric) {
	if t == nil {
		return
	}
	r := stats.NewRecorder(stats.RecorderOptions{Tags: stats.Tags{"plugin": n.Plugin, "task": n.Task, "node": node}})
	r.Merge(fromRecord(t.Metrics))
	var mine []plugin.Metric
	for _, m := range own {
		if !strings.HasPrefix(m.Name, engineMetrics) { // a failure's details have them (the worker sends all)
			mine = append(mine, m)
		}
	}
	r.Merge(mine)
	if add != nil {
		add(r)
	}
	t.Metrics = toRecord(r.Metrics())
}

// metricsRecord returns the record whose metrics an attempt of cr adds
// to, as the local engine keeps them, and the node that tags the
// engine's: a task's of the run's graph, or a for_each node's for its
// instances. Calls in nested graphs (sub-workflow calls, dynamic
// workflows, batches) have light records (nested.go), which keep none,
// as a local record has none for them.
func (cr *callRun) metricsRecord() (*sandbox.TaskRecord, string) {
	if !cr.gr.top {
		return nil, ""
	}
	if cr.call.Parent == "" {
		return cr.rec, cr.call.Name
	}
	return cr.gr.d.byName[cr.call.Parent], cr.call.Parent
}

// addAttemptMetrics adds an attempt's metrics to the record
// metricsRecord names: own are the task's, add the engine's.
func (cr *callRun) addAttemptMetrics(add func(r *stats.Recorder), own []plugin.Metric) {
	if t, node := cr.metricsRecord(); t != nil {
		addMetrics(t, cr.call.Node, node, add, own)
	}
}

// attemptMetrics records an attempt that called its plugin (from start to
// end) and, when it succeeded, its cache outcome.
func attemptMetrics(start, end time.Time, cache string) func(r *stats.Recorder) {
	return func(r *stats.Recorder) {
		switch cache {
		case sandbox.CacheHit:
			r.Incr(engine.MetricCacheHits)
			return // the plugin was not called
		case sandbox.CacheMiss:
			r.Incr(engine.MetricCacheMisses)
		}
		if !start.IsZero() && !end.IsZero() {
			r.Timing(engine.MetricTaskDuration, end.Sub(start))
		}
	}
}

func fromRecord(ms []sandbox.Metric) []plugin.Metric {
	out := make([]plugin.Metric, 0, len(ms))
	for _, m := range ms {
		kind := plugin.Counter // an unknown kind stays a counter
		_ = kind.UnmarshalText([]byte(m.Kind))
		out = append(out, plugin.Metric{Name: m.Name, Kind: kind, Tags: m.Tags, Value: m.Value, Count: m.Count, Min: m.Min, Max: m.Max})
	}
	return out
}

func toRecord(ms []plugin.Metric) []sandbox.Metric {
	if len(ms) == 0 {
		return nil
	}
	out := make([]sandbox.Metric, len(ms))
	for i, m := range ms {
		out[i] = sandbox.Metric{Name: m.Name, Kind: m.Kind.String(), Tags: m.Tags, Value: m.Value, Count: m.Count, Min: m.Min, Max: m.Max}
	}
	return out
}
