package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// rootsWorkflow is n cached root tasks (r0 to r<n-1>, each echoing one
// item of input.items), a cached task after r0, a root task that is not
// cached, and an output that reads some of them.
func rootsWorkflow(n int) string {
	var b strings.Builder
	b.WriteString("workflow \"roots\" {\n  input \"items\" { type = list(string) }\n")
	for i := range n {
		fmt.Fprintf(&b, "  task \"r%d\" {\n    uses = \"fake.echo\"\n    inputs = { s = input.items[%d] }\n    cache = true\n    cache_version = \"1\"\n  }\n", i, i)
	}
	b.WriteString(`  task "after" {
    uses          = "fake.echo"
    inputs        = { s = "after-${task.r0.s}" }
    cache         = true
    cache_version = "1"
  }
  task "plain" {
    uses   = "fake.echo"
    inputs = { s = "plain" }
  }
`)
	fmt.Fprintf(&b, "  output \"some\" { value = [task.r0.s, task.r%d.s, task.after.s, task.plain.s] }\n}\n", n-1)
	return b.String()
}

// TestRootTasksFromTheCache runs a workflow of cached root tasks, partly
// in the cache in several patterns (all, hits first, misses first,
// interleaved, more misses in a row than the look-ahead allows), on two
// engines with the same cache contents: one looks the root tasks up
// ahead of the plan (rootAhead), the other gives each its goroutine, as
// before. Outputs, plugin calls, progress events and the records (times
// aside) must be the same, and the first engine's hits must have come
// from the look-ahead.
func TestRootTasksFromTheCache(t *testing.T) {
	const n = 80
	src := rootsWorkflow(n)
	items := func(f func(i int) string) map[string]string {
		q := make([]string, n)
		for i := range q {
			q[i] = f(i)
		}
		return map[string]string{"items": `["` + strings.Join(q, `","`) + `"]`}
	}
	old := func(i int) string { return fmt.Sprintf("old%d", i) }
	missesFirst := func(k int) func(i int) string {
		return func(i int) string {
			if i < k {
				return fmt.Sprintf("first%d-%d", k, i)
			}
			return old(i)
		}
	}
	cases := []struct {
		name string
		item func(i int) string
		hits int // of the root tasks
		// aheadHits are those the look-ahead found: after aheadMisses
		// misses in a row it stops, and the tasks look themselves up.
		aheadHits int
	}{
		{"all cached", old, n, n},
		{"hits first", func(i int) string {
			if i < 50 {
				return old(i)
			}
			return fmt.Sprintf("later%d", i)
		}, 50, 50},
		{"misses first", missesFirst(20), n - 20, n - 20},
		{"more misses first than the look-ahead takes", missesFirst(aheadMisses + 8), n - aheadMisses - 8, 0},
		{"interleaved", func(i int) string {
			if i%2 == 0 {
				return old(i)
			}
			return fmt.Sprintf("new%d", i)
		}, n / 2, n / 2},
	}
	defer func() { rootsAhead = true }()
	for _, parallelism := range []int{1, 3} {
		ahead, fa := newTestEngine(t)
		plain, fp := newTestEngine(t)
		fakes := []*fakeProvider{fa, fp}
		for _, e := range []*Engine{ahead, plain} {
			mustRun(t, e, src, items(old), RunOptions{}) // fills the cache
		}
		for _, tc := range cases {
			name := fmt.Sprintf("%s, parallelism %d", tc.name, parallelism)
			in := items(tc.item)
			var runs [2]struct {
				res    *Result
				events []string
				calls  int
				rec    *sandbox.Record
			}
			for i, e := range []*Engine{ahead, plain} {
				rootsAhead = i == 0
				f := fakes[i]
				calls := len(f.callsOf("echo"))
				hits := rootAheadHits.Load()
				r := &runs[i]
				r.res = mustRun(t, e, src, in, RunOptions{Parallelism: parallelism, Observer: func(ev Event) {
					r.events = append(r.events, fmt.Sprintf("%d %s %s %s", ev.Kind, ev.Task.Node, ev.Task.Status, ev.Task.Cache))
				}})
				if r.res.Status != StatusSucceeded {
					t.Fatalf("%s: status %s: %v", name, r.res.Status, r.res.Err)
				}
				r.calls = len(f.callsOf("echo")) - calls
				r.rec = loadRecord(t, e, r.res.ExecutionID)
				got := int(rootAheadHits.Load() - hits)
				if want := map[bool]int{true: tc.aheadHits, false: 0}[i == 0]; got != want {
					t.Errorf("%s: %d hits through the look-ahead (engine %d), want %d", name, got, i, want)
				}
			}
			a, p := runs[0], runs[1]
			if got, want := FormatValue(a.res.Outputs["some"]), FormatValue(p.res.Outputs["some"]); got != want {
				t.Errorf("%s: outputs %s with the look-ahead, %s without", name, got, want)
			}
			want := n - tc.hits + 1 // the misses and plain
			if tc.item(0) != old(0) {
				want++ // after misses too
			}
			if a.calls != want || p.calls != want {
				t.Errorf("%s: %d calls with the look-ahead, %d without, want %d", name, a.calls, p.calls, want)
			}
			if parallelism == 1 {
				if diff := cmp.Diff(p.events, a.events); diff != "" {
					t.Errorf("%s: events differ (-without +with the look-ahead):\n%s", name, diff)
				}
			}
			if diff := cmp.Diff(stripRecord(p.rec), stripRecord(a.rec)); diff != "" {
				t.Errorf("%s: records differ (-without +with the look-ahead):\n%s", name, diff)
			}
		}
	}
}

