//go:build soak

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The soak test runs with `make soak`, not `make test`: it takes minutes.
// Every task of its workflow may crash its plugin or hang past its
// timeout, at random; retries absorb most of that, and some runs fail.
// What must hold whatever the dice say: each run ends (exit 0 or 1) with a
// record that agrees with it, nothing is left running, and goflyte leaks
// neither plugin processes nor file descriptors.
const soakWF = `workflow "soak" {
  input "crash" { type = number }
  input "hang" { type = number }
  task "chaos" {
    uses          = "misbehave.chaos"
    for_each      = range(200)
    inputs        = { i = each.value, crash = input.crash, hang = input.hang }
    retries       = 3
    retry_backoff = "10ms"
    timeout       = "500ms"
  }
  output "attempts" { value = task.chaos.attempt }
}
`

var soakArgs = []string{"--input", "crash=0.02", "--input", "hang=0.005", "--grace", "100ms", "--json", "-q"}

func TestSoakConcurrentChaos(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("soak.hcl", soakWF)
	const runs = 50
	results := make(chan result, runs)
	for range runs {
		go func() {
			r, err := x.command(nil, nil, append([]string{"run", path}, soakArgs...)...)
			if err != nil {
				r.code, r.stderr = -1, err.Error()
			}
			results <- r
		}()
	}
	ids := map[string]bool{}
	outcomes := map[string]int{}
	retried := 0 // elements that needed more than one attempt
	for range runs {
		r := <-results
		var out runJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Errorf("run output is not JSON: %v\n%s", err, r)
			continue
		}
		outcomes[out.Status]++
		want := map[int]string{0: "succeeded", 1: "failed"}[r.code]
		if want == "" || out.Status != want {
			t.Errorf("exit %d with status %q, want 0/succeeded or 1/failed\n%s", r.code, out.Status, r)
		}
		if ids[out.ExecutionID] {
			t.Errorf("two runs share execution id %s", out.ExecutionID)
		}
		ids[out.ExecutionID] = true
		if attempts, ok := out.Outputs["attempts"].([]any); ok {
			for _, a := range attempts {
				if n, _ := a.(float64); n > 1 {
					retried++
				}
			}
		}
		checkSoakRecord(t, x, out.ExecutionID, out.Status)
	}
	t.Logf("%d runs: %v; %d elements retried", runs, outcomes, retried)
	if retried == 0 {
		t.Errorf("no element needed a retry: the chaos plugin did not crash or hang")
	}
	x.checkNoOrphans()
}

// checkSoakRecord checks that a finished run's record agrees with its
// result and has no task left in a non-final state.
func checkSoakRecord(t *testing.T, x *e2e, id, status string) {
	t.Helper()
	r := x.run("runs", "show", id, "--json")
	var rec struct {
		Status string
		Tasks  []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Errorf("runs show %s: %v\n%s", id, err, r)
		return
	}
	if rec.Status != status {
		t.Errorf("record of %s says %q, the run said %q", id, rec.Status, status)
	}
	for _, tk := range rec.Tasks {
		switch tk.Status {
		case "succeeded", "failed", "skipped":
		default:
			t.Errorf("record of %s: task %s is %q after the run", id, tk.Name, tk.Status)
		}
	}
}

// TestSoakNoLeaks runs the chaos workflow in this process, through the
// same Main as the binary, and checks that file descriptors and
// goroutines come back to where they were.
func TestSoakNoLeaks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts file descriptors in /proc/self/fd")
	}
	x := newE2E(t)
	path := x.writeFile("soak.hcl", soakWF)
	t.Chdir(x.dir)
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "FLYTE_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	run := func() {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append([]string{"run", path}, soakArgs...), strings.NewReader(""), &stdout, &stderr)
		if code != 0 && code != 1 {
			t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
	}
	run() // warm up: lazily made things (loggers, pools) are not leaks
	fds, goroutines := openFDs(t), runtime.NumGoroutine()
	for range 10 {
		run()
	}
	var gotFDs, gotG int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		gotFDs, gotG = openFDs(t), runtime.NumGoroutine()
		if gotFDs <= fds && gotG <= goroutines || time.Now().After(deadline) {
			break
		}
	}
	if gotFDs > fds {
		t.Errorf("open file descriptors: %d before 10 runs, %d after", fds, gotFDs)
	}
	if gotG > goroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before 10 runs, %d after\n%s", goroutines, gotG, buf[:runtime.Stack(buf, true)])
	}
	x.checkNoOrphans()
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
