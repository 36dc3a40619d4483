package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// The integration test of issue 13's three parts together, for real: the
// goflyte CLI (`run --remote`, `runs show --remote`) submits to a real
// temporal-testserver, two real `goflyte worker` processes run both the
// interpreter workflow (remote.RunWorkflow) and the plugins' tasks, and
// the data lives in a real bucket (versitygw). Every remote run is
// compared with the same run made locally by the same binary.

// integration is the environment: the servers, the CLI's directory and
// its flyte.hcl, the workers' plugin directories.
type integration struct {
	*e2e
	w      *workerEnv // the servers, the client, the secret
	bucket *s3test.Server
	// full serves every plugin; partial every plugin but sign.
	full, partial string
	conf          string // added to every flyte.hcl
}

const integrationQueue = "gfint"

func newIntegration(t *testing.T) *integration {
	t.Helper()
	srv := remotetest.Start(t, remotetest.Options{})
	c, err := remote.Dial(context.Background(), remote.Options{URL: srv.Addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return newIntegrationOn(t, srv, c, "")
}

// newIntegrationOn is newIntegration on the server srv, which c reaches;
// conf is added to the flyte.hcl of the CLI and of every worker (the
// credentials block, say).
func newIntegrationOn(t *testing.T, srv *remotetest.Server, c client.Client, conf string) *integration {
	t.Helper()
	x := &integration{e2e: newE2E(t), conf: conf}
	x.bucket = s3test.Start(t)
	x.bucket.CreateBucket("runs")
	x.w = &workerEnv{t: t, srv: srv, s3: x.bucket, queue: integrationQueue, c: c, secret: "int-secret-" + fmt.Sprint(time.Now().UnixNano())}
	probe := probePlugin(t)
	bin := func(name string) string { return filepath.Join(e2ePlugins, "goflyte-plugin-"+name) }
	x.full = linkPlugins(t, bin("text"), bin("math"), bin("sign"), probe)
	x.partial = linkPlugins(t, bin("text"), bin("math"), probe)
	x.writeFile("flyte.hcl", fmt.Sprintf(`
sdk {
  plugin_dirs       = [%q]
  workflow_packages = [%q, %q]
  local_sandbox     = %q
}
local {
  raw_output_data_prefix = "s3://runs/goflyte"
}
platform {
  url              = %q
  insecure         = true
  task_queue       = %q
  console_endpoint = %q
}
aws {
  endpoint          = %q
  access_key_id     = %q
  secret_access_key = %q
  retries           = 1
  backoff_seconds   = 0
}
%s`, x.full, filepath.Join(repoRoot, "examples", "workflows"), filepath.Join(x.dir, "wf"), x.sandbox,
		srv.Addr, integrationQueue, consoleEndpoint, x.bucket.Endpoint, x.bucket.AccessKey, x.bucket.SecretKey,
		strings.ReplaceAll(conf, "@DIR@", x.dir)))
	// The CLI's own secrets: local runs resolve them here, remote ones on
	// the workers (startWorker gives them the same values).
	x.e2e.env = append(x.e2e.env, "AWS_REGION="+x.bucket.Region,
		"FLYTE_SECRETS_SIGNING_KEY="+x.w.secret, "FLYTE_SECRETS_PROBE_TOKEN="+x.w.secret)
	x.writeFile("wf/integration.hcl", integrationWorkflows)
	return x
}

// integrationWorkflows are the test's own workflows: a long checkpointing
// task, a chain for restarts, a task that fails leaking its secret (with
// a failure handler), and one that logs the secret.
const integrationWorkflows = `
workflow "long" {
  task "long" {
    uses    = "probe.steps"
    inputs  = { n = 20, ms = 200 }
    retries = 2
  }
  output "steps" { value = task.long }
}

workflow "fat" {
  input "text" { type = string }
  task "u1" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "u2" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "u3" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "u4" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "u5" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  output "text" { value = task.u5.text }
}

workflow "big" {
  input "text" { type = string }
  task "upper" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  output "text" { value = task.upper.text }
}

workflow "steps_long" {
  task "steps" {
    uses   = "probe.steps"
    inputs = { n = 60, ms = 200 }
  }
}

workflow "chain" {
  task "first" {
    uses   = "probe.steps"
    inputs = { n = 10, ms = 200 }
  }
  task "second" {
    uses   = "probe.steps"
    inputs = { n = task.first.done / 5, ms = 10 }
  }
  output "first" { value = task.first.done }
  output "second" { value = task.second.done }
}

workflow "leaky" {
  input "text" { type = string }
  on_failure = workflow.report_failure
  task "log" {
    uses   = "probe.leak"
    inputs = { mode = "log" }
  }
  task "fail" {
    uses   = "probe.leak"
    inputs = { mode = "error" }
  }
  task "after" {
    uses   = "text.upper"
    inputs = { text = task.fail.digest }
  }
}
`

// startWorker starts a `goflyte worker` serving pluginDir, with a
// flyte.hcl, a sandbox and an environment of its own, in a process group
// of its own (a SIGKILL of the group is a machine going away, plugins
// and all); unless wait is false, it waits until the worker polls.
func (x *integration) startWorker(name, pluginDir string, wait bool) *workerProc {
	t := x.t
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("sdk {\n  plugin_dirs = [%q]\n  local_sandbox = %q\n}\nplatform {\n  url = %q\n  insecure = true\n  task_queue = %q\n}\naws {\n  endpoint = %q\n  access_key_id = %q\n  secret_access_key = %q\n}\n%s",
		pluginDir, filepath.Join(dir, "sandbox"), x.w.srv.Addr, integrationQueue, x.bucket.Endpoint, x.bucket.AccessKey, x.bucket.SecretKey,
		strings.ReplaceAll(x.conf, "@DIR@", dir))
	if err := os.WriteFile(filepath.Join(dir, "flyte.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	w := startWorkerProc(t, name, dir, append([]string{}, x.e2e.env...)) // the CLI's: the same secrets
	if wait {
		w.waitLog(t, "worker started", 60*time.Second)
	}
	return w
}

// runT runs goflyte with args for the test t (which may be a parallel
// subtest).
func (x *integration) runT(t *testing.T, args ...string) result {
	t.Helper()
	r, err := x.command(nil, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runBoth runs args locally and remotely with --json.
func (x *integration) runBoth(t *testing.T, args ...string) (local, remote runJSON, lr, rr result) {
	t.Helper()
	run := func(extra ...string) (runJSON, result) {
		r, err := x.command(nil, nil, append(append([]string{"run"}, extra...), append(args, "--json")...)...)
		if err != nil {
			t.Fatal(err)
		}
		var out runJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", err, r)
		}
		return out, r
	}
	local, lr = run()
	remote, rr = run("--remote")
	return local, remote, lr, rr
}

// normalized is a run's outputs as JSON with its run name replaced, so
// that the data-store URIs of two runs compare.
func normalized(t *testing.T, r runJSON) string {
	t.Helper()
	data, err := json.Marshal(r.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.ReplaceAll(string(data), remote.RunName(r.ExecutionID), "RUN")
	// A directory output's name is the plugin's temporary directory's.
	return tempDirRE.ReplaceAllString(out, "/dir/N")
}

var tempDirRE = regexp.MustCompile(`/dir/[0-9]+`)

// taskList is a run's tasks as "name task status", sorted.
func taskList(r runJSON) []string {
	var out []string
	for _, t := range r.Tasks {
		out = append(out, t.Name+" "+t.Task+" "+t.Status)
	}
	sort.Strings(out)
	return out
}

// sameRun compares a local and a remote run of the same workflow.
func sameRun(t *testing.T, local, remote runJSON, lr, rr result, outputs bool) {
	t.Helper()
	if lr.code != rr.code || local.Status != remote.Status {
		t.Errorf("local: exit %d %s; remote: exit %d %s\nlocal: %s\nremote: %s", lr.code, local.Status, rr.code, remote.Status, lr, rr)
	}
	if outputs {
		if l, r := normalized(t, local), normalized(t, remote); l != r {
			t.Errorf("outputs differ\nlocal:  %s\nremote: %s", l, r)
		}
	}
	if l, r := strings.Join(taskList(local), "\n"), strings.Join(taskList(remote), "\n"); l != r {
		t.Errorf("tasks differ\nlocal:\n%s\nremote:\n%s", l, r)
	}
	if local.Error != remote.Error {
		t.Errorf("errors differ\nlocal:  %s\nremote: %s", local.Error, remote.Error)
	}
}

// history is the full history of a run's workflow as text: payloads are
// JSON, so they appear as they are.
func (x *integration) history(t *testing.T, id string) string {
	t.Helper()
	it := x.w.c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var b strings.Builder
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(ev.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// bucketObjects returns every object in the bucket, by key.
func (x *integration) bucketObjects(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	s3c := x.bucket.Client()
	objs := map[string]string{}
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String("runs")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			get, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(get.Body)
			get.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			objs[*o.Key] = string(data)
		}
	}
	return objs
}

// TestIntegrationRemote is issue 13 end to end: the readiness check,
// every example workflow remotely against locally, plugin routing, the
// failure path, secrets, a worker killed mid-task, a worker drained and
// restarted mid-run.
func TestIntegrationRemote(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	x := newIntegration(t)
	// Task logs keep the plugins' info lines, on the workers and locally,
	// so that runs logs has lines to compare.
	x.e2e.env = append(x.e2e.env, "FLYTE_SDK_LOGGING_LEVEL=info")

	// Readiness: no worker polls yet, so nothing is submitted and the
	// plugins are named.
	r := x.run("run", "--remote", "wordcount", "--input", "text=a b")
	if r.code != 2 || !strings.Contains(r.stderr, "nothing submitted") || !strings.Contains(r.stderr, "text") {
		t.Fatalf("run --remote before any worker: want exit 2 naming the plugin\n%s", r)
	}
	// `goflyte worker & goflyte run --remote`: the run waits for it.
	a := x.startWorker("worker-a", x.full, false)
	r = x.run("run", "--remote", "wordcount", "--input", "text=to be or not to be")
	if r.code != 0 || !strings.Contains(r.stdout, "n = 6") {
		t.Fatalf("goflyte worker & goflyte run --remote: want success\n%s", r)
	}
	if !strings.Contains(r.stderr, consoleEndpoint+"/namespaces/default/workflows/") {
		t.Errorf("no console link on stderr\n%s", r)
	}
	b := x.startWorker("worker-b", x.partial, true)
	workers := map[string]*workerProc{a.name: a, b.name: b}

	t.Run("examples", func(t *testing.T) {
		for _, tc := range []struct {
			args     []string
			outputs  bool // params' outputs are the run's own parameters
			progress bool // also compare the text output and progress lines
			// logs are tasks below the run's tasks (nested, instances)
			// whose runs logs must say the same remotely as locally.
			logs []string
		}{
			{[]string{"wordcount", "--input", "text=to be or not to be"}, true, false, nil},
			{[]string{"classify", "--input", "text=short and sweet"}, true, false, nil},
			{[]string{"dynamic", "--input", `texts=["to be or not", "to be"]`}, true, true, []string{"counts+split1", "shouts"}},
			{[]string{"fanout", "--input", `texts=["to be or not to be", "let it be", "be here now"]`}, true, true, []string{"count@1"}},
			{[]string{"files", "--input", "text=hello\nfiles"}, true, false, nil},
			{[]string{"metrics", "--input", "text=to be or not to be"}, true, false, nil},
			{[]string{"params"}, false, false, nil},
			{[]string{"pipeline", "--input", `texts=["the cat sat", "on the mat"]`}, true, true, []string{"each@1+split", "each@0"}},
			{[]string{"report", "--input", "text=the quick brown fox jumps over the lazy dog the end"}, true, false, nil},
			{[]string{"resilient", "--input", "text=hello"}, true, true, nil},
			{[]string{"signed", "--input", "message=hello"}, true, false, nil},
			{[]string{"stats", "--input", "values=[3, 1, 4, 1, 5, 9, 2, 6]"}, true, false, nil},
		} {
			t.Run(tc.args[0], func(t *testing.T) {
				t.Parallel()
				local, remote, lr, rr := x.runBoth(t, tc.args...)
				if lr.code != 0 {
					t.Fatalf("local run failed\n%s", lr)
				}
				sameRun(t, local, remote, lr, rr, tc.outputs)
				if !strings.HasPrefix(remote.RunDir, "s3://runs/goflyte/") {
					t.Errorf("run_dir %q is not the run's data-store URI", remote.RunDir)
				}
				// The record the run's workflow keeps, as runs show
				// renders it: the same tasks, the same eager children.
				ls := x.runT(t, "runs", "show", local.ExecutionID)
				rs := x.runT(t, "runs", "show", "--remote", remote.ExecutionID)
				if rs.code != 0 || ls.code != 0 {
					t.Fatalf("runs show\nlocal: %s\nremote: %s", ls, rs)
				}
				for _, task := range local.Tasks {
					if !strings.Contains(rs.stdout, task.Name) {
						t.Errorf("runs show --remote lacks task %s\n%s", task.Name, rs.stdout)
					}
				}
				if m := childrenRE.FindString(ls.stdout); m != "" && !strings.Contains(rs.stdout, m) {
					t.Errorf("runs show --remote lacks %q\nlocal:\n%s\nremote:\n%s", m, ls.stdout, rs.stdout)
				}
				// The tasks' text in runs show: the same lines but for
				// times, durations, paths and metrics.
				if l, r := showTasks(ls.stdout), showTasks(rs.stdout); l != r {
					t.Errorf("runs show tasks differ\nlocal:\n%s\nremote:\n%s", l, r)
				}
				// The record's nested calls are those the local run
				// printed progress lines for, and its instances.
				lj := x.runT(t, "runs", "show", local.ExecutionID, "--json")
				rj := x.runT(t, "runs", "show", "--remote", remote.ExecutionID, "--json")
				if l, r := recordTasks(t, lj.stdout, false), recordTasks(t, rj.stdout, true); l != r {
					t.Errorf("runs show --json tasks differ\nlocal:\n%s\nremote:\n%s", l, r)
				}
				if l, r := nestedNames(t, rj.stdout), progressNodes(lr.stderr); l != r {
					t.Errorf("the remote record's nested tasks are not those the local run showed\nremote record:\n%s\nlocal progress:\n%s", l, r)
				}
				// runs logs of nested tasks and instances, and of the
				// whole run, with the engine's own lines of the nodes that
				// run no plugin (sub-workflow calls, for_each nodes).
				tasks := tc.logs
				if len(tasks) > 0 {
					tasks = append(tasks, "")
				}
				for _, task := range tasks {
					largs := []string{"runs", "logs", local.ExecutionID}
					rargs := []string{"runs", "logs", "--remote", remote.ExecutionID}
					if task != "" {
						largs, rargs = append(largs, task), append(rargs, task)
					}
					ll, rl := x.runT(t, largs...), x.runT(t, rargs...)
					if ll.code != 0 || rl.code != 0 || !strings.Contains(logMessages(rl.stdout), "INFO") {
						t.Errorf("runs logs %q: want lines\nlocal: %s\nremote: %s", task, ll, rl)
					}
					if l, r := logMessages(ll.stdout), logMessages(rl.stdout); l != r {
						t.Errorf("runs logs %q differ\nlocal:\n%s\nremote:\n%s", task, l, r)
					}
				}
				if !tc.progress {
					return
				}
				// Without --json: the same outputs on stdout, the same
				// progress lines on stderr.
				lt := x.runT(t, append([]string{"run"}, tc.args...)...)
				rt := x.runT(t, append([]string{"run", "--remote"}, tc.args...)...)
				if lt.stdout != rt.stdout {
					t.Errorf("stdout differs\nlocal:\n%s\nremote:\n%s", lt.stdout, rt.stdout)
				}
				if l, r := progressLines(lt.stderr), progressLines(rt.stderr); l != r {
					t.Errorf("progress lines differ\nlocal:\n%s\nremote:\n%s", l, r)
				}
			})
		}
	})

	// sign is served by worker-a only: its task ran there.
	t.Run("routing", func(t *testing.T) {
		if strings.Contains(b.log.String(), "task=sign.") {
			t.Errorf("worker-b, which has no sign plugin, ran a sign task:\n%s", b.log.String())
		}
		if !strings.Contains(a.log.String(), "task=sign.hmac") {
			t.Errorf("worker-a did not run the sign task:\n%s", a.log.String())
		}
		if !strings.Contains(a.log.String(), "serving workflows") || !strings.Contains(b.log.String(), "serving workflows") {
			t.Errorf("a worker does not serve the workflow queue")
		}
	})

	// The failure path: the same error text and exit code as locally,
	// the failure handler run remotely; the secret in the task's error
	// and log is redacted, and appears nowhere in the run's history nor
	// in the bucket.
	t.Run("failure and secrets", func(t *testing.T) {
		local, remote, lr, rr := x.runBoth(t, "leaky", "--input", "text=hi")
		if lr.code != 1 || local.Status != "failed" {
			t.Fatalf("local: want a failed run\n%s", lr)
		}
		sameRun(t, local, remote, lr, rr, true)
		if remote.taskStatuses()["on_failure"] != "succeeded" {
			t.Errorf("the failure handler did not run remotely: %v", remote.taskStatuses())
		}
		// Without --json: the same error lines on stderr.
		lt := x.run("run", "leaky", "--input", "text=hi")
		rt := x.run("run", "--remote", "leaky", "--input", "text=hi")
		if lt.code != rt.code || lastLine(lt.stderr) != lastLine(rt.stderr) {
			t.Errorf("error text differs\nlocal: %s\nremote: %s", lt, rt)
		}
		// The failure handler is a workflow: its tasks' lines too.
		if l, r := progressLines(lt.stderr), progressLines(rt.stderr); l != r || !strings.Contains(l, "on_failure+") {
			t.Errorf("progress lines differ (or name no task of the failure handler)\nlocal:\n%s\nremote:\n%s", l, r)
		}
		h := x.history(t, remote.ExecutionID)
		if !strings.Contains(h, `probe.leak`) || !strings.Contains(h, `\"mode\":\"error\"`) {
			t.Fatalf("the history's payloads are not readable as text, the scan would prove nothing:\n%.2000s", h)
		}
		if strings.Contains(h, x.w.secret) {
			t.Errorf("the secret is in the run's history")
		}
		objs := x.bucketObjects(t)
		var logs int
		for key, data := range objs {
			if strings.Contains(data, x.w.secret) {
				t.Errorf("the secret is in the bucket's object %s", key)
			}
			if strings.Contains(key, "_logs/") && strings.Contains(data, "using the token") {
				logs++
			}
		}
		if logs == 0 {
			t.Errorf("no task log in the bucket holds the log task's line; the scan would prove nothing (%d objects)", len(objs))
		}
		for _, w := range workers {
			if strings.Contains(w.log.String(), x.w.secret) {
				t.Errorf("the secret is in worker %s's log", w.name)
			}
		}
	})

	// Outputs above remote.InlineLimit travel through the bucket: the
	// workflow reads them with the local activity ActivityLoadOutputs.
	t.Run("large outputs", func(t *testing.T) {
		text := strings.Repeat("large outputs travel as references ", (remote.InlineLimit/34)+100)
		data, _ := json.Marshal(map[string]string{"text": text})
		file := x.writeFile("big.json", string(data))
		local, remote, lr, rr := x.runBoth(t, "big", "--inputs-file", file)
		if lr.code != 0 || local.Outputs["text"] != strings.ToUpper(text) {
			t.Fatalf("local run\n%.2000s", lr)
		}
		sameRun(t, local, remote, lr, rr, true)
		refs := 0
		for key := range x.bucketObjects(t) {
			if strings.Contains(key, "/_outputs/upper") {
				refs++
			}
		}
		if refs == 0 {
			t.Errorf("no outputs in the bucket's _outputs/: they did not travel as a reference")
		}
	})

	// A record above remote.RecordInlineLimit travels short through
	// Temporal (the workflow's result and its query answers); the whole
	// one is stored in the bucket at the end, and the CLI reads it back:
	// run --remote --json and runs show --remote --json show every task's
	// outputs, as the local forms do.
	t.Run("whole record", func(t *testing.T) {
		// Five outputs of 220 KB each: below InlineLimit, so they stay in
		// the record, which passes RecordInlineLimit.
		text := strings.Repeat("a whole record ", 220_000/15)
		file := x.writeFile("fat.json", fmt.Sprintf(`{"text": %q}`, text))
		local, remote_, lr, rr := x.runBoth(t, "fat", "--inputs-file", file)
		if lr.code != 0 || local.Outputs["text"] != strings.ToUpper(text) {
			t.Fatalf("local run\n%.2000s", lr)
		}
		sameRun(t, local, remote_, lr, rr, true)
		stored := false
		for key := range x.bucketObjects(t) {
			if strings.Contains(key, runNameOf(remote_)+"/_record") {
				stored = true
			}
		}
		if !stored {
			t.Errorf("no whole record of %s in the bucket: the record did not travel short, the test proves nothing", remote_.ExecutionID)
		}
		show := x.run("runs", "show", "--remote", remote_.ExecutionID, "--json")
		var rec struct {
			Tasks []struct {
				Name    string            `json:"name"`
				Outputs map[string]string `json:"outputs"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(show.stdout), &rec); err != nil || show.code != 0 || len(rec.Tasks) != 5 {
			t.Fatalf("runs show --remote --json: %v\n%.2000s", err, show)
		}
		for _, tr := range rec.Tasks {
			if tr.Outputs["text"] != strings.ToUpper(text) {
				t.Errorf("runs show --remote --json: task %s has %d bytes of outputs, want its whole output", tr.Name, len(tr.Outputs["text"]))
			}
		}
	})

	// SIGKILL of the worker running a task: the task runs again on the
	// other one from its checkpoint, as the same attempt, and the run
	// succeeds with the outputs of a local run.
	t.Run("worker killed", func(t *testing.T) {
		done := make(chan result, 1)
		go func() {
			r, _ := x.command(nil, nil, "run", "--remote", "long", "--json")
			done <- r
		}()
		victim := waitTaskStarted(t, workers, "node=long")
		waitCheckpointHeartbeat(t, x.w.c, startedExecution(t, victim, "node=long"), "long")
		if err := syscall.Kill(-victim.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-victim.done
		r := <-done
		var out runJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Status != "succeeded" {
			t.Fatalf("the run after the kill of %s: %v\n%s", victim.name, err, r)
		}
		steps, _ := out.Outputs["steps"].(map[string]any)
		if steps["done"] != float64(20) || steps["attempt"] != float64(1) || steps["resumed_from"] == float64(0) {
			t.Errorf("after the kill: want 20 steps, attempt 1, resumed from a checkpoint; got %v", steps)
		}
		show := x.run("runs", "show", "--remote", out.ExecutionID, "--json")
		var rec struct {
			Tasks []struct {
				Name     string `json:"name"`
				Attempts int    `json:"attempts"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(show.stdout), &rec); err != nil || show.code != 0 {
			t.Fatalf("runs show --remote --json: %v\n%s", err, show)
		}
		for _, tr := range rec.Tasks {
			if tr.Name == "long" && tr.Attempts != 1 {
				t.Errorf("the worker loss used up a retry: attempts %d", tr.Attempts)
			}
		}
		// A new machine takes the lost one's place.
		delete(workers, victim.name)
		dir := x.partial
		if victim == a {
			dir = x.full
		}
		nw := x.startWorker(victim.name+"-2", dir, true)
		workers[nw.name] = nw
		if victim == a {
			a = nw
		}
	})

	// SIGTERM on the worker running a task drains it (the task finishes,
	// exit 0); the worker started again, the run goes on.
	t.Run("drain and restart", func(t *testing.T) {
		done := make(chan result, 1)
		go func() {
			r, _ := x.command(nil, nil, "run", "--remote", "chain", "--json")
			done <- r
		}()
		w := waitTaskStarted(t, workers, "node=first")
		if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.done:
		case <-time.After(60 * time.Second):
			t.Fatal("the worker did not exit within 60 s of SIGTERM")
		}
		if w.err != nil || !strings.Contains(w.log.String(), "task succeeded") || !strings.Contains(w.log.String(), "node=first") {
			t.Errorf("the drained worker: %v\n%s", w.err, w.log.String())
		}
		dir := x.partial
		if w == a {
			dir = x.full
		}
		x.startWorker(w.name+"-again", dir, true)
		r := <-done
		var out runJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Status != "succeeded" {
			t.Fatalf("the run after the drain of %s: %v\n%s", w.name, err, r)
		}
		if out.Outputs["first"] != float64(10) || out.Outputs["second"] != float64(2) {
			t.Errorf("outputs %v", out.Outputs)
		}
	})
}

var (
	childrenRE = regexp.MustCompile(`ran \d+ task\(s\) through the engine`)
	// progressRE is a progress line: "[ 0.12s] succeeded split (text.split) in 14ms".
	progressRE = regexp.MustCompile(`^\[[^\]]*\] (\w+)\s+(\S+ \(\S+\))`)
)

// progressLines are the progress lines of a run's stderr without their
// times, sorted (tasks that run at once may end in any order): the run's
// own tasks and those inside sub-workflow calls, dynamic workflows and
// eager tasks ("each@0+split", "shouts+1+upper").
func progressLines(stderr string) string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if m := progressRE.FindStringSubmatch(line); m != nil {
			out = append(out, m[1]+" "+m[2])
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// progressNodes are the nested tasks a run's progress lines name, as
// "<node> (<task>) <status>", sorted.
func progressNodes(stderr string) string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if m := progressRE.FindStringSubmatch(line); m != nil && m[1] != "started" && strings.Contains(m[2], "+") {
			out = append(out, m[2]+" "+m[1])
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// nestedNames are the nested calls of a remote run's record (runs show
// --remote --json) that are not for_each instances, as progressNodes
// names them; every instance must have a record too.
func nestedNames(t *testing.T, showJSON string) string {
	t.Helper()
	var rec sandbox.Record
	if err := json.Unmarshal([]byte(showJSON), &rec); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, showJSON)
	}
	var out []string
	for _, task := range rec.Tasks {
		instances := 0
		for _, nt := range task.Nested {
			if strings.Contains(nt.Name[strings.LastIndexByte(nt.Name, '+')+1:], "@") {
				if strings.Count(nt.Name, "@") == 1 && !strings.Contains(nt.Name, "+") {
					instances++
				}
				continue
			}
			out = append(out, fmt.Sprintf("%s (%s) %s", nt.Name, nt.Task, nt.Status))
		}
		if instances != task.Instances {
			t.Errorf("task %s: %d instances, %d instance records", task.Name, task.Instances, instances)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// recordTasks are a record's tasks (runs show --json) as what both
// forms must agree on: name, task, status, attempts, instances, failed
// instances, eager children and error. Only a remote record has nested
// calls (TaskRecord.Nested).
func recordTasks(t *testing.T, showJSON string, remote bool) string {
	t.Helper()
	var rec sandbox.Record
	if err := json.Unmarshal([]byte(showJSON), &rec); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, showJSON)
	}
	var b strings.Builder
	for _, task := range rec.Tasks {
		if !remote && len(task.Nested) > 0 {
			t.Errorf("task %s: nested records in a local record", task.Name)
		}
		children := slices.Clone(task.Children) // in the order they ended
		slices.Sort(children)
		fmt.Fprintf(&b, "%s %s %s attempts=%d instances=%d failed=%q children=%q error=%q\n", task.Name, task.Task, task.Status,
			task.Attempts, task.Instances, task.FailedInstances, children, task.Error)
	}
	return b.String()
}

// showTasks is the task table of runs show's text: its tree, names,
// tasks and statuses.
func showTasks(stdout string) string {
	var out []string
	in := false
	for _, line := range strings.Split(stdout, "\n") {
		switch {
		case line == "Tasks:":
			in = true
			continue
		case in && strings.TrimSpace(line) == "":
			in = false
		}
		if in {
			// The tree's indent and glyph, the name, task and status.
			f := strings.Fields(line)
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if len(f) > 0 && f[0] == "└" {
				f = f[1:]
			}
			out = append(out, fmt.Sprintf("%d %s", indent, strings.Join(f[:min(3, len(f))], " ")))
		}
	}
	return strings.Join(out, "\n")
}

// logMessages are the lines of runs logs without their times and
// durations ("<node> | <level> <logger>: <message>"), sorted; without
// the debug lines (the test's workers run with -vv), and with an eager
// task's children's numbers as N (it runs them at once: which is 1 is
// chance, locally too).
func logMessages(stdout string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		line = logTimeRE.ReplaceAllString(line, "")
		// An instance's end: the local engine's line has no duration.
		line = durationRE.ReplaceAllString(line, "")
		line = eagerChildRE.ReplaceAllString(line, "+N+")
		if strings.Contains(line, "[DEBUG]") {
			continue
		}
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

var (
	logTimeRE    = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d{4}) `)
	durationRE   = regexp.MustCompile(`: duration=\S+`)
	eagerChildRE = regexp.MustCompile(`\+\d+\+`)
)

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// clientCredentials is the part of a flyte.hcl with client credentials
// from w's provider for audience, as a worker or CI has them: the secret
// from $E2E_OIDC_SECRET, tokens cached in an encrypted file under @DIR@
// (newIntegrationOn replaces @DIR@ with each process's directory).
func (w *authWorld) clientCredentials(audience string) string {
	return fmt.Sprintf(`
secrets {
  keychain_service = "goflyte-e2e-auth"
  fallback         = "file"
  fallback_dir     = "@DIR@/keyring"
}
credentials {
  issuer                = %q
  client_id             = %q
  client_secret_env_var = "E2E_OIDC_SECRET"
  audience              = %q
  auth_mode             = "ClientSecret"
}
`, w.op.Issuer, e2eClient, audience)
}

// newAuthIntegration is newIntegrationOn w's authorizing Temporal server:
// the CLI and the workers it starts use client credentials
// (w.clientCredentials), and x.w.c is a client of the test's own with a
// token source of its own.
func newAuthIntegration(t *testing.T, w *authWorld) *integration {
	t.Helper()
	src, err := auth.New(auth.Options{Settings: auth.Settings{Mode: auth.ModeClientCredentials,
		Issuer: w.op.Issuer, ClientID: e2eClient, ClientSecret: e2eSecret, Audience: e2eAudience}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.Dial(t.Context(), remote.Options{URL: w.srv.Addr, Insecure: true, Token: src})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	x := newIntegrationOn(t, w.srv, c, w.clientCredentials(e2eAudience))
	x.e2e.env = append(x.e2e.env, "E2E_OIDC_SECRET="+e2eSecret, "GOFLYTE_KEYRING_PASSPHRASE=e2e passphrase",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(x.dir, "no-bus"), "DISPLAY=", "WAYLAND_DISPLAY=")
	return x
}

// TestIntegrationWorkerCredentials (issue 14 with issue 13): a worker
// with client credentials and tokens that live 5 s keeps serving across
// several lifetimes against a Temporal server that checks every call's
// token (a task that heartbeats through them, then another run), and
// `run --remote` or `goflyte worker` with a token the server refuses
// exits 2 with nothing started.
func TestIntegrationWorkerCredentials(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	w := newAuthWorld(t)
	x := newAuthIntegration(t, w)
	c := x.w.c
	wk := x.startWorker("worker-creds", x.partial, true)

	// A task of 12 s: its heartbeats and its completion cross two token
	// lifetimes; then a new run is polled with yet another token.
	start := time.Now()
	r := x.run("run", "--remote", "steps_long", "--json")
	w.keep(r.stdout, r.stderr)
	var out runJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Status != "succeeded" {
		t.Fatalf("a run across token lifetimes: %v\n%s", err, r)
	}
	if took := time.Since(start); took < 2*e2eLifetime {
		t.Fatalf("the run took %s, less than two token lifetimes: the test proves nothing", took)
	}
	r = x.run("run", "--remote", "wordcount", "--input", "text=to be or not to be", "--json")
	w.keep(r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("a run after the worker's tokens expired twice\n%s", r)
	}
	if wk.exited() {
		t.Fatalf("the worker exited:\n%s", wk.log.String())
	}
	w.keep(wk.log.String())

	// A token the server refuses (another audience): exit 2, nothing
	// submitted, and a worker with it does not start.
	before, err := remote.List(t.Context(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	x.writeFile("flyte.hcl", strings.Replace(mustRead(t, filepath.Join(x.dir, "flyte.hcl")), fmt.Sprintf("audience              = %q", e2eAudience), `audience              = "someone-else"`, 1))
	r = x.run("run", "--remote", "wordcount", "--input", "text=refused")
	w.keep(r.stdout, r.stderr)
	if r.code != 2 || !strings.Contains(r.stderr, "audience") {
		t.Errorf("run --remote with a refused token: want exit 2 naming the setting\n%s", r)
	}
	after, err := remote.List(t.Context(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("a run was started with a refused token: %d runs before, %d after", len(before), len(after))
	}
	x.conf = w.clientCredentials("someone-else")
	bad := x.startWorker("worker-refused", x.partial, false)
	select {
	case <-bad.done:
	case <-time.After(60 * time.Second):
		t.Fatal("a worker with a refused token did not exit")
	}
	w.keep(bad.log.String())
	var ee *exec.ExitError
	if !errors.As(bad.err, &ee) || ee.ExitCode() != 2 || !strings.Contains(bad.log.String(), "audience") {
		t.Errorf("a worker with a refused token: want exit 2 naming the setting: %v\n%s", bad.err, bad.log.String())
	}
}
