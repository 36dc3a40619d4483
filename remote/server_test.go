package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// These tests run the interpreter workflow on the real Temporal test
// server (remotetest; GOFLYTE_TEST_TEMPORAL=1 makes it required), with
// the fake tasks as activities of in-process workers: one for the
// workflow on the run's task queue, one per plugin on its own queue.

// startWorkers starts the workflow's worker and one worker for each of
// plugins, until the test ends.
func startWorkers(t testing.TB, c client.Client, f *fakeTasks, plugins ...string) {
	t.Helper()
	start := func(queue string, register func(worker.Worker)) {
		w := worker.New(c, queue, worker.Options{DeadlockDetectionTimeout: remote.WorkflowDeadlockTimeout})
		register(w)
		if err := w.Start(); err != nil {
			t.Fatalf("start worker on %s: %v", queue, err)
		}
		t.Cleanup(w.Stop)
	}
	start("goflyte", func(w worker.Worker) {
		remote.RegisterWorkflow(w)
		f.registerLoad(w)
	})
	for _, p := range plugins {
		start(remote.PluginQueue("goflyte", p), func(w worker.Worker) { f.registerTasks(w, p) })
	}
}

// execute runs in on the server and waits for it; it returns the
// workflow's run and error.
func execute(t *testing.T, c client.Client, in remote.RunInput) (client.WorkflowRun, *sandbox.Record, error) {
	t.Helper()
	return executeWithin(t, c, in, 2*time.Minute)
}

// executeWithin is execute with a bound other than 2 minutes.
func executeWithin(t *testing.T, c client.Client, in remote.RunInput, bound time.Duration) (client.WorkflowRun, *sandbox.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: in.ExecutionID, TaskQueue: in.TaskQueue}, remote.WorkflowType, in)
	if err != nil {
		t.Fatalf("start %s: %v", in.ExecutionID, err)
	}
	var rec *sandbox.Record
	err = run.Get(ctx, &rec)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == remote.ErrRunFailed {
		if derr := app.Details(&rec); derr != nil {
			t.Fatal(derr)
		}
	}
	return run, rec, err
}

