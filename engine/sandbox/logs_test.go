package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLogFileName(t *testing.T) {
	tests := []struct {
		name    string
		node    string
		attempt int
		want    string
	}{
		{name: "plain", node: "split", attempt: 1, want: "split.log"},
		{name: "later attempt", node: "split", attempt: 3, want: "split.3.log"},
		{name: "for_each instance", node: "count@12", attempt: 1, want: "count@12.log"},
		{name: "eager child", node: "fan+0+leaf", attempt: 2, want: "fan+0+leaf.2.log"},
		{name: "separator", node: "../../etc/passwd", attempt: 1, want: "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.log"},
		{name: "dot dot", node: "..", attempt: 1, want: "%2E%2E.log"},
		{name: "backslash and NUL", node: `a\b` + "\x00", attempt: 1, want: "a%5Cb%00.log"},
		{name: "looks like an attempt", node: "x.2", attempt: 1, want: "x%2E2.log"},
		{name: "percent", node: "100%", attempt: 1, want: "100%25.log"},
		{name: "unicode", node: "é", attempt: 1, want: "%C3%A9.log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := logFileName(tc.node, tc.attempt)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("logFileName(%q, %d) = %q, want %q", tc.node, tc.attempt, got, tc.want)
			}
			if !filepath.IsLocal(got) || filepath.Base(got) != got {
				t.Errorf("%q is not a plain local file name", got)
			}
			node, attempt, ok := parseLogFileName(got)
			if !ok || node != tc.node || attempt != tc.attempt {
				t.Errorf("parseLogFileName(%q) = %q, %d, %v; want %q, %d", got, node, attempt, ok, tc.node, tc.attempt)
			}
		})
	}
	for _, bad := range []string{"", "x.log.tmp", ".log", "a.1.log", "a.02.log", "a%2.log", "a%zz.log", "a.b.log"} {
		if node, attempt, ok := parseLogFileName(bad); ok {
			t.Errorf("parseLogFileName(%q) = %q, %d, ok", bad, node, attempt)
		}
	}
	if _, err := logFileName("", 1); err == nil {
		t.Error("an empty node got a log file name")
	}
}

func TestTaskLogsWriteAndRead(t *testing.T) {
	_, run := newTestRun(t, "r1")
	logs := run.TaskLogs()
	if got := logs.File("split"); got != "" {
		t.Errorf("File before any line = %q", got)
	}
	lines := []LogLine{
		{Time: t0, Level: "info", Source: LogSourcePlugin, Logger: "text", Node: "split", Attempt: 1, Task: "text.split", Msg: "split text", Fields: map[string]any{"words": 3.0}},
		{Time: t0.Add(1 * time.Millisecond), Level: "warn", Source: LogSourceEngine, Logger: "goflyte", Node: "split", Attempt: 1, Msg: "task attempt failed; retrying"},
		{Time: t0.Add(2 * time.Millisecond), Level: "info", Source: LogSourcePlugin, Logger: "text", Node: "count@0", Attempt: 1, Msg: "counted <words> & more"},
		{Time: t0.Add(3 * time.Millisecond), Level: "info", Source: LogSourcePlugin, Logger: "text", Node: "split", Attempt: 2, Msg: "split text again"},
		{Time: t0.Add(4 * time.Millisecond), Level: "error", Source: LogSourceEngine, Logger: "goflyte", Node: "../x", Attempt: 1, Msg: "odd"},
	}
	for i := range lines {
		if err := logs.Write(&lines[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := logs.File("split"); got != "logs/split.2.log" {
		t.Errorf("File(split) = %q, want logs/split.2.log", got)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	// A line that arrives after the run ended still lands in its file.
	late := LogLine{Time: t0.Add(5 * time.Millisecond), Level: "info", Source: LogSourcePlugin, Node: "count@0", Attempt: 1, Msg: "late"}
	if err := logs.Write(&late); err != nil {
		t.Fatal(err)
	}
	lines = append(lines, late)

	list, err := ListTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wantList := []TaskLog{
		{Node: "../x", Attempt: 1, Path: "logs/%2E%2E%2Fx.log"},
		{Node: "count@0", Attempt: 1, Path: "logs/count@0.log"},
		{Node: "split", Attempt: 1, Path: "logs/split.log"},
		{Node: "split", Attempt: 2, Path: "logs/split.2.log"},
	}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("ListTaskLogs (-want +got):\n%s", diff)
	}
	got, err := ReadTaskLogs(run.Dir, list)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lines, got); diff != "" {
		t.Errorf("ReadTaskLogs (-want +got):\n%s", diff)
	}
	// Nothing escaped the logs directory, and the modes are owner-only.
	entries, err := os.ReadDir(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "tasks" && e.Name() != "logs" {
			t.Errorf("unexpected %s in the run directory", e.Name())
		}
	}
	checkMode(t, filepath.Join(run.Dir, "logs"), 0o700)
	for _, tl := range list {
		checkMode(t, filepath.Join(run.Dir, filepath.FromSlash(tl.Path)), 0o600)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}

func TestTaskLogsNothingLogged(t *testing.T) {
	_, run := newTestRun(t, "r1")
	logs := run.TaskLogs()
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "logs")); !os.IsNotExist(err) {
		t.Errorf("a run without log lines has a logs directory: %v", err)
	}
	list, err := ListTaskLogs(run.Dir)
	if err != nil || len(list) != 0 {
		t.Errorf("ListTaskLogs = %v, %v; want none", list, err)
	}
	if err := logs.Write(&LogLine{Msg: "no node"}); err == nil {
		t.Error("a line without a node was written")
	}
}

// TestTaskLogsConcurrent writes from many goroutines to more files than
// are kept open (run it with -race): every line arrives whole, in order
// within its task.
func TestTaskLogsConcurrent(t *testing.T) {
	_, run := newTestRun(t, "r1")
	logs := run.TaskLogs()
	const tasks, perTask = 3 * maxOpenLogs, 50
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perTask {
				line := LogLine{Time: time.Now(), Level: "info", Source: LogSourcePlugin, Node: fmt.Sprintf("t@%d", i), Attempt: 1 + j%2, Msg: fmt.Sprint(j)}
				if err := logs.Write(&line); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	list, err := ListTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2*tasks {
		t.Fatalf("%d log files, want %d", len(list), 2*tasks)
	}
	for _, tl := range list {
		lines, err := ReadTaskLogs(run.Dir, []TaskLog{tl})
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != perTask/2 {
			t.Errorf("%s: %d lines, want %d", tl.Path, len(lines), perTask/2)
		}
		for k, l := range lines {
			if want := fmt.Sprint(2*k + tl.Attempt - 1); l.Msg != want || l.Node != tl.Node || l.Attempt != tl.Attempt {
				t.Errorf("%s line %d = %s@%d %q, want %q", tl.Path, k, l.Node, l.Attempt, l.Msg, want)
				break
			}
		}
	}
}

// TestTaskLogsTailable: a line reaches its file while the run goes on
// (within LogFlushInterval), so that the console can tail a running task.
func TestTaskLogsTailable(t *testing.T) {
	_, run := newTestRun(t, "r1")
	logs := run.TaskLogs()
	defer logs.Close()
	if err := logs.Write(&LogLine{Time: time.Unix(0, 0).UTC(), Level: "info", Node: "a", Attempt: 1, Msg: "working"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(run.Dir, filepath.FromSlash(logs.File("a")))
	deadline := time.Now().Add(30 * time.Second) // a hang, not a timing target
	for {
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) { // the file is made with its first write-out
			t.Fatal(err)
		}
		if strings.Contains(string(data), `"msg":"working"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the line never reached %s before Close", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
