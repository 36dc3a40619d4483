package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestE2ELazyWorkingDirectories runs tasks of real plugins built with the
// sdk, which make their working directory themselves when their task first
// uses it, and of one that stands for an older sdk: a task that never
// touches its directory leaves none (and its record names none); one that
// writes a file output, saves a checkpoint or has decks finds a fresh,
// private directory, as does every task of the older plugin; `runs show`
// records exactly the directories that exist.
func TestE2ELazyWorkingDirectories(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("lazy.hcl", `workflow "lazy" {
  task "a" {
    uses   = "text.upper"
    inputs = { text = "hi" }
  }
  task "b" {
    uses   = "text.upper"
    inputs = { text = task.a.text }
  }
  task "w" {
    uses   = "text.write"
    inputs = { text = task.b.text, name = "x.txt" }
  }
  task "r" {
    uses   = "text.read"
    inputs = { file = task.w.file }
  }
  task "words" {
    uses   = "text.split"
    inputs = { text = "a b a" }
  }
  task "top" {
    uses        = "text.top"
    inputs      = { words = task.words.words, k = 1 }
    enable_deck = true
  }
  task "cp" {
    uses   = "math.series"
    inputs = { n = 10 }
  }
  task "old" {
    uses   = "oldsdk.write"
    inputs = { text = "old" }
  }
  task "old_idle" {
    uses = "oldsdk.idle"
  }
  output "read" { value = task.r.text }
  output "sum" { value = task.cp.sum }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 0 || out.Outputs["read"] != "HI" || out.Outputs["sum"] != float64(55) {
		t.Fatalf("want success, read HI, sum 55\n%s", r)
	}
	workDirs := map[string]string{}
	for _, tk := range out.Tasks {
		workDirs[tk.Name] = tk.WorkDir
	}
	tasks := filepath.Join(out.RunDir, "tasks")
	for name, want := range map[string]bool{
		"a": false, "b": false, "r": false, "words": false, // never used theirs
		"w": true, "top": true, "cp": true, // a file, a deck, a checkpoint through Params
		"old": true, "old_idle": true, // an older sdk: made by the engine
	} {
		dir := filepath.Join(tasks, name)
		fi, err := os.Stat(dir)
		if got := err == nil && fi.IsDir(); got != want {
			t.Errorf("task %s: directory exists %v, want %v", name, got, want)
			continue
		}
		if want && fi.Mode().Perm() != 0o700 {
			t.Errorf("task %s: directory mode %v, want 0700", name, fi.Mode().Perm())
		}
		wantRec := ""
		if want {
			wantRec = dir
		}
		if workDirs[name] != wantRec {
			t.Errorf("task %s: work_dir %q in the record, want %q", name, workDirs[name], wantRec)
		}
	}
	for _, f := range []string{"w/x.txt", "top/deck.html", "old/old.txt"} {
		if _, err := os.Stat(filepath.Join(tasks, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	rec := x.loadRecord(filepath.Base(out.RunDir))
	for _, tr := range rec.Tasks {
		if tr.WorkDir != workDirs[tr.Name] {
			t.Errorf("runs show: task %s work_dir %q, run printed %q", tr.Name, tr.WorkDir, workDirs[tr.Name])
		}
	}
}
