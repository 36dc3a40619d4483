package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const cachedWF = `workflow "cached" {
  input "text" { type = string }
  task "shout" {
    uses          = "text.upper"
    inputs        = { text = input.text }
    cache         = true
    cache_version = "1"
  }
  task "split" {
    uses   = "text.split"
    inputs = { text = task.shout.text }
  }
  output "words" { value = task.split.words }
}
`

func cacheOutcomes(out runJSON) map[string]string {
	m := map[string]string{}
	for _, t := range out.Tasks {
		m[t.Name] = t.Cache
	}
	return m
}

func TestE2ECache(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("cached.hcl", cachedWF)

	out, r := x.runJSON("run", path, "--input", "text=a b")
	if r.code != 0 || cacheOutcomes(out)["shout"] != "miss" {
		t.Fatalf("first run\n%s", r)
	}
	r = x.run("run", path, "--input", "text=a b")
	if r.code != 0 || !strings.Contains(r.stderr, "cached    shout") || !strings.Contains(r.stderr, "1 from the cache") {
		t.Errorf("second run should show shout as cached\n%s", r)
	}
	r = x.run("run", path, "--input", "text=a c", "--explain")
	if !strings.Contains(r.stderr, "cache miss: input changed since the latest entry: text") {
		t.Errorf("--explain should name the changed input\n%s", r)
	}
	out, r = x.runJSON("run", path, "--input", "text=a b", "--no-cache")
	if r.code != 0 || cacheOutcomes(out)["shout"] != "" {
		t.Errorf("--no-cache\n%s", r)
	}
	out, r = x.runJSON("run", path, "--input", "text=a b", "--overwrite-cache")
	if r.code != 0 || cacheOutcomes(out)["shout"] != "overwrite" {
		t.Errorf("--overwrite-cache\n%s", r)
	}
	wroteRun := filepath.Base(out.RunDir) // the run that wrote the entry last
	out, r = x.runJSON("run", path, "--input", "text=a b")
	if cacheOutcomes(out)["shout"] != "hit" {
		t.Errorf("after overwrite\n%s", r)
	}
	key := ""
	for _, tk := range out.Tasks {
		if tk.Name == "shout" {
			key = tk.CacheKey
		}
	}

	// The cache commands.
	r = x.run("cache", "list", "--json")
	var entries []struct {
		Key, Task, Version, Run string
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || r.code != 0 || len(entries) != 2 {
		t.Fatalf("cache list --json: %v\n%s", err, r)
	}
	// Each entry names the run that wrote it: the overwriting run for
	// "a b" (the hit after it wrote nothing), the --explain run for "a c".
	for _, en := range entries {
		if en.Run == "" {
			t.Errorf("cache list --json: entry %s has no run\n%s", en.Key, r)
		}
		if en.Key == key && en.Run != wroteRun {
			t.Errorf("cache list --json: entry %s names run %q, want %q (the --overwrite-cache run)", en.Key, en.Run, wroteRun)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(out.RunDir), en.Run, "record.json")); err != nil {
			t.Errorf("entry %s names run %q, which is not in the sandbox: %v", en.Key, en.Run, err)
		}
	}
	r = x.run("cache", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "RUN") || !strings.Contains(r.stdout, wroteRun) {
		t.Errorf("cache list should show a RUN column with %s\n%s", wroteRun, r)
	}
	r = x.run("cache", "show", key[:12])
	if r.code != 0 || !strings.Contains(r.stdout, "text.upper") || !strings.Contains(r.stdout, `"A B"`) ||
		!strings.Contains(r.stdout, "run      "+wroteRun+"\n") {
		t.Errorf("cache show should name run %s\n%s", wroteRun, r)
	}
	r = x.run("cache", "show", key[:12], "--json")
	var shown struct{ Run string }
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Run != wroteRun {
		t.Errorf("cache show --json: run %q, want %q (%v)\n%s", shown.Run, wroteRun, err, r)
	}
	r = x.run("cache", "list", "--task", "text.split")
	if r.code != 0 || strings.Contains(r.stdout, "text.upper") {
		t.Errorf("cache list --task\n%s", r)
	}
	r = x.run("cache", "prune", "--older-than", "1h")
	if r.code != 0 || !strings.Contains(r.stderr, "Removed 0 cache entries") {
		t.Errorf("cache prune\n%s", r)
	}
	r = x.run("cache", "clear")
	if r.code != 2 {
		t.Errorf("cache clear without --task or --all: want exit 2\n%s", r)
	}
	r = x.run("cache", "clear", "--task", "text.upper")
	if r.code != 0 || !strings.Contains(r.stderr, "Removed 2 cache entries") {
		t.Errorf("cache clear --task\n%s", r)
	}
	out, _ = x.runJSON("run", path, "--input", "text=a b")
	if cacheOutcomes(out)["shout"] != "miss" {
		t.Errorf("after clear: %v", cacheOutcomes(out))
	}
}