// stripRecord leaves out of a record what differs between two runs of
// the same workflow: ids, names, times (timers too), process, and the
// paths of files and the sandbox.
func stripRecord(rec *sandbox.Record) *sandbox.Record {
	cp := *rec
	cp.ID, cp.Name, cp.PID, cp.Start, cp.End = "", "", 0, time.Time{}, time.Time{}
	cp.File, cp.FileDigest, cp.ConfigDigest = "", "", ""
	cp.Tasks = append([]sandbox.TaskRecord(nil), rec.Tasks...)
	for i := range cp.Tasks {
		tr := &cp.Tasks[i]
		tr.Start, tr.End, tr.AttemptTimes = time.Time{}, time.Time{}, nil
		tr.WorkDir, tr.LogFile = "", ""
		tr.Metrics = append([]sandbox.Metric(nil), tr.Metrics...)
		for j := range tr.Metrics {
			if m := &tr.Metrics[j]; m.Kind == "timer" {
				m.Value, m.Min, m.Max = 0, 0, 0
			}
		}
	}
	return &cp
}

// TestCachedBurstReachesTheLiveRecord checks that the record lines of
// cache hits, which the scheduler writes in batches while it has hits in
// hand, are all written once it waits: a run whose cached tasks are done
// while another task still runs shows them as succeeded (runs show,
// the console) before it ends.
func TestCachedBurstReachesTheLiveRecord(t *testing.T) {
	const n = 50
	var b strings.Builder
	b.WriteString("workflow \"burst\" {\n  task \"wait\" {\n    uses = \"fake.slowctx\"\n  }\n")
	for i := range n {
		fmt.Fprintf(&b, "  task \"r%d\" {\n    uses = \"fake.echo\"\n    inputs = { s = \"s%d\" }\n    cache = true\n    cache_version = \"1\"\n  }\n", i, i)
	}
	b.WriteString("}\n")
	e, _ := newTestEngine(t)
	g, err := compileSource(t, e, b.String())
	if err != nil {
		t.Fatal(err)
	}
	fill := *g
	fill.Nodes = g.Nodes[1:] // the cached tasks only
	if res, err := e.Run(context.Background(), &fill, RunOptions{}); err != nil || res.Status != StatusSucceeded {
		t.Fatalf("filling the cache: %v, %v", err, res.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan string, 1)
	ended := make(chan *Result, 1)
	go func() {
		res, _ := e.Run(ctx, g, RunOptions{Parallelism: 2, Started: func(run string) { started <- run }})
		ended <- res
	}()
	run := <-started
	sb := sandbox.Sandbox{Root: e.Config.SDK.LocalSandbox}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := sb.LoadRecord(run)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, tr := range rec.Tasks {
			if tr.Status == sandbox.StatusSucceeded && tr.Cache == sandbox.CacheHit {
				done++
			}
		}
		if done == n {
			if rec.Status != sandbox.StatusRunning {
				t.Fatalf("run status %s, want running (wait is still running)", rec.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live record shows %d of %d cached tasks done after 30 s", done, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if res := <-ended; res == nil || res.Status != StatusCancelled {
		t.Errorf("run ended with %v, want cancelled", res)
	}
}