// history returns a workflow's full history.
func history(t *testing.T, c client.Client, run client.WorkflowRun) *historypb.History {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// replayCases are the runs whose histories are committed under
// testdata/replay: between them, every feature the workflow drives.
var replayCases = []struct {
	name, main, workflow string
	files                []string
	inputs               map[string]any
	parallelism          int // 0: runInput's
	// input, when set, makes the run's input instead of the fields
	// above; its histories are the first Temporal run's and, when the
	// run continued as new, the last one's (<name>-last).
	input func(testing.TB) remote.RunInput
}{
	{"wordcount", examples + "wordcount.hcl", "wordcount", nil, map[string]any{"text": "to be or not to be"}, 0, nil},
	{"fanout", examples + "fanout.hcl", "fanout", nil, map[string]any{"texts": []string{"a b", "c d e", "f", "g h i j", "k", "l m"}}, 0, nil},
	{"classify", examples + "classify.hcl", "classify", nil, map[string]any{"text": "a b c d e f g h i j k l m n a b"}, 0, nil},
	{"classify-fail", examples + "classify.hcl", "classify", nil, map[string]any{"text": ""}, 0, nil},
	{"pipeline", examples + "pipeline.hcl", "pipeline", []string{examples + "wordcount.hcl"}, map[string]any{"texts": []string{"the cat sat", "on the mat"}}, 0, nil},
	{"resilient-retries", examples + "resilient.hcl", "resilient", nil, map[string]any{"text": "flaky"}, 0, nil},
	{"resilient-on-failure", examples + "resilient.hcl", "resilient", nil, map[string]any{"text": "always"}, 0, nil},
	{"dynamic", examples + "dynamic.hcl", "dynamic", nil, map[string]any{"texts": []string{"to be or not", "to be"}}, 0, nil},
	{"ratio", features, "ratio", nil, map[string]any{"divisors": []int{1, 0, 3, 4}}, 0, nil},
	{"batched", features, "wide", nil, map[string]any{"texts": batchTexts()}, 8, nil},
	{"continued", "", "", nil, nil, 0, func(t testing.TB) remote.RunInput {
		in := manyTasksInput(t, 30, 3)
		in.ContinueAfter = 60
		return in
	}},
	// Nested graphs held and carried across continue-as-new
	// (continue_nested.go): recorded with
	// go test ./remote -run TestRecordHistories -args -record -record-only nested-continued
	{"nested-continued", "", "", nil, nil, 0, func(t testing.TB) remote.RunInput {
		in := nestedInput(t, 30, 3, 4, false)
		in.ContinueAfter = 80
		return in
	}},
	// The graphs of for_each instances held and carried across
	// continue-as-new with the instances that ended (continue_nested.go,
	// goflyte.continue-for-each): recorded with
	// go test ./remote -run TestRecordHistories -args -record -record-only foreach-continued
	{"foreach-continued", "", "", nil, nil, 0, func(t testing.TB) remote.RunInput {
		in := fanoutInput(t, 30, 3, 4, 6, "0.5")
		in.ContinueAfter = 80
		return in
	}},
	// A batch of a wide for_each's instances (sub-workflow calls) that
	// continues as new with their graphs held (its first Temporal run is
	// batch-continued-batch): recorded with
	// go test ./remote -run TestRecordHistories -args -record -record-only batch-continued
	{"batch-continued", "", "", nil, nil, 0, func(t testing.TB) remote.RunInput {
		in := wideChainInput(t, 3)
		texts := make([]string, remote.BatchAbove+1)
		for i := range texts {
			texts[i] = "w" + strconv.Itoa(i)
		}
		lists := make([][]string, 12)
		for i := range lists {
			lists[i] = []string{"a b", "c d", "e", strconv.Itoa(i)}
		}
		data, _ := json.Marshal(texts)
		more, _ := json.Marshal(lists)
		in.Inputs = map[string]json.RawMessage{"texts": data, "lists": more}
		in.ContinueAfter, in.Parallelism = 40, 1000
		return in
	}},
	// A fan-out, a retry's backoff timer and a failure handler, with the
	// loop waiting by readiness (remote.ChangeAwaitReady version 1; the
	// histories above wait with the selector): recorded with
	// go test ./remote -run TestRecordHistories -args -record -record-only await-ready
	{"await-ready", examples + "pipeline.hcl", "pipeline", []string{examples + "wordcount.hcl"}, map[string]any{"texts": []string{"the cat sat", "on the mat", "x"}}, 0, nil},
	{"await-ready-on-failure", examples + "resilient.hcl", "resilient", nil, map[string]any{"text": "always"}, 0, nil},
}

// recordOnly limits TestRecordHistories to one case, whose histories it
// adds to the committed ones (the others stay as they were recorded).
var recordOnly = flag.String("record-only", "", "with -record: record only this replay case")

// batchTexts are the inputs of a for_each just wider than BatchAbove.
func batchTexts() []string {
	texts := make([]string, remote.BatchAbove+1)
	for i := range texts {
		texts[i] = "a b"
	}
	return texts
}

// TestRecordHistories runs replayCases on the real server and writes
// their histories to testdata/replay, for TestReplayHistories. Run it
// after a deliberate change of the workflow's behaviour (which must be
// guarded by workflow.GetVersion when histories of running workflows
// would break):
//
//	go test ./remote -run TestRecordHistories -args -record
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("regenerates testdata; run with -args -record")
	}
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, examplePlugins...)
	ids := map[string]string{}
	if *recordOnly != "" {
		data, err := os.ReadFile(filepath.Join("testdata", "replay", "ids.txt"))
		if err == nil {
			err = json.Unmarshal(data, &ids)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, rc := range replayCases {
		if *recordOnly != "" && rc.name != *recordOnly {
			continue
		}
		var in remote.RunInput
		if rc.input != nil {
			in = rc.input(t)
		} else {
			in = runInput(t, rc.main, rc.workflow, rc.inputs, rc.files...)
		}
		in.ExecutionID = "proj:dev:replay-" + rc.name
		if rc.parallelism > 0 {
			in.Parallelism = rc.parallelism
		}
		run, rec, err := execute(t, c, in)
		if rec == nil {
			t.Fatalf("%s: no record: %v", rc.name, err)
		}
		// The run's first Temporal run; and, when it continued as new,
		// its last one too.
		chain := chainHistories(t, c, run.GetID(), run.GetRunID())
		h := chain[0]
		writeHistory(t, rc.name, h)
		ids[rc.name] = run.GetID()
		if rc.input != nil {
			if len(chain) < 3 {
				t.Fatalf("%s: %d Temporal runs, want a continue-as-new from one that continued", rc.name, len(chain))
			}
			writeHistory(t, rc.name+"-last", chain[len(chain)-1])
			ids[rc.name+"-last"] = run.GetID()
		}
		// The first batch's history, to replay BatchWorkflow: the first
		// that continued as new, if one did (its first Temporal run's).
		var batch *historypb.History
		batchID := ""
		for _, ev := range h.Events {
			if a := ev.GetChildWorkflowExecutionCompletedEventAttributes(); a != nil {
				we := a.GetWorkflowExecution()
				bchain := chainHistories(t, c, we.GetWorkflowId(), we.GetRunId())
				bh, continued := bchain[0], len(bchain) > 1
				if batch == nil || continued {
					batch, batchID = bh, we.GetWorkflowId()
				}
				if continued {
					break
				}
			}
		}
		if batch != nil {
			writeHistory(t, rc.name+"-batch", batch)
			ids[rc.name+"-batch"] = batchID
		}
		t.Logf("%s: %s, %d tasks", rc.name, rec.Status, len(rec.Tasks))
	}
	// The workflow ids, which the replay needs: batches' ids derive from
	// their run's.
	data, err := json.MarshalIndent(ids, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "replay", "ids.txt"), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeHistory writes h to testdata/replay/<name>.json.
func writeHistory(t *testing.T, name string, h *historypb.History) {
	t.Helper()
	data, err := protojson.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	// protojson's spacing varies by design; json.Indent's is stable.
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	if err := os.WriteFile(filepath.Join("testdata", "replay", name+".json"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReplayHistories replays the committed histories (recorded on the
// real server by TestRecordHistories) with the current workflow code: a
// change that would break running workflows fails here.
func TestReplayHistories(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "replay", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < len(replayCases) {
		t.Fatalf("%d histories in testdata/replay, want %d; record them with: go test ./remote -run TestRecordHistories -args -record", len(paths), len(replayCases))
	}
	var ids map[string]string
	data, err := os.ReadFile(filepath.Join("testdata", "replay", "ids.txt"))
	if err == nil {
		err = json.Unmarshal(data, &ids)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := worker.NewWorkflowReplayer()
			remote.RegisterWorkflow(r)
			opts := worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: ids[name], RunID: "replay"}}
			if err := r.ReplayWorkflowHistoryWithOptions(nil, h, opts); err != nil {
				t.Fatalf("replay %s: %v", path, err)
			}
		})
	}
}

// TestReplayDetectsChange checks that the replay test can fail: a
// history whose first task activity is renamed does not replay.
func TestReplayDetectsChange(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "replay", "wordcount.json"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), `"name": "text.split"`, `"name": "text.splat"`, 1)
	if changed == string(data) {
		t.Fatal("the history has no text.split activity")
	}
	path := filepath.Join(t.TempDir(), "changed.json")
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	remote.RegisterWorkflow(r)
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, path); err == nil {
		t.Fatal("a history with another activity replayed without error")
	}
}

