package engine

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

const meteredWF = `workflow "m" {
  input "fails" { type = number }
  task "m" {
    uses          = "fake.metered"
    inputs        = { fails = input.fails }
    retries       = 1
    retry_backoff = "1ms"
  }
}`

// summary is a metric without its timings, which vary.
type summary struct {
	Name  string
	Kind  string
	Tags  map[string]string
	Value float64
	Count int64
}

func summarize(ms []sandbox.Metric) []summary {
	out := make([]summary, len(ms))
	for i, m := range ms {
		out[i] = summary{m.Name, m.Kind, m.Tags, m.Value, m.Count}
		if m.Kind == "timer" {
			out[i].Value = 0
		}
	}
	return out
}

var engineTags = map[string]string{"plugin": "fake", "task": "metered", "node": "m"}

func TestMetricsAcrossAttempts(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, meteredWF, map[string]string{"fails": "1"}, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	want := []summary{
		{"calls", "counter", map[string]string{"k": "v"}, 2, 2}, // one per attempt, merged
		{"engine.task.duration", "timer", engineTags, 0, 2},
		{"engine.task.retries", "counter", engineTags, 1, 1},
		{"statsd", "gauge", nil, 0, 2}, // no StatsD configured: Params.StatsD is nil
	}
	rec := loadRecord(t, e, res.ExecutionID)
	if diff := cmp.Diff(want, summarize(rec.Tasks[0].Metrics)); diff != "" {
		t.Errorf("recorded metrics (-want +got):\n%s", diff)
	}
	if n := len(res.Tasks[0].Metrics()); n != len(want) {
		t.Errorf("TaskRun.Metrics() has %d series, want %d", n, len(want))
	}
}

func TestMetricsOfAFailedTask(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, meteredWF, map[string]string{"fails": "5"}, RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status %s, want failed", res.Status)
	}
	want := []summary{
		{"calls", "counter", map[string]string{"k": "v"}, 2, 2},
		{"engine.task.duration", "timer", engineTags, 0, 2},
		{"engine.task.failures", "counter", engineTags, 1, 1},
		{"engine.task.retries", "counter", engineTags, 1, 1},
		{"statsd", "gauge", nil, 0, 2},
	}
	rec := loadRecord(t, e, res.ExecutionID)
	if diff := cmp.Diff(want, summarize(rec.Tasks[0].Metrics)); diff != "" {
		t.Errorf("recorded metrics (-want +got):\n%s", diff)
	}
}

func TestMetricsCache(t *testing.T) {
	e, _ := newTestEngine(t)
	tags := map[string]string{"plugin": "fake", "task": "counter", "node": "count"}
	for i, want := range [][]summary{
		{{"engine.task.cache_misses", "counter", tags, 1, 1}, {"engine.task.duration", "timer", tags, 0, 1}},
		{{"engine.task.cache_hits", "counter", tags, 1, 1}},
	} {
		res := mustRun(t, e, counterWF, map[string]string{"x": "1"}, RunOptions{})
		rec := loadRecord(t, e, res.ExecutionID)
		if diff := cmp.Diff(want, summarize(rec.Tasks[0].Metrics)); diff != "" {
			t.Errorf("run %d: recorded metrics (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestMetricsForEachShareTheNode(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "f" {
  task "m" {
    for_each = [0, 0, 0]
    uses     = "fake.metered"
    inputs   = { fails = each.value }
  }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	rec := loadRecord(t, e, res.ExecutionID)
	got := summarize(rec.Tasks[0].Metrics)
	want := []summary{
		{"calls", "counter", map[string]string{"k": "v"}, 3, 3},
		{"engine.task.duration", "timer", engineTags, 0, 3},
		{"statsd", "gauge", nil, 0, 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded metrics (-want +got):\n%s", diff)
	}
}

func TestMetricsSentToStatsD(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	e, f := newTestEngine(t)
	e.Config.StatsD.Host = "127.0.0.1"
	e.Config.StatsD.Port = conn.LocalAddr().(*net.UDPAddr).Port
	e.dialStatsD()
	if e.statsd == nil {
		t.Fatal("no StatsD client")
	}
	res := mustRun(t, e, meteredWF, map[string]string{"fails": "0"}, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	want := &plugin.StatsD{Host: "127.0.0.1", Port: e.Config.StatsD.Port, Prefix: "goflyte"}
	if diff := cmp.Diff(want, f.callsOf("metered")[0].Params.StatsD); diff != "" {
		t.Errorf("Params.StatsD (-want +got):\n%s", diff)
	}
	buf := make([]byte, 2048)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	if !strings.HasPrefix(line, "goflyte.engine.task.duration.__node=m.__plugin=fake.__task=metered:") || !strings.HasSuffix(line, "|ms") {
		t.Errorf("datagram %q, want the task's duration", line)
	}
	// The fake plugin's own metrics are not sent by the engine: a plugin
	// sends its own.
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := conn.Read(buf); err == nil {
		t.Errorf("unexpected datagram %q", buf[:n])
	}
	got := summarize(loadRecord(t, e, res.ExecutionID).Tasks[0].Metrics)
	if len(got) != 3 || got[2].Name != "statsd" || got[2].Value != 1 {
		t.Errorf("recorded metrics %v, want the plugin told of StatsD", got)
	}
}

// TestRecordedMetricsMemo checks that a task's record metrics are made
// once while nothing changes, and made again when its stats change or a
// secret value becomes known (which the tags must then not show).
func TestRecordedMetricsMemo(t *testing.T) {
	e, _ := newTestEngine(t)
	x := &execution{engine: e}
	n := &Node{Name: "n", Plugin: "p", Task: "t"}
	tr := &TaskRun{}
	x.taskStats(n, tr).Merge([]plugin.Metric{{Name: "calls", Kind: plugin.Counter, Tags: map[string]string{"user": "hunter2-secret"}, Value: 1, Count: 1}})
	first := x.recordedMetrics(tr)
	if len(first) != 1 || first[0].Tags["user"] != "hunter2-secret" {
		t.Fatalf("metrics = %+v", first)
	}
	if again := x.recordedMetrics(tr); &again[0] != &first[0] {
		t.Error("unchanged metrics were made again")
	}
	x.taskStats(n, tr).Incr(MetricCacheHits)
	if got := x.recordedMetrics(tr); len(got) != 2 {
		t.Errorf("after Incr: %d series, want 2 (%+v)", len(got), got)
	}
	e.Learn("hunter2-secret")
	got := x.recordedMetrics(tr)
	for _, m := range got {
		for k, v := range m.Tags {
			if strings.Contains(k+v, "hunter2") {
				t.Errorf("a secret learned after the metrics were made is still in the record: %+v", m)
			}
		}
	}
}
