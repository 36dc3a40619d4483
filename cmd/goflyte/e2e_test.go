package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/internal/testtmp"
)

// The end-to-end tests build the real CLI and the example plugins once, in
// TestMain, and run goflyte as a subprocess the way a user does: real
// plugin processes, real gRPC, real files. They are skipped with -short.

var (
	e2eBin     string // the goflyte binary
	e2ePlugins string // directory with the example and test plugins
	repoRoot   string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if !testingShort() {
		dir, err := os.MkdirTemp("", "goflyte-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		repoRoot, _ = filepath.Abs("../..")
		e2eBin = filepath.Join(dir, "goflyte")
		e2ePlugins = filepath.Join(dir, "plugins")
		// The CLI, every example plugin, the test plugins in testdata and
		// the probe plugin, in one go build: its links run side by side
		// (a go build each ran them one after the other, most of this
		// package's first minute on a busy machine).
		stage := filepath.Join(dir, "build")
		pkgs := []string{"./cmd/goflyte", "./internal/testplugins/probe"}
		rename := map[string]string{"goflyte": e2eBin, "probe": probeBin()}
		mains, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "main.go"))
		tests, _ := filepath.Glob(filepath.Join(repoRoot, "cmd", "goflyte", "testdata", "*", "main.go"))
		for _, m := range append(mains, tests...) {
			dir := filepath.Dir(m)
			rel, _ := filepath.Rel(repoRoot, dir)
			pkgs = append(pkgs, "./"+rel)
			rename[filepath.Base(dir)] = filepath.Join(e2ePlugins, "goflyte-plugin-"+filepath.Base(dir))
		}
		cmd := exec.Command("go", append([]string{"build", "-o", stage + string(filepath.Separator)}, pkgs...)...)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %v: %v\n%s", pkgs, err, out)
			return 1
		}
		for name, dst := range rename {
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if err := os.Rename(filepath.Join(stage, name), dst); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	return m.Run()
}

// testingShort reports -short before testing.Short may be called.
func testingShort() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

type e2e struct {
	t       *testing.T
	dir     string // working directory of the command
	sandbox string
	env     []string
}

// newE2E returns a test environment: a working directory with a flyte.hcl
// that points at the built plugins, the example workflows and a fresh
// sandbox, and an environment with no FLYTE_* variables of the host.
func newE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs real binaries")
	}
	x := &e2e{t: t, dir: t.TempDir(), sandbox: t.TempDir()}
	x.writeFile("flyte.hcl", fmt.Sprintf(`
sdk {
  plugin_dirs       = [%q]
  workflow_packages = [%q]
  local_sandbox     = %q
}
`, e2ePlugins, filepath.Join(repoRoot, "examples", "workflows"), x.sandbox))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYTE_") {
			x.env = append(x.env, kv)
		}
	}
	// A TMPDIR of the test's: what a goflyte killed on purpose leaves
	// there (its plugins' sockets) goes with the test. A short one: the
	// plugins make their sockets in it.
	x.env = append(x.env, "TMPDIR="+testtmp.Short(t))
	return x
}

func (x *e2e) writeFile(name, content string) string {
	x.t.Helper()
	path := filepath.Join(x.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		x.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		x.t.Fatal(err)
	}
	return path
}

type result struct {
	code           int
	stdout, stderr string
}

func (x *e2e) run(args ...string) result {
	return x.runEnv(nil, args...)
}

func (x *e2e) runWithStdin(stdin string, args ...string) result {
	x.t.Helper()
	return x.exec(strings.NewReader(stdin), nil, args...)
}

func (x *e2e) runEnv(env []string, args ...string) result {
	x.t.Helper()
	return x.exec(nil, env, args...)
}

func (x *e2e) exec(stdin io.Reader, env []string, args ...string) result {
	x.t.Helper()
	r, err := x.command(stdin, env, args...)
	if err != nil {
		x.t.Fatalf("run goflyte: %v", err)
	}
	return r
}

