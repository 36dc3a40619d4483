package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// rawAsString compares JSON as text: readable diffs, and fast on large
// outputs, which cmp would otherwise walk byte by byte.
// rawAsString compares raw JSON as text. It also leaves out
// Record.TaskCounts, which TestTaskCounts checks.
var rawAsString = cmp.Options{
	cmp.Transformer("string", func(m json.RawMessage) string { return string(m) }),
	cmpopts.IgnoreFields(Record{}, "TaskCounts"),
}

var t0 = time.Date(2026, 11, 25, 12, 51, 35, 123456789, time.UTC)

// newTestRun makes a sandbox in a temporary directory and one run in it.
func newTestRun(t testing.TB, name string) (Sandbox, *Run) {
	t.Helper()
	s := Sandbox{Root: filepath.Join(t.TempDir(), "sb")}
	run, err := s.NewRun(name)
	if err != nil {
		t.Fatal(err)
	}
	return s, run
}

// startRecord is the record a run starts with: all tasks pending.
func startRecord(name string, start time.Time, nodes ...string) *Record {
	rec := &Record{
		ID:           "flytesnacks:development:" + name,
		Name:         name,
		Workflow:     "wordcount",
		File:         "/home/me/wf/wordcount.hcl",
		FileDigest:   "sha256:aa",
		Mode:         "local",
		Inputs:       map[string]json.RawMessage{"url": json.RawMessage(`"https://example.com/a&b<c>"`), "n": json.RawMessage(`3`)},
		ConfigDigest: "sha256:cc",
		Status:       StatusRunning,
		Start:        start,
		PID:          4242,
	}
	for _, n := range nodes {
		rec.Tasks = append(rec.Tasks, TaskRecord{Name: n, Task: "text." + n, Status: StatusPending})
	}
	return rec
}

func mustStart(t testing.TB, run *Run, rec *Record) *Recorder {
	t.Helper()
	rc, err := run.StartRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func mustLoad(t testing.TB, s Sandbox, name string) *Record {
	t.Helper()
	rec, err := s.LoadRecord(name)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// runFiles lists the files in a run's directory, except tasks/.
func runFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "tasks" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRecordRoundTrip(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "split", "count", "report"))
	want := startRecord("r1", t0, "split", "count", "report")
	want.Status = StatusFailed
	want.End = t0.Add(3 * time.Second)
	want.Outputs = map[string]json.RawMessage{"total": json.RawMessage(`12`)}
	want.Error = `task "report" failed: exit status 2`
	want.ResumedFrom = "flytesnacks:development:r0"
	want.Tasks[0] = TaskRecord{
		Name: "split", Task: "text.split", Status: StatusSucceeded, Attempts: 1,
		Start: t0.Add(time.Millisecond), End: t0.Add(time.Second),
		Cache: CacheMiss, CacheKey: "ab12", Outputs: json.RawMessage(`{"parts":["a","b"]}`),
		WorkDir: filepath.Join(run.Dir, "tasks", "split"), InputsDigest: "sha256:11",
	}
	want.Tasks[1] = TaskRecord{Name: "count", Task: "text.count", Status: StatusSucceeded, Attempts: 1, Cache: CacheHit, CacheKey: "cd34", Outputs: json.RawMessage(`{"n":12}`)}
	want.Tasks[2] = TaskRecord{
		Name: "report", Task: "text.report", Status: StatusFailed, Attempts: 3,
		Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), Cache: CacheOff,
		Error: "plugin crashed", Stderr: "panic: boom\n\ngoroutine 1 [running]:\n",
		AttemptErrors: []string{"timed out after 100ms", "plugin crashed"},
		AttemptTimes: []AttemptTime{
			{Start: t0.Add(time.Second), End: t0.Add(1100 * time.Millisecond)},
			{Start: t0.Add(1200 * time.Millisecond), End: t0.Add(1300 * time.Millisecond)},
			{Start: t0.Add(1500 * time.Millisecond), End: t0.Add(2 * time.Second)},
		},
	}
	if err := rc.Finish(want); err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t, s, "r1")
	if diff := cmp.Diff(want, got, rawAsString); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	// Not started or ended tasks leave their times out of the file.
	data, err := os.ReadFile(filepath.Join(run.Dir, "record.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("record.json is not JSON:\n%s", data)
	}
	if bytes.Contains(data, []byte(`"0001-01-01`)) {
		t.Errorf("record.json has zero times:\n%s", data)
	}
}

