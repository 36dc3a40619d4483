package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A workflow file run again comes from the compiled-workflow cache
// (engine/compiled.go) and behaves exactly as when it was compiled: the
// same diagnostic, with its source line, when a task fails at an input.
// An edited file is compiled again; a damaged entry is a miss with a
// warning.
func TestE2ECompiledWorkflowCache(t *testing.T) {
	x := newE2E(t)
	const div = `workflow "div" {
  input "b" { type = number }
  task "d" {
    uses = "math.div"
    inputs = {
      a = 1
      b = input.b - 1
    }
  }
}
`
	path := x.writeFile("div.hcl", div)
	debug := []string{"FLYTE_SDK_LOGGING_LEVEL=debug"}
	const kept, hit = "kept the compiled workflow", "workflow from the compiled-workflow cache"
	// What the CLI shows, without the log lines, with durations and run IDs
	// as D.
	logLine := regexp.MustCompile(`^\S+ \[[A-Z]+\]`)
	duration := regexp.MustCompile(`\[? *[0-9.]+(ns|µs|ms|s|m)\]?|r[0-9]{8}-[0-9]{6}-[0-9a-f]{8}`)
	diag := func(r result) string {
		var out []string
		for _, l := range strings.Split(r.stderr, "\n") {
			if !logLine.MatchString(l) {
				out = append(out, duration.ReplaceAllString(l, "D"))
			}
		}
		return strings.Join(out, "\n")
	}

	first := x.runEnv(debug, "run", path, "--input", "b=1")
	if first.code != 1 || !strings.Contains(first.stderr, kept) || strings.Contains(first.stderr, hit) {
		t.Fatalf("first run: want exit 1, the graph kept, no hit\n%s", first)
	}
	for _, want := range []string{"Division by zero", "div.hcl line 7", "b = input.b - 1"} {
		if !strings.Contains(first.stderr, want) {
			t.Errorf("first run: stderr lacks %q\n%s", want, first)
		}
	}
	second := x.runEnv(debug, "run", path, "--input", "b=1")
	if second.code != 1 || !strings.Contains(second.stderr, hit) {
		t.Fatalf("second run: want exit 1 and a hit\n%s", second)
	}
	if a, b := diag(first), diag(second); a != b {
		t.Errorf("the diagnostic differs on a hit:\n--- compiled:\n%s\n--- from the cache:\n%s", a, b)
	}

	// An edited file: compiled again.
	x.writeFile("div.hcl", strings.Replace(div, "input.b - 1", "input.b - 2", 1))
	third := x.runEnv(debug, "run", path, "--input", "b=2")
	if third.code != 1 || strings.Contains(third.stderr, hit) || !strings.Contains(third.stderr, "b = input.b - 2") {
		t.Fatalf("edited file: want exit 1, no hit, the new line\n%s", third)
	}

	// Damaged entries: a warning, and the run goes on as a miss.
	entries, _ := filepath.Glob(filepath.Join(x.sandbox, "compiled", "*"))
	if len(entries) == 0 {
		t.Fatal("no entry in the sandbox's compiled directory")
	}
	for _, e := range entries {
		if err := os.WriteFile(e, []byte("goflyte compiled workflow 1\nnot an entry"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fourth := x.run("run", path, "--input", "b=2")
	if fourth.code != 1 || !strings.Contains(fourth.stderr, "damaged compiled-workflow cache entry") || !strings.Contains(fourth.stderr, "Division by zero") {
		t.Fatalf("damaged entry: want exit 1, a warning and the diagnostic\n%s", fourth)
	}
}
