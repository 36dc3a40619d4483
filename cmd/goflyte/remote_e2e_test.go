package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/client"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// The tests of `goflyte run --remote` and `goflyte runs ... --remote` run
// the real goflyte binary against a real temporal-testserver and a real
// bucket (versitygw). The interpreter workflow and `goflyte worker` are
// built in parallel and not merged yet: the run's workflow is
// remotetest's stand-in (a fake registered in this test process, which
// walks the workflow's tasks without calling plugins and answers
// QueryRecord with records that change over time), and the plugins'
// queues are polled by in-process stand-in workers. What these tests
// check is the submitting side: validation, refusals, the RunInput,
// progress, output shapes, detaching, and the runs commands.

const consoleEndpoint = "http://temporal-ui.test:8233"

type remoteE2E struct {
	*e2e
	srv    *remotetest.Server
	bucket *s3test.Server
	c      client.Client
	inputs *remotetest.Inputs
}

// standInBehavior picks the stand-in's behavior from the run's text
// input: "fail" fails count (unless the run resumes another), "hold"
// holds split until cancelled.
func standInBehavior(in remote.RunInput) remotetest.Behavior {
	var text string
	_ = json.Unmarshal(in.Inputs["text"], &text)
	b := remotetest.Behavior{
		Step:        time.Millisecond,
		Outputs:     map[string]json.RawMessage{"n": json.RawMessage("3")},
		TaskOutputs: map[string]json.RawMessage{"split": json.RawMessage(`{"words":["a","b","c"]}`), "count": json.RawMessage(`{"n":3}`)},
		Logs:        true,
	}
	switch in.Workflow {
	case "files": // see TestE2ERemoteFiles
		b.Outputs = map[string]json.RawMessage{"file": json.RawMessage(`"s3://runs/fixed/upper.txt"`), "lines": json.RawMessage(`"s3://runs/fixed/lines"`), "text": json.RawMessage(`"ONE\nTWO\n"`)}
	case "read_file":
		b.Outputs = map[string]json.RawMessage{"text": json.RawMessage(`"hello"`)}
	}
	switch {
	case strings.Contains(text, "fail") && in.ResumedFrom == "":
		b.Fail = "count"
	case strings.Contains(text, "hold"):
		b.Hold = true
	case strings.Contains(text, "omit"):
		b.OmitNested = true
	}
	return b
}

// newRemoteE2E starts the servers, the stand-in workflow on the queue
// "goflyte" and, for each plugin in served, a stand-in worker; flyte.hcl
// points at them, with prefix as local.raw_output_data_prefix ("" for
// none).
func newRemoteE2E(t *testing.T, prefix string, served ...string) *remoteE2E {
	t.Helper()
	x := newRemoteServers(t, prefix)
	x.inputs = remotetest.StartStandIn(t, x.c, "goflyte", remotetest.StandIn{Behave: standInBehavior})
	remotetest.ServePlugins(t, x.c, "goflyte", served...)
	return x
}

// newRemoteServers starts the servers, with no worker, and writes
// flyte.hcl.
func newRemoteServers(t *testing.T, prefix string) *remoteE2E {
	t.Helper()
	x := &remoteE2E{e2e: newE2E(t)}
	// The stand-in workflow computes nothing: a namespace of the shared
	// server is enough.
	x.srv = remotetest.Shared(t)
	x.bucket = s3test.Start(t)
	x.bucket.CreateBucket("runs")
	var err error
	if x.c, err = remote.Dial(context.Background(), remote.Options{URL: x.srv.Addr, Insecure: true, Namespace: x.srv.Namespace}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.c.Close)
	conf := mustRead(t, filepath.Join(x.dir, "flyte.hcl"))
	local := ""
	if prefix != "" {
		local = fmt.Sprintf("local {\n  raw_output_data_prefix = %q\n}\n", prefix)
	}
	x.writeFile("flyte.hcl", conf+fmt.Sprintf(`
platform {
  url              = %q
  namespace        = %q
  insecure         = true
  console_endpoint = %q
}
aws {
  endpoint          = %q
  access_key_id     = %q
  secret_access_key = %q
  retries           = 1
  backoff_seconds   = 0
}
%s`, x.srv.Addr, x.srv.Namespace, consoleEndpoint, x.bucket.Endpoint, x.bucket.AccessKey, x.bucket.SecretKey, local))
	return x
}