// command runs goflyte and returns its result; err is a failure to run it
// at all. Unlike run, it may be called from any goroutine.
func (x *e2e) command(stdin io.Reader, env []string, args ...string) (result, error) {
	cmd := exec.Command(e2eBin, args...)
	cmd.Dir = x.dir
	cmd.Stdin = stdin
	cmd.Env = append(append([]string{}, x.env...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code, err = ee.ExitCode(), nil
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}, err
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

func (x *e2e) runJSON(args ...string) (runJSON, result) {
	x.t.Helper()
	r := x.run(append(args, "--json")...)
	var out runJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		x.t.Fatalf("--json output is not JSON: %v\n%s", err, r)
	}
	return out, r
}

type runJSON struct {
	ExecutionID   string         `json:"execution_id"`
	ExecutionDate time.Time      `json:"execution_date"`
	Status        string         `json:"status"`
	Outputs       map[string]any `json:"outputs"`
	Error         string         `json:"error"`
	RunDir        string         `json:"run_dir"`
	Tasks         []struct {
		Name     string `json:"name"`
		Task     string `json:"task"`
		Status   string `json:"status"`
		WorkDir  string `json:"work_dir"`
		Error    string `json:"error"`
		Cache    string `json:"cache"`
		CacheKey string `json:"cache_key"`
	} `json:"tasks"`
}

func (r runJSON) taskStatuses() map[string]string {
	m := map[string]string{}
	for _, t := range r.Tasks {
		m[t.Name] = t.Status
	}
	return m
}

// pluginProcesses lists running processes whose executable is in the
// built plugin directory: after every goflyte command there must be none.
func pluginProcesses(t *testing.T) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, e2ePlugins) {
			found = append(found, e.Name()+" "+exe)
		}
	}
	return found
}