func TestE2ERunsAndResume(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("flaky.hcl", `workflow "flaky" {
  input "msg" { type = string }
  task "first" {
    uses   = "text.upper"
    inputs = { text = "ok" }
  }
  task "boom" {
    uses       = "text.fail"
    inputs     = { message = input.msg }
    depends_on = [task.first]
  }
}
`)
	out, r := x.runJSON("run", path, "--input", "msg=broken")
	if r.code != 1 {
		t.Fatalf("want a failed run\n%s", r)
	}
	runName := out.ExecutionID[strings.LastIndex(out.ExecutionID, ":")+1:]

	r = x.run("runs", "list")
	if r.code != 0 || !strings.Contains(r.stdout, runName) || !strings.Contains(r.stdout, "failed") {
		t.Errorf("runs list\n%s", r)
	}
	r = x.run("runs", "show", out.ExecutionID)
	if r.code != 0 || !strings.Contains(r.stdout, "└ boom") || !strings.Contains(r.stdout, `Task "boom" failed: broken`) {
		t.Errorf("runs show\n%s", r)
	}

	// Fix the workflow's failing task (it is downstream, so resume may
	// re-run it) and resume: first keeps its outputs.
	x.writeFile("flaky.hcl", strings.Replace(mustRead(t, path), `uses       = "text.fail"`, `uses       = "text.upper"`, 1))
	x.writeFile("flaky.hcl", strings.Replace(mustRead(t, path), `inputs     = { message = input.msg }`, `inputs     = { text = input.msg }`, 1))
	out2, r := x.runJSON("run", "--resume", runName)
	if r.code != 0 || out2.Status != "succeeded" {
		t.Fatalf("resume\n%s", r)
	}
	r = x.run("runs", "show", out2.ExecutionID, "--json")
	var rec struct {
		ResumedFrom string `json:"resumed_from"`
		Tasks       []struct {
			Name    string
			Resumed bool
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.ResumedFrom != out.ExecutionID || !rec.Tasks[0].Resumed || rec.Tasks[1].Resumed {
		t.Errorf("resumed record: %v\n%s", err, r)
	}
	r = x.run("run", "--resume", out2.ExecutionID)
	if r.code != 2 || !strings.Contains(r.stderr, "nothing to resume") {
		t.Errorf("resuming a succeeded run: want exit 2\n%s", r)
	}
	// Changing a kept task is refused, naming it.
	x.writeFile("flaky.hcl", strings.Replace(mustRead(t, path), `inputs = { text = "ok" }`, `inputs = { text = "okay" }`, 1))
	r = x.run("run", "--resume", runName)
	if r.code != 2 || !strings.Contains(r.stderr, `task "first" has a new definition`) || !strings.Contains(r.stderr, "--from first") {
		t.Errorf("resume after a change\n%s", r)
	}
}

// TestE2EKilledRunResumes kills goflyte with SIGKILL while a task runs:
// the record says interrupted, no plugin survives, and --resume finishes
// the run without re-running what succeeded.
func TestE2EKilledRunResumes(t *testing.T) {
	x := newE2E(t)
	// The slow task runs until the test opens its gate (a file), so that
	// it is still running when the test kills the run however long the
	// polling below takes on a loaded machine (a 4 s sleep ended before
	// two goflyte commands per round saw it running, at load 25 and up);
	// the resumed run finds the gate open.
	gate := filepath.Join(x.dir, "gate")
	path := x.writeFile("slow.hcl", fmt.Sprintf(`workflow "slow" {
  task "quick" {
    uses   = "text.upper"
    inputs = { text = "q" }
  }
  task "slow" {
    uses   = "misbehave.wait_for"
    inputs = { path = %q }
    depends_on = [task.quick]
  }
}
`, gate))
	cmd := exec.Command(e2eBin, "run", path, "-q")
	cmd.Dir, cmd.Env = x.dir, x.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the slow task runs, as the record shows it. A failure
	// deadline: nothing ends the task before the kill.
	var name string
	deadline := time.Now().Add(2 * time.Minute)
	for name == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		r := x.run("runs", "list", "--json")
		var runs []struct{ Name, Status string }
		if json.Unmarshal([]byte(r.stdout), &runs) != nil || len(runs) == 0 {
			continue
		}
		show := x.run("runs", "show", runs[0].Name, "--json")
		if strings.Contains(show.stdout, `"name": "slow",`) && strings.Contains(show.stdout, `"status": "running"`) {
			name = runs[0].Name
		}
	}
	if name == "" {
		_ = cmd.Process.Kill()
		t.Fatal("the slow task never showed as running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	x.checkNoOrphans()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	r := x.run("runs", "show", name, "--json")
	var rec struct {
		Status string
		Tasks  []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, r)
	}
	got := map[string]string{"run": rec.Status}
	for _, tk := range rec.Tasks {
		got[tk.Name] = tk.Status
	}
	if diff := cmp.Diff(map[string]string{"run": "interrupted", "quick": "succeeded", "slow": "interrupted"}, got); diff != "" {
		t.Errorf("record after SIGKILL (-want +got):\n%s", diff)
	}
	if r := x.run("runs", "show", name); !strings.Contains(r.stdout, "goflyte run --resume "+name) {
		t.Errorf("runs show should say how to continue\n%s", r)
	}
	out, r := x.runJSON("run", "--resume", name)
	if r.code != 0 || out.Status != "succeeded" {
		t.Fatalf("resume\n%s", r)
	}
	if s := out.taskStatuses(); s["quick"] != "succeeded" || s["slow"] != "succeeded" {
		t.Errorf("resumed statuses: %v", s)
	}
	// The next run cleaned up after the dead one and said so, once.
	if want := "run " + name + " (workflow slow) was interrupted; cleaned up after it"; !strings.Contains(r.stderr, want) {
		t.Errorf("the run after the kill should report %q\n%s", want, r)
	}
	if r := x.run("runs", "show", name, "--json"); !strings.Contains(r.stdout, `"status": "interrupted"`) {
		t.Errorf("the swept record should stay interrupted\n%s", r)
	}
	if r := x.run("run", "--task", "text.upper", "--input", "text=x"); r.code != 0 || strings.Contains(r.stderr, "was interrupted") {
		t.Errorf("a later run should not report the swept run again\n%s", r)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