// runs lists the runs the namespace has (visibility).
func (x *remoteE2E) runs() []sandbox.RunSummary {
	x.t.Helper()
	runs, err := remote.List(context.Background(), x.c, 0)
	if err != nil {
		x.t.Fatal(err)
	}
	return runs
}

func wordcountFile() string { return filepath.Join(repoRoot, "examples", "workflows", "wordcount.hcl") }

// TestE2ERemoteRefusesBeforeSubmitting: a workflow error, no bucket, a
// local bucket and plugins no worker serves each exit 2 with nothing
// submitted.
func TestE2ERemoteRefusesBeforeSubmitting(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	x := newRemoteE2E(t, "", "math") // text has no worker
	wf := wordcountFile()

	r := x.run("run", "--remote", wf, "--input", "text=a b c")
	if r.code != 2 || !strings.Contains(r.stderr, "no raw_output_data_prefix is set") || !strings.Contains(r.stderr, "FLYTE_LOCAL_RAW_OUTPUT_DATA_PREFIX") {
		t.Errorf("no bucket: want exit 2 naming the setting\n%s", r)
	}
	r = x.run("run", "--remote", wf, "--input", "text=a b c", "--raw-output-data-prefix", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "is on this machine") || !strings.Contains(r.stderr, "--raw-output-data-prefix") {
		t.Errorf("a local prefix: want exit 2\n%s", r)
	}
	// The same diagnostics as a local run.
	bad := x.writeFile("bad.hcl", "workflow \"bad\" {\n  task \"a\" {\n    uses = \"text.nope\"\n  }\n}\n")
	local := x.run("run", bad)
	r = x.run("run", "--remote", bad, "--raw-output-data-prefix", "s3://runs/goflyte")
	if r.code != 2 || local.code != 2 || r.stderr != local.stderr {
		t.Errorf("a workflow error: want the local diagnostics, exit 2\nlocal: %s\nremote: %s", local, r)
	}
	// No worker serves text: named after the wait.
	r = x.run("run", "--remote", wf, "--input", "text=a b c", "--raw-output-data-prefix", "s3://runs/goflyte")
	if r.code != 2 || !strings.Contains(r.stderr, "nothing submitted") || !strings.Contains(r.stderr, "no worker serves the plugin text ") {
		t.Errorf("no worker for text: want exit 2 naming it\n%s", r)
	}
	if runs := x.runs(); len(runs) != 0 {
		t.Errorf("something was submitted: %+v", runs)
	}
	// Flags that are a local run's only.
	for _, args := range [][]string{{wf, "--explain"}, {wf, "--grace", "1s"}, {wf, "--detach", "--download", t.TempDir()}} {
		r = x.run(append([]string{"run", "--remote"}, args...)...)
		if r.code != 2 {
			t.Errorf("run --remote %v: want exit 2\n%s", args, r)
		}
	}
	if r = x.run("run", wf, "--detach"); r.code != 2 || !strings.Contains(r.stderr, "--remote") {
		t.Errorf("--detach without --remote\n%s", r)
	}
}

var submittedRE = regexp.MustCompile(`Submitted (local:local:(r\d{8}-\d{6}-[0-9a-f]{8}))`)