func TestRecordEventsReplayed(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "a", "b", "c"))

	got := mustLoad(t, s, "r1")
	if diff := cmp.Diff(startRecord("r1", t0, "a", "b", "c"), got, rawAsString); diff != "" {
		t.Errorf("record at start (-want +got):\n%s", diff)
	}

	a := TaskRecord{Name: "a", Task: "text.a", Status: StatusRunning, Attempts: 1, Start: t0}
	b := TaskRecord{Name: "b", Task: "text.b", Status: StatusRunning, Attempts: 1, Start: t0}
	for _, tr := range []TaskRecord{a, b} {
		if err := rc.Task(tr); err != nil {
			t.Fatal(err)
		}
	}
	a.Status, a.End, a.Outputs = StatusSucceeded, t0.Add(time.Second), json.RawMessage(`{"x":1}`)
	if err := rc.Task(a); err != nil {
		t.Fatal(err)
	}

	want := startRecord("r1", t0, "a", "b", "c")
	want.Tasks[0], want.Tasks[1] = a, b
	got = mustLoad(t, s, "r1")
	if diff := cmp.Diff(want, got, rawAsString); diff != "" {
		t.Errorf("record with events (-want +got):\n%s", diff)
	}

	if err := rc.Task(TaskRecord{Name: "zz", Status: StatusRunning}); err == nil {
		t.Error("Task accepted a task that is not in the run")
	}
}

// Tasks writes several states in one go, in order (the later state of a
// task wins on load, as with Task), and writes nothing when one of them
// cannot be recorded.
func TestRecordTasksInOneWrite(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "a", "b", "c"))

	a := TaskRecord{Name: "a", Task: "text.a", Status: StatusRunning, Attempts: 1, Start: t0}
	aDone := a
	aDone.Status, aDone.End, aDone.Outputs = StatusSucceeded, t0.Add(time.Second), json.RawMessage(`{"x":1}`)
	b := TaskRecord{Name: "b", Task: "text.b", Status: StatusRunning, Attempts: 1, Start: t0.Add(time.Second)}
	if err := rc.Tasks([]TaskRecord{a, aDone, b}); err != nil {
		t.Fatal(err)
	}
	if err := rc.Tasks(nil); err != nil {
		t.Fatal(err)
	}
	events, err := os.ReadFile(filepath.Join(run.Dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(events, []byte("\n")); n != 3 {
		t.Errorf("events.jsonl has %d lines, want 3:\n%s", n, events)
	}
	want := startRecord("r1", t0, "a", "b", "c")
	want.Tasks[0], want.Tasks[1] = aDone, b
	if diff := cmp.Diff(want, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}

	c := TaskRecord{Name: "c", Task: "text.c", Status: StatusRunning, Attempts: 1}
	if err := rc.Tasks([]TaskRecord{c, {Name: "zz", Status: StatusRunning}}); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("Tasks with a task not in the run: err = %v, want one naming zz", err)
	}
	if diff := cmp.Diff(want, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("record after a refused Tasks (-want +got):\n%s", diff)
	}
}

