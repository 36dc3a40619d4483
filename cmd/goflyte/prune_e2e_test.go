package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// startSlowRun starts `goflyte run --task text.sleep` for a minute in the
// background and waits until its record says running. The process is
// killed when the test ends. done is closed when the process has exited.
func (x *e2e) startSlowRun(ms int) (cmd *exec.Cmd, name string, done <-chan struct{}) {
	x.t.Helper()
	cmd = exec.Command(e2eBin, "run", "--task", "text.sleep", "--input", "ms="+itoa(ms), "-q")
	cmd.Dir = x.dir
	cmd.Env = x.env
	if err := cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	x.t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	sb := sandbox.Sandbox{Root: x.sandbox}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		recs, _, _ := sb.ListRecords()
		for _, r := range recs {
			if r.PID == cmd.Process.Pid && r.Status == sandbox.StatusRunning {
				rec, err := sb.LoadRecord(r.Name)
				if err == nil && len(rec.Tasks) == 1 && rec.Tasks[0].Status == sandbox.StatusRunning {
					return cmd, r.Name, exited
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	x.t.Fatal("the slow run did not start within 30s")
	return nil, "", nil
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (x *e2e) runNames() []string {
	x.t.Helper()
	r := x.run("runs", "list", "--json")
	var sums []sandbox.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &sums); err != nil {
		x.t.Fatalf("runs list --json: %v\n%s", err, r)
	}
	var names []string
	for _, s := range sums {
		names = append(names, s.Name)
	}
	return names
}

// TestE2ERunsPruneDelete deletes and prunes finished runs next to a run
// that is going (a real goflyte process holding the run's lock), which
// must not be touched, then cancels that run as Ctrl-C would.
func TestE2ERunsPruneDelete(t *testing.T) {
	x := newE2E(t)
	// Three finished runs: two succeeded, one failed.
	var finished []string
	for _, args := range [][]string{
		{"run", "--task", "text.upper", "--input", "text=a", "-q"},
		{"run", "--task", "text.fail", "--input", "message=boom", "-q"},
		{"run", "--task", "text.upper", "--input", "text=b", "-q"},
	} {
		x.run(args...)
	}
	finished = x.runNames() // newest first
	if len(finished) != 3 {
		t.Fatalf("runs: %v", finished)
	}
	_, running, exited := x.startSlowRun(120_000)
	runDir := filepath.Join(x.sandbox, "runs", running)

	// delete refuses the running run, says so, and exits 1.
	r := x.run("runs", "delete", running)
	if r.code != 1 || !strings.Contains(r.stderr, "is running") {
		t.Errorf("delete of a running run: %s", r)
	}
	if _, err := os.Stat(filepath.Join(runDir, "record.json")); err != nil {
		t.Fatalf("the running run's record was touched: %v", err)
	}

	// prune --dry-run lists, removes nothing; the running run is never a
	// candidate, however old the limit.
	r = x.run("runs", "prune", "--older-than", "1ns", "--dry-run")
	if r.code != 0 {
		t.Fatalf("prune --dry-run: %s", r)
	}
	if got := strings.Fields(r.stdout); !slices.Equal(got, finished) {
		t.Errorf("prune --dry-run listed %v, want %v", got, finished)
	}
	if got := x.runNames(); len(got) != 4 {
		t.Errorf("after a dry run, runs %v", got)
	}

	// --status picks the failed run only; --keep keeps the newest.
	r = x.run("runs", "prune", "--older-than", "1ns", "--status", "failed", "--json")
	var pruned []sandbox.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &pruned); err != nil || len(pruned) != 1 || pruned[0].Status != "failed" || pruned[0].Name != finished[1] {
		t.Fatalf("prune --status failed: %v %+v\n%s", err, pruned, r)
	}
	r = x.run("runs", "prune", "--older-than", "1ns", "--keep", "1")
	if got := strings.Fields(r.stdout); r.code != 0 || !slices.Equal(got, finished[2:]) {
		t.Errorf("prune --keep 1 removed %v, want %v\n%s", got, finished[2:], r)
	}
	if got := x.runNames(); !slices.Equal(got, []string{running, finished[0]}) {
		t.Errorf("after pruning, runs %v, want %v", got, []string{running, finished[0]})
	}
	if _, err := os.Stat(filepath.Join(x.sandbox, "runs", finished[2])); !os.IsNotExist(err) {
		t.Errorf("the pruned run's directory is still there: %v", err)
	}

	// delete removes a finished run with its directory; naming a running
	// one too removes the finished and refuses the running.
	r = x.run("runs", "delete", finished[0], running)
	if r.code != 1 || strings.TrimSpace(r.stdout) != finished[0] || !strings.Contains(r.stderr, running+" is running") {
		t.Errorf("delete finished + running: %s", r)
	}
	if got := x.runNames(); !slices.Equal(got, []string{running}) {
		t.Errorf("after delete, runs %v", got)
	}
	if r := x.run("runs", "delete", "r20000101-000000-00000000"); r.code == 0 {
		t.Errorf("delete of a missing run succeeded: %s", r)
	}

	// cancel: the run's process gets SIGINT, stops its task and records
	// itself cancelled; the process exits 130 as after Ctrl-C.
	r = x.run("runs", "cancel", running)
	if r.code != 0 {
		t.Fatalf("cancel: %s", r)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not stop within 30s of cancel")
	}
	rec, err := sandbox.Sandbox{Root: x.sandbox}.LoadRecord(running)
	if err != nil || rec.Status != sandbox.StatusCancelled {
		t.Fatalf("after cancel: %v %+v", err, rec)
	}
	if r := x.run("runs", "cancel", running); r.code == 0 || !strings.Contains(r.stderr, "cancelled") {
		t.Errorf("cancel of a finished run: %s", r)
	}
	// Now it is finished, delete takes it.
	if r := x.run("runs", "delete", running); r.code != 0 {
		t.Errorf("delete after cancel: %s", r)
	}
}
