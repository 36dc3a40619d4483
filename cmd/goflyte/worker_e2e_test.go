package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/internal/testserver"
	"github.com/goflyte/goflyte/internal/testtmp"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// The worker's end-to-end test: a real Temporal server
// (temporal-testserver), a real bucket (versitygw), two real `goflyte
// worker` processes, and a small test workflow in this process (the
// interpreter workflow is another engineer's) that schedules the
// workers' activities as the protocol says: routing by plugin queue,
// heartbeats, worker losses retried by Temporal, the task's own retries
// by the workflow.

// testCall is one task call of the test workflow.
type testCall struct {
	In remote.TaskInput
	// ScheduleToStart bounds the wait for a worker of the plugin.
	ScheduleToStart time.Duration
}

// testCallResult is what the test workflow returns for a call.
type testCallResult struct {
	Output   *remote.TaskOutput  `json:"output,omitempty"`
	Failure  *remote.TaskFailure `json:"failure,omitempty"`
	Type     string              `json:"type,omitempty"` // the application error's type
	Error    string              `json:"error,omitempty"`
	Attempts int                 `json:"attempts"` // the task's attempts (the workflow's retries)
}

const testWorkflowName = "goflyte.test.calls"

// testCallsWorkflow runs the calls one after the other: each as an
// activity on its plugin's queue, retried by Temporal only for worker
// losses, and by the workflow for the task's retryable failures.
func testCallsWorkflow(ctx workflow.Context, prefix string, calls []testCall) ([]testCallResult, error) {
	var out []testCallResult
	for _, c := range calls {
		stt := c.ScheduleToStart
		if stt == 0 {
			stt = time.Minute
		}
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              remote.PluginQueue(prefix, c.In.Plugin),
			ScheduleToStartTimeout: stt,
			StartToCloseTimeout:    5 * time.Minute,
			HeartbeatTimeout:       remote.HeartbeatTimeout,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:        100 * time.Millisecond,
				MaximumAttempts:        remote.MaxWorkerLosses + 1,
				NonRetryableErrorTypes: []string{remote.ErrTaskFailed, remote.ErrDigestMismatch},
			},
		})
		in := c.In
		r := testCallResult{}
		for attempt := 1; ; attempt++ {
			in.Attempt = attempt
			r.Attempts = attempt
			var o remote.TaskOutput
			err := workflow.ExecuteActivity(actx, remote.ActivityName(in.Plugin, in.Task), in).Get(ctx, &o)
			if err == nil {
				r.Output = &o
				break
			}
			r.Error = err.Error()
			var ae *temporal.ApplicationError
			var te *temporal.TimeoutError
			switch {
			case errors.As(err, &ae):
				r.Type = ae.Type()
				var f remote.TaskFailure
				if ae.HasDetails() && ae.Details(&f) == nil {
					r.Failure = &f
				}
			case errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
				r.Error = fmt.Sprintf("no worker serves plugin %q (queue %s) within %s", in.Plugin, remote.PluginQueue(prefix, in.Plugin), stt)
			}
			if r.Failure == nil || !r.Failure.Retryable || attempt > in.Retries {
				break
			}
			in.PrevCheckpoint = r.Failure.Checkpoint
			r.Failure, r.Error, r.Type = nil, "", ""
		}
		out = append(out, r)
	}
	return out, nil
}

// workerProc is a running `goflyte worker`.
type workerProc struct {
	name string
	cmd  *exec.Cmd
	log  *testserver.Buffer
	done chan struct{}
	err  error
}

