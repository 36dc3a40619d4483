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
	if got := logs.File("split"); got != TaskLogFile {
		t.Errorf("File(split) = %q, want %s", got, TaskLogFile)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	// A line that arrives after the run ended still lands in the file.
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
		{Node: "../x", Attempt: 1, Path: TaskLogFile},
		{Node: "count@0", Attempt: 1, Path: TaskLogFile},
		{Node: "split", Attempt: 1, Path: TaskLogFile},
		{Node: "split", Attempt: 2, Path: TaskLogFile},
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
	// One execution's lines, by task and attempt.
	got, err = ReadTaskLogs(run.Dir, list[3:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lines[3:4], got); diff != "" {
		t.Errorf("ReadTaskLogs of split's attempt 2 (-want +got):\n%s", diff)
	}
	// One file, nothing else in the run directory, and the mode is
	// owner-only.
	entries, err := os.ReadDir(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "tasks" && e.Name() != TaskLogFile {
			t.Errorf("unexpected %s in the run directory", e.Name())
		}
	}
	checkMode(t, filepath.Join(run.Dir, TaskLogFile), 0o600)
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
	for _, name := range []string{TaskLogFile, "logs"} {
		if _, err := os.Stat(filepath.Join(run.Dir, name)); !os.IsNotExist(err) {
			t.Errorf("a run without log lines has %s: %v", name, err)
		}
	}
	list, err := ListTaskLogs(run.Dir)
	if err != nil || len(list) != 0 {
		t.Errorf("ListTaskLogs = %v, %v; want none", list, err)
	}
	if err := logs.Write(&LogLine{Msg: "no node"}); err == nil {
		t.Error("a line without a node was written")
	}
}

// TestTaskLogsConcurrent writes the lines of many tasks and two attempts
// each from many goroutines, interleaved in the one file (run it with
// -race): every line arrives whole, in order within its task execution,
// and reads back by task and attempt; the split for the worker's uploads
// gives each execution exactly its lines.
func TestTaskLogsConcurrent(t *testing.T) {
	_, run := newTestRun(t, "r1")
	logs := run.TaskLogs()
	const tasks, perTask = 48, 50
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
		t.Fatalf("%d task logs, want %d", len(list), 2*tasks)
	}
	check := func(what string, tl TaskLog, lines []LogLine) {
		t.Helper()
		if len(lines) != perTask/2 {
			t.Errorf("%s %s.%d: %d lines, want %d", what, tl.Node, tl.Attempt, len(lines), perTask/2)
		}
		for k, l := range lines {
			if want := fmt.Sprint(2*k + tl.Attempt - 1); l.Msg != want || l.Node != tl.Node || l.Attempt != tl.Attempt {
				t.Errorf("%s %s.%d line %d = %s@%d %q, want %q", what, tl.Node, tl.Attempt, k, l.Node, l.Attempt, l.Msg, want)
				break
			}
		}
	}
	for _, tl := range list {
		lines, err := ReadTaskLogs(run.Dir, []TaskLog{tl})
		if err != nil {
			t.Fatal(err)
		}
		check("ReadTaskLogs", tl, lines)
	}
	parts, err := SplitTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2*tasks {
		t.Fatalf("%d parts, want %d", len(parts), 2*tasks)
	}
	for _, p := range parts {
		if want, _ := logFileName(p.Node, p.Attempt); p.Name != want || p.File != "" {
			t.Errorf("part %s.%d: name %q (want %q), file %q (want none: the file holds all)", p.Node, p.Attempt, p.Name, want, p.File)
		}
		lines, err := DecodeTaskLog(p.Data, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		check("SplitTaskLogs", p.TaskLog, lines)
	}
}

// TestTaskLogsOldLayout reads a run recorded with one file per task
// execution (logs/<node>[.<n>].log, before logs.jsonl), alone and beside
// a run log file, as runs logs, the console and the worker's split do.
func TestTaskLogsOldLayout(t *testing.T) {
	_, run := newTestRun(t, "r1")
	if err := os.Mkdir(filepath.Join(run.Dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := map[string]string{
		"split.log":   `{"time":"2026-11-25T12:00:00Z","level":"info","source":"plugin","logger":"text","node":"split","attempt":1,"msg":"one"}` + "\n",
		"split.2.log": `{"time":"2026-11-25T12:00:02Z","level":"info","source":"plugin","logger":"text","node":"split","attempt":2,"msg":"two"}` + "\n",
		"each@0.log":  `{"time":"2026-11-25T12:00:01Z","level":"info","source":"engine","logger":"goflyte","node":"each@0","attempt":1,"msg":"ok"}` + "\n" + `{"time":"2026-11-25T12:00:03Z","level":"info","node":"each@0","attempt":1,"msg":"tor`,
		"notes.txt":   "not a log\n",
	}
	for name, data := range old {
		if err := os.WriteFile(filepath.Join(run.Dir, "logs", name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	list, err := ListTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []TaskLog{
		{Node: "each@0", Attempt: 1, Path: "logs/each@0.log"},
		{Node: "split", Attempt: 1, Path: "logs/split.log"},
		{Node: "split", Attempt: 2, Path: "logs/split.2.log"},
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Fatalf("ListTaskLogs (-want +got):\n%s", diff)
	}
	msgs := func(lines []LogLine) (out []string) {
		for _, l := range lines {
			out = append(out, l.Node+"."+fmt.Sprint(l.Attempt)+":"+l.Msg)
		}
		return out
	}
	lines, err := ReadTaskLogs(run.Dir, list)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"split.1:one", "each@0.1:ok", "split.2:two"}, msgs(lines)); diff != "" {
		t.Errorf("ReadTaskLogs (-want +got):\n%s", diff)
	}

	// A run log beside them (not written by one binary, but readers
	// take both): merged by time.
	logs := run.TaskLogs()
	if err := logs.Write(&LogLine{Time: time.Date(2026, 11, 25, 12, 0, 1, 500, time.UTC), Level: "info", Node: "split", Attempt: 1, Msg: "new"}); err != nil {
		t.Fatal(err)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	list, err = ListTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var split1 []TaskLog
	for _, tl := range list {
		if tl.Node == "split" && tl.Attempt == 1 {
			split1 = append(split1, tl)
		}
	}
	if len(list) != 4 || len(split1) != 2 {
		t.Fatalf("ListTaskLogs with both layouts: %+v", list)
	}
	lines, err = ReadTaskLogs(run.Dir, split1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"split.1:one", "split.1:new"}, msgs(lines)); diff != "" {
		t.Errorf("ReadTaskLogs of split.1 in both layouts (-want +got):\n%s", diff)
	}
	parts, err := SplitTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
		if p.Path != TaskLogFile && p.File != filepath.Join(run.Dir, filepath.FromSlash(p.Path)) {
			t.Errorf("part %s of the old layout: file %q", p.Name, p.File)
		}
	}
	if diff := cmp.Diff([]string{"each@0.log", "split.2.log", "split.log", "split.log"}, names); diff != "" {
		t.Errorf("SplitTaskLogs names (-want +got):\n%s", diff)
	}
}

// TestTaskLogsTornLine: a run log whose last line was cut short (the
// process died writing it) reads without that line, and the next writer
// cuts it off before it appends, so the file stays whole lines.
func TestTaskLogsTornLine(t *testing.T) {
	_, run := newTestRun(t, "r1")
	path := filepath.Join(run.Dir, TaskLogFile)
	whole := `{"time":"2026-11-25T12:00:00Z","level":"info","source":"plugin","node":"a","attempt":1,"msg":"whole"}` + "\n"
	torn := `{"time":"2026-11-25T12:00:01Z","level":"info","source":"plugin","node":"b","attempt":1,"msg":"cut sh`
	if err := os.WriteFile(path, []byte(whole+torn), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := ListTaskLogs(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]TaskLog{{Node: "a", Attempt: 1, Path: TaskLogFile}}, list); diff != "" {
		t.Errorf("ListTaskLogs with a torn line (-want +got):\n%s", diff)
	}
	lines, err := ReadTaskLogs(run.Dir, list)
	if err != nil || len(lines) != 1 || lines[0].Msg != "whole" {
		t.Errorf("ReadTaskLogs with a torn line = %+v, %v", lines, err)
	}
	parts, err := SplitTaskLogs(run.Dir)
	if err != nil || len(parts) != 1 || string(parts[0].Data) != whole || parts[0].File != "" {
		t.Errorf("SplitTaskLogs with a torn line = %+v, %v; want a's whole line, not the file", parts, err)
	}

	// A writer appending to it (a late line after the run's Close opens
	// it again, as the flusher does the first time).
	for _, closeFirst := range []bool{false, true} {
		if err := os.WriteFile(path, []byte(whole+torn), 0o600); err != nil {
			t.Fatal(err)
		}
		logs := run.TaskLogs()
		if closeFirst {
			logs.Close()
		}
		if err := logs.Write(&LogLine{Time: t0, Level: "info", Node: "c", Attempt: 2, Msg: "after"}); err != nil {
			t.Fatal(err)
		}
		if err := logs.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), whole+"{") || strings.Contains(string(data), "cut sh") || !strings.HasSuffix(string(data), "\n") {
			t.Errorf("closed first %v: file after an append:\n%s", closeFirst, data)
		}
		list, err := ListTaskLogs(run.Dir)
		if err != nil || len(list) != 2 || list[1].Node != "c" || list[1].Attempt != 2 {
			t.Errorf("closed first %v: ListTaskLogs = %+v, %v", closeFirst, list, err)
		}
	}
}

// TestCutTornLine cuts a last line without its newline, across the
// reader's blocks.
func TestCutTornLine(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"whole", "a\nb\n", "a\nb\n"},
		{"torn", "a\nb", "a\n"},
		{"only torn", "abc", ""},
		{"long torn", "a\n" + long, "a\n"},
		{"long whole then torn", long + "\n" + long, long + "\n"},
		{"long torn only", long, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, []byte(tc.in), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := openRunLog(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.want {
				t.Errorf("got %d bytes %.20q..., want %d bytes", len(data), data, len(tc.want))
			}
		})
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

// BenchmarkTaskLogsRun writes the task logs of a run of 1,000 task
// executions, two lines each (what a -v chain of 1,000 trivial tasks
// keeps), and closes them: one op is one run's logs. The same benchmark
// runs on a tree from before logs.jsonl (one file per execution) for the
// comparison in BENCH.md.
func BenchmarkTaskLogsRun(b *testing.B) {
	s := Sandbox{Root: b.TempDir()}
	b.ReportAllocs()
	for i := range b.N {
		run, err := s.NewRun(fmt.Sprintf("r%d", i))
		if err != nil {
			b.Fatal(err)
		}
		logs := run.TaskLogs()
		for n := range 1000 {
			node := fmt.Sprintf("t%d", n+1)
			for _, msg := range []string{"upper", "task succeeded"} {
				line := LogLine{Time: time.Now(), Level: "info", Source: LogSourcePlugin, Logger: "text", Node: node, Attempt: 1, Task: "text.upper", Msg: msg}
				if err := logs.Write(&line); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := logs.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
