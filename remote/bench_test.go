package remote_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// chainSource is a workflow of n text.upper tasks, each taking the
// previous one's output.
func chainSource(n int) string {
	var b strings.Builder
	b.WriteString("workflow \"chain\" {\n  task \"t0\" {\n    uses   = \"text.upper\"\n    inputs = { text = \"x\" }\n  }\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  task \"t%d\" {\n    uses   = \"text.upper\"\n    inputs = { text = task.t%d.text }\n  }\n", i, i-1)
	}
	fmt.Fprintf(&b, "  output \"text\" { value = task.t%d.text }\n}\n", n-1)
	return b.String()
}

// BenchmarkInterpreterChain measures one task of a 20-task chain run by
// the interpreter workflow on the test server, with in-process no-op
// activities: compare its ms/task with BenchmarkChainedActivity's
// ms/activity (a plain workflow of the same chain), the floor.
func BenchmarkInterpreterChain(b *testing.B) {
	srv := remotetest.Start(b, remotetest.Options{})
	c, err := remote.Dial(b.Context(), remote.Options{URL: srv.Addr, Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	f := newFakeTasks(loadPlugins(b))
	startWorkers(b, c, f, "text")
	const n = 20
	in := remote.RunInput{Main: "chain.hcl", Workflow: "chain", Sources: map[string]string{"chain.hcl": chainSource(n)},
		Plugins: loadPlugins(b), TaskQueue: "goflyte", Parallelism: 4, DataPrefix: "s3://bench"}
	run := func(id string) {
		in.ExecutionID = id
		ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
		defer cancel()
		wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: in.TaskQueue}, remote.WorkflowType, in)
		if err != nil {
			b.Fatal(err)
		}
		if err := wr.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	run("warm-up")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(fmt.Sprintf("chain-%d", i))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/task")
}

// chainOn is chain (smoke_test.go) with its activities on another task
// queue than the workflow's, as goflyte's plugin queues are.
func chainOn(ctx workflow.Context, queue string, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: queue, StartToCloseTimeout: 30 * time.Second})
	v := 0
	for i := 0; i < n; i++ {
		if err := workflow.ExecuteActivity(ctx, "noop", v+1).Get(ctx, &v); err != nil {
			return 0, err
		}
	}
	return v, nil
}

// BenchmarkChainedActivityOtherQueue is BenchmarkChainedActivity with
// the activities on a queue of their own: the floor for the
// interpreter, whose tasks run on their plugins' queues, where
// Temporal's eager activity dispatch (same queue only) cannot apply.
func BenchmarkChainedActivityOtherQueue(b *testing.B) {
	srv := remotetest.Start(b, remotetest.Options{})
	c, err := remote.Dial(b.Context(), remote.Options{URL: srv.Addr, Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"floor", "floor.noop"} {
		w := worker.New(c, q, worker.Options{})
		w.RegisterWorkflowWithOptions(chainOn, workflow.RegisterOptions{Name: "chainOn"})
		w.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: "noop"})
		if err := w.Start(); err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
	}
	const n = 20
	run := func(id string) {
		ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
		defer cancel()
		wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "floor"}, "chainOn", "floor.noop", n)
		if err != nil {
			b.Fatal(err)
		}
		if err := wr.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	run("warm-up")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(fmt.Sprintf("floor-%d", i))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/activity")
}

// fanoutSource is a workflow of n independent text.upper tasks and one
// text.join of their outputs: cmd/goflyte-bench's fan-out.
func fanoutSource(n int) string {
	var b strings.Builder
	b.WriteString("workflow \"fanout\" {\n")
	refs := make([]string, n)
	for i := range refs {
		fmt.Fprintf(&b, "  task \"u%d\" {\n    uses   = \"text.upper\"\n    inputs = { text = \"hello\" }\n  }\n", i)
		refs[i] = fmt.Sprintf("task.u%d.text", i)
	}
	fmt.Fprintf(&b, "  task \"joined\" {\n    uses   = \"text.join\"\n    inputs = {\n      sep   = \" \"\n      words = [%s]\n    }\n  }\n", strings.Join(refs, ", "))
	b.WriteString("  output \"text\" { value = task.joined.text }\n}\n")
	return b.String()
}

// BenchmarkInterpreterFanOutTestEnv runs a 1,000-task fan-out through
// the interpreter in Temporal's in-memory test environment, with fake
// tasks: no server, so a CPU profile of it shows the interpreter's own
// work per completion beside the test environment's (go test ./remote
// -run '^$' -bench InterpreterFanOutTestEnv -cpuprofile cpu.out).
func BenchmarkInterpreterFanOutTestEnv(b *testing.B) {
	const n = 1000
	in := remote.RunInput{ExecutionID: "proj:dev:fanout", Main: "fanout.hcl", Workflow: "fanout",
		Sources: map[string]string{"fanout.hcl": fanoutSource(n)}, Plugins: loadPlugins(b), TaskQueue: "goflyte",
		Parallelism: remote.DefaultParallelism, DataPrefix: "s3://bench/runs/fanout"}
	f := newFakeTasks(in.Plugins)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := runRemote(b, in, f, func(env *testsuite.TestWorkflowEnvironment) {
			env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: remote.WorkflowDeadlockTimeout})
		})
		if r.err != nil {
			b.Fatal(r.err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/task")
}
