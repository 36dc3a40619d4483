package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// The remote rows (issue 13): goflyte's runs on Temporal against a plain
// Temporal workflow written with the SDK, on one temporal-testserver and
// one versitygw bucket started for this run (remote/remotetest and
// engine/datastore/s3test, from .tools). The goflyte side is the
// product: real `goflyte worker` processes (the binary this run built)
// that run both the interpreter workflow goflyte.run and the text
// plugin's tasks in the plugin's subprocess, with the bucket as their
// data store; the run is submitted as `goflyte run --remote` submits it
// (remote.Submit of a RunInput) and waited for with the SDK, like the
// plain workflow, so that both sides time the same thing: start to
// result. A row that needs a server that is not installed is skipped.

// remoteTaskQueue is the task queue prefix of the bench's workers.
const remoteTaskQueue = "bench"

// remoteSlots is the task slots of every worker, goflyte's and the plain
// one's: the default of `goflyte worker --concurrency`.
const remoteSlots = 4

// foreachEnv sizes the remote for_each row down while iterating.
const foreachEnv = "GOFLYTE_BENCH_REMOTE_FOREACH"

// workerProfileEnv, set to a file name, has each worker write a CPU
// profile of itself (GOFLYTE_CPUPROFILE) to FILE.<identity> when it stops.
const workerProfileEnv = "GOFLYTE_BENCH_WORKER_CPUPROFILE"

func remoteComparisons() []Comparison {
	var rows []Comparison
	for _, shape := range []struct {
		id, name string
		fanout   bool
	}{{"chain", "chain", false}, {"fanout", "fan-out", true}} {
		for _, n := range []int{100, 1000} {
			c := Comparison{
				ID:   fmt.Sprintf("remote-%s-%d", shape.id, n),
				Name: fmt.Sprintf("remote %d-task %s vs plain Temporal, per task", n, shape.name),
				Goflyte: Side{
					What:  remoteWhat(shape.fanout, n),
					Setup: setupRemoteRun(shape.fanout, n),
				},
				Baseline: &Side{
					What:  plainWhat(shape.fanout, n),
					Setup: setupPlainRun(shape.fanout, n),
				},
				Target: 1.2, Op: AtMost,
				N: 5, QuickN: 3, Warmup: 1,
			}
			if n == 1000 {
				c.N, c.QuickN = 3, 1
			}
			if shape.fanout {
				// A fan-out sample is one saturated burst of the whole
				// machine: its time spreads by +-20% from sample to
				// sample (session 11, idle), so that 5 and 3 samples put
				// the ratio anywhere in 1.1-1.3x around a mean of about
				// 1.17x. More samples give the medians a steadier ratio:
				// 15 for 100 tasks, 10 for 1,000 (5 in session 11, 1.07x
				// to 1.23x over five runs of the same code in session 12;
				// a sample takes about 5 s a side).
				c.N = 15
				if n == 1000 {
					c.N = 10
				}
			}
			rows = append(rows, c)
		}
	}
	return append(rows,
		Comparison{
			ID:   "remote-cli-chain-100",
			Name: "goflyte run --remote vs local, 100-task chain",
			Goflyte: Side{
				What: "`goflyte run --remote chain.hcl --input text=hello -q` (wall time): validate, wait for workers, submit, " +
					"follow the record every 250 ms, print; the tasks on one `goflyte worker` as above",
				Setup: setupRemoteCLI,
			},
			Baseline: &Side{
				What:  "`goflyte run chain.hcl --input text=hello -q`, the same workflow run locally (wall time)",
				Setup: setupCLIRun("chain", chainWorkflow(100), "text = HELLO\n", 1),
			},
			N: 5, QuickN: 3, Warmup: 1,
		},
		Comparison{
			ID:   "remote-failover",
			Name: "remote worker failover: SIGKILL to running elsewhere",
			Goflyte: Side{
				What: "two `goflyte worker` processes; a run of one long text.sleep task; 1.5 s after the task started on one, " +
					"SIGKILL of that worker (and its plugin); time until the other logs \"task started\" for it (temporal_attempt 2). " +
					fmt.Sprintf("Target: the contract's heartbeat timeout (%s, remote.HeartbeatTimeout) + the %s retry interval + 1 s to dispatch", remote.HeartbeatTimeout, workerLossRetry),
				Setup: setupFailover,
			},
			Limit: remote.HeartbeatTimeout + workerLossRetry + time.Second,
			N:     3, QuickN: 1,
		},
		Comparison{
			ID:   "remote-foreach-10k",
			Name: "remote 10k for_each vs local",
			Goflyte: Side{
				What: fmt.Sprintf("a run of a for_each over %d items of text.upper (not cached) on one `goflyte worker` as above, submitted and waited for; ", foreachSize()) +
					fmt.Sprintf("its instances run in goflyte.batch child workflows of %d (remote/batch.go). %s=N sizes it down", remote.BatchSize, foreachEnv),
				Setup: setupRemoteForeach,
			},
			Baseline: &Side{
				What:  "the same for_each run locally by `goflyte run` (wall time)",
				Setup: setupFirstRun(foreachCase(foreachSize())),
			},
			N: 1, QuickN: 1,
		},
		Comparison{
			ID:   "remote-foreach-10k-events",
			Name: "  same, largest history",
			Goflyte: Side{
				What: "the events in the largest history of that run: its own and each goflyte.batch child's (GetWorkflowHistory). " +
					"Temporal warns at 10,240 events and fails a workflow at 51,200",
				Setup: setupForeachEvents,
			},
			Unit: UnitEvents, Limit: 10240,
			N: 1, QuickN: 1,
		},
	)
}

