package engine

import (
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/stats"
)

// The engine's own metrics of each task, tagged with the task's plugin,
// task and node. They are kept with the task's own metrics in
// TaskRun.Metrics and the run record, and sent to StatsD when it is
// configured (as <prefix>.engine.task.duration.__node=….__plugin=….__task=…).
const (
	// MetricTaskDuration times each attempt, from the call to its end.
	MetricTaskDuration = "engine.task.duration"
	// MetricRetries counts attempts that failed and were tried again.
	MetricRetries = "engine.task.retries"
	// MetricCacheHits and MetricCacheMisses count lookups in the local
	// cache (one per instance of a for_each task).
	MetricCacheHits   = "engine.task.cache_hits"
	MetricCacheMisses = "engine.task.cache_misses"
	// MetricFailures counts executions that failed after their last
	// attempt.
	MetricFailures = "engine.task.failures"
)

// taskStats returns the recorder of tr's metrics, made on first use; n's
// plugin, task and node tag the engine's samples. It is called from the
// goroutine that runs the task (or, for a for_each, before its instances
// start).
func (x *execution) taskStats(n *Node, tr *TaskRun) *stats.Recorder {
	if tr.stats == nil {
		tr.stats = x.newTaskStats(n)
	}
	return tr.stats
}

// newTaskStats is a new recorder of node n's metrics.
func (x *execution) newTaskStats(n *Node) *stats.Recorder {
	return stats.NewRecorder(stats.RecorderOptions{
		Client: x.engine.statsd,
		Tags:   stats.Tags{"plugin": n.Plugin, "task": n.Task, "node": x.prefix + n.Name},
	})
}

// Metrics returns the task's metrics: the counters, gauges and timers its
// plugin recorded (over all attempts and instances) and the engine's own
// (Metric* constants), sorted by name and tags. The caller owns the result.
func (t *TaskRun) Metrics() []plugin.Metric {
	if t.stats == nil {
		return nil
	}
	return t.stats.Metrics()
}
