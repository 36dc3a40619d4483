package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// pluginLog logs a line the way go-plugin forwards a plugin's line: to the
// logger the engine gave Plugins, named after the plugin, with the task,
// node and attempt fields the sdk adds.
func pluginLog(e *Engine, p plugin.Params, task, msg string, args ...any) {
	args = append([]any{"task", task, "node", p.Node, "attempt", float64(p.Attempt)}, args...)
	e.Plugins.logger.Named("fake").Info(msg, args...)
}

// readLogs returns the run's task log lines as "<node>.<attempt> <source>
// <level> <msg>", in the order read.
func readLogs(t *testing.T, runDir string) []string {
	t.Helper()
	list, err := sandbox.ListTaskLogs(runDir)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := sandbox.ReadTaskLogs(runDir, list)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines {
		out = append(out, fmt.Sprintf("%s.%d %s %s %s", l.Node, l.Attempt, l.Source, l.Level, l.Msg))
	}
	return out
}

func TestTaskLogsRouting(t *testing.T) {
	e, f := newTestEngine(t)
	e.Config.SDK.LoggingLevel = "info"
	f.funcs["echo"] = func(_ context.Context, in map[string]any, p plugin.Params) (map[string]any, error) {
		pluginLog(e, p, "echo", "echoing", "s", in["s"])
		e.Plugins.logger.Named("fake").Debug("below the level", "node", p.Node, "attempt", p.Attempt)
		e.Plugins.logger.Named("fake").Info("not about a task")
		return map[string]any{"s": in["s"]}, nil
	}
	retryable := f.funcs["retryable"]
	f.funcs["retryable"] = func(ctx context.Context, in map[string]any, p plugin.Params) (map[string]any, error) {
		pluginLog(e, p, "retryable", fmt.Sprintf("attempt %d", p.Attempt))
		return retryable(ctx, in, p)
	}
	res := mustRun(t, e, `workflow "w" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
  task "each" {
    uses     = "fake.echo"
    for_each = ["p", "q"]
    inputs   = { s = "${task.a.s}${each.value}" }
  }
  task "r" {
    uses          = "fake.retryable"
    inputs        = { fails = 1 }
    retries       = 1
    retry_backoff = "1ms"
  }
  task "quiet" {
    uses   = "fake.add"
    inputs = { a = 1, b = 2 }
  }
}`, nil, RunOptions{Parallelism: 1})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got := readLogs(t, res.RunDir)
	want := []string{
		"a.1 plugin info echoing",
		"a.1 engine info task succeeded",
		"each@0.1 plugin info echoing",
		"each@0.1 engine info task succeeded",
		"each@1.1 plugin info echoing",
		"each@1.1 engine info task succeeded",
		"each.1 engine info task succeeded",
		"quiet.1 engine info task succeeded",
		"r.1 plugin info attempt 1",
		"r.1 engine warn task attempt failed; retrying",
		"r.2 plugin info attempt 2",
		"r.2 engine info task succeeded",
	}
	// Tasks ran one at a time, but which of the independent ones first is
	// the scheduler's business: compare each node's lines in order.
	byNode := func(lines []string) map[string][]string {
		m := map[string][]string{}
		for _, l := range lines {
			node, _, _ := strings.Cut(l, " ")
			m[node] = append(m[node], l)
		}
		return m
	}
	if diff := cmp.Diff(byNode(want), byNode(got)); diff != "" {
		t.Errorf("task logs (-want +got):\n%s", diff)
	}
	// One file for the run, no file per task attempt.
	if _, err := os.Stat(filepath.Join(res.RunDir, sandbox.TaskLogFile)); err != nil {
		t.Errorf("log file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "logs")); !os.IsNotExist(err) {
		t.Errorf("a logs directory of per-task files: %v", err)
	}

	rec := loadRecord(t, e, res.ExecutionID)
	files := map[string]string{}
	for _, tr := range rec.Tasks {
		files[tr.Name] = tr.LogFile
	}
	lf := sandbox.TaskLogFile
	wantFiles := map[string]string{"a": lf, "each": lf, "r": lf, "quiet": lf}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("record log files (-want +got):\n%s", diff)
	}
}

