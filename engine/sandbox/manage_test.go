package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTaskCounts(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc, err := run.StartRecord(startRecord("r1", t0, "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Task(TaskRecord{Name: "a", Task: "text.a", Status: StatusRunning}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"running": 1, "pending": 2}
	if diff := cmp.Diff(want, mustLoad(t, s, "r1").TaskCounts); diff != "" {
		t.Errorf("counts of a running run (-want +got):\n%s", diff)
	}
	sums, _, err := s.ListSummaries()
	if err != nil || len(sums) != 1 {
		t.Fatal(err, sums)
	}
	if diff := cmp.Diff(want, sums[0].TaskCounts); diff != "" {
		t.Errorf("summary counts of a running run (-want +got):\n%s", diff)
	}
	final := mustLoad(t, s, "r1")
	final.Status = StatusFailed
	final.End = t0.Add(3 * time.Second)
	final.Tasks[0].Status = StatusFailed
	final.Tasks[1].Status = StatusSkipped
	final.Tasks[2].Status = StatusSkipped
	if err := rc.Finish(final); err != nil {
		t.Fatal(err)
	}
	// A finished run's counts come from the record's head.
	recs, _, err := s.ListRecords()
	if err != nil || len(recs) != 1 {
		t.Fatal(err, recs)
	}
	want = map[string]int{"failed": 1, "skipped": 2}
	if diff := cmp.Diff(want, recs[0].TaskCounts); diff != "" {
		t.Errorf("counts in the head (-want +got):\n%s", diff)
	}
	if got := Summarize(recs[0]); got.DurationMS != 3000 || got.Status != StatusFailed {
		t.Errorf("summary %+v", got)
	}
}

func TestSelectPrune(t *testing.T) {
	now := t0.Add(100 * time.Hour)
	rec := func(name, status string, endAgo time.Duration) *Record {
		r := &Record{Name: name, Status: status, Start: now.Add(-endAgo - time.Minute)}
		if status != StatusRunning && status != StatusInterrupted {
			r.End = now.Add(-endAgo)
		}
		return r
	}
	// Newest first, as ListRecords gives them.
	recs := []*Record{
		rec("r6", StatusRunning, 0),
		rec("r5", StatusSucceeded, time.Hour),
		rec("r4", StatusFailed, 2*time.Hour),
		rec("r3", StatusInterrupted, 3*time.Hour),
		rec("r2", StatusSucceeded, 50*time.Hour),
		rec("r1", StatusCancelled, 60*time.Hour),
	}
	tests := []struct {
		name string
		opts PruneOptions
		want []string
	}{
		{"all finished", PruneOptions{OlderThan: time.Nanosecond}, []string{"r5", "r4", "r3", "r2", "r1"}},
		{"older than a day", PruneOptions{OlderThan: 24 * time.Hour}, []string{"r2", "r1"}},
		{"interrupted counts from its start", PruneOptions{OlderThan: 3 * time.Hour}, []string{"r3", "r2", "r1"}},
		{"keep two", PruneOptions{OlderThan: time.Nanosecond, Keep: 2}, []string{"r3", "r2", "r1"}},
		{"failed only", PruneOptions{OlderThan: time.Nanosecond, Statuses: []string{StatusFailed}}, []string{"r4"}},
		{"succeeded, keep one", PruneOptions{OlderThan: time.Nanosecond, Keep: 1, Statuses: []string{StatusSucceeded}}, []string{"r2"}},
		{"running never", PruneOptions{OlderThan: time.Nanosecond, Statuses: []string{StatusRunning}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = now
			var got []string
			for _, r := range SelectPrune(recs, tc.opts) {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteRun(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc, err := run.StartRecord(startRecord("r1", t0, "a"))
	if err != nil {
		t.Fatal(err)
	}
	var re *RunningError
	if err := s.DeleteRun("r1", ""); !errors.As(err, &re) || re.PID != 4242 {
		t.Fatalf("delete of a running run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "record.json")); err != nil {
		t.Fatal("the running run was touched:", err)
	}
	rec := mustLoad(t, s, "r1")
	rec.Status, rec.End = StatusSucceeded, t0.Add(time.Second)
	if err := rc.Finish(rec); err != nil {
		t.Fatal(err)
	}
	// Its data store under a local raw output prefix goes too, read-only
	// files and all.
	prefix := t.TempDir()
	data := filepath.Join(prefix, "r1", "count")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "out.txt"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRun("r1", prefix); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{run.Dir, filepath.Join(prefix, "r1")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	if err := s.DeleteRun("r1", ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("delete of a missing run: %v", err)
	}
	if err := s.DeleteRun("../x", ""); err == nil {
		t.Error("delete accepted a name with a separator")
	}
}

// TestFollow follows a run while it is recorded: the first update has
// every task, later ones what changed, a half-written line waits, and the
// end gives the final states.
func TestFollow(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc, err := run.StartRecord(startRecord("r1", t0, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := s.Follow("r1", false)
	if err != nil {
		t.Fatal(err)
	}
	names := func(u FollowUpdate) (out []string) {
		for _, t := range u.Tasks {
			out = append(out, t.Name+":"+t.Status)
		}
		return out
	}
	next := func() FollowUpdate {
		t.Helper()
		u, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	u := next()
	if u.Run == nil || u.Run.Status != StatusRunning || u.Ended || !slices.Equal(names(u), []string{"a:pending", "b:pending"}) {
		t.Fatalf("first update: %+v", u)
	}
	if u := next(); u.Run != nil || len(u.Tasks) != 0 {
		t.Errorf("no change, update %+v", u)
	}
	if err := rc.Task(TaskRecord{Name: "a", Status: StatusRunning}); err != nil {
		t.Fatal(err)
	}
	// A line being written: not seen until its newline is.
	ev, err := os.OpenFile(filepath.Join(run.Dir, eventsFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.WriteString(`{"name":"b","status":"runn`); err != nil {
		t.Fatal(err)
	}
	if u := next(); !slices.Equal(names(u), []string{"a:running"}) {
		t.Errorf("update %v, want a:running", names(u))
	}
	if _, err := ev.WriteString("ing\"}\n"); err != nil {
		t.Fatal(err)
	}
	ev.Close()
	if u := next(); !slices.Equal(names(u), []string{"b:running"}) {
		t.Errorf("update %v, want b:running", names(u))
	}
	// Logs written after the start are reported.
	logs := run.TaskLogs()
	if err := logs.Write(&LogLine{Time: t0, Level: "info", Node: "a", Attempt: 1, Msg: "<script>hi</script>"}); err != nil {
		t.Fatal(err)
	}
	logs.Close()
	if u := next(); len(u.Logs) != 1 || u.Logs[0].Msg != "<script>hi</script>" {
		t.Errorf("log update %+v", u.Logs)
	}
	final := mustLoad(t, s, "r1")
	final.Status, final.End = StatusSucceeded, t0.Add(time.Second)
	final.Tasks[0].Status, final.Tasks[1].Status = StatusSucceeded, StatusSucceeded
	if err := rc.Finish(final); err != nil {
		t.Fatal(err)
	}
	u = next()
	if !u.Ended || u.Run == nil || u.Run.Status != StatusSucceeded || !slices.Equal(names(u), []string{"a:succeeded", "b:succeeded"}) {
		t.Errorf("final update: ended %v, run %+v, tasks %v", u.Ended, u.Run, names(u))
	}
	if u := next(); !u.Ended || len(u.Tasks) != 0 || u.Run != nil {
		t.Errorf("after the end: %+v", u)
	}
}

// TestFollowLogs: a follower reports the lines of the run's one log file
// and of per-attempt files (a run recorded before it), each line once,
// and skips what was written before the first update when asked.
func TestFollowLogs(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc, err := run.StartRecord(startRecord("r1", t0, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := os.Mkdir(filepath.Join(run.Dir, logsDir), 0o700); err != nil {
		t.Fatal(err)
	}
	old, err := os.OpenFile(filepath.Join(run.Dir, logsDir, "b.2.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	oldLine := func(msg string) {
		t.Helper()
		if _, err := fmt.Fprintf(old, `{"time":"2026-11-25T12:00:00Z","level":"info","node":"b","attempt":2,"msg":%q}`+"\n", msg); err != nil {
			t.Fatal(err)
		}
	}
	oldLine("old-before")
	logs := run.TaskLogs()
	if err := logs.Write(&LogLine{Time: t0, Level: "info", Node: "a", Attempt: 1, Msg: "new-before"}); err != nil {
		t.Fatal(err)
	}
	logs.Close()

	msgs := func(f *Follower) []string {
		t.Helper()
		u, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range u.Logs {
			out = append(out, l.Msg)
		}
		slices.Sort(out)
		return out
	}
	all, err := s.Follow("r1", false)
	if err != nil {
		t.Fatal(err)
	}
	skip, err := s.Follow("r1", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs(all); !slices.Equal(got, []string{"new-before", "old-before"}) {
		t.Errorf("first update: %q", got)
	}
	if got := msgs(skip); len(got) != 0 {
		t.Errorf("first update, skipping: %q", got)
	}
	oldLine("old-after")
	if err := logs.Write(&LogLine{Time: t0, Level: "info", Node: "a", Attempt: 2, Msg: "new-after"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Follower{all, skip} {
		if got := msgs(f); !slices.Equal(got, []string{"new-after", "old-after"}) {
			t.Errorf("next update: %q", got)
		}
		if got := msgs(f); len(got) != 0 {
			t.Errorf("no change: %q", got)
		}
	}
}

// TestLister lists runs as ListSummaries does, keeping finished runs'
// summaries until their record changes.
func TestLister(t *testing.T) {
	s, run := newTestRun(t, "r1")
	rc, err := run.StartRecord(startRecord("r1", t0, "a"))
	if err != nil {
		t.Fatal(err)
	}
	l := &Lister{Sandbox: s}
	list := func() []string {
		t.Helper()
		sums, _, err := l.List()
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := s.ListSummaries()
		if diff := cmp.Diff(want, sums); diff != "" {
			t.Errorf("Lister and ListSummaries differ (-want +got):\n%s", diff)
		}
		var out []string
		for _, r := range sums {
			out = append(out, r.Name+":"+r.Status)
		}
		return out
	}
	if got := list(); !slices.Equal(got, []string{"r1:running"}) {
		t.Errorf("%v", got)
	}
	rec := mustLoad(t, s, "r1")
	rec.Status, rec.End = StatusSucceeded, t0.Add(time.Second)
	if err := rc.Finish(rec); err != nil {
		t.Fatal(err)
	}
	if got := list(); !slices.Equal(got, []string{"r1:succeeded"}) {
		t.Errorf("%v", got)
	}
	if got := list(); !slices.Equal(got, []string{"r1:succeeded"}) {
		t.Errorf("cached: %v", got)
	}
	if err := s.DeleteRun("r1", ""); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
}
