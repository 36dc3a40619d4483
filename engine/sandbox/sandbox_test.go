package sandbox

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewRunAndTaskDirs(t *testing.T) {
	s := Sandbox{Root: filepath.Join(t.TempDir(), "sb")}
	run, err := s.NewRun("r1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.Root, "runs", "r1"); run.Dir != want {
		t.Errorf("run dir = %s, want %s", run.Dir, want)
	}
	if _, err := s.NewRun("r1"); err == nil {
		t.Error("a second run with the same name was created")
	}

	first, err := run.TaskDir("split", 1)
	if err != nil {
		t.Fatal(err)
	}
	second, err := run.TaskDir("split", 2)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(first) != "split" || filepath.Base(second) != "split.2" {
		t.Errorf("task dirs = %s, %s", first, second)
	}
	if _, err := run.TaskDir("split", 1); err == nil {
		t.Error("a task directory was handed out twice")
	}
	for _, dir := range []string{run.Dir, first} {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o700 {
			t.Errorf("%s has mode %o, want 700", dir, perm)
		}
	}
}

func TestNamesCannotEscape(t *testing.T) {
	s := Sandbox{Root: t.TempDir()}
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a\x00b"} {
		if _, err := s.NewRun(name); err == nil {
			t.Errorf("NewRun(%q) succeeded", name)
		}
	}
	run, err := s.NewRun("r")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "..", "../../etc", "a/b"} {
		if _, err := run.TaskDir(name, 1); err == nil {
			t.Errorf("TaskDir(%q) succeeded", name)
		}
		if _, err := run.CheckpointDir(name, 2); err == nil {
			t.Errorf("CheckpointDir(%q) succeeded", name)
		}
		if got := run.PrevCheckpoint(name, 3); got != "" {
			t.Errorf("PrevCheckpoint(%q) = %q", name, got)
		}
	}
}

func TestCheckpointDirs(t *testing.T) {
	run, err := Sandbox{Root: t.TempDir()}.NewRun("r")
	if err != nil {
		t.Fatal(err)
	}
	dir := func(attempt int) string {
		t.Helper()
		d, err := run.CheckpointDir("train@3", attempt)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if want := filepath.Join(run.Dir, "checkpoints", "train@3.2"); dir(2) != want {
		t.Errorf("CheckpointDir(train@3, 2) = %q, want %q", dir(2), want)
	}
	if _, err := os.Stat(dir(1)); !os.IsNotExist(err) {
		t.Errorf("CheckpointDir made its directory: %v", err)
	}
	// Attempts 1 and 3 saved a checkpoint, 2 and 4 did not.
	for _, a := range []int{1, 3} {
		if err := os.MkdirAll(dir(a), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for before, want := range map[int]string{1: "", 2: dir(1), 3: dir(1), 4: dir(3), 5: dir(3)} {
		if got := run.PrevCheckpoint("train@3", before); got != want {
			t.Errorf("PrevCheckpoint(before %d) = %q, want %q", before, got, want)
		}
	}
	if got := run.PrevCheckpoint("other", 5); got != "" {
		t.Errorf("PrevCheckpoint of a task that saved none = %q", got)
	}
}

func TestNewRunName(t *testing.T) {
	now := time.Date(2026, 11, 25, 13, 5, 1, 0, time.UTC)
	a, b := NewRunName(now), NewRunName(now)
	if !regexp.MustCompile(`^r20261125-130501-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("name %q has the wrong shape", a)
	}
	if a == b {
		t.Errorf("two names for the same second are equal: %s", a)
	}
}

func TestCheckpoints(t *testing.T) {
	_, run := newTestRun(t, "r1")
	write := func(rel string, data string) {
		p := filepath.Join(run.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("checkpoints/t/state", "12345")
	write("checkpoints/t.3/state", "1")
	write("checkpoints/t.3/sub/more", "22")
	write("checkpoints/other/state", "x")
	got, err := Checkpoints(run.Dir, "t", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Checkpoint{
		{Attempt: 1, Dir: "checkpoints/t", Files: 1, Bytes: 5},
		{Attempt: 3, Dir: "checkpoints/t.3", Files: 2, Bytes: 3}, // attempt 2 saved none
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := Checkpoints(run.Dir, "../x", 1); err == nil {
		t.Error("a task name with a separator was accepted")
	}
}

// TestLazyRun: a lazy run makes nothing of its own until written to; its
// tasks' working directories are in the shared directory, whose
// existence lets a plugin make one with a single mkdir; its task logs
// make its directory when needed.
func TestLazyRun(t *testing.T) {
	s := Sandbox{Root: filepath.Join(t.TempDir(), "sb")}
	run, err := s.LazyRun("r1-x")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.Root, "runs", "r1-x"); run.Dir != want {
		t.Errorf("run dir = %s, want %s", run.Dir, want)
	}
	if _, err := os.Stat(run.Dir); !os.IsNotExist(err) {
		t.Fatalf("a lazy run made its directory at once: %v", err)
	}
	shared := filepath.Join(s.Root, SharedTasksDir)
	if fi, err := os.Stat(shared); err != nil || !fi.IsDir() {
		t.Fatalf("shared tasks directory: %v", err)
	}

	tests := []struct {
		task    string
		attempt int
		want    string
	}{
		{"split", 1, filepath.Join(shared, "r1-x.split")},
		{"split", 2, filepath.Join(shared, "r1-x.split.2")},
		{"fan@3", 1, filepath.Join(shared, "r1-x.fan@3")},
	}
	for _, tt := range tests {
		path, err := run.TaskDirPath(tt.task, tt.attempt)
		if err != nil || path != tt.want {
			t.Errorf("TaskDirPath(%s, %d) = %s, %v; want %s", tt.task, tt.attempt, path, err, tt.want)
		}
		// What a plugin does for a lazy working directory: one mkdir.
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Errorf("plugin's mkdir of %s: %v", path, err)
		}
	}
	if _, err := run.TaskDir("other", 1); err != nil {
		t.Error(err)
	}
	if _, err := run.TaskDir("split", 1); err == nil {
		t.Error("TaskDir made a directory that existed")
	}
	if _, err := run.TaskDirPath("../x", 1); err == nil {
		t.Error("a task name escaped the shared directory")
	}
	if _, err := os.Stat(run.Dir); !os.IsNotExist(err) {
		t.Fatalf("working directories made the run's directory: %v", err)
	}

	// A task log makes the run's directory with its own.
	logs := run.TaskLogs()
	if err := logs.Write(&LogLine{Time: time.Now(), Level: "info", Source: LogSourceEngine, Node: "split", Attempt: 1, Msg: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := logs.Close(); err != nil {
		t.Fatalf("task log of a lazy run: %v", err)
	}
	if got, err := ListTaskLogs(run.Dir); err != nil || len(got) != 1 {
		t.Errorf("task logs: %v, %v", got, err)
	}

	if _, err := s.LazyRun("a/b"); err == nil {
		t.Error("LazyRun accepted a name with a slash")
	}
}