// TestTaskLogsQuietByDefault: at the default level (warn), a run whose
// tasks succeed without warnings writes no log files.
func TestTaskLogsQuietByDefault(t *testing.T) {
	e, f := newTestEngine(t)
	f.funcs["echo"] = func(_ context.Context, in map[string]any, p plugin.Params) (map[string]any, error) {
		pluginLog(e, p, "echo", "an info line") // a real plugin would not even send it
		return map[string]any{"s": in["s"]}, nil
	}
	res := mustRun(t, e, `workflow "w" {
  task "a" {
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	for _, name := range []string{sandbox.TaskLogFile, "logs"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s of a quiet run: %v", name, err)
		}
	}
}

// TestTaskLogsFailureRedacted: the engine's line about a failed task holds
// its error, without the secret values the task's error held.
func TestTaskLogsFailureRedacted(t *testing.T) {
	e, _ := newTestEngine(t)
	const value = "s3cret-Value"
	e.redactor.add([]byte(value))
	res := mustRun(t, e, `workflow "w" {
  task "f" {
    uses   = "fake.fail"
    inputs = { message = "cannot log in with s3cret-Value" }
  }
}`, nil, RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status %s", res.Status)
	}
	data, err := os.ReadFile(filepath.Join(res.RunDir, sandbox.TaskLogFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Contains(text, value) || !strings.Contains(text, `"error":"cannot log in with ***"`) || !strings.Contains(text, `"level":"error"`) {
		t.Errorf("log of the failed task:\n%s", text)
	}
	if rec := loadRecord(t, e, res.ExecutionID); rec.Tasks[0].LogFile != sandbox.TaskLogFile {
		t.Errorf("record log file = %q", rec.Tasks[0].LogFile)
	}
}

// TestTaskLogsConcurrentRuns: two runs of one engine at once route their
// plugins' lines, and never to the wrong run (run it with -race).
func TestTaskLogsConcurrentRuns(t *testing.T) {
	e, f := newTestEngine(t)
	e.Config.SDK.LoggingLevel = "info"
	f.funcs["echo"] = func(_ context.Context, in map[string]any, p plugin.Params) (map[string]any, error) {
		pluginLog(e, p, "echo", "echo "+in["s"].(string))
		return map[string]any{"s": in["s"]}, nil
	}
	g, err := compileSource(t, e, `workflow "w" {
  input "s" { type = string }
  task "each" {
    uses     = "fake.echo"
    for_each = range(20)
    inputs   = { s = input.s }
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	// The runs share node names: while both run "each@3", its lines cannot
	// be told apart and go to neither run's log. What holds: no line is
	// in the wrong run, or twice.
	var wg sync.WaitGroup
	dirs := make([]string, 2)
	names := []string{"one", "two"}
	for i, s := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inputs, _ := g.ParseInputs(map[string]string{"s": s}, nil)
			res, err := e.Run(context.Background(), g, RunOptions{Inputs: inputs})
			if err != nil || res.Status != StatusSucceeded {
				t.Errorf("run %s: %v %v", s, err, res.Err)
				return
			}
			dirs[i] = res.RunDir
		}()
	}
	wg.Wait()
	total := 0
	for i, dir := range dirs {
		for _, l := range readLogs(t, dir) {
			if !strings.Contains(l, " plugin ") {
				continue
			}
			total++
			if other := names[1-i]; strings.Contains(l, "echo "+other) {
				t.Errorf("run %s's log has a line of run %s: %s", names[i], other, l)
			}
		}
	}
	if total > 40 {
		t.Errorf("%d plugin lines kept, want at most 40", total)
	}
	// Alone, a run keeps every line.
	inputs, _ := g.ParseInputs(map[string]string{"s": "three"}, nil)
	res, err := e.Run(context.Background(), g, RunOptions{Inputs: inputs})
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("run three: %v", err)
	}
	n := 0
	for _, l := range readLogs(t, res.RunDir) {
		if strings.Contains(l, "echo three") {
			n++
		}
	}
	if n != 20 {
		t.Errorf("a run alone kept %d of its 20 plugin lines", n)
	}
}