// TestUnservedPlugin: a task whose plugin no worker serves fails after
// RunInput.ScheduleToStart with an error that names the plugin.
func TestUnservedPlugin(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	f := newFakeTasks(loadPlugins(t))
	startWorkers(t, c, f, "text") // no worker for math
	in := runInput(t, examples+"fanout.hcl", "fanout", map[string]any{"texts": []string{"a b", "c"}})
	in.ExecutionID, in.ScheduleToStart = "proj:dev:unserved", 2*time.Second
	_, rec, err := execute(t, c, in)
	if rec == nil {
		t.Fatalf("no record: %v", err)
	}
	want := `task "total" (math.sum) failed: no worker serves plugin "math": the task waited 2s for one on task queue "goflyte.math"`
	if rec.Status != "failed" || !strings.HasPrefix(rec.Error, want) {
		t.Errorf("record: %s %q\nwant prefix %q", rec.Status, rec.Error, want)
	}
	if got := task(t, rec, "count"); got.Status != "succeeded" {
		t.Errorf("count: %+v", got)
	}

	// The bound applies until a worker has answered for the plugin (it
	// costs a server timer per task): split has it, count, after
	// split came back, does not.
	in = runInput(t, examples+"wordcount.hcl", "wordcount", map[string]any{"text": "a b"})
	in.ExecutionID, in.ScheduleToStart = "proj:dev:served", 2*time.Second
	run, _, err := execute(t, c, in)
	if err != nil {
		t.Fatal(err)
	}
	var bounds []string
	for _, ev := range history(t, c, run).Events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			bounds = append(bounds, a.GetActivityType().GetName()+" "+a.GetScheduleToStartTimeout().AsDuration().String())
		}
	}
	if want := []string{"text.split 2s", "text.count 0s"}; !slices.Equal(bounds, want) {
		t.Errorf("schedule-to-start timeouts %q, want %q", bounds, want)
	}
	// Nor when the submitter saw a worker polling the plugin's queue
	// (RunInput.Polled): not even the first task has it.
	polled := runInput(t, examples+"wordcount.hcl", "wordcount", map[string]any{"text": "a b"})
	polled.ExecutionID, polled.ScheduleToStart, polled.Polled = "proj:dev:polled", 2*time.Second, []string{"text"}
	prun, _, err := execute(t, c, polled)
	if err != nil {
		t.Fatal(err)
	}
	bounds = nil
	for _, ev := range history(t, c, prun).Events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			bounds = append(bounds, a.GetActivityType().GetName()+" "+a.GetScheduleToStartTimeout().AsDuration().String())
		}
	}
	if want := []string{"text.split 0s", "text.count 0s"}; !slices.Equal(bounds, want) {
		t.Errorf("polled: schedule-to-start timeouts %q, want %q", bounds, want)
	}

	// A finished run still answers QueryRecord (Temporal replays it).
	v, err := c.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), remote.QueryRecord)
	if err != nil {
		t.Fatal(err)
	}
	var q sandbox.Record
	if err := v.Get(&q); err != nil {
		t.Fatal(err)
	}
	if q.Status != "succeeded" || string(q.Outputs["n"]) != "2" || len(q.Tasks) != 2 || q.Tasks[1].Status != "succeeded" {
		t.Errorf("queried record: %+v", q)
	}
}