// workerLossRetry is the first retry interval of a task whose worker was
// lost (remote/workflow.go's activity retry policy).
const workerLossRetry = time.Second

func remoteWhat(fanout bool, n int) string {
	shape := fmt.Sprintf("%d text.upper tasks, each on the previous one's output", n)
	if fanout {
		shape = fmt.Sprintf("%d independent text.upper tasks + 1 text.join", n)
	}
	return fmt.Sprintf("goflyte.run of %s, on one `goflyte worker --concurrency %d` process (interpreter workflow + plugin tasks, task logs to the bucket), "+
		"submit to result, divided by %d", shape, remoteSlots, n)
}

func plainWhat(fanout bool, n int) string {
	shape := fmt.Sprintf("%d no-op activities in sequence", n)
	if fanout {
		shape = fmt.Sprintf("%d no-op activities at once + 1 on their results", n)
	}
	return fmt.Sprintf("a workflow written with the SDK: %s, on a queue of their own as goflyte's plugin tasks are "+
		"(eager dispatch cannot apply), %d activity slots, worker in this process; start to result, divided by %d", shape, remoteSlots, n)
}

// remoteEnv is the servers and the client the remote rows share.
type remoteEnv struct {
	srv    *remotetest.Server
	bucket *s3test.Server
	c      client.Client
	// dir holds flyte.hcl (config) for the CLI and the workers.
	dir, config string
	prefix      string // raw_output_data_prefix
	eng         *engine.Engine
	worker      *workerProc // the shared worker of the run rows
	plain       bool        // the plain workflow's worker is started
	foreach     *foreachResult
	err         error
}

// Remote returns the remote rows' environment, starting the servers on
// first use; a missing server is a SkipError.
func (e *Env) Remote(ctx context.Context) (*remoteEnv, error) {
	e.mu.Lock()
	re := e.remote
	e.mu.Unlock()
	if re != nil {
		return re, re.err
	}
	re = &remoteEnv{}
	re.err = e.startRemote(ctx, re)
	e.mu.Lock()
	e.remote = re
	e.mu.Unlock()
	return re, re.err
}