// TestE2ERemoteRun runs a workflow remotely: the RunInput, the submission
// line and console link, progress lines, outputs, --json, a failed run's
// exit code, the options' meaning and the logs from the data store.
func TestE2ERemoteRun(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	x := newRemoteE2E(t, "s3://runs/goflyte", "text")
	wf := wordcountFile()

	r := x.run("run", "--remote", wf, "--input", "text=a b c")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	m := submittedRE.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no submission line\n%s", r)
	}
	id, name := m[1], m[2]
	in := x.inputs.Next(t)
	if in.ExecutionID != id || in.Main != wf || in.Workflow != "wordcount" || in.TaskQueue != "goflyte" || string(in.Inputs["text"]) != `"a b c"` {
		t.Errorf("RunInput: %+v", in)
	}
	if in.Sources[wf] != mustRead(t, wf) || len(in.Sources) != 1 {
		t.Errorf("RunInput sources: %v", in.Sources)
	}
	sum, err := engine.FileSHA256(filepath.Join(e2ePlugins, "goflyte-plugin-text"))
	if err != nil {
		t.Fatal(err)
	}
	if ref := in.Plugins["text"]; ref.SHA256 != sum || ref.Schema == nil || len(in.Plugins) != 1 {
		t.Errorf("RunInput plugins: %+v", in.Plugins)
	}
	if in.DataPrefix != "s3://runs/goflyte/"+name || in.CachePrefix != "s3://runs/goflyte/cache" || in.Parallelism != remote.DefaultParallelism || in.Timeout != 0 || in.CacheOverwrite || !slices.Equal(in.Polled, []string{"text"}) {
		t.Errorf("RunInput options: %+v", in)
	}
	// The bucket's secret key never travels: not in the input, not in
	// the run's history.
	if data, _ := json.Marshal(in); bytes.Contains(data, []byte(x.bucket.SecretKey)) {
		t.Errorf("the RunInput holds the bucket's secret key")
	}
	for it := x.c.GetWorkflowHistory(context.Background(), id, "", false, 0); it.HasNext(); {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ev.String(), x.bucket.SecretKey) {
			t.Errorf("the run's history holds the bucket's secret key: %v", ev.GetEventType())
		}
	}
	// The run's page, not its first Temporal run's (the same across
	// continue-as-new).
	link := "Console: " + consoleEndpoint + "/namespaces/" + x.srv.Namespace + "/workflows/local%3Alocal%3A" + name + "\n"
	if !strings.Contains(r.stderr, link) {
		t.Errorf("no console link\n%s", r)
	}
	for _, re := range []string{`(?m)^\[\s*\S+\] started   split \(text\.split\)$`, `(?m)^\[\s*\S+\] succeeded split \(text\.split\) in `, `(?m)^\[\s*\S+\] succeeded count \(text\.count\) in `} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("no progress line %s\n%s", re, r)
		}
	}
	if !strings.Contains(r.stdout, "Outputs:\n  n = 3\n") || !strings.Contains(r.stderr, "wordcount succeeded in") || !strings.Contains(r.stderr, "sandbox   s3://runs/goflyte/"+name) {
		t.Errorf("the result\n%s", r)
	}

	// The logs are in the data store.
	line := func(node, msg string) string {
		data, _ := json.Marshal(sandbox.LogLine{Time: time.Now(), Level: "info", Source: "plugin", Logger: "text", Node: node, Attempt: 1, Task: "text." + node, Msg: msg})
		return string(data) + "\n"
	}
	for node, msg := range map[string]string{"split": "split the text", "count": "counted the words"} {
		if _, err := x.bucket.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("goflyte/" + name + "/logs/" + node + ".log"),
			Body: strings.NewReader(line(node, msg))}); err != nil {
			t.Fatal(err)
		}
	}
	r = x.run("runs", "logs", "--remote", name)
	if r.code != 0 || !regexp.MustCompile(`(?m)^split \| .*\[INFO\]  text: split the text$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^count \| .*counted the words$`).MatchString(r.stdout) {
		t.Errorf("runs logs --remote\n%s", r)
	}
	r = x.run("runs", "logs", "--remote", id, "count", "--json")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"msg":"counted the words"`) {
		t.Errorf("runs logs --remote ID TASK --json\n%s", r)
	}
	if r = x.run("runs", "logs", "--remote", name, "cuont"); r.code != 2 || !strings.Contains(r.stderr, `did you mean "count"`) {
		t.Errorf("runs logs --remote of a task that is not there\n%s", r)
	}

	// --json: the local keys, console_url, run_dir in the data store;
	// the options reach the RunInput.
	r = x.run("run", "--remote", wf, "--input", "text=x y z", "--json", "--no-cache", "--parallelism", "3", "--timeout", "1m")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("--json: %v\n%s", err, r)
	}
	for _, k := range []string{"execution_id", "execution_date", "workflow", "status", "outputs", "tasks", "run_dir", "console_url"} {
		if _, ok := out[k]; !ok {
			t.Errorf("--json has no %q: %s", k, r.stdout)
		}
	}
	in = x.inputs.Next(t)
	if out["status"] != "succeeded" || out["workflow"] != "wordcount" || out["execution_id"] != in.ExecutionID || out["run_dir"] != in.DataPrefix ||
		out["console_url"] != consoleEndpoint+"/namespaces/"+x.srv.Namespace+"/workflows/"+strings.ReplaceAll(in.ExecutionID, ":", "%3A") {
		// The run's page, not one Temporal run's: it stays the run's
		// when the run continues as new.
		t.Errorf("--json: %s", r.stdout)
	}
	if outs, _ := out["outputs"].(map[string]any); outs["n"] != float64(3) {
		t.Errorf("--json outputs: %s", r.stdout)
	}
	if tasks, _ := out["tasks"].([]any); len(tasks) != 2 || tasks[0].(map[string]any)["name"] != "split" || tasks[0].(map[string]any)["task"] != "text.split" || tasks[0].(map[string]any)["status"] != "succeeded" {
		t.Errorf("--json tasks: %s", r.stdout)
	}
	if in.CachePrefix != "" || in.Parallelism != 3 || in.Timeout != time.Minute {
		t.Errorf("--no-cache --parallelism 3 --timeout 1m: %+v", in)
	}
	r = x.run("run", "--remote", wf, "--input", "text=x", "--overwrite-cache", "-q")
	if in = x.inputs.Next(t); r.code != 0 || !in.CacheOverwrite || strings.Contains(r.stderr, "started") {
		t.Errorf("--overwrite-cache -q: %+v\n%s", in, r)
	}

	// A failed run: exit 1, the task named, the same --json.
	r = x.run("run", "--remote", wf, "--input", "text=fail")
	if r.code != 1 || !strings.Contains(r.stderr, `Error: task "count" (text.count) failed: boom`) || !regexp.MustCompile(`(?m)^\[\s*\S+\] failed    count \(text\.count\)`).MatchString(r.stderr) {
		t.Errorf("a failed run: want exit 1 naming the task\n%s", r)
	}
	x.inputs.Next(t)
	r = x.run("run", "--remote", wf, "--input", "text=fail", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out["status"] != "failed" || !strings.Contains(out["error"].(string), "boom") {
		t.Errorf("a failed run, --json: %v\n%s", err, r)
	}
	failed := x.inputs.Next(t)

	// runs list and show --remote: the local shapes.
	r = x.run("runs", "list", "--remote")
	if r.code != 0 || !regexp.MustCompile(`(?m)^RUN\s+WORKFLOW\s+STATUS\s+STARTED\s+DURATION$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+name+`\s+wordcount\s+succeeded\s`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+remote.RunName(failed.ExecutionID)+`\s+wordcount\s+failed\s`).MatchString(r.stdout) {
		t.Errorf("runs list --remote\n%s", r)
	}
	var sums []sandbox.RunSummary
	if r = x.run("runs", "list", "--remote", "--json"); json.Unmarshal([]byte(r.stdout), &sums) != nil || len(sums) != 5 {
		t.Errorf("runs list --remote --json\n%s", r)
	}
	r = x.run("runs", "show", "--remote", name)
	if r.code != 0 || !strings.Contains(r.stdout, "Run "+id+"  (succeeded)") || !regexp.MustCompile(`(?m)^  split\s+text\.split\s+succeeded`).MatchString(r.stdout) ||
		!strings.Contains(r.stderr, link) {
		t.Errorf("runs show --remote NAME\n%s", r)
	}
	var rec sandbox.Record
	if r = x.run("runs", "show", "--remote", failed.ExecutionID, "--json"); json.Unmarshal([]byte(r.stdout), &rec) != nil || rec.Status != "failed" || rec.ID != failed.ExecutionID {
		t.Errorf("runs show --remote ID --json\n%s", r)
	}
	if r = x.run("runs", "show", "--remote", "r20990101-000000-00000000"); r.code != 2 || !strings.Contains(r.stderr, "no run") {
		t.Errorf("runs show --remote of a run that is not there\n%s", r)
	}

	// Resume the failed run: split keeps its outputs, count runs again.
	r = x.run("run", "--remote", "--resume", remote.RunName(failed.ExecutionID))
	resumed := x.inputs.Next(t)
	if r.code != 0 || resumed.ResumedFrom != failed.ExecutionID || len(resumed.Resume) != 1 || string(resumed.Resume["split"]) != `{"words":["a","b","c"]}` ||
		string(resumed.Inputs["text"]) != `"fail"` || resumed.ExecutionID == failed.ExecutionID {
		t.Errorf("run --remote --resume: %+v\n%s", resumed, r)
	}
	if !regexp.MustCompile(`(?m)^\[\s*\S+\] kept      split \(text\.split\)`).MatchString(r.stderr) {
		t.Errorf("run --remote --resume: no kept line\n%s", r)
	}
	r = x.run("run", "--remote", "--resume", failed.ExecutionID, "--from", "split")
	if resumed = x.inputs.Next(t); r.code != 0 || len(resumed.Resume) != 0 || resumed.ResumedFrom != failed.ExecutionID {
		t.Errorf("run --remote --resume --from split: %+v\n%s", resumed, r)
	}
	if r = x.run("run", "--remote", "--resume", name); r.code != 2 || !strings.Contains(r.stderr, "nothing to resume") {
		t.Errorf("resume a run that succeeded\n%s", r)
	}

	// A record that left nested calls out (a huge for_each's): runs logs
	// --remote reads every log in the run's <run dir>/_logs/, where the
	// workers put them, as the local form reads the run's logs/.
	r = x.run("run", "--remote", wf, "--input", "text=omit")
	m = submittedRE.FindStringSubmatch(r.stderr)
	if r.code != 0 || m == nil {
		t.Fatalf("a run whose record omits nested calls\n%s", r)
	}
	x.inputs.Next(t)
	omitted := m[2]
	for node, msg := range map[string]string{"split@1": "instance one", "split@1+inner": "inside instance one", "split@2": "instance two", "count": "counted"} {
		file := node + ".log" // as the workers name them (sandbox's task log names)
		if _, err := x.bucket.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("goflyte/" + omitted + "/_logs/" + file),
			Body: strings.NewReader(line(node, msg))}); err != nil {
			t.Fatal(err)
		}
	}
	r = x.run("runs", "logs", "--remote", omitted, "split@1")
	if r.code != 0 || !regexp.MustCompile(`(?m)^split@1 +\| .*instance one$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^split@1\+inner \| .*inside instance one$`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "instance two") || strings.Contains(r.stdout, "counted") {
		t.Errorf("runs logs --remote of an omitted instance\n%s", r)
	}
	r = x.run("runs", "logs", "--remote", omitted)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stdout, "instance two") || !strings.Contains(r.stdout, "counted") {
		t.Errorf("runs logs --remote of a run whose record omits nested calls\n%s", r)
	}
}