func TestRecordTornLastLineIgnored(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "a", "b"))
	a := TaskRecord{Name: "a", Task: "text.a", Status: StatusSucceeded, Attempts: 1}
	if err := rc.Task(a); err != nil {
		t.Fatal(err)
	}
	// A write cut short: half a line, no newline.
	f, err := os.OpenFile(filepath.Join(run.Dir, "events.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"name":"b","task":"text.b","sta`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	want := startRecord("r1", t0, "a", "b")
	want.Tasks[0] = a
	if diff := cmp.Diff(want, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func TestRecordCorruptLineIsAnError(t *testing.T) {
	s, run := newTestRun(t, "r1")
	mustStart(t, run, startRecord("r1", t0, "a"))
	if err := os.WriteFile(filepath.Join(run.Dir, "events.jsonl"), []byte("{\"name\":\nxx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadRecord("r1"); err == nil || !strings.Contains(err.Error(), "events.jsonl:1") {
		t.Errorf("LoadRecord of corrupt events: err = %v, want one naming events.jsonl:1", err)
	}
}

func TestRecordFinishReplacesEverything(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "a", "b"))
	for _, st := range []string{StatusRunning, StatusSucceeded} {
		if err := rc.Task(TaskRecord{Name: "a", Task: "text.a", Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"events.jsonl", "lock", "record.json"}, runFiles(t, run.Dir)); diff != "" {
		t.Errorf("files while running (-want +got):\n%s", diff)
	}

	if err := rc.Finish(&Record{Name: "r1", Status: StatusRunning}); err == nil {
		t.Error("Finish accepted status running")
	}
	final := startRecord("r1", t0, "a", "b")
	final.Status, final.End = StatusCancelled, t0.Add(time.Minute)
	final.Tasks[0].Status, final.Tasks[1].Status = StatusSucceeded, StatusCancelled
	if err := rc.Finish(final); err != nil {
		t.Fatal(err)
	}
	// The lock file stays: removing it could race with a reader.
	if diff := cmp.Diff([]string{"lock", "record.json"}, runFiles(t, run.Dir)); diff != "" {
		t.Errorf("files after Finish (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(final, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("final record (-want +got):\n%s", diff)
	}
	if err := rc.Task(TaskRecord{Name: "a"}); err == nil {
		t.Error("Task after Finish succeeded")
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close after Finish: %v", err)
	}
	for _, name := range []string{"record.json", "lock"} {
		info, err := os.Stat(filepath.Join(run.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, perm)
		}
	}
}

func TestRecordStartTwice(t *testing.T) {
	_, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "a"))
	if _, err := run.StartRecord(startRecord("r1", t0, "a")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second StartRecord while recording: err = %v, want fs.ErrExist", err)
	}
	rc.Close()
	if _, err := run.StartRecord(startRecord("r1", t0, "a")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second StartRecord after Close: err = %v, want fs.ErrExist", err)
	}
}

func TestRecordStartChecks(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Record)
	}{
		{"status not running", func(r *Record) { r.Status = StatusSucceeded }},
		{"other run", func(r *Record) { r.Name = "r2" }},
		{"task name escapes", func(r *Record) { r.Tasks[0].Name = "../x" }},
		{"task twice", func(r *Record) { r.Tasks[1].Name = r.Tasks[0].Name }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, run := newTestRun(t, "r1")
			rec := startRecord("r1", t0, "a", "b")
			tc.edit(rec)
			if rc, err := run.StartRecord(rec); err == nil {
				rc.Close()
				t.Fatal("StartRecord succeeded")
			}
			if _, err := os.Stat(filepath.Join(run.Dir, "record.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a record was written: %v", err)
			}
		})
	}
}

func TestRecordLargeOutputsSpill(t *testing.T) {
	s, run := newTestRun(t, "r1")
	big := json.RawMessage(`{"text":"` + strings.Repeat("x", MaxInlineOutputs) + `"}`)
	small := json.RawMessage(`{"text":"short"}`)
	rc := mustStart(t, run, startRecord("r1", t0, "big", "small", "none"))
	for _, tr := range []TaskRecord{
		{Name: "big", Task: "text.big", Status: StatusSucceeded, Outputs: big},
		{Name: "small", Task: "text.small", Status: StatusSucceeded, Outputs: small},
	} {
		if err := rc.Task(tr); err != nil {
			t.Fatal(err)
		}
	}

	check := func(rec *Record) {
		t.Helper()
		if rec.Tasks[0].Outputs != nil || rec.Tasks[0].OutputsFile != "outputs/big.json" {
			t.Errorf("big outputs: inline %d bytes, file %q; want only the file outputs/big.json", len(rec.Tasks[0].Outputs), rec.Tasks[0].OutputsFile)
		}
		if rec.Tasks[1].OutputsFile != "" {
			t.Errorf("small outputs went to %s", rec.Tasks[1].OutputsFile)
		}
		for _, tc := range []struct {
			node string
			want json.RawMessage
		}{{"big", big}, {"small", small}, {"none", nil}} {
			got, err := rec.TaskOutputs(s.RunDir(rec.Name), tc.node)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("TaskOutputs(%s) = %d bytes, want %d", tc.node, len(got), len(tc.want))
			}
		}
		if _, err := rec.TaskOutputs(s.RunDir(rec.Name), "nope"); err == nil {
			t.Error("TaskOutputs of an unknown task succeeded")
		}
	}
	check(mustLoad(t, s, "r1"))
	if data, _ := os.ReadFile(filepath.Join(run.Dir, "events.jsonl")); len(data) > 1024 {
		t.Errorf("events.jsonl holds the big outputs: %d bytes", len(data))
	}

	// Finish spills too: the engine can hand over its tasks as they are.
	final := startRecord("r1", t0, "big", "small", "none")
	final.Status = StatusSucceeded
	final.Tasks[0].Status, final.Tasks[0].Outputs = StatusSucceeded, big
	final.Tasks[1].Status, final.Tasks[1].Outputs = StatusSucceeded, small
	if err := rc.Finish(final); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(final.Tasks[0].Outputs, big) {
		t.Error("Finish changed the caller's record")
	}
	check(mustLoad(t, s, "r1"))
	info, err := os.Stat(filepath.Join(run.Dir, "outputs"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("outputs/ has mode %o, want 700", perm)
	}

	escaped := &Record{Name: "r1", Tasks: []TaskRecord{{Name: "a", OutputsFile: "../../secret.json"}}}
	if _, err := escaped.TaskOutputs(run.Dir, "a"); err == nil {
		t.Error("TaskOutputs read a file outside the run")
	}
}

func TestLoadRecordByNameAndID(t *testing.T) {
	s, run := newTestRun(t, "r1")
	mustStart(t, run, startRecord("r1", t0, "a"))
	errInvalid := errors.New("any error")
	tests := []struct {
		name    string
		arg     string
		wantErr error // nil: found; errInvalid: any error
	}{
		{"name", "r1", nil},
		{"execution id", "flytesnacks:development:r1", nil},
		{"other domain", "flytesnacks:production:r1", fs.ErrNotExist},
		{"unknown run", "r2", fs.ErrNotExist},
		{"unknown run id", "flytesnacks:development:r2", fs.ErrNotExist},
		{"escape", "..", errInvalid},
		{"escape in id", "p:d:..", errInvalid},
		{"not an id", "p:r1", errInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := s.LoadRecord(tc.arg)
			switch {
			case tc.wantErr == errInvalid:
				if err == nil {
					t.Errorf("LoadRecord(%q) succeeded", tc.arg)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("LoadRecord(%q): err = %v, want %v", tc.arg, err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("LoadRecord(%q): %v", tc.arg, err)
			case rec.Name != "r1":
				t.Errorf("LoadRecord(%q) loaded run %q", tc.arg, rec.Name)
			}
		})
	}
}

func TestListRecords(t *testing.T) {
	s := Sandbox{Root: t.TempDir()}
	if recs, skipped, err := s.ListRecords(); err != nil || recs != nil || skipped != nil {
		t.Errorf("ListRecords of an empty sandbox = %v, %v, %v", recs, skipped, err)
	}

	// Names sort the other way round from start times, so the order must
	// come from Start.
	starts := map[string]time.Time{"ra": t0.Add(2 * time.Hour), "rb": t0, "rc": t0.Add(time.Hour)}
	for _, name := range []string{"ra", "rb", "rc"} {
		run, err := s.NewRun(name)
		if err != nil {
			t.Fatal(err)
		}
		rc := mustStart(t, run, startRecord(name, starts[name], "a", "b"))
		if name == "rb" {
			final := startRecord(name, starts[name], "a", "b")
			final.Status = StatusSucceeded
			if err := rc.Finish(final); err != nil {
				t.Fatal(err)
			}
		}
		if name == "rc" {
			rc.Close() // its process is gone
		}
	}
	if _, err := s.NewRun("junk"); err != nil { // a run without a record
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Root, "runs", "stray-file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	recs, skipped, err := s.ListRecords()
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Name, Status string }
	var got []row
	for _, r := range recs {
		got = append(got, row{r.Name, r.Status})
		if r.Tasks != nil {
			t.Errorf("run %s listed with tasks", r.Name)
		}
		if r.ID == "" || r.Inputs == nil || r.Start.IsZero() {
			t.Errorf("run %s listed without its head: %+v", r.Name, r)
		}
	}
	want := []row{{"ra", StatusRunning}, {"rc", StatusInterrupted}, {"rb", StatusSucceeded}}
	if !locksWork {
		want[1].Status = StatusRunning
	}
	if diff := cmp.Diff(want, got, rawAsString); diff != "" {
		t.Errorf("ListRecords (-want +got):\n%s", diff)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), `"junk"`) || !errors.Is(skipped[0], fs.ErrNotExist) {
		t.Errorf("skipped = %v, want one error for run \"junk\"", skipped)
	}
}

func TestRecordClosedIsInterrupted(t *testing.T) {
	if !locksWork {
		t.Skip("no run locks on this platform: a dead run cannot be told from a live one")
	}
	s, run := newTestRun(t, "r1")
	rc := mustStart(t, run, startRecord("r1", t0, "a", "b", "c"))
	for _, tr := range []TaskRecord{
		{Name: "a", Task: "text.a", Status: StatusSucceeded},
		{Name: "b", Task: "text.b", Status: StatusRunning},
	} {
		if err := rc.Task(tr); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustLoad(t, s, "r1").Status; got != StatusRunning {
		t.Errorf("status while recording = %s, want running", got)
	}
	if swept, errs := s.Sweep(); len(swept) != 0 || len(errs) != 0 {
		t.Errorf("Sweep of a live run = %v, %v; want it left alone", swept, errs)
	}
	if got := mustLoad(t, s, "r1").Status; got != StatusRunning {
		t.Errorf("status after Sweep = %s, want running", got)
	}
	rc.Close()
	got := mustLoad(t, s, "r1")
	want := startRecord("r1", t0, "a", "b", "c")
	want.Status = StatusInterrupted
	want.Tasks[0] = TaskRecord{Name: "a", Task: "text.a", Status: StatusSucceeded}
	want.Tasks[1] = TaskRecord{Name: "b", Task: "text.b", Status: StatusInterrupted}
	if diff := cmp.Diff(want, got, rawAsString); diff != "" {
		t.Errorf("record after Close (-want +got):\n%s", diff)
	}
}

func TestRecorderConcurrentTasks(t *testing.T) {
	const n = 50
	s, run := newTestRun(t, "r1")
	var nodes []string
	for i := range n {
		nodes = append(nodes, fmt.Sprintf("t%02d", i))
	}
	rc := mustStart(t, run, startRecord("r1", t0, nodes...))
	want := startRecord("r1", t0, nodes...)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, node := range nodes {
		// Every other task has outputs large enough to spill.
		out := json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)
		if i%2 == 1 {
			out = json.RawMessage(`{"s":"` + strings.Repeat("y", MaxInlineOutputs) + `"}`)
		}
		running := TaskRecord{Name: node, Task: "text." + node, Status: StatusRunning, Attempts: 1, Start: t0}
		done := running
		done.Status, done.End, done.Outputs = StatusSucceeded, t0.Add(time.Duration(i)*time.Millisecond), out
		want.Tasks[i] = done
		wg.Go(func() {
			for _, tr := range []TaskRecord{running, done} {
				if err := rc.Task(tr); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := mustLoad(t, s, "r1")
	for i := range got.Tasks {
		out, err := got.TaskOutputs(run.Dir, got.Tasks[i].Name)
		if err != nil {
			t.Fatal(err)
		}
		got.Tasks[i].Outputs, got.Tasks[i].OutputsFile = out, ""
	}
	if diff := cmp.Diff(want, got, rawAsString); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(filepath.Join(run.Dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte("\n")); lines != 2*n {
		t.Errorf("events.jsonl has %d lines, want %d", lines, 2*n)
	}
}

// helperEnv makes the test binary act as a recording goflyte process; see
// TestHelperProcess.
const helperEnv = "GOFLYTE_TEST_RECORD_HELPER"

// TestHelperProcess is not a test: TestRecordInterruptedByKill runs the test
// binary as a process that records a run and then waits to be killed.
func TestHelperProcess(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	run, err := Sandbox{Root: root}.NewRun("r1")
	if err != nil {
		fail(err)
	}
	rc, err := run.StartRecord(startRecord("r1", t0, "a", "b", "c"))
	if err != nil {
		fail(err)
	}
	for _, tr := range []TaskRecord{
		{Name: "a", Task: "text.a", Status: StatusRunning, Attempts: 1},
		{Name: "b", Task: "text.b", Status: StatusRunning, Attempts: 1},
		{Name: "a", Task: "text.a", Status: StatusSucceeded, Attempts: 1, Outputs: json.RawMessage(`{"n":1}`)},
	} {
		if err := rc.Task(tr); err != nil {
			fail(err)
		}
	}
	fmt.Println("recording")
	// Wait for the kill; exit if the test goes away first.
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

func TestRecordInterruptedByKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	if !locksWork {
		t.Skip("no run locks on this platform: a dead run cannot be told from a live one")
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "recording\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q (%v); stderr:\n%s", line, err, stderr.Bytes())
	}

	s := Sandbox{Root: root}
	want := startRecord("r1", t0, "a", "b", "c")
	want.Tasks[0] = TaskRecord{Name: "a", Task: "text.a", Status: StatusSucceeded, Attempts: 1, Outputs: json.RawMessage(`{"n":1}`)}
	want.Tasks[1] = TaskRecord{Name: "b", Task: "text.b", Status: StatusRunning, Attempts: 1}
	if diff := cmp.Diff(want, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("record while the helper runs (-want +got):\n%s", diff)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL on unix
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("helper exited cleanly")
	}
	want.Status = StatusInterrupted
	want.Tasks[1].Status = StatusInterrupted
	if diff := cmp.Diff(want, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("record after SIGKILL (-want +got):\n%s", diff)
	}
	recs, _, err := s.ListRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Status != StatusInterrupted {
		t.Errorf("ListRecords after SIGKILL: %v", recs)
	}

	// The next run sweeps: the record becomes final and the leftovers go.
	dir := s.RunDir("r1")
	if err := os.WriteFile(filepath.Join(dir, "."+recordFile+".tmp-123"), []byte(`{"half`), 0o600); err != nil {
		t.Fatal(err)
	}
	swept, errs := s.Sweep()
	if len(errs) != 0 || len(swept) != 1 || swept[0].Name != "r1" {
		t.Fatalf("Sweep = %v, %v; want run r1", swept, errs)
	}
	if diff := cmp.Diff(want, swept[0], rawAsString); diff != "" {
		t.Errorf("swept record (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustLoad(t, s, "r1"), rawAsString); diff != "" {
		t.Errorf("record after Sweep (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == eventsFile || strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s left in the run directory after Sweep", e.Name())
		}
	}
	if swept, errs := s.Sweep(); len(swept) != 0 || len(errs) != 0 {
		t.Errorf("second Sweep = %v, %v; want nothing", swept, errs)
	}
}

// BenchmarkRecorderTask measures one Task call: a task's state with small
// inline outputs, encoded and appended as one line.
func BenchmarkRecorderTask(b *testing.B) {
	const n = 1000
	var nodes []string
	for i := range n {
		nodes = append(nodes, fmt.Sprintf("task%04d", i))
	}
	_, run := newTestRun(b, "r1")
	rc := mustStart(b, run, startRecord("r1", t0, nodes...))
	tr := TaskRecord{
		Task: "text.count", Status: StatusSucceeded, Attempts: 1,
		Start: t0, End: t0.Add(time.Millisecond), Cache: CacheMiss,
		CacheKey:     "3fa9c27d5e1b0a4f3fa9c27d5e1b0a4f3fa9c27d5e1b0a4f3fa9c27d5e1b0a4f",
		Outputs:      json.RawMessage(`{"count":42,"path":"/tmp/sb/runs/r1/tasks/x/out.txt"}`),
		WorkDir:      filepath.Join(run.Dir, "tasks", "x"),
		InputsDigest: "sha256:3fa9c27d5e1b0a4f3fa9c27d5e1b0a4f3fa9c27d5e1b0a4f3fa9c27d5e1b0a4f",
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tr.Name = nodes[i%n]
		i++
		if err := rc.Task(tr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadRecord10k loads a running 10,000-task record with an event
// per task: what `goflyte runs show` and --resume pay for a big run.
func BenchmarkLoadRecord10k(b *testing.B) {
	const n = 10000
	var nodes []string
	for i := range n {
		nodes = append(nodes, fmt.Sprintf("task%05d", i))
	}
	s, run := newTestRun(b, "r1")
	rc := mustStart(b, run, startRecord("r1", t0, nodes...))
	for _, node := range nodes {
		if err := rc.Task(TaskRecord{Name: node, Task: "text.count", Status: StatusSucceeded, Attempts: 1, Start: t0, End: t0, Outputs: json.RawMessage(`{"count":42}`)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.LoadRecord("r1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListRecords lists a sandbox of 200 finished runs of 1,000 tasks
// each: what `goflyte runs list` pays.
func BenchmarkListRecords(b *testing.B) {
	s := Sandbox{Root: b.TempDir()}
	var nodes []string
	for i := range 1000 {
		nodes = append(nodes, fmt.Sprintf("task%04d", i))
	}
	for i := range 200 {
		name := fmt.Sprintf("r%03d", i)
		run, err := s.NewRun(name)
		if err != nil {
			b.Fatal(err)
		}
		rec := startRecord(name, t0.Add(time.Duration(i)*time.Second), nodes...)
		rc := mustStart(b, run, rec)
		rec.Status = StatusSucceeded
		if err := rc.Finish(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		recs, skipped, err := s.ListRecords()
		if err != nil || len(recs) != 200 || len(skipped) != 0 {
			b.Fatal(len(recs), skipped, err)
		}
	}
}

// BenchmarkStartFinish10k starts and finishes the record of a 10,000-task
// run: the fixed cost a big run pays besides one Task call per update.
func BenchmarkStartFinish10k(b *testing.B) {
	const n = 10000
	var nodes []string
	for i := range n {
		nodes = append(nodes, fmt.Sprintf("task%05d", i))
	}
	s := Sandbox{Root: b.TempDir()}
	start := startRecord("", t0, nodes...)
	final := startRecord("", t0, nodes...)
	final.Status = StatusSucceeded
	for i := range final.Tasks {
		final.Tasks[i].Status, final.Tasks[i].Outputs = StatusSucceeded, json.RawMessage(`{"count":42}`)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		run, err := s.NewRun(fmt.Sprintf("r%d", i))
		if err != nil {
			b.Fatal(err)
		}
		i++
		rc, err := run.StartRecord(start)
		if err != nil {
			b.Fatal(err)
		}
		if err := rc.Finish(final); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSweep measures the sweep every `goflyte run` makes, over a
// sandbox of 1000 finished runs (the common case: nothing to clean).
func BenchmarkSweep(b *testing.B) {
	s := Sandbox{Root: filepath.Join(b.TempDir(), "sb")}
	for i := range 1000 {
		name := fmt.Sprintf("r%04d", i)
		run, err := s.NewRun(name)
		if err != nil {
			b.Fatal(err)
		}
		rc := mustStart(b, run, startRecord(name, t0, "a"))
		done := startRecord(name, t0, "a")
		done.Status, done.Tasks[0].Status = StatusSucceeded, StatusSucceeded
		if err := rc.Finish(done); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if swept, errs := s.Sweep(); len(swept) != 0 || len(errs) != 0 {
			b.Fatalf("Sweep = %v, %v", swept, errs)
		}
	}
}

func TestHasRun(t *testing.T) {
	s, run := newTestRun(t, "r1")
	mustStart(t, run, startRecord("r1", t0, "a"))
	if _, err := s.NewRun("r2"); err != nil { // a directory, no record yet
		t.Fatal(err)
	}
	// A record outside the runs directory, which a name must not reach.
	if err := os.WriteFile(filepath.Join(s.Root, "record.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"r1", true},
		{"r2", false},
		{"r3", false},
		{"", false},
		{"..", false},
		{".r1", false},
		{"../runs/r1", false},
	}
	for _, tc := range tests {
		if got := s.HasRun(tc.name); got != tc.want {
			t.Errorf("HasRun(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAttemptSpans(t *testing.T) {
	at := func(from, to int) AttemptTime {
		return AttemptTime{Start: t0.Add(time.Duration(from) * time.Second), End: t0.Add(time.Duration(to) * time.Second)}
	}
	tests := []struct {
		name string
		task TaskRecord
		want []AttemptSpan
	}{
		{"not started", TaskRecord{Status: StatusPending}, nil},
		{"one attempt", TaskRecord{Status: StatusSucceeded, Attempts: 1, Start: t0, End: t0.Add(time.Second), AttemptTimes: []AttemptTime{at(0, 1)}},
			[]AttemptSpan{{Attempt: 1, Start: t0, End: t0.Add(time.Second), Status: StatusSucceeded}}},
		{"retried twice, then succeeded", TaskRecord{Status: StatusSucceeded, Attempts: 3, Start: t0, End: t0.Add(6 * time.Second),
			AttemptErrors: []string{"e1", "e2"}, AttemptTimes: []AttemptTime{at(0, 1), at(2, 3), at(5, 6)}},
			[]AttemptSpan{
				{Attempt: 1, Start: t0, End: t0.Add(time.Second), Status: StatusFailed, Error: "e1"},
				{Attempt: 2, Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second), Status: StatusFailed, Error: "e2"},
				{Attempt: 3, Start: t0.Add(5 * time.Second), End: t0.Add(6 * time.Second), Status: StatusSucceeded},
			}},
		{"retries ran out", TaskRecord{Status: StatusFailed, Attempts: 2, Start: t0, End: t0.Add(3 * time.Second), Error: "last",
			AttemptErrors: []string{"first"}, AttemptTimes: []AttemptTime{at(0, 1), at(2, 3)}},
			[]AttemptSpan{
				{Attempt: 1, Start: t0, End: t0.Add(time.Second), Status: StatusFailed, Error: "first"},
				{Attempt: 2, Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second), Status: StatusFailed, Error: "last"},
			}},
		{"running after a retry", TaskRecord{Status: StatusRunning, Attempts: 1, Start: t0,
			AttemptErrors: []string{"e1"}, AttemptTimes: []AttemptTime{at(0, 1)}},
			[]AttemptSpan{
				{Attempt: 1, Start: t0, End: t0.Add(time.Second), Status: StatusFailed, Error: "e1"},
				{Attempt: 2, Start: t0.Add(time.Second), Status: StatusRunning},
			}},
		{"older record: one span from start to end", TaskRecord{Status: StatusSucceeded, Attempts: 3, Start: t0, End: t0.Add(6 * time.Second), AttemptErrors: []string{"e1", "e2"}},
			[]AttemptSpan{{Attempt: 3, Start: t0, End: t0.Add(6 * time.Second), Status: StatusSucceeded}}},
		{"cache hit without attempts", TaskRecord{Status: StatusSucceeded, Start: t0, End: t0, Cache: CacheHit},
			[]AttemptSpan{{Attempt: 1, Start: t0, End: t0, Status: StatusSucceeded}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.task.AttemptSpans()); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordBeforeAttemptTimes loads a record written before TaskRecord
// had AttemptTimes: it loads, and each task that ran is one span.
func TestRecordBeforeAttemptTimes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "record-before-attempt-times.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, run := newTestRun(t, "r20261120-090000-00000001")
	if err := os.WriteFile(filepath.Join(run.Dir, "record.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := mustLoad(t, s, run.Name)
	if rec.Status != StatusSucceeded || len(rec.Tasks) != 2 {
		t.Fatalf("status %q, %d tasks", rec.Status, len(rec.Tasks))
	}
	count := rec.Tasks[1]
	if count.AttemptTimes != nil {
		t.Errorf("attempt times %v, want none", count.AttemptTimes)
	}
	want := []AttemptSpan{{Attempt: 3, Start: count.Start, End: count.End, Status: StatusSucceeded}}
	if diff := cmp.Diff(want, count.AttemptSpans()); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if !count.Start.Equal(time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC)) {
		t.Errorf("start %v", count.Start)
	}
}