func (x *e2e) checkNoOrphans() {
	x.t.Helper()
	// The engine waits for its plugins before it exits; allow the kernel a
	// moment to reap them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs := pluginProcesses(x.t)
		if len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("plugin processes outlived the run: %v", procs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestE2ERunWorkflowFile(t *testing.T) {
	x := newE2E(t)
	wf := filepath.Join(repoRoot, "examples", "workflows", "wordcount.hcl")
	r := x.run("run", wf, "--input", "text=to be or not to be")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	if !strings.Contains(r.stdout, "n = 6") {
		t.Errorf("outputs not printed:\n%s", r)
	}
	x.checkNoOrphans()
}

func TestE2ERunJSON(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "report", "--input", "text=b a b c b a", "--input", "k=2")
	if r.code != 0 || out.Status != "succeeded" {
		t.Fatalf("want success\n%s", r)
	}
	if !strings.HasPrefix(out.ExecutionID, "local:local:") {
		t.Errorf("execution_id = %q", out.ExecutionID)
	}
	want := map[string]any{
		"summary":        "6 words, 3 distinct; top: b (3), a (2)",
		"distinct_ratio": 0.5,
		"shout":          "B A B C B A",
	}
	if diff := cmp.Diff(want, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	for name, status := range out.taskStatuses() {
		if status != "succeeded" {
			t.Errorf("task %s: %s", name, status)
		}
	}
	if len(out.Tasks) != 6 {
		t.Errorf("%d tasks in the record, want 6", len(out.Tasks))
	}
	// Each task that used its working directory got its own inside the
	// run's directory; the others (the text plugin's tasks that only log)
	// got none made, and the record names none.
	seen := map[string]bool{}
	for _, tk := range out.Tasks {
		if tk.WorkDir == "" {
			if _, err := os.Stat(filepath.Join(out.RunDir, "tasks", tk.Name)); !os.IsNotExist(err) {
				t.Errorf("task %s: no work dir recorded, but its directory: %v", tk.Name, err)
			}
			continue
		}
		if !strings.HasPrefix(tk.WorkDir, out.RunDir) || seen[tk.WorkDir] {
			t.Errorf("task %s: work dir %q (run dir %q)", tk.Name, tk.WorkDir, out.RunDir)
		}
		seen[tk.WorkDir] = true
		if _, err := os.Stat(tk.WorkDir); err != nil {
			t.Errorf("task %s: %v", tk.Name, err)
		}
	}
	if !strings.HasPrefix(out.RunDir, x.sandbox) {
		t.Errorf("run dir %s is not in the sandbox %s", out.RunDir, x.sandbox)
	}
}

func TestE2EExecutionParams(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "params")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	first, _ := out.Outputs["first"].(map[string]any)
	second, _ := out.Outputs["second"].(map[string]any)
	if first == nil || second == nil {
		t.Fatalf("outputs: %v", out.Outputs)
	}
	for _, p := range []map[string]any{first, second} {
		if p["execution_id"] != out.ExecutionID {
			t.Errorf("task saw execution id %v, run has %s", p["execution_id"], out.ExecutionID)
		}
		if p["mode"] != "LOCAL_WORKFLOW_EXECUTION" {
			t.Errorf("mode = %v", p["mode"])
		}
		data, err := os.ReadFile(p["file"].(string))
		if err != nil || len(data) == 0 {
			t.Errorf("file written in the working directory: %v", err)
		}
		if want := config.LocalURI(filepath.Join(out.RunDir, "data")); p["raw_output_prefix"] != want {
			t.Errorf("raw_output_prefix = %v, want %s", p["raw_output_prefix"], want)
		}
		if want := filepath.Join(out.RunDir, "tmp"); p["tmp_dir"] != want {
			t.Errorf("tmp_dir = %v, want %s", p["tmp_dir"], want)
		}
	}
	if first["execution_date"] != second["execution_date"] {
		t.Errorf("execution dates differ: %v, %v", first["execution_date"], second["execution_date"])
	}
	if first["working_directory"] == second["working_directory"] {
		t.Errorf("tasks share a working directory")
	}
}

func TestE2ERunSingleTask(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "--task", "text.split", "--input", "text=a b  c")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	if diff := cmp.Diff(map[string]any{"words": []any{"a", "b", "c"}}, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	out, r = x.runJSON("run", "--task", "text.env")
	if r.code != 0 || out.Outputs["mode"] != "LOCAL_TASK_EXECUTION" {
		t.Errorf("mode = %v\n%s", out.Outputs["mode"], r)
	}
}

func TestE2EInvalidWorkflow(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("bad.hcl", `workflow "bad" {
  input "text" { type = string }
  task "split" {
    uses   = "text.splt"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = input.text }
  }
}
`)
	for _, args := range [][]string{{"validate", path}, {"run", path, "--input", "text=x"}} {
		r := x.run(args...)
		if r.code != 2 {
			t.Fatalf("%v: want exit 2\n%s", args, r)
		}
		// Both problems are reported, each with its place in the file.
		for _, want := range []string{"bad.hcl line 4", "bad.hcl line 9", `Did you mean "text.split"?`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: stderr lacks %q\n%s", args, want, r)
			}
		}
	}
	// Nothing ran: the sandbox has no run.
	if entries, _ := os.ReadDir(filepath.Join(x.sandbox, "runs")); len(entries) != 0 {
		t.Errorf("an invalid workflow created %d run(s)", len(entries))
	}

	r := x.run("validate", path, "--json")
	var v struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			Summary string `json:"summary"`
			Range   struct {
				Start struct{ Line int } `json:"start"`
			} `json:"range"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 2 || v.Valid || len(v.Diagnostics) != 2 {
		t.Fatalf("validate --json: %v\n%s", err, r)
	}
	got := []string{}
	for _, d := range v.Diagnostics {
		got = append(got, fmt.Sprintf("%d %s", d.Range.Start.Line, d.Summary))
	}
	if diff := cmp.Diff([]string{"4 Unknown task", "9 Incorrect input type"}, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

func TestE2EValidateExamples(t *testing.T) {
	x := newE2E(t)
	files, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "workflows", "*.hcl"))
	r := x.run(append([]string{"validate"}, files...)...)
	if r.code != 0 {
		t.Fatalf("example workflows do not validate\n%s", r)
	}
}

func TestE2EBadInputs(t *testing.T) {
	x := newE2E(t)
	tests := []struct {
		name string
		args []string
	}{
		{"missing required input", []string{"run", "wordcount"}},
		{"unknown input", []string{"run", "wordcount", "--input", "text=a", "--input", "txt=b"}},
		{"ill-typed input", []string{"run", "stats", "--input", "values=[1, two]"}},
		{"malformed --input", []string{"run", "wordcount", "--input", "text"}},
		{"unknown workflow", []string{"run", "wordcont"}},
		{"unknown flag", []string{"run", "wordcount", "--inptu", "text=a"}},
		{"unknown command", []string{"rnu"}},
		{"unknown task", []string{"run", "--task", "text.splitt", "--input", "text=a"}},
		{"unknown plugin", []string{"run", "--task", "txt.split", "--input", "text=a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := x.run(tc.args...)
			if r.code != 2 || !strings.HasPrefix(r.stderr, "Error: ") {
				t.Errorf("want exit 2 with an error\n%s", r)
			}
		})
	}
}

func TestE2EBadConfig(t *testing.T) {
	x := newE2E(t)
	r := x.runEnv([]string{"FLYTE_AWS_RETRIES=lots"}, "run", "wordcount", "--input", "text=a")
	if r.code != 2 || !strings.Contains(r.stderr, "FLYTE_AWS_RETRIES") {
		t.Errorf("want exit 2 naming the variable\n%s", r)
	}
	x.writeFile("flyte.hcl", "sdk {\n  plugin_dir = []\n}\n")
	r = x.run("config", "show")
	if r.code != 2 || !strings.Contains(r.stderr, "flyte.hcl line 2") || !strings.Contains(r.stderr, `"plugin_dirs"`) {
		t.Errorf("want exit 2 with the line and a suggestion\n%s", r)
	}
}

func TestE2ETaskFailure(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("fail.hcl", `workflow "fail" {
  task "ok" {
    uses   = "text.upper"
    inputs = { text = "a" }
  }
  task "boom" {
    uses   = "text.fail"
    inputs = { message = "the disk is full" }
  }
  task "after" {
    uses   = "text.upper"
    inputs = { text = task.boom.message }
    depends_on = [task.ok]
  }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 1 || out.Status != "failed" {
		t.Fatalf("want exit 1, status failed\n%s", r)
	}
	if diff := cmp.Diff(map[string]string{"ok": "succeeded", "boom": "failed", "after": "skipped"}, out.taskStatuses()); diff != "" {
		t.Errorf("task statuses (-want +got):\n%s", diff)
	}
	r = x.run("run", path)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	for _, want := range []string{`task "boom" (text.fail) failed`, "the disk is full"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, r)
		}
	}
	x.checkNoOrphans()
}