// TestE2ERemoteDetach: --detach prints the id (or the JSON object) and
// exits 0; Ctrl-C on the real process detaches and the run goes on;
// runs show --watch follows it and runs cancel --remote stops it.
func TestE2ERemoteDetach(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	x := newRemoteE2E(t, "s3://runs/goflyte", "text")
	wf := wordcountFile()

	start := time.Now()
	r := x.run("run", "--remote", wf, "--input", "text=a", "--detach")
	t.Logf("run --remote --detach took %v (validation with the plugin's Describe, readiness, submission)", time.Since(start))
	if r.code != 0 || !regexp.MustCompile(`^local:local:r\d{8}-\d{6}-[0-9a-f]{8}\n$`).MatchString(r.stdout) || strings.Contains(r.stderr, "started") {
		t.Errorf("--detach: want the id on stdout\n%s", r)
	}
	x.inputs.Next(t)
	r = x.run("run", "--remote", wf, "--input", "text=a", "--detach", "--json")
	var det map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &det); err != nil || r.code != 0 || len(det) != 2 || !strings.HasPrefix(det["execution_id"], "local:local:r") ||
		!strings.HasPrefix(det["console_url"], consoleEndpoint+"/namespaces/"+x.srv.Namespace+"/workflows/local%3Alocal%3Ar") {
		t.Errorf("--detach --json: %v\n%s", err, r)
	}
	x.inputs.Next(t)

	// Ctrl-C: SIGINT to the real process while split holds.
	code, stdout, stderr := x.interruptRun(wf)
	m := submittedRE.FindStringSubmatch(stderr)
	if code != 130 || m == nil || !strings.Contains(stderr, "Detached: run "+m[1]+" goes on remotely") || stdout != "" ||
		!strings.Contains(stderr, "goflyte runs cancel --remote "+m[1]) || !strings.Contains(stderr, "goflyte runs show --remote "+m[1]+" --watch") {
		t.Fatalf("Ctrl-C: want exit 130 and how to follow and cancel (exit %d)\n%s%s", code, stdout, stderr)
	}
	x.inputs.Next(t)
	// With --json, stdout gets what --detach prints.
	code, stdout, stderr = x.interruptRun(wf, "--json")
	x.inputs.Next(t)
	det = nil
	if err := json.Unmarshal([]byte(stdout), &det); err != nil || code != 130 || !strings.Contains(stderr, "Submitted "+det["execution_id"]) || det["console_url"] == "" {
		t.Errorf("Ctrl-C with --json: want the detach object (exit %d, %v)\n%s%s", code, err, stdout, stderr)
	}
	id, name := m[1], m[2]
	time.Sleep(300 * time.Millisecond)
	if info, err := remote.Describe(context.Background(), x.c, x.srv.Namespace, id); err != nil || info.Status != sandbox.StatusRunning {
		t.Fatalf("after Ctrl-C the run must go on: %+v %v", info, err)
	}
	r = x.run("runs", "show", "--remote", name)
	if r.code != 0 || !strings.Contains(r.stdout, "Run "+id+"  (running)") || !regexp.MustCompile(`(?m)^  split\s+text\.split\s+running`).MatchString(r.stdout) {
		t.Errorf("runs show --remote of a running run\n%s", r)
	}
	if r = x.run("runs", "list", "--remote"); !regexp.MustCompile(`(?m)^` + name + `\s+wordcount\s+running\s.*-$`).MatchString(r.stdout) {
		t.Errorf("runs list --remote with a running run\n%s", r)
	}

	// Follow it with show --watch, and cancel it by name meanwhile: once
	// the watch shows split running (its first look at the record; a
	// watch that starts after the cancel has nothing to follow, which a
	// fixed second's wait allowed on a loaded machine).
	wcmd := exec.Command(e2eBin, "runs", "show", "--remote", id, "--watch")
	wcmd.Dir, wcmd.Env = x.dir, x.env
	var wout bytes.Buffer
	werr := &syncBuffer{}
	wcmd.Stdout, wcmd.Stderr = &wout, werr
	if err := wcmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wcmd.Process.Kill() })
	for deadline := time.Now().Add(time.Minute); !strings.Contains(werr.String(), "started   split"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("runs show --remote --watch never showed split running:\n%s", werr.String())
		}
	}
	r = x.run("runs", "cancel", "--remote", name)
	if r.code != 0 || !strings.Contains(r.stderr, id) {
		t.Errorf("runs cancel --remote NAME\n%s", r)
	}
	watch := result{}
	if err := wcmd.Wait(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		watch.code = ee.ExitCode()
	}
	watch.stdout, watch.stderr = wout.String(), werr.String()
	if watch.code != 130 || !strings.Contains(watch.stdout, "Run "+id+"  (cancelled)") || !regexp.MustCompile(`(?m)^  split\s+text\.split\s+cancelled`).MatchString(watch.stdout) ||
		!regexp.MustCompile(`(?m)^\[\s*\S+\] cancelled split \(text\.split\)`).MatchString(watch.stderr) {
		t.Errorf("runs show --remote --watch of a run cancelled meanwhile: want exit 130\n%s", watch)
	}
	if r = x.run("runs", "cancel", "--remote", id); r.code != 2 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("cancel a cancelled run\n%s", r)
	}
	if r = x.run("runs", "show", "--watch", id); r.code != 2 {
		t.Errorf("--watch without --remote\n%s", r)
	}
}

