package remote

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/internal/testtmp"
	"github.com/goflyte/goflyte/plugin"
)

// These tests run a worker's task activity (Worker.activity) with the
// real text plugin in Temporal's activity test environment: no server,
// so they also measure what the worker itself spends on a task.

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// textPluginDir is PluginsForTests: the text plugin is in it.
func textPluginDir(tb testing.TB) string { return PluginsForTests(tb) }

// PluginsForTests builds the example text plugin and the probe test
// plugin once, in one go build (their links side by side), into a
// directory for this package's tests, internal and external
// (worker_test.go).
func PluginsForTests(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds plugins")
	}
	pluginsOnce.Do(func() {
		if pluginsDir, pluginsErr = testtmp.Dir("goflyte-remote-plugins-"); pluginsErr != nil {
			return
		}
		stage := filepath.Join(pluginsDir, "build")
		cmd := exec.Command("go", "build", "-o", stage+string(filepath.Separator), "./examples/text", "./internal/testplugins/probe")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginsErr = &buildError{err: err, out: string(out)}
			return
		}
		for _, name := range []string{"text", "probe"} {
			if err := os.Rename(filepath.Join(stage, name), filepath.Join(pluginsDir, "goflyte-plugin-"+name)); err != nil {
				pluginsErr = &buildError{err: err}
				return
			}
		}
		pluginsErr = os.Remove(stage)
	})
	if pluginsErr != nil {
		tb.Fatal(pluginsErr)
	}
	return pluginsDir
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string {
	return "build the text and probe plugins: " + e.err.Error() + "\n" + e.out
}

// activityWorker is a Worker of the text plugin with a real engine (a
// local sandbox, no data store), without a Temporal client: enough for
// its activities.
func activityWorker(tb testing.TB) (*Worker, *testsuite.TestActivityEnvironment) {
	tb.Helper()
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = tb.TempDir()
	cfg.SDK.PluginDirs = []string{textPluginDir(tb)}
	e := engine.New(cfg, nil)
	tb.Cleanup(e.Close)
	w := &Worker{o: WorkerOptions{Engine: e, TaskQueue: "goflyte", Concurrency: 4, Grace: time.Second, CheckpointEvery: HeartbeatEvery},
		identity: "test-worker", tasks: map[string][]string{}, digests: &digests{}, slots: newSlots(4),
		stopping: make(chan struct{}), log: hclog.NewNullLogger()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(w.activity("text", "upper"), activity.RegisterOptions{Name: ActivityName("text", "upper")})
	return w, env
}

func upperInput(node string) TaskInput {
	return TaskInput{ExecutionID: "proj:dev:r1", ExecutionDate: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC),
		Node: node, Attempt: 1, Inputs: json.RawMessage(`{"text":"hello"}`), Mode: plugin.ModeTaskExecution}
}

// TestTaskOutputLeavesOutEngineMetrics: a task's output carries its
// outputs and times but not the engine's own metrics (every byte of it
// is kept in the activity's completed event), nor a working directory
// for text.upper, which never uses one (its plugin makes it lazily).
func TestTaskOutputLeavesOutEngineMetrics(t *testing.T) {
	_, env := activityWorker(t)
	val, err := env.ExecuteActivity(ActivityName("text", "upper"), upperInput("u1"))
	if err != nil {
		t.Fatal(err)
	}
	var out TaskOutput
	if err := val.Get(&out); err != nil {
		t.Fatal(err)
	}
	if got := string(out.Outputs); got != `{"text":"HELLO"}` {
		t.Errorf("outputs = %s", got)
	}
	if out.Worker != "test-worker" || out.WorkDir != "" || out.Start.IsZero() || out.End.Before(out.Start) {
		t.Errorf("worker %q, work dir %q, start %s, end %s", out.Worker, out.WorkDir, out.Start, out.End)
	}
	for _, m := range out.Metrics {
		if strings.HasPrefix(m.Name, "engine.") {
			t.Errorf("the output carries the engine's metric %s", m.Name)
		}
	}
	data, _ := json.Marshal(out)
	t.Logf("TaskOutput: %d bytes: %s", len(data), data)
}

func TestTaskMetrics(t *testing.T) {
	own := plugin.Metric{Name: "rows", Kind: plugin.Counter, Value: 3, Count: 1}
	for _, tc := range []struct {
		name string
		in   []plugin.Metric
		want int
	}{
		{"none", nil, 0},
		{"engine's only", []plugin.Metric{{Name: engine.MetricTaskDuration}, {Name: engine.MetricCacheMisses}}, 0},
		{"the task's kept", []plugin.Metric{{Name: engine.MetricTaskDuration}, own}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := taskMetrics(tc.in)
			if len(got) != tc.want || (tc.want == 1 && got[0].Name != own.Name) {
				t.Errorf("taskMetrics = %+v", got)
			}
		})
	}
	for _, name := range []string{engine.MetricTaskDuration, engine.MetricRetries, engine.MetricCacheHits, engine.MetricCacheMisses, engine.MetricFailures} {
		if !strings.HasPrefix(name, engineMetrics) {
			t.Errorf("engine metric %s does not start with %q", name, engineMetrics)
		}
	}
}

// BenchmarkWorkerTask measures one text.upper task through the worker's
// activity, outside Temporal's polling: the worker's own CPU per task
// (go test ./remote -run '^$' -bench WorkerTask -cpuprofile cpu.out).
func BenchmarkWorkerTask(b *testing.B) {
	_, env := activityWorker(b)
	if _, err := env.ExecuteActivity(ActivityName("text", "upper"), upperInput("warm")); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := env.ExecuteActivity(ActivityName("text", "upper"), upperInput("u")); err != nil {
			b.Fatal(err)
		}
	}
}