func (e *Env) startRemote(ctx context.Context, re *remoteEnv) error {
	var err error
	re.dir, err = e.TempDir("remote-")
	if err != nil {
		return err
	}
	var nf *remotetest.NotFoundError
	srv, stop, err := remotetest.Launch(remotetest.Options{}, func() string {
		d, _ := os.MkdirTemp(re.dir, "temporal-")
		return d
	})
	if errors.As(err, &nf) {
		return Skip(err.Error())
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", remotetest.Binary, err)
	}
	e.Cleanup(stop)
	re.srv = srv
	var snf *s3test.NotFoundError
	bdir, err := os.MkdirTemp(re.dir, "buckets-")
	if err != nil {
		return err
	}
	bucket, stopS3, err := s3test.Launch(bdir)
	if errors.As(err, &snf) {
		return Skip(err.Error() + " (remote runs need a bucket)")
	}
	if err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	e.Cleanup(stopS3)
	re.bucket = bucket
	if err := bucket.NewBucket(ctx, "bench"); err != nil {
		return err
	}
	re.prefix = "s3://bench/goflyte"
	re.c, err = remote.Dial(ctx, remote.Options{URL: srv.Addr, Insecure: true})
	if err != nil {
		return err
	}
	e.Cleanup(re.c.Close)
	re.config = filepath.Join(re.dir, "flyte.hcl")
	cfg := fmt.Sprintf(`sdk {
  plugin_dirs   = [%q]
  local_sandbox = %q
}
local {
  raw_output_data_prefix = %q
  project                = "bench"
  domain                 = "dev"
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
}
`, e.PluginDir, filepath.Join(re.dir, "sandbox"), re.prefix, srv.Addr, remoteTaskQueue, bucket.Endpoint, bucket.AccessKey, bucket.SecretKey)
	if err := os.WriteFile(re.config, []byte(cfg), 0o644); err != nil {
		return err
	}
	re.eng, _, err = e.WarmEngine(ctx) // the same plugin directory as the workers': the same digests
	return err
}

// cliEnv is the environment of the CLI and the workers: the host's
// without FLYTE_* variables, plus AWS_REGION for the bucket.
func (re *remoteEnv) cliEnv(extra ...string) []string {
	return append(append(hostEnv(), "AWS_REGION="+re.bucket.Region), extra...)
}

// workerProc is a running `goflyte worker`.
type workerProc struct {
	cmd  *exec.Cmd
	log  fileLog
	done chan struct{}
}

// fileLog is a worker's output, which the worker writes straight to a
// file. Through a pipe, the bench process woke to copy every line the
// worker logs (two a task) while it also ran the plain side's worker: in
// the fan-out rows that was CPU of the bench's charged to goflyte's side,
// which a worker logging to a file or a terminal does not cost.
type fileLog struct{ path string }

// String returns what the worker has written so far.
func (l fileLog) String() string {
	b, _ := os.ReadFile(l.path)
	return string(b)
}

// Tail returns at most the last n bytes written, marked with "…" when
// cut.
func (l fileLog) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// startWorker starts `goflyte worker` with the remote config (and env
// overrides), in a process group of its own (its plugins with it), and
// waits until it serves its queues.
func (re *remoteEnv) startWorker(ctx context.Context, env *Env, name string, extraEnv ...string) (*workerProc, error) {
	cmd := exec.Command(env.CLI, "--config", re.config, "worker", "--identity", name, "--concurrency", strconv.Itoa(remoteSlots))
	cmd.Dir = re.dir
	cmd.Env = re.cliEnv(extraEnv...)
	if p := os.Getenv(workerProfileEnv); p != "" {
		cmd.Env = append(cmd.Env, "GOFLYTE_CPUPROFILE="+p+"."+name)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.CreateTemp(re.dir, "worker-"+name+"-*.log")
	if err != nil {
		return nil, err
	}
	defer out.Close() // the worker has its own copy
	w := &workerProc{cmd: cmd, log: fileLog{out.Name()}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	env.Cleanup(w.stop)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(w.log.String(), "serving plugin") {
		select {
		case <-w.done:
			return nil, fmt.Errorf("goflyte worker %s exited:\n%s", name, w.log.Tail(4000))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.kill()
			return nil, fmt.Errorf("goflyte worker %s not serving after a minute:\n%s", name, w.log.Tail(4000))
		}
	}
	return w, nil
}

// stop drains the worker (SIGTERM: it stops its plugins and writes its
// profile), then kills what is left after 10 s.
func (w *workerProc) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
	}
	w.kill()
}