// TestE2ERemoteFiles: a local file input goes to the bucket before the
// run is submitted; --download fetches the file and dir outputs.
func TestE2ERemoteFiles(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	x := newRemoteE2E(t, "s3://runs/goflyte", "text")
	ctx := context.Background()
	for key, body := range map[string]string{"fixed/upper.txt": "ONE\nTWO\n", "fixed/lines/0.txt": "ONE", "fixed/lines/1.txt": "TWO"} {
		if _, err := x.bucket.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	dl := filepath.Join(t.TempDir(), "out")
	r := x.run("run", "--remote", "files", "--download", dl)
	x.inputs.Next(t)
	if r.code != 0 || !strings.Contains(r.stdout, `file = "s3://runs/fixed/upper.txt"`) {
		t.Fatalf("run --remote files --download\n%s", r)
	}
	for path, want := range map[string]string{"file/upper.txt": "ONE\nTWO\n", "lines/lines/0.txt": "ONE", "lines/lines/1.txt": "TWO"} {
		if got := mustRead(t, filepath.Join(dl, path)); got != want {
			t.Errorf("--download: %s = %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(r.stderr, "Downloaded file: "+filepath.Join(dl, "file", "upper.txt")) {
		t.Errorf("--download does not say where\n%s", r)
	}

	notes := x.writeFile("notes.txt", "hello")
	r = x.run("run", "--remote", "read_file", "--input", "file="+notes)
	in := x.inputs.Next(t)
	want := `"s3://runs/goflyte/` + remote.RunName(in.ExecutionID) + `/inputs/file/notes.txt"`
	if r.code != 0 || string(in.Inputs["file"]) != want {
		t.Fatalf("a local file input: got %s, want %s\n%s", in.Inputs["file"], want, r)
	}
	obj, err := x.bucket.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("goflyte/" + remote.RunName(in.ExecutionID) + "/inputs/file/notes.txt")})
	if err != nil {
		t.Fatalf("the input is not in the bucket: %v", err)
	}
	defer obj.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(obj.Body)
	if body.String() != "hello" {
		t.Errorf("the input in the bucket: %q", body.String())
	}
}

// interruptRun starts `goflyte run --remote wf --input text=hold` (split
// holds until cancelled), sends SIGINT to the real process once split
// started, and returns its exit code and output.
func (x *remoteE2E) interruptRun(wf string, flags ...string) (code int, stdout, stderr string) {
	x.t.Helper()
	cmd := exec.Command(e2eBin, append([]string{"run", "--remote", wf, "--input", "text=hold"}, flags...)...)
	cmd.Dir, cmd.Env = x.dir, x.env
	var out bytes.Buffer
	errOut := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errOut
	if err := cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	x.t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "started   split") {
		if time.Now().After(deadline) {
			x.t.Fatalf("split never started:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		x.t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		x.t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