func TestE2EPluginCrash(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "--task", "text.crash", "--input", "message=segfault in the flux capacitor")
	if r.code != 1 || out.Status != "failed" {
		t.Fatalf("want exit 1, status failed\n%s", r)
	}
	for _, want := range []string{`task "crash" (text.crash)`, `plugin "text" exited unexpectedly`, "segfault in the flux capacitor"} {
		if !strings.Contains(out.Error, want) {
			t.Errorf("error lacks %q: %s", want, out.Error)
		}
	}
	x.checkNoOrphans()
}

func TestE2EPluginFailsToStart(t *testing.T) {
	x := newE2E(t)
	plugins := filepath.Join(x.dir, "plugins")
	x.writeFile("plugins/goflyte-plugin-broken", "#!/bin/sh\necho 'cannot open database: permission denied' >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(plugins, "goflyte-plugin-broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	x.writeFile("flyte.hcl", fmt.Sprintf("sdk {\n  plugin_dirs = [%q, %q]\n  local_sandbox = %q\n}\n", plugins, e2ePlugins, x.sandbox))
	path := x.writeFile("wf.hcl", `workflow "w" {
  task "a" { uses = "broken.task" }
}
`)
	r := x.run("run", path)
	if r.code != 2 {
		t.Fatalf("want exit 2\n%s", r)
	}
	for _, want := range []string{"Plugin failed to start", "broken", "cannot open database: permission denied"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, r)
		}
	}
}