// kill sends SIGKILL to the worker's process group (the worker and its
// plugins) and waits for the worker to exit.
func (w *workerProc) kill() {
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	<-w.done
}

// sharedWorker is the one worker of the run rows, started on first use.
func (re *remoteEnv) sharedWorker(ctx context.Context, env *Env) error {
	if re.worker != nil {
		return nil
	}
	w, err := re.startWorker(ctx, env, "bench-worker")
	if err != nil {
		return err
	}
	re.worker = w
	return remote.WaitForWorkers(ctx, re.c, "default", remoteTaskQueue, []string{"text"}, time.Minute)
}

// runInput is the RunInput `goflyte run --remote` would submit for the
// workflow source (its first workflow) with the given inputs; the
// execution id and data prefix are set per run by submit.
func (re *remoteEnv) runInput(ctx context.Context, name, source string, inputs map[string]any) (*remote.RunInput, error) {
	raw := map[string]json.RawMessage{}
	for k, v := range inputs {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw[k] = b
	}
	refs, err := remote.PluginRefs(ctx, re.eng.Plugins, []string{"text"}, nil)
	if err != nil {
		return nil, err
	}
	return &remote.RunInput{
		Main: name + ".hcl", Workflow: name, Sources: map[string]string{name + ".hcl": source},
		Inputs: raw, Plugins: refs, TaskQueue: remoteTaskQueue, Parallelism: remote.DefaultParallelism,
		// Every row waits for the workers first (remote.WaitForWorkers),
		// as `goflyte run --remote` does before it sets Polled.
		Polled: []string{"text"},
	}, nil
}

// runSeq makes the run names of submit distinct (they share a second).
var runSeq struct {
	mu sync.Mutex
	n  int
}

// submit runs in as a new run, from submission to its result, and
// returns the time that took and the run's final record.
func (re *remoteEnv) submit(ctx context.Context, in remote.RunInput, within time.Duration) (time.Duration, *sandbox.Record, client.WorkflowRun, error) {
	runSeq.mu.Lock()
	runSeq.n++
	seq := runSeq.n
	runSeq.mu.Unlock()
	name := fmt.Sprintf("%s-%d", sandbox.NewRunName(time.Now()), seq)
	var err error
	in.ExecutionID = remote.ExecutionID("bench", "dev", name)
	in.ExecutionDate = time.Now().UTC()
	if in.DataPrefix, _, err = remote.DataPrefixes(re.prefix, name, false); err != nil {
		return 0, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	start := time.Now()
	runID, err := remote.Submit(ctx, re.c, &in)
	if err != nil {
		return 0, nil, nil, err
	}
	run := re.c.GetWorkflow(ctx, in.ExecutionID, runID)
	var rec sandbox.Record
	err = run.Get(ctx, &rec)
	d := time.Since(start)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("remote run %s: %w", in.ExecutionID, err)
	}
	if rec.Status != string(engine.StatusSucceeded) {
		return 0, nil, nil, fmt.Errorf("remote run %s %s: %s", in.ExecutionID, rec.Status, rec.Error)
	}
	return d, &rec, run, nil
}

