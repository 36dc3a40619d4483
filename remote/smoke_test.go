package remote_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// noop is the activity: it does nothing and returns its input.
func noop(_ context.Context, i int) (int, error) { return i, nil }

// chain runs n no-op activities one after the other, each getting the
// previous one's result, and returns the last.
func chain(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	v := 0
	for i := 0; i < n; i++ {
		if err := workflow.ExecuteActivity(ctx, "noop", v+1).Get(ctx, &v); err != nil {
			return 0, err
		}
	}
	return v, nil
}

// startWorker runs a worker for chain and noop on queue until the test ends.
func startWorker(t testing.TB, c client.Client, queue string) {
	t.Helper()
	w := worker.New(c, queue, worker.Options{
		// A killed worker's workflow tasks move on after 1 s, not 5 s.
		StickyScheduleToStartTimeout: time.Second,
	})
	w.RegisterWorkflowWithOptions(chain, workflow.RegisterOptions{Name: "chain"})
	w.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: "noop"})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
}

func runChain(t testing.TB, c client.Client, queue, id string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, "chain", n)
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var got int
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow %s: %v", id, err)
	}
	if got != n {
		t.Fatalf("workflow %s returned %d, want %d", id, got, n)
	}
}

// TestWorkflowSmoke runs a plain Temporal workflow with a no-op activity
// on the test server, through a client from Dial: worker, client and
// server work together.
func TestWorkflowSmoke(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the
	// server more than it computes.
	t.Parallel()
	srv := remotetest.Shared(t)
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true, Namespace: srv.Namespace})
	startWorker(t, c, "goflyte.smoke")
	runChain(t, c, "goflyte.smoke", "local:local:smoke-1", 1)
	runChain(t, c, "goflyte.smoke", "local:local:smoke-3", 3)
}

// BenchmarkChainedActivity measures one chained no-op activity on the test
// server (a workflow of 20, per activity): the floor that goflyte's remote
// driver is compared with.
func BenchmarkChainedActivity(b *testing.B) {
	srv := remotetest.Start(b, remotetest.Options{})
	ctx := context.Background()
	c, err := remote.Dial(ctx, remote.Options{URL: srv.Addr, Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	startWorker(b, c, "goflyte.bench")
	runChain(b, c, "goflyte.bench", "warm-up", 5)
	const n = 20
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runChain(b, c, "goflyte.bench", fmt.Sprintf("bench-%d", i), n)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/activity")
}