func TestE2EConfigShow(t *testing.T) {
	x := newE2E(t)
	r := x.runEnv([]string{"FLYTE_AWS_SECRET_ACCESS_KEY=hunter2-very-secret", "FLYTE_LOCAL_PROJECT=demo"}, "config", "show", "--json", "--log-level", "debug")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Fatalf("a secret value was printed\n%s", r)
	}
	var out struct {
		Settings []struct {
			Section, Key, Display, Source string
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, s := range out.Settings {
		got[s.Section+"."+s.Key] = [2]string{s.Display, s.Source}
	}
	want := map[string][2]string{
		"aws.secret_access_key": {"********", "env FLYTE_AWS_SECRET_ACCESS_KEY"},
		"local.project":         {"demo", "env FLYTE_LOCAL_PROJECT"},
		"sdk.logging_level":     {"debug", "flag --log-level"},
		"local.domain":          {"local", "default"},
		"sdk.local_sandbox":     {x.sandbox, "flyte.hcl:5"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
}

func TestE2EListings(t *testing.T) {
	x := newE2E(t)
	r := x.run("plugins", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "math") || !strings.Contains(r.stdout, "text") {
		t.Errorf("plugins list\n%s", r)
	}
	r = x.run("plugins", "describe", "text", "--json")
	var schema struct {
		Tasks []struct{ Name string } `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &schema); err != nil || r.code != 0 || len(schema.Tasks) == 0 {
		t.Errorf("plugins describe --json: %v\n%s", err, r)
	}
	r = x.run("workflows", "list", "--json")
	var wfs []struct{ Name string }
	if err := json.Unmarshal([]byte(r.stdout), &wfs); err != nil || r.code != 0 {
		t.Fatalf("workflows list --json: %v\n%s", err, r)
	}
	names := map[string]bool{}
	for _, w := range wfs {
		names[w.Name] = true
	}
	for _, n := range []string{"wordcount", "report", "stats", "params", "fanout", "signed", "classify", "pipeline", "resilient", "report_failure", "dynamic"} {
		if !names[n] {
			t.Errorf("workflows list lacks %s: %v", n, names)
		}
	}
	r = x.run("help", "run")
	if r.code != 0 || !strings.Contains(r.stderr, "--input NAME=VALUE") {
		t.Errorf("help run\n%s", r)
	}
	x.checkNoOrphans()
}

func TestE2EInputDiagnosticFromPlugin(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("div.hcl", `workflow "div" {
  input "b" { type = number }
  task "d" {
    uses = "math.div"
    inputs = {
      a = 1
      b = input.b - 1
    }
  }
}
`)
	r := x.run("run", path, "--input", "b=1")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	// The plugin's complaint about input b is shown at b's expression.
	for _, want := range []string{"Division by zero", "div.hcl line 7", "b = input.b - 1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, r)
		}
	}
}

func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}

func TestE2ERetriesAndTimeouts(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("bad.hcl", `workflow "bad" {
  task "crashy" {
    uses          = "misbehave.crash_once"
    retries       = 1
    retry_backoff = "10ms"
  }
  output "attempt" { value = task.crashy.attempt }
}
workflow "stuck" {
  task "hang" {
    uses    = "misbehave.hang"
    timeout = "300ms"
  }
}
`)
	// A plugin crash is retried in a new plugin process.
	out, r := x.runJSON("run", path, "bad")
	if r.code != 0 || out.Outputs["attempt"] != float64(2) {
		t.Fatalf("crash then retry: want success on attempt 2\n%s", r)
	}
	// A hung plugin is killed after the timeout's grace period.
	start := time.Now()
	r = x.run("run", path, "stuck", "--grace", "200ms")
	if r.code != 1 || !strings.Contains(r.stderr, "timed out after 300ms") || !strings.Contains(r.stderr, "was killed") {
		t.Errorf("a hung task: want exit 1 saying it timed out and was killed\n%s", r)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the hung run took %s to end", d) // a hang, not a timing target
	}
	x.checkNoOrphans()
	// The run's own --timeout cancels it.
	r = x.run("run", "--task", "misbehave.hang", "--timeout", "300ms", "--grace", "200ms")
	if r.code != 130 || !strings.Contains(r.stderr, "timed out after 300ms (--timeout)") {
		t.Errorf("--timeout: want exit 130 saying the run timed out\n%s", r)
	}
	x.checkNoOrphans()
}

// TestE2ECtrlC interrupts a run whose task ignores cancellation: goflyte
// cancels, kills the plugin after the grace period, records the run as
// cancelled and exits 130, leaving no plugin behind.
func TestE2ECtrlC(t *testing.T) {
	x := newE2E(t)
	cmd := exec.Command(e2eBin, "run", "--task", "misbehave.hang", "--grace", "200ms", "--json")
	cmd.Dir, cmd.Env = x.dir, x.env
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Wait until the task runs (its "started" progress line: a plugin
	// process alone may still be answering Describe), then interrupt.
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() { // read to the end, so the command never blocks on stderr
			if !seen && strings.Contains(sc.Text(), " started ") {
				close(started)
				seen = true
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the task did not start within a minute")
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want 130\n%s", err, stdout.String())
	}
	var out runJSON
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Status != "cancelled" {
		t.Errorf("--json after Ctrl-C: %v\n%s", err, stdout.String())
	}
	x.checkNoOrphans()
}

func TestE2EFanOut(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "fanout", "--input", `texts=["to be or not to be", "let it be", "be"]`)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	want := map[string]any{"counts": []any{float64(6), float64(3), float64(1)}, "total": float64(10)}
	if diff := cmp.Diff(want, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestE2EBranches(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "classify", "--input", "text=short and sweet")
	if r.code != 0 || out.Outputs["summary"] != "SHORT AND SWEET" {
		t.Fatalf("short text\n%s", r)
	}
	if s := out.taskStatuses(); s["top"] != "skipped" || s["shout"] != "succeeded" {
		t.Errorf("statuses: %v", s)
	}
	long := "a b a c a b d e f g h i j k l m"
	out, r = x.runJSON("run", "classify", "--input", "text="+long)
	if r.code != 0 || out.Outputs["summary"] != "top words: a, b, c" {
		t.Errorf("long text\n%s", r)
	}
	r = x.run("run", "classify", "--input", "text=")
	if r.code != 1 || !strings.Contains(r.stderr, "the text is empty") {
		t.Errorf("empty text: want exit 1 with the fail arm's message\n%s", r)
	}
}

func TestE2ESubWorkflow(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "pipeline", "--input", `texts=["the cat sat", "on the mat", "hi"]`)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	want := map[string]any{"counts": []any{float64(3), float64(3), float64(1)}, "total": float64(7)}
	if diff := cmp.Diff(want, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestE2EDynamicTask(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "--task", "text.count_each", "--input", `texts=["a b c", "d e", "f"]`)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	if diff := cmp.Diff(map[string]any{"counts": []any{float64(3), float64(2), float64(1)}}, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	// The generated tasks ran in the run, each with a working directory of
	// its own: text.count asks for its params (its metrics), so the plugin
	// made it; text.split only logs, so none was made (lazy working
	// directories).
	for dir, want := range map[string]bool{"count_each+count0": true, "count_each+count2": true, "count_each+split0": false} {
		_, err := os.Stat(filepath.Join(out.RunDir, "tasks", dir))
		if got := err == nil; got != want {
			t.Errorf("generated task's working directory %s: exists %v, want %v (%v)", dir, got, want, err)
		}
	}
}

func TestE2EEagerTask(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "--task", "text.shout_all", "--input", `texts=["a b", "c", "d", "e", "f"]`)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	want := map[string]any{"shouts": []any{"A B", "C", "D", "E", "F"}}
	if diff := cmp.Diff(want, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	r = x.run("runs", "show", out.ExecutionID)
	if !strings.Contains(r.stdout, `Task "shout_all" ran 5 task(s) through the engine`) {
		t.Errorf("runs show lacks the children\n%s", r)
	}
}

func TestE2EDynamicAndEagerWorkflow(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "dynamic", "--input", `texts=["to be or not", "to be"]`)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	want := map[string]any{"counts": []any{float64(4), float64(2)}, "shouts": []any{"TO BE OR NOT", "TO BE"}}
	if diff := cmp.Diff(want, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	out, r = x.runJSON("run", "resilient", "--input", "text=hi")
	if r.code != 0 || out.Outputs["shout"] != "HI" {
		t.Errorf("resilient\n%s", r)
	}
}

func TestE2EPluginLock(t *testing.T) {
	x := newE2E(t)
	// A plugin directory of this test's own, so that changing a binary
	// does not touch the shared one.
	plugins := filepath.Join(x.dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"text", "math"} {
		data, err := os.ReadFile(filepath.Join(e2ePlugins, "goflyte-plugin-"+name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plugins, "goflyte-plugin-"+name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	x.writeFile("flyte.hcl", fmt.Sprintf("sdk {\n  plugin_dirs = [%q]\n  local_sandbox = %q\n}\n", plugins, x.sandbox))

	r := x.run("plugins", "lock")
	if r.code != 0 || !strings.Contains(r.stderr, "Locked 2 plugin(s)") {
		t.Fatalf("plugins lock\n%s", r)
	}
	lock, err := os.ReadFile(filepath.Join(x.dir, "goflyte.lock.hcl"))
	if err != nil || !strings.Contains(string(lock), `plugin "text"`) || !strings.Contains(string(lock), "sha256") {
		t.Fatalf("lock file: %v\n%s", err, lock)
	}
	if r := x.run("run", "--task", "text.upper", "--input", "text=ok"); r.code != 0 {
		t.Fatalf("a locked plugin must run\n%s", r)
	}

	// A changed binary is refused, with what to do about it.
	f, err := os.OpenFile(filepath.Join(plugins, "goflyte-plugin-text"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	path := x.writeFile("wf.hcl", "workflow \"w\" {\n  task \"u\" {\n    uses   = \"text.upper\"\n    inputs = { text = \"x\" }\n  }\n}\n")
	r = x.run("run", path)
	if r.code != 2 || !strings.Contains(r.stderr, "Plugin not trusted") || !strings.Contains(r.stderr, "goflyte plugins lock") {
		t.Errorf("a changed plugin must be refused\n%s", r)
	}
	if r := x.run("run", path, "--lock=false"); r.code != 0 {
		t.Errorf("--lock=false must skip the check\n%s", r)
	}
	// A plugin that is not in the lock file is refused too.
	data, _ := os.ReadFile(filepath.Join(plugins, "goflyte-plugin-math"))
	os.WriteFile(filepath.Join(plugins, "goflyte-plugin-extra"), data, 0o755)
	if r := x.run("run", "--task", "extra.add", "--input", "a=1", "--input", "b=2"); r.code != 2 || !strings.Contains(r.stderr, "is not in") {
		t.Errorf("an unlisted plugin must be refused\n%s", r)
	}
	// Re-locking trusts the new binaries.
	if r := x.run("plugins", "lock"); r.code != 0 {
		t.Fatalf("re-lock\n%s", r)
	}
	if r := x.run("run", path); r.code != 0 {
		t.Errorf("after re-locking\n%s", r)
	}
	x.checkNoOrphans()
}

// TestE2EConcurrentRuns runs the same cached workflow from several
// goflyte processes at once on one sandbox and cache, clearing the cache
// in the middle: every run succeeds with its own execution id and a
// whole record, and the cache is left readable.
func TestE2EConcurrentRuns(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("cached.hcl", cachedWF)
	const n = 4
	type outcome struct {
		out runJSON
		r   result
	}
	results := make(chan outcome, n)
	for i := 0; i < n; i++ {
		go func() {
			r, err := x.command(nil, nil, "run", path, "--input", "text=same input", "--json", "-q")
			if err != nil {
				r.code, r.stderr = -1, err.Error()
			}
			var out runJSON
			_ = json.Unmarshal([]byte(r.stdout), &out)
			results <- outcome{out, r}
		}()
	}
	if r := x.run("cache", "clear", "--all"); r.code != 0 {
		t.Errorf("cache clear during the runs\n%s", r)
	}
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		o := <-results
		if o.r.code != 0 || o.out.Status != "succeeded" || o.out.Outputs["words"] == nil {
			t.Errorf("a concurrent run failed\n%s", o.r)
			continue
		}
		if ids[o.out.ExecutionID] {
			t.Errorf("two runs share execution id %s", o.out.ExecutionID)
		}
		ids[o.out.ExecutionID] = true
		if r := x.run("runs", "show", o.out.ExecutionID, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"status": "succeeded"`) {
			t.Errorf("record of %s\n%s", o.out.ExecutionID, r)
		}
	}
	// The cache still works: one more run is served from it or fills it.
	out, r := x.runJSON("run", path, "--input", "text=same input")
	if r.code != 0 || out.Status != "succeeded" {
		t.Errorf("a run after the concurrent ones\n%s", r)
	}
	x.checkNoOrphans()
}

// TestE2EPluginTLS runs an eager task, whose plugin calls the engine back
// over go-plugin's broker, with sdk.plugin_tls on: both directions work
// over mutual TLS (plugin/tls_test.go shows a plain client is refused).
func TestE2EPluginTLS(t *testing.T) {
	x := newE2E(t)
	x.env = append(x.env, "FLYTE_SDK_PLUGIN_TLS=true")
	if r := x.run("config", "show"); !strings.Contains(r.stdout, "plugin_tls") || !strings.Contains(r.stdout, "true") {
		t.Errorf("config show should report plugin_tls = true\n%s", r)
	}
	out, r := x.runJSON("run", "--task", "text.shout_all", "--input", `texts=["a b", "c"]`)
	if r.code != 0 {
		t.Fatalf("want success over TLS\n%s", r)
	}
	if diff := cmp.Diff(map[string]any{"shouts": []any{"A B", "C"}}, out.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	x.checkNoOrphans()
}