func setupRemoteRun(fanout bool, n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		re, err := env.Remote(ctx)
		if err != nil {
			return nil, err
		}
		if err := re.sharedWorker(ctx, env); err != nil {
			return nil, err
		}
		name, source, want := "chain", chainWorkflow(n), `"HELLO"`
		if fanout {
			name, source = "fanout", fanoutWorkflow(n)
			want = `"` + strings.TrimSpace(strings.Repeat("HELLO ", n)) + `"`
		}
		in, err := re.runInput(ctx, name, source, map[string]any{"text": "hello"})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (time.Duration, error) {
			d, rec, _, err := re.submit(ctx, *in, 10*time.Minute)
			if err != nil {
				return 0, err
			}
			if got := string(rec.Outputs["text"]); got != want {
				return 0, fmt.Errorf("remote %s output text = %.80s, want %.80s", name, got, want)
			}
			return d / time.Duration(n), nil
		}, nil
	}
}

// --- the plain workflow -----------------------------------------------------

const (
	plainQueue         = "plain"
	plainActivityQueue = "plain.noop"
)

// noopActivity is the plain workflow's activity: it returns its input.
func noopActivity(_ context.Context, s string) (string, error) { return s, nil }

func plainOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: plainActivityQueue, StartToCloseTimeout: time.Minute})
}

// plainChain runs n no-op activities, each on the previous one's result.
func plainChain(ctx workflow.Context, n int) (string, error) {
	ctx = plainOptions(ctx)
	s := "hello"
	for i := 0; i < n; i++ {
		if err := workflow.ExecuteActivity(ctx, "noop", s).Get(ctx, &s); err != nil {
			return "", err
		}
	}
	return s, nil
}

// plainFanOut runs n no-op activities at once, then one on their results.
func plainFanOut(ctx workflow.Context, n int) (string, error) {
	ctx = plainOptions(ctx)
	futures := make([]workflow.Future, n)
	for i := range futures {
		futures[i] = workflow.ExecuteActivity(ctx, "noop", "hello")
	}
	words := make([]string, n)
	for i, f := range futures {
		if err := f.Get(ctx, &words[i]); err != nil {
			return "", err
		}
	}
	var s string
	err := workflow.ExecuteActivity(ctx, "noop", strings.Join(words, " ")).Get(ctx, &s)
	return s, err
}

// plainWorker starts the plain workflow's worker in this process: one
// Temporal worker for the workflows, one for the activities.
func (re *remoteEnv) plainWorker(env *Env) error {
	if re.plain {
		return nil
	}
	ww := worker.New(re.c, plainQueue, worker.Options{})
	ww.RegisterWorkflowWithOptions(plainChain, workflow.RegisterOptions{Name: "plainChain"})
	ww.RegisterWorkflowWithOptions(plainFanOut, workflow.RegisterOptions{Name: "plainFanOut"})
	aw := worker.New(re.c, plainActivityQueue, worker.Options{MaxConcurrentActivityExecutionSize: remoteSlots})
	aw.RegisterActivityWithOptions(noopActivity, activity.RegisterOptions{Name: "noop"})
	for _, w := range []worker.Worker{ww, aw} {
		if err := w.Start(); err != nil {
			return err
		}
		env.Cleanup(w.Stop)
	}
	re.plain = true
	return nil
}

func setupPlainRun(fanout bool, n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		re, err := env.Remote(ctx)
		if err != nil {
			return nil, err
		}
		if err := re.plainWorker(env); err != nil {
			return nil, err
		}
		wf, want := "plainChain", "hello"
		if fanout {
			wf, want = "plainFanOut", strings.TrimSpace(strings.Repeat("hello ", n))
		}
		k := 0
		return func(ctx context.Context) (time.Duration, error) {
			k++
			ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			id := fmt.Sprintf("plain-%s-%d-%d-%d", wf, n, time.Now().UnixNano(), k)
			start := time.Now()
			run, err := re.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: plainQueue}, wf, n)
			if err != nil {
				return 0, err
			}
			var got string
			err = run.Get(ctx, &got)
			d := time.Since(start)
			if err != nil {
				return 0, fmt.Errorf("plain workflow %s: %w", id, err)
			}
			if got != want {
				return 0, fmt.Errorf("plain workflow %s returned %.80q", id, got)
			}
			return d / time.Duration(n), nil
		}, nil
	}
}