func (w *workerProc) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// waitLog waits until the worker's log holds s.
func (w *workerProc) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(w.log.String(), s) {
		if time.Now().After(deadline) || w.exited() {
			t.Fatalf("worker %s: no %q in its log within %s:\n%s", w.name, s, within, w.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probeBin is where TestMain builds the probe test plugin: a directory
// of its own, outside e2ePlugins, so that only the tests that link it
// into a plugin directory serve it.
func probeBin() string {
	return filepath.Join(filepath.Dir(e2eBin), "probe", "goflyte-plugin-probe")
}

// probePlugin returns the probe test plugin, which TestMain built.
func probePlugin(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(probeBin()); err != nil {
		t.Fatalf("the probe plugin: %v", err)
	}
	return probeBin()
}

// linkPlugins makes a plugin directory holding the named binaries.
func linkPlugins(t *testing.T, bins ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range bins {
		dst := filepath.Join(dir, filepath.Base(b))
		if err := os.Link(b, dst); err != nil {
			data, err := os.ReadFile(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

type workerEnv struct {
	t      *testing.T
	srv    *remotetest.Server
	s3     *s3test.Server
	queue  string
	c      client.Client
	secret string
}

// startWorker starts `goflyte worker` with its own flyte.hcl, sandbox and
// plugin directory, in a process group of its own (a SIGKILL of the
// group is a machine going away, plugins and all).
func (env *workerEnv) startWorker(name, pluginDir string, extra ...string) *workerProc {
	t := env.t
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
sdk {
  plugin_dirs   = [%q]
  local_sandbox = %q
}
platform {
  url        = %q
  insecure   = true
  task_queue = %q
}
aws {
  endpoint          = %q
  access_key_id     = %q
  secret_access_key = %q
  retries           = 1
  backoff_seconds   = 1
}
`, pluginDir, filepath.Join(dir, "sandbox"), env.srv.Addr, env.queue, env.s3.Endpoint, env.s3.AccessKey, env.s3.SecretKey)
	if err := os.WriteFile(filepath.Join(dir, "flyte.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var envv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYTE_") {
			envv = append(envv, kv)
		}
	}
	envv = append(envv, "FLYTE_SECRETS_PROBE_TOKEN="+env.secret, "FLYTE_SECRETS_SIGNING_KEY="+env.secret, "AWS_REGION="+env.s3.Region)
	w := startWorkerProc(t, name, dir, envv, extra...)
	w.waitLog(t, "worker started", 60*time.Second)
	return w
}

// startWorkerProc starts `goflyte worker --identity name` in dir (which
// holds its flyte.hcl) with env and extra flags, in a process group of
// its own that t's cleanup kills if it is still running (and whose log
// it shows if t failed).
func startWorkerProc(t *testing.T, name, dir string, env []string, extra ...string) *workerProc {
	t.Helper()
	args := append([]string{"worker", "--identity", name, "--concurrency", "2", "-vv"}, extra...)
	cmd := exec.Command(e2eBin, args...)
	cmd.Dir = dir
	// A TMPDIR of the test's: what a worker killed at the end leaves
	// there (its plugins' sockets) goes with the test. A short one: the
	// plugins make their sockets in it.
	cmd.Env = append(slices.Clip(env), "TMPDIR="+testtmp.Short(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w := &workerProc{name: name, cmd: cmd, log: &testserver.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.log, w.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		w.err = cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		if !w.exited() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-w.done
		}
		if t.Failed() {
			t.Logf("worker %s log:\n%s", name, w.log.String())
		}
	})
	return w
}

// runCalls runs the test workflow and returns its results.
func (env *workerEnv) runCalls(id string, calls ...testCall) ([]testCallResult, client.WorkflowRun) {
	t := env.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := env.start(ctx, id, calls...)
	var out []testCallResult
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow %s: %v", id, err)
	}
	return out, run
}

func (env *workerEnv) start(ctx context.Context, id string, calls ...testCall) client.WorkflowRun {
	env.t.Helper()
	run, err := env.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: env.queue + "-test"}, testWorkflowName, env.queue, calls)
	if err != nil {
		env.t.Fatalf("start workflow %s: %v", id, err)
	}
	return run
}

// history returns the whole history of a run as text (payloads, which
// are JSON, appear as they are) and the attempt of every activity task
// that started, in order.
func (env *workerEnv) history(run client.WorkflowRun) (string, []int32) {
	env.t.Helper()
	it := env.c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var b strings.Builder
	var attempts []int32
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			env.t.Fatal(err)
		}
		b.WriteString(ev.String())
		b.WriteByte('\n')
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			attempts = append(attempts, a.GetAttempt())
		}
	}
	return b.String(), attempts
}

func TestWorkerE2E(t *testing.T) {
	// It waits on Temporal's timers and heartbeats more than it computes.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs real binaries")
	}
	_ = newE2E(t) // builds nothing more; skips with -short
	env := &workerEnv{t: t, queue: "gftest", secret: "wk-secret-" + fmt.Sprint(time.Now().UnixNano())}
	env.srv = remotetest.Start(t, remotetest.Options{})
	env.s3 = s3test.Start(t)
	env.s3.CreateBucket("runs")
	c, err := remote.Dial(context.Background(), remote.Options{URL: env.srv.Addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	env.c = c

	// The test workflow's worker, in this process, on a queue of its own
	// (the goflyte workers run the interpreter on <task_queue>).
	ww := worker.New(c, env.queue+"-test", worker.Options{StickyScheduleToStartTimeout: time.Second})
	ww.RegisterWorkflowWithOptions(testCallsWorkflow, workflow.RegisterOptions{Name: testWorkflowName})
	if err := ww.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ww.Stop)

	probe := probePlugin(t)
	bin := func(name string) string { return filepath.Join(e2ePlugins, "goflyte-plugin-"+name) }
	// A serves text, probe and sign; B probe and sign: text is routed to A.
	// Both run the interpreter workflow on the queue itself.
	a := env.startWorker("worker-a", linkPlugins(t, bin("text"), probe, bin("sign")))
	b := env.startWorker("worker-b", linkPlugins(t, probe, bin("sign")))
	workers := map[string]*workerProc{a.name: a, b.name: b}
	if !strings.Contains(a.log.String(), "queue=gftest.text") || strings.Contains(b.log.String(), "queue=gftest.text") {
		t.Fatalf("startup lines do not show the queues:\n%s\n%s", a.log.String(), b.log.String())
	}
	probeSum, _ := engine.FileSHA256(probe)
	textSum, _ := engine.FileSHA256(bin("text"))
	data := "s3://runs/p/d/r1"
	now := time.Now().UTC()
	call := func(node, plugin, task, inputs, sum string) remote.TaskInput {
		return remote.TaskInput{ExecutionID: "p:d:r1", ExecutionDate: now, Node: node, Plugin: plugin, Task: task, PluginSHA256: sum, Inputs: json.RawMessage(inputs), DataPrefix: data, Mode: 1}
	}

	t.Run("routing", func(t *testing.T) {
		res, _ := env.runCalls("routing",
			testCall{In: call("up", "text", "upper", `{"text":"remote"}`, textSum)},
			testCall{In: call("nobody", "nosuch", "task", `{}`, ""), ScheduleToStart: 3 * time.Second},
			testCall{In: call("each", "text", "count_each", `{"texts":["a b"]}`, textSum)},
		)
		if o := res[2].Output; o == nil || o.Dynamic == nil || o.Dynamic.Plugins["text"].SHA256 != textSum || o.Dynamic.Plugins["text"].Schema == nil {
			t.Errorf("a dynamic task's workflow: %+v", res[2])
		}
		if o := res[0].Output; o == nil || string(o.Outputs) != `{"text":"REMOTE"}` || o.Worker != "worker-a" {
			t.Errorf("text.upper: %+v", res[0])
		}
		if res[1].Output != nil || !strings.Contains(res[1].Error, `no worker serves plugin "nosuch"`) {
			t.Errorf("a plugin nobody serves: %+v", res[1])
		}
	})

	// The interpreter workflow (remote.RunWorkflow), run by the goflyte
	// workers themselves, drives a workflow whose tasks they run.
	t.Run("interpreter", func(t *testing.T) {
		src := `workflow "w" {
  input "text" { type = string }
  task "up" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "words" {
    uses   = "text.split"
    inputs = { text = task.up.text }
  }
  output "words" { value = task.words.words }
}
`
		eng := engine.New(&config.Config{SDK: config.SDK{PluginDirs: []string{e2ePlugins}}}, nil)
		defer eng.Close()
		_, schema, err := eng.Plugins.Get(context.Background(), "text")
		if err != nil {
			t.Fatal(err)
		}
		in := remote.RunInput{
			ExecutionID: "p:d:interp", ExecutionDate: now, Main: "wf.hcl", Workflow: "w",
			Sources: map[string]string{"wf.hcl": src}, Inputs: map[string]json.RawMessage{"text": json.RawMessage(`"hello remote world"`)},
			Plugins:   map[string]remote.PluginRef{"text": {Schema: schema, SHA256: textSum}},
			TaskQueue: env.queue, DataPrefix: "s3://runs/p/d/interp", Parallelism: 4,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: in.ExecutionID, TaskQueue: env.queue}, remote.WorkflowType, in)
		if err != nil {
			t.Fatal(err)
		}
		var rec sandbox.Record
		if err := run.Get(ctx, &rec); err != nil {
			t.Fatalf("run: %v", err)
		}
		if rec.Status != "succeeded" || string(rec.Outputs["words"]) != `["HELLO","REMOTE","WORLD"]` {
			t.Errorf("record: status %s outputs %s", rec.Status, rec.Outputs)
		}
	})

	t.Run("digest mismatch", func(t *testing.T) {
		wrong := strings.Repeat("0", 64)
		res, run := env.runCalls("digest", testCall{In: call("d", "probe", "steps", `{"n":1}`, wrong)})
		r := res[0]
		if r.Type != remote.ErrDigestMismatch || r.Failure == nil || r.Failure.Kind != "digest" ||
			!strings.Contains(r.Error, `plugin "probe"`) || !strings.Contains(r.Error, wrong) || !strings.Contains(r.Error, probeSum) {
			t.Fatalf("digest mismatch: %+v", r)
		}
		// Refused once, not retried by Temporal.
		if _, attempts := env.history(run); len(attempts) != 1 || attempts[0] != 1 {
			t.Errorf("activity attempts %v for a digest mismatch, want [1]", attempts)
		}
	})

	t.Run("secrets stay on the worker", func(t *testing.T) {
		sum := sha256.Sum256([]byte(env.secret))
		signSum, _ := engine.FileSHA256(bin("sign"))
		res, run := env.runCalls("secret",
			testCall{In: call("log", "probe", "leak", `{"mode":"log"}`, probeSum)},
			testCall{In: call("err", "probe", "leak", `{"mode":"error"}`, probeSum)},
			testCall{In: call("out", "probe", "leak", `{"mode":"output"}`, probeSum)},
			testCall{In: call("sign", "sign", "hmac", `{"message":"hi"}`, signSum)},
		)
		if o := res[0].Output; o == nil || !strings.Contains(string(o.Outputs), hex.EncodeToString(sum[:])) {
			t.Errorf("the worker did not resolve the secret: %+v", res[0])
		}
		if f := res[1].Failure; f == nil || f.Kind != "task" || !strings.Contains(f.Message, "***") {
			t.Errorf("task error: %+v", res[1])
		}
		if f := res[2].Failure; f == nil || f.Kind != "outputs" || f.Retryable {
			t.Errorf("secret in the outputs: %+v", res[2])
		}
		if res[3].Output == nil {
			t.Errorf("sign.hmac: %+v", res[3])
		}
		h, _ := env.history(run)
		if !strings.Contains(h, hex.EncodeToString(sum[:])) || !strings.Contains(h, `\"mode\":\"output\"`) {
			t.Fatalf("the history's payloads are not readable as text, the scan would prove nothing:\n%.2000s", h)
		}
		if strings.Contains(h, env.secret) {
			t.Errorf("the secret is in the workflow's history")
		}
		for _, w := range workers {
			if strings.Contains(w.log.String(), env.secret) {
				t.Errorf("the secret is in worker %s's log", w.name)
			}
		}
	})

	t.Run("cache in the bucket", func(t *testing.T) {
		in := call("c", "probe", "steps", `{"n":2,"ms":10}`, probeSum)
		in.Cache, in.CachePrefix = &remote.CachePolicy{Version: "1"}, "s3://runs/cache"
		res, _ := env.runCalls("cache", testCall{In: in}, testCall{In: in})
		if res[0].Output == nil || res[0].Output.Cache != engine.CacheMiss || res[1].Output == nil || res[1].Output.Cache != engine.CacheHit {
			t.Errorf("cache: %+v / %+v", res[0].Output, res[1].Output)
		}
	})

	// SIGKILL of the worker running a task (the machine going away): the
	// task runs again on the other worker from its last checkpoint, as
	// the same attempt.
	t.Run("worker killed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		in := call("long", "probe", "steps", `{"n":30,"ms":200}`, probeSum)
		in.Retries = 2
		run := env.start(ctx, "killed", testCall{In: in})
		victim := waitTaskStarted(t, workers, "node=long")
		victim.waitLog(t, "step=12", 30*time.Second)
		waitCheckpointHeartbeat(t, env.c, run.GetID(), "long")
		if err := syscall.Kill(-victim.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-victim.done
		killed := time.Now()
		for _, w := range workers {
			if w != victim {
				w.waitLog(t, "task runs again: its worker was lost", time.Minute)
				t.Logf("failover: the task ran again on %s %s after the kill", w.name, time.Since(killed).Round(time.Millisecond))
			}
		}
		var res []testCallResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		t.Logf("the run finished %s after the kill", time.Since(killed).Round(time.Millisecond))
		o := res[0].Output
		if o == nil {
			t.Fatalf("the task failed: %+v", res[0])
		}
		var out struct {
			ResumedFrom int `json:"resumed_from"`
			Done        int `json:"done"`
			Attempt     int `json:"attempt"`
		}
		_ = json.Unmarshal(o.Outputs, &out)
		if o.Worker == victim.name || out.Done != 30 || out.ResumedFrom == 0 || out.Attempt != 1 || res[0].Attempts != 1 {
			t.Errorf("after the kill of %s: worker %s, outputs %s, workflow attempts %d", victim.name, o.Worker, o.Outputs, res[0].Attempts)
		}
		delete(workers, victim.name)
	})

	// SIGTERM drains: the running task finishes, the worker exits 0.
	t.Run("SIGTERM drains", func(t *testing.T) {
		var w *workerProc
		for _, x := range workers {
			w = x
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		run := env.start(ctx, "drain", testCall{In: call("drain", "probe", "steps", `{"n":10,"ms":200}`, probeSum)})
		w.waitLog(t, "node=drain", 30*time.Second)
		if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.done:
		case <-time.After(60 * time.Second):
			t.Fatal("the worker did not exit within 60 s of SIGTERM")
		}
		if w.err != nil {
			t.Errorf("worker exit: %v\n%s", w.err, w.log.String())
		}
		var res []testCallResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		if o := res[0].Output; o == nil || o.Worker != w.name {
			t.Errorf("the drained task: %+v", res[0])
		}
		if !strings.Contains(w.log.String(), "draining") || !strings.Contains(w.log.String(), "worker stopped") {
			t.Errorf("the worker's log does not tell of the drain:\n%s", w.log.String())
		}
	})
}

// waitTaskStarted returns the worker whose log shows a task started with
// the given field.
func waitTaskStarted(t *testing.T, workers map[string]*workerProc, field string) *workerProc {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, w := range workers {
			sc := bufio.NewScanner(strings.NewReader(w.log.String()))
			for sc.Scan() {
				if strings.Contains(sc.Text(), "task started") && strings.Contains(sc.Text(), field) {
					return w
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no worker started the task %s", field)
	return nil
}

// startedExecution returns the execution id in w's "task started" line
// with the given field.
func startedExecution(t *testing.T, w *workerProc, field string) string {
	t.Helper()
	for _, line := range strings.Split(w.log.String(), "\n") {
		if !strings.Contains(line, "task started") || !strings.Contains(line, field) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "execution_id="); ok {
				return id
			}
		}
	}
	t.Fatalf("worker %s's log has no execution id for the task %s:\n%s", w.name, field, w.log.String())
	return ""
}

// waitCheckpointHeartbeat waits until the server holds a heartbeat of the
// workflow's running task node that names a checkpoint: only then does a
// worker loss resume from one. A checkpoint saved in the worker's log is
// not enough, since the SDK sends heartbeats at most once a second and
// the send may still be on its way when the worker dies.
func waitCheckpointHeartbeat(t *testing.T, c client.Client, workflowID, node string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			t.Fatalf("describe %s: %v", workflowID, err)
		}
		for _, pa := range d.PendingActivities {
			var hb remote.TaskHeartbeat
			if pa.HeartbeatDetails == nil || len(pa.HeartbeatDetails.Payloads) == 0 {
				continue
			}
			if err := converter.GetDefaultDataConverter().FromPayload(pa.HeartbeatDetails.Payloads[0], &hb); err == nil &&
				strings.Contains(hb.Checkpoint, "/_checkpoints/"+node+"/") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no heartbeat of %s's task %s reached the server with a checkpoint", workflowID, node)
}

// TestWorkerErrors: bad flags and configuration are usage errors (2);
// an unreachable server is a clear error within seconds (1).
func TestWorkerErrors(t *testing.T) {
	x := newE2E(t)
	if r := x.run("worker"); r.code != exitUsage || !strings.Contains(r.stderr, "platform.url") {
		t.Errorf("no platform.url: %s", r)
	}
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"FLYTE_PLATFORM_URL=" + addr, "FLYTE_PLATFORM_INSECURE=true"}
	if r := x.runEnv(env, "worker", "--plugin", "txet"); r.code != exitUsage || !strings.Contains(r.stderr, `did you mean "text"`) {
		t.Errorf("unknown plugin: %s", r)
	}
	if r := x.runEnv(env, "worker", "--concurrency", "0"); r.code != exitUsage {
		t.Errorf("--concurrency 0: %s", r)
	}
	start := time.Now()
	r := x.runEnv(append(env, "FLYTE_PLATFORM_URL="+addr), "worker", "--plugin", "text")
	if r.code != exitFailed || !strings.Contains(r.stderr, "connect to Temporal at "+addr) || !strings.Contains(r.stderr, "platform.url") {
		t.Errorf("unreachable server: %s", r)
	}
	t.Logf("unreachable server reported after %s", time.Since(start).Round(time.Millisecond))
	if r := x.runEnv([]string{"FLYTE_PLATFORM_URL=nonsense"}, "worker"); r.code != exitUsage {
		t.Errorf("platform.url without a port: %s", r)
	}
}
