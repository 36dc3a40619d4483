package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// TestE2ERunsLogs runs a workflow whose plugin logs at info, then reads
// the run's task logs back: all tasks, one task, as JSON.
func TestE2ERunsLogs(t *testing.T) {
	x := newE2E(t)
	wf := filepath.Join(repoRoot, "examples", "workflows", "wordcount.hcl")
	out, r := x.runJSON("run", wf, "--input", "text=to be or not to be", "-v")
	if r.code != 0 || out.Status != "succeeded" {
		t.Fatalf("run\n%s", r)
	}
	name := filepath.Base(out.RunDir)

	r = x.run("runs", "logs", out.ExecutionID)
	if r.code != 0 {
		t.Fatalf("runs logs\n%s", r)
	}
	for _, want := range []string{
		"split | ", "text: split text: bytes=18 words=6",
		"count | ", "text: counted words: n=6 unique=4",
		"goflyte: task succeeded",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("runs logs lacks %q\n%s", want, r)
		}
	}
	if strings.Index(r.stdout, "split text") > strings.Index(r.stdout, "counted words") {
		t.Errorf("runs logs is not in order of time\n%s", r)
	}

	r = x.run("runs", "logs", name, "split")
	if r.code != 0 || !strings.Contains(r.stdout, "[INFO]  text: split text: bytes=18 words=6") || strings.Contains(r.stdout, "counted") || strings.Contains(r.stdout, "split |") {
		t.Errorf("runs logs RUN split\n%s", r)
	}

	r = x.run("runs", "logs", name, "split", "--json")
	if r.code != 0 {
		t.Fatalf("runs logs --json\n%s", r)
	}
	var plugin int
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var l struct {
			Level, Source, Logger, Node, Task, Msg string
			Attempt                                int
			Fields                                 map[string]any
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("runs logs --json line %q: %v", line, err)
		}
		if l.Node != "split" || l.Attempt != 1 || l.Task != "text.split" {
			t.Errorf("line of another task execution: %s", line)
		}
		if l.Source == "plugin" {
			plugin++
			if l.Level != "info" || l.Logger != "text" || l.Msg != "split text" || l.Fields["words"] != 6.0 {
				t.Errorf("plugin line: %s", line)
			}
		}
	}
	if plugin != 1 {
		t.Errorf("%d plugin lines, want 1\n%s", plugin, r)
	}

	r = x.run("runs", "show", name)
	if r.code != 0 || !strings.Contains(r.stdout, "kept in logs.jsonl") || !strings.Contains(r.stdout, "\n  split\n") {
		t.Errorf("runs show does not mention the log file\n%s", r)
	}

	r = x.run("runs", "logs", name, "splt")
	if r.code != 2 || !strings.Contains(r.stderr, `did you mean "split"?`) {
		t.Errorf("runs logs of an unknown task\n%s", r)
	}
	r = x.run("runs", "logs", "r20000101-000000-00000000")
	if r.code != 2 || !strings.Contains(r.stderr, "no run") {
		t.Errorf("runs logs of an unknown run\n%s", r)
	}
	r = x.run("runs", "logs", name, "split", "--attempt", "2")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No log lines") {
		t.Errorf("runs logs of an attempt that did not happen\n%s", r)
	}
}

// TestE2ERunsLogsOldLayout: a run recorded with one log file per task
// attempt (logs/<node>[.<n>].log, before logs.jsonl) shows the same in
// runs logs, for all tasks, one task, one attempt and as JSON.
func TestE2ERunsLogsOldLayout(t *testing.T) {
	x := newE2E(t)
	wf := filepath.Join(repoRoot, "examples", "workflows", "wordcount.hcl")
	out, r := x.runJSON("run", wf, "--input", "text=to be or not to be", "-v")
	if r.code != 0 || out.Status != "succeeded" {
		t.Fatalf("run\n%s", r)
	}
	queries := [][]string{
		{"runs", "logs", out.ExecutionID},
		{"runs", "logs", out.ExecutionID, "--json"},
		{"runs", "logs", out.ExecutionID, "split"},
		{"runs", "logs", out.ExecutionID, "count", "--attempt", "1", "--json"},
	}
	var before []string
	for _, q := range queries {
		r := x.run(q...)
		if r.code != 0 || !strings.Contains(r.stdout, "task succeeded") {
			t.Fatalf("%v\n%s", q, r)
		}
		before = append(before, r.stdout)
	}
	// Rewrite the run's logs as an older goflyte wrote them.
	parts, err := sandbox.SplitTaskLogs(out.RunDir)
	if err != nil || len(parts) < 2 {
		t.Fatalf("split: %d parts, %v", len(parts), err)
	}
	if err := os.Mkdir(filepath.Join(out.RunDir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if err := os.WriteFile(filepath.Join(out.RunDir, "logs", p.Name), p.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(out.RunDir, sandbox.TaskLogFile)); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		r := x.run(q...)
		if r.code != 0 || r.stdout != before[i] {
			t.Errorf("%v on the old layout differs:\n%s\nwant stdout:\n%s", q, r, before[i])
		}
	}
}

// TestE2ERunsLogsRedacted: a plugin that logs its secret leaves only ***
// in the task log, as on the terminal.
func TestE2ERunsLogsRedacted(t *testing.T) {
	x := newE2E(t)
	const value = "hunter2-Wp9&<q>"
	x.env = append(x.env, "FLYTE_SECRETS_LEAK_TOKEN="+value)
	out, r := x.runJSON("run", "--task", "leaky.log", "-v")
	if r.code != 0 {
		t.Fatalf("run\n%s", r)
	}
	for _, args := range [][]string{
		{"runs", "logs", out.ExecutionID},
		{"runs", "logs", out.ExecutionID, "--json"},
	} {
		r := x.run(args...)
		if r.code != 0 || !strings.Contains(r.stdout, "the token is ***") || !strings.Contains(r.stdout, "token=***") {
			t.Errorf("%v: the plugin's lines are missing\n%s", args, r)
		}
		if strings.Contains(r.String(), "hunter2") {
			t.Errorf("%v: the secret value is in the task log\n%s", args, r)
		}
	}
}

// TestE2ELogFormatJSON: with --log-format json, everything goflyte logs
// on stderr is one JSON object per line, the plugins' lines included.
func TestE2ELogFormatJSON(t *testing.T) {
	x := newE2E(t)
	wf := filepath.Join(repoRoot, "examples", "workflows", "wordcount.hcl")
	r := x.run("run", wf, "--input", "text=a b", "-v", "-q", "--json", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("run\n%s", r)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("stderr line is not JSON: %q\n%s", line, r)
		}
		if l["@message"] == "split text" && l["node"] == "split" && l["attempt"] == 1.0 {
			found = true
		}
	}
	if !found {
		t.Errorf("the plugin's line is not in the JSON log\n%s", r)
	}
	r = x.run("run", wf, "--input", "text=a b", "--log-format", "xml")
	if r.code != 2 {
		t.Errorf("--log-format xml\n%s", r)
	}
}