// --- goflyte run --remote ---------------------------------------------------

func setupRemoteCLI(ctx context.Context, env *Env) (Sampler, error) {
	re, err := env.Remote(ctx)
	if err != nil {
		return nil, err
	}
	if err := re.sharedWorker(ctx, env); err != nil {
		return nil, err
	}
	w, err := newCLIWorkflow(env, "remote-chain", chainWorkflow(100))
	if err != nil {
		return nil, err
	}
	w.config, w.env = re.config, re.cliEnv()
	return func(ctx context.Context) (time.Duration, error) {
		d, stdout, _, err := w.run(ctx, nil, "--remote", "--input", "text=hello")
		if err != nil {
			return 0, err
		}
		if !strings.Contains(stdout, "text = HELLO\n") {
			return 0, fmt.Errorf("goflyte run --remote: stdout lacks text = HELLO:\n%s", stdout)
		}
		return d, nil
	}, nil
}

// --- failover ---------------------------------------------------------------

// failoverQueue is the failover row's own task queue prefix, so that the
// shared worker takes none of its tasks.
const failoverQueue = "failover"

const napWorkflow = `workflow "nap" {
  task "nap" {
    uses   = "text.sleep"
    inputs = { ms = 600000 }
  }
}
`

func setupFailover(ctx context.Context, env *Env) (Sampler, error) {
	re, err := env.Remote(ctx)
	if err != nil {
		return nil, err
	}
	in, err := re.runInput(ctx, "nap", napWorkflow, nil)
	if err != nil {
		return nil, err
	}
	in.TaskQueue = failoverQueue
	workers := make([]*workerProc, 2)
	started := 0
	return func(ctx context.Context) (time.Duration, error) {
		for i, w := range workers {
			if w != nil {
				continue
			}
			started++
			if workers[i], err = re.startWorker(ctx, env, fmt.Sprintf("failover-%d", started), "FLYTE_PLATFORM_TASK_QUEUE="+failoverQueue); err != nil {
				return 0, err
			}
		}
		if err := remote.WaitForWorkers(ctx, re.c, "default", failoverQueue, []string{"text"}, time.Minute); err != nil {
			return 0, err
		}
		runSeq.mu.Lock()
		runSeq.n++
		name := fmt.Sprintf("%s-%d", sandbox.NewRunName(time.Now()), runSeq.n)
		runSeq.mu.Unlock()
		run := *in
		run.ExecutionID = remote.ExecutionID("bench", "dev", name)
		run.ExecutionDate = time.Now().UTC()
		if run.DataPrefix, _, err = remote.DataPrefixes(re.prefix, name, false); err != nil {
			return 0, err
		}
		if _, err := remote.Submit(ctx, re.c, &run); err != nil {
			return 0, err
		}
		defer func() {
			// The run would sleep for ten minutes: cancel it and wait
			// until it ended, so that the next sample starts clean.
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = remote.Cancel(cctx, re.c, "default", run.ExecutionID)
			_ = re.c.GetWorkflow(cctx, run.ExecutionID, "").Get(cctx, nil)
		}()
		startedOn := func(w *workerProc, attempt int) bool {
			for _, line := range strings.Split(w.log.String(), "\n") {
				if strings.Contains(line, "task started") && strings.Contains(line, "node=nap") &&
					strings.Contains(line, "execution_id="+run.ExecutionID) && strings.Contains(line, fmt.Sprintf("temporal_attempt=%d", attempt)) {
					return true
				}
			}
			return false
		}
		victim := -1
		for deadline := time.Now().Add(time.Minute); victim < 0; time.Sleep(10 * time.Millisecond) {
			for i, w := range workers {
				if startedOn(w, 1) {
					victim = i
				}
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("no worker started the task of %s", run.ExecutionID)
			}
		}
		// Mid-task, with heartbeats flowing, as a machine is lost.
		time.Sleep(1500 * time.Millisecond)
		other := workers[1-victim]
		if err := syscall.Kill(-workers[victim].cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return 0, err
		}
		killed := time.Now()
		<-workers[victim].done
		workers[victim] = nil
		for !startedOn(other, 2) {
			if time.Since(killed) > 2*time.Minute {
				return 0, fmt.Errorf("the task of %s did not start on the other worker within 2 minutes of the kill:\n%s", run.ExecutionID, other.log.Tail(4000))
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(killed), nil
	}, nil
}

// --- 10,000-element for_each ------------------------------------------------

// foreachSize is the remote for_each row's element count: 10,000, or
// GOFLYTE_BENCH_REMOTE_FOREACH.
func foreachSize() int {
	if n, err := strconv.Atoi(os.Getenv(foreachEnv)); err == nil && n > 0 {
		return n
	}
	return 10000
}

// foreachCase is plainFanOutCase over n items.
func foreachCase(n int) cachedCase {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("w%d", i+1)
	}
	data, _ := json.Marshal(map[string][]string{"items": items})
	c := plainFanOutCase()
	c.name, c.inputs = fmt.Sprintf("foreach%d", n), data
	return c
}

// foreachResult is the last remote for_each run's: its time and the
// event count of its largest history.
type foreachResult struct {
	took    time.Duration
	largest int
}

func (re *remoteEnv) runForeach(ctx context.Context, env *Env) (*foreachResult, error) {
	if err := re.sharedWorker(ctx, env); err != nil {
		return nil, err
	}
	c := foreachCase(foreachSize())
	var inputs map[string]any
	if err := json.Unmarshal(c.inputs, &inputs); err != nil {
		return nil, err
	}
	in, err := re.runInput(ctx, "fanout", c.workflow, inputs)
	if err != nil {
		return nil, err
	}
	d, rec, run, err := re.submit(ctx, *in, time.Hour)
	if err != nil {
		return nil, err
	}
	if len(rec.Tasks) == 0 || rec.Tasks[0].Instances != foreachSize() {
		return nil, fmt.Errorf("remote for_each: the record's tasks %v, want one of %d instances", len(rec.Tasks), foreachSize())
	}
	res := &foreachResult{took: d}
	ids := []struct{ id, run string }{{run.GetID(), run.GetRunID()}}
	for i := 0; i < len(ids); i++ {
		events := 0
		it := re.c.GetWorkflowHistory(ctx, ids[i].id, ids[i].run, false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", ids[i].id, err)
			}
			events++
			if a := ev.GetChildWorkflowExecutionCompletedEventAttributes(); a != nil {
				ids = append(ids, struct{ id, run string }{a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()})
			}
		}
		res.largest = max(res.largest, events)
	}
	re.foreach = res
	return res, nil
}

func setupRemoteForeach(ctx context.Context, env *Env) (Sampler, error) {
	re, err := env.Remote(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		res, err := re.runForeach(ctx, env)
		if err != nil {
			return 0, err
		}
		return res.took, nil
	}, nil
}

// setupForeachEvents reads the event count of the for_each row's run, or
// makes a run when that row was not measured (-run selects this one).
func setupForeachEvents(ctx context.Context, env *Env) (Sampler, error) {
	re, err := env.Remote(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		res := re.foreach
		if res == nil {
			if res, err = re.runForeach(ctx, env); err != nil {
				return 0, err
			}
		}
		return time.Duration(res.largest), nil
	}, nil
}
