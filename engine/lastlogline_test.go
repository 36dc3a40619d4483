package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// slowLogger is an engine logger that takes its time over the lines that
// contain slow before it logs them, as go-plugin's stderr reader does on
// a loaded machine: a plugin's lines reach the task logs that much later
// than the call's answer.
type slowLogger struct {
	hclog.Logger
	slow  string
	delay time.Duration
}

func (l slowLogger) Log(level hclog.Level, msg string, args ...any) {
	if strings.Contains(msg, l.slow) {
		time.Sleep(l.delay)
	}
	l.Logger.Log(level, msg, args...)
}

func (l slowLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l slowLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l slowLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l slowLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l slowLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l slowLogger) With(args ...any) hclog.Logger {
	l.Logger = l.Logger.With(args...)
	return l
}

func (l slowLogger) Named(name string) hclog.Logger {
	l.Logger = l.Logger.Named(name)
	return l
}

func (l slowLogger) ResetNamed(name string) hclog.Logger {
	l.Logger = l.Logger.ResetNamed(name)
	return l
}

// newSlowLogEngine returns an engine with the test plugins whose logger
// takes 300 ms over each "upper-casing text" line of text.upper (far
// longer than a call takes), logging into logBuf.
func newSlowLogEngine(t *testing.T, logBuf *syncBuffer) *engine.Engine {
	t.Helper()
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{taskPlugins(t)}
	cfg.SDK.LoggingLevel = "info"
	logger := slowLogger{
		Logger: hclog.New(&hclog.LoggerOptions{Output: logBuf, Level: hclog.Debug}),
		slow:   "upper-casing text", delay: 300 * time.Millisecond,
	}
	e := engine.New(cfg, logger)
	e.Storage = dataStorage{}
	t.Cleanup(e.Close)
	return e
}

// TestLastLogLineWorker: the task log a worker stores (ExecuteTask, the
// path of `goflyte worker`) has the plugin's last line, however late
// go-plugin's stderr reader logs it: the call returns only once the
// plugin's log mark has come (plugin/logmark.go). Without it, the stored
// log lacked the line every time here, and now and then on a loaded
// worker (TestIntegrationRemoteContinueNested).
func TestLastLogLineWorker(t *testing.T) {
	var logBuf syncBuffer
	e := newSlowLogEngine(t, &logBuf)
	prefix := t.TempDir()
	for i := range 3 { // one plugin process, reused
		node := fmt.Sprintf("up%d", i)
		res, err := e.ExecuteTask(context.Background(), engine.TaskCall{
			ExecutionID: "p:d:r1", ExecutionDate: time.Now(), Node: node,
			Plugin: "text", Task: "upper", Attempt: 1,
			Inputs: json.RawMessage(`{"text":"hello"}`), DataPrefix: prefix,
		})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(prefix, "_logs", node+".log"))
		if err != nil {
			t.Fatalf("task log of %s (%s): %v", node, res.Logs, err)
		}
		if !strings.Contains(string(data), "upper-casing text") {
			t.Fatalf("the stored task log of %s lacks the plugin's line:\n%s", node, data)
		}
	}
	if strings.Contains(logBuf.String(), "log mark") {
		t.Errorf("the engine's log shows a log mark:\n%s", logBuf.String())
	}
}

// TestLastLogLineLocal: when a local run returns, its task log has every
// task's plugin line, the last task's too, however late go-plugin's
// stderr reader logs them (before the engine is closed: a long-lived
// engine, as the console's, reads them then).
func TestLastLogLineLocal(t *testing.T) {
	var logBuf syncBuffer
	e := newSlowLogEngine(t, &logBuf)
	path := filepath.Join(t.TempDir(), "wf.hcl")
	src := `workflow "chain" {
  task "a" {
    uses   = "text.upper"
    inputs = { text = "a" }
  }
  task "b" {
    uses   = "text.upper"
    inputs = { text = task.a.text }
  }
  task "c" {
    uses   = "text.upper"
    inputs = { text = task.b.text }
  }
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	wf, diags := config.NewParser().LoadWorkflowFile(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	g, diags := e.Compile(ctx, wf.Workflows[0])
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, err := e.Run(ctx, g, engine.RunOptions{})
	if err != nil || res.Status != engine.StatusSucceeded {
		t.Fatalf("run: %v %v", err, res.Err)
	}
	list, err := sandbox.ListTaskLogs(res.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := sandbox.ReadTaskLogs(res.RunDir, list)
	if err != nil {
		t.Fatal(err)
	}
	plugin := map[string]int{}
	for _, l := range lines {
		if l.Msg == "upper-casing text" {
			plugin[l.Node]++
		}
	}
	for _, node := range []string{"a", "b", "c"} {
		if plugin[node] != 1 {
			t.Errorf("task %s has %d plugin lines in the run's log, want 1: %v", node, plugin[node], lines)
		}
	}
}
