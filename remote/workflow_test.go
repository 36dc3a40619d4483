package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
)

const (
	examples = "examples/workflows/"
	features = "remote/testdata/workflows/features.hcl"
)

// runInput makes the input of a run of workflow from main, with files
// (paths from the repository's root) as its sources.
func runInput(t testing.TB, main, workflow string, inputs map[string]any, files ...string) remote.RunInput {
	t.Helper()
	in := remote.RunInput{
		ExecutionID:   "proj:dev:" + workflow,
		ExecutionDate: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC),
		Main:          main,
		Workflow:      workflow,
		Sources:       map[string]string{},
		Inputs:        map[string]json.RawMessage{},
		Plugins:       loadPlugins(t),
		TaskQueue:     "goflyte",
		DataPrefix:    "s3://bucket/runs/" + workflow,
		Parallelism:   4,
	}
	for _, path := range append([]string{main}, files...) {
		data, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Fatal(err)
		}
		in.Sources[path] = string(data)
	}
	for name, v := range inputs {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		in.Inputs[name] = data
	}
	return in
}

// remoteRun is the outcome of a run in Temporal's test environment.
type remoteRun struct {
	rec *sandbox.Record
	err error // the workflow's error
	env *testsuite.TestWorkflowEnvironment
}

// runRemote runs in through RunWorkflow in Temporal's in-memory test
// environment, with f's tasks as activities. setup, if set, may adjust
// the environment before the run.
func runRemote(t testing.TB, in remote.RunInput, f *fakeTasks, setup func(*testsuite.TestWorkflowEnvironment)) remoteRun {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	// The workers' deadlock timeout, not the SDK's 1 s: compiling a big
	// workflow takes longer than that on a loaded CI machine.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: remote.WorkflowDeadlockTimeout})
	remote.RegisterWorkflow(env)
	f.register(env)
	f.boundResults(env)
	if setup != nil {
		setup(env)
	}
	env.ExecuteWorkflow(remote.WorkflowType, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	r := remoteRun{env: env, err: env.GetWorkflowError()}
	if r.err == nil {
		if err := env.GetWorkflowResult(&r.rec); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var app *temporal.ApplicationError
	if errors.As(r.err, &app) && app.Type() == remote.ErrRunFailed {
		if err := app.Details(&r.rec); err != nil {
			t.Fatalf("details of %v: %v", r.err, err)
		}
	}
	return r
}

// runLocal runs in with the local engine, f's tasks as in-process
// plugins: the reference the remote driver must match.
func runLocal(t testing.TB, in remote.RunInput, f *fakeTasks) *engine.Result {
	t.Helper()
	return runLocalObserved(t, in, f, nil)
}

// runLocalObserved is runLocal with an observer of the run's events.
func runLocalObserved(t testing.TB, in remote.RunInput, f *fakeTasks, observe func(engine.Event)) *engine.Result {
	t.Helper()
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{t.TempDir()}
	cfg.Local.CacheEnabled = false
	e := engine.New(cfg, nil)
	defer e.Close()
	for _, name := range examplePlugins {
		e.Plugins.Register(name, provider{f: f, name: name})
	}
	p := config.NewParser()
	var files []*config.WorkflowFile
	for _, path := range append([]string{in.Main}, sortedKeys(in.Sources)...) {
		wf, diags := p.LoadWorkflowSource([]byte(in.Sources[path]), path)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		files = append(files, wf)
	}
	var lookup engine.WorkflowLookup
	for i := len(files) - 1; i >= 0; i-- {
		lookup = engine.FileLookup(files[i], lookup)
	}
	e.Workflows = lookup
	ctx := context.Background()
	g, diags := e.Compile(ctx, lookup(in.Workflow))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inputs, err := g.ParseInputs(nil, in.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(ctx, g, engine.RunOptions{Inputs: inputs, Parallelism: in.Parallelism, Now: in.ExecutionDate, Observer: observe})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sortedKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sameAsLocal checks that a remote run's record says what the local
// run's result does: status, error, outputs, and each task's status,
// attempts, error, instances and failed instances.
func sameAsLocal(t *testing.T, rec *sandbox.Record, res *engine.Result) {
	t.Helper()
	if rec.Status != string(res.Status) {
		t.Errorf("status: remote %s, local %s (%v)", rec.Status, res.Status, res.Err)
	}
	localErr := ""
	if res.Err != nil {
		localErr = res.Err.Error()
	}
	if rec.Error != localErr {
		t.Errorf("error:\nremote %q\nlocal  %q", rec.Error, localErr)
	}
	local := map[string]json.RawMessage{}
	for name, v := range res.Outputs {
		data, err := engine.ToJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		local[name] = data
	}
	if len(local) == 0 {
		local = nil
	}
	outs := rec.Outputs
	if len(rec.OutputRefs) > 0 {
		// Outputs held by reference: fake references, inline.
		r, err := remote.LoadWholeRecord(context.Background(), &sandbox.Record{Outputs: rec.Outputs, OutputRefs: rec.OutputRefs},
			func(_ context.Context, uri string) ([]byte, error) {
				data, ok := strings.CutPrefix(uri, "inline:")
				if !ok {
					return nil, fmt.Errorf("not a fake inline reference: %s", uri)
				}
				return []byte(data), nil
			})
		if err != nil {
			t.Fatal(err)
		}
		outs = r.Outputs
	}
	if !reflect.DeepEqual(outs, local) {
		t.Errorf("outputs:\nremote %s\nlocal  %s", js(outs), js(local))
	}
	if len(rec.Tasks) != len(res.Tasks) {
		t.Fatalf("%d tasks remotely, %d locally", len(rec.Tasks), len(res.Tasks))
	}
	for i, lt := range res.Tasks {
		rt := rec.Tasks[i]
		lerr := ""
		if lt.Err != nil {
			var te *engine.TaskError
			if errors.As(lt.Err, &te) {
				lerr = te.Err.Error()
			} else {
				lerr = lt.Err.Error()
			}
		}
		type view struct {
			Name, Task, Status, Error string
			Attempts, Instances       int
			FailedInstances, Children []string
			AttemptErrors             []string
		}
		r := view{rt.Name, rt.Task, rt.Status, rt.Error, rt.Attempts, rt.Instances, rt.FailedInstances, rt.Children, rt.AttemptErrors}
		l := view{lt.Node, lt.TaskID, string(lt.Status), lerr, lt.Attempts, lt.Instances, lt.FailedInstances, lt.Children, lt.AttemptErrors}
		if !reflect.DeepEqual(r, l) {
			t.Errorf("task %d:\nremote %+v\nlocal  %+v", i, r, l)
		}
		if lt.Status == engine.StatusSucceeded && len(lt.OutputsJSON) > 0 && !jsonEqual(taskOutputs(rt), lt.OutputsJSON) {
			t.Errorf("task %s outputs: remote %s, local %s", lt.Node, taskOutputs(rt), lt.OutputsJSON)
		}
	}
}

// taskOutputs are a task's outputs in its record: Outputs, or those its
// fake reference OutputsRef ("inline:<json>") holds.
func taskOutputs(t sandbox.TaskRecord) json.RawMessage {
	if data, ok := strings.CutPrefix(t.OutputsRef, "inline:"); ok {
		return json.RawMessage(data)
	}
	return t.Outputs
}

func js(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func task(t *testing.T, rec *sandbox.Record, name string) sandbox.TaskRecord {
	t.Helper()
	for _, tr := range rec.Tasks {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("no task %q in the record", name)
	return sandbox.TaskRecord{}
}

// nodes lists the Params.Node of the remote calls of task id, in order.
func nodes(f *fakeTasks, id string) []string {
	var out []string
	for _, in := range f.calls() {
		if in.Plugin+"."+in.Task == id {
			out = append(out, in.Node)
		}
	}
	slices.Sort(out)
	return out
}

// TestRunWorkflowLikeLocal runs the example workflows and the feature
// fixtures through the interpreter workflow in Temporal's test
// environment and through the local engine, with the same fake tasks,
// and checks that both say the same, then what is particular to each.
func TestRunWorkflowLikeLocal(t *testing.T) {
	cases := []struct {
		name           string
		main, workflow string
		files          []string
		inputs         map[string]any
		check          func(t *testing.T, rec *sandbox.Record, f *fakeTasks)
	}{
		{name: "tasks", main: examples + "wordcount.hcl", workflow: "wordcount", inputs: map[string]any{"text": "to be or not to be"},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["n"]); got != "6" {
					t.Errorf("n = %s, want 6", got)
				}
				calls := f.calls()
				if len(calls) != 2 || calls[0].Node != "split" || calls[1].Node != "count" {
					t.Fatalf("calls: %+v", calls)
				}
				c := calls[0]
				if c.PluginSHA256 != "sha-text" || c.Attempt != 1 || c.ExecutionID != "proj:dev:wordcount" || c.DataPrefix != "s3://bucket/runs/wordcount" ||
					string(c.Inputs) != `{"text":"to be or not to be"}` || c.Digests != nil || c.Mode.String() != "LOCAL_WORKFLOW_EXECUTION" {
					t.Errorf("task input: %+v", c)
				}
				if tr := task(t, rec, "count"); tr.WorkDir != "/work/count/1" || len(tr.AttemptTimes) != 1 || tr.InputsDigest == "" || tr.LogFile != "mem://logs/count.1.log" {
					t.Errorf("count record: %+v", tr)
				}
			}},
		{name: "for_each", main: examples + "fanout.hcl", workflow: "fanout",
			inputs: map[string]any{"texts": []string{"a b", "c d e", "f", "g h i j", "k", "l m", "n o p"}},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["total"]); got != "16" {
					t.Errorf("total = %s, want 16", got)
				}
				if tr := task(t, rec, "count"); tr.Instances != 7 {
					t.Errorf("instances = %d", tr.Instances)
				}
				if got := nodes(f, "text.count"); len(got) != 7 || got[0] != "count@0" {
					t.Errorf("instance nodes: %v", got)
				}
				// Each instance's record, with its log, for runs logs.
				if tr := task(t, rec, "count"); len(tr.Nested) != 7 || tr.Nested[3].Name != "count@3" || tr.Nested[3].Status != "succeeded" ||
					!slices.Equal(tr.Nested[3].LogURIs, []string{"mem://logs/count@3.1.log"}) || tr.Nested[3].Task != "text.count" {
					t.Errorf("instances' records: %+v", tr.Nested)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if m := f.maxIn["text.count"]; m > 4 {
					t.Errorf("%d instances ran at once; max_parallel is 4", m)
				}
			}},
		{name: "min_success_ratio met", main: features, workflow: "ratio", inputs: map[string]any{"divisors": []int{1, 0, 3, 4}},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if rec.Status != "succeeded" || string(rec.Outputs["quotients"]) != "[12,null,4,3]" {
					t.Errorf("%s %s", rec.Status, rec.Outputs["quotients"])
				}
				if tr := task(t, rec, "div"); !slices.Equal(tr.FailedInstances, []string{"1: division by zero"}) {
					t.Errorf("failed instances: %q", tr.FailedInstances)
				}
			}},
		{name: "min_success_ratio missed", main: features, workflow: "ratio", inputs: map[string]any{"divisors": []int{0, 0, 3}},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if rec.Status != "failed" || !strings.Contains(rec.Error, "2 of 3 instances failed (min_success_ratio 0.5)") {
					t.Errorf("%s %q", rec.Status, rec.Error)
				}
			}},
		{name: "branch", main: examples + "classify.hcl", workflow: "classify", inputs: map[string]any{"text": "short and sweet"},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["summary"]); got != `"SHORT AND SWEET"` {
					t.Errorf("summary = %s", got)
				}
				if tr := task(t, rec, "top"); tr.Status != "skipped" {
					t.Errorf("top: %s", tr.Status)
				}
			}},
		{name: "branch other arm", main: examples + "classify.hcl", workflow: "classify",
			inputs: map[string]any{"text": "a b c d e f g h i j k l m n a b"},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["summary"]); got != `"top words: a, b, c"` {
					t.Errorf("summary = %s", got)
				}
			}},
		{name: "branch fail", main: examples + "classify.hcl", workflow: "classify", inputs: map[string]any{"text": ""},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if rec.Status != "failed" || !strings.Contains(rec.Error, "the text is empty") {
					t.Errorf("%s %q", rec.Status, rec.Error)
				}
			}},
		{name: "sub-workflows", main: examples + "pipeline.hcl", workflow: "pipeline", files: []string{examples + "wordcount.hcl"},
			inputs: map[string]any{"texts": []string{"the cat sat", "on the mat", "x"}},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["total"]); got != "7" {
					t.Errorf("total = %s", got)
				}
				if got := nodes(f, "text.split"); !slices.Equal(got, []string{"each@0+split", "each@1+split", "each@2+split"}) {
					t.Errorf("nodes: %v", got)
				}
				var names []string
				for _, nt := range task(t, rec, "each").Nested {
					names = append(names, nt.Name)
					if nt.Status != "succeeded" || len(nt.Outputs) > 0 || nt.WorkDir != "" {
						t.Errorf("nested record %+v: want a light record of a call that succeeded", nt)
					}
				}
				slices.Sort(names)
				if want := []string{"each@0", "each@0+count", "each@0+split", "each@1", "each@1+count", "each@1+split", "each@2", "each@2+count", "each@2+split"}; !slices.Equal(names, want) {
					t.Errorf("nested records %v, want %v", names, want)
				}
			}},
		{name: "sub-workflow in the same file", main: features, workflow: "nested", inputs: map[string]any{"texts": []string{"a b", "c"}},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["joined"]); got != `"a,b,c"` {
					t.Errorf("joined = %s", got)
				}
			}},
		{name: "retries with backoff", main: examples + "resilient.hcl", workflow: "resilient", inputs: map[string]any{"text": "flaky"},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				tr := task(t, rec, "shout")
				if tr.Status != "succeeded" || tr.Attempts != 3 || len(tr.AttemptErrors) != 2 || len(tr.AttemptTimes) != 3 {
					t.Errorf("shout: %+v", tr)
				}
				// The waits are workflow timers: 200ms, then 400ms.
				if d := rec.End.Sub(rec.Start); d < 600*time.Millisecond {
					t.Errorf("the run took %s of workflow time; the backoff alone is 600ms", d)
				}
				calls := f.calls()
				if len(calls) != 3 || calls[1].Attempt != 2 || calls[2].PrevCheckpoint != "mem://cp/shout/2" || calls[0].PrevCheckpoint != "" {
					t.Errorf("attempts: %+v", calls)
				}
				if task(t, rec, "on_failure").Status != "skipped" {
					t.Errorf("on_failure ran")
				}
				if want := []string{"mem://logs/shout.1.log", "mem://logs/shout.2.log", "mem://logs/shout.3.log"}; !slices.Equal(tr.LogURIs, want) {
					t.Errorf("log URIs: %v, want every attempt's %v", tr.LogURIs, want)
				}
			}},
		{name: "retries exhausted and on_failure", main: examples + "resilient.hcl", workflow: "resilient", inputs: map[string]any{"text": "always"},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if tr := task(t, rec, "shout"); tr.Attempts != 4 || tr.Error != "upper: always failure on attempt 4" {
					t.Errorf("shout: %+v", tr)
				}
				if want := `task "shout" (text.upper) failed: upper: always failure on attempt 4`; rec.Error != want {
					t.Errorf("error %q, want %q", rec.Error, want)
				}
				h := task(t, rec, "on_failure")
				if h.Status != "succeeded" {
					t.Errorf("on_failure: %+v", h)
				}
				if got := nodes(f, "text.join"); !slices.Equal(got, []string{"on_failure+log"}) {
					t.Errorf("handler calls: %v", got)
				}
			}},
		{name: "non-retryable failure", main: features, workflow: "fails", inputs: map[string]any{"message": "no way"},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if want := `task "boom" (text.fail) failed: no way`; rec.Error != want {
					t.Errorf("error %q, want %q", rec.Error, want)
				}
				if tr := task(t, rec, "boom"); tr.Attempts != 1 {
					t.Errorf("boom: %+v", tr)
				}
				if tr := task(t, rec, "after"); tr.Status != "skipped" {
					t.Errorf("after: %+v", tr)
				}
			}},
		{name: "dynamic and eager", main: examples + "dynamic.hcl", workflow: "dynamic", inputs: map[string]any{"texts": []string{"to be or not", "to be"}},
			check: func(t *testing.T, rec *sandbox.Record, f *fakeTasks) {
				if got := string(rec.Outputs["counts"]); got != "[4,2]" {
					t.Errorf("counts = %s", got)
				}
				if got := nodes(f, "text.split"); !slices.Equal(got, []string{"counts+split0", "counts+split1"}) {
					t.Errorf("dynamic nodes: %v", got)
				}
				for _, c := range f.calls() {
					if c.Node == "counts+split0" && c.Mode.String() != "LOCAL_DYNAMIC_TASK_EXECUTION" {
						t.Errorf("mode %s", c.Mode)
					}
				}
				if n := task(t, rec, "counts").Nested; len(n) != 4 || !slices.Equal(n[0].LogURIs, []string{"mem://logs/counts+split0.1.log"}) {
					t.Errorf("the dynamic workflow's records: %+v", n)
				}
				if n := task(t, rec, "shouts").Nested; len(n) != 2 || n[1].Name != "shouts+2+upper" || !slices.Equal(n[1].LogURIs, []string{"mem://logs/shouts+2.log"}) {
					t.Errorf("the eager task's children's records: %+v", n)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := runInput(t, tc.main, tc.workflow, tc.inputs, tc.files...)
			lf := newFakeTasks(in.Plugins)
			var mu sync.Mutex
			var events []string
			res := runLocalObserved(t, in, lf, func(ev engine.Event) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, eventLine(ev))
			})
			f := newFakeTasks(in.Plugins)
			r := runRemote(t, in, f, nil)
			if r.rec == nil {
				t.Fatalf("no record: %v", r.err)
			}
			if (r.err == nil) != (res.Status == engine.StatusSucceeded) {
				t.Errorf("workflow error %v, local status %s", r.err, res.Status)
			}
			sameAsLocal(t, r.rec, res)
			// What a local run shows as progress lines, the remote
			// record has: its own tasks and the nested ones.
			slices.Sort(events)
			if l, r := strings.Join(events, "\n"), strings.Join(recordLines(r.rec), "\n"); l != r {
				t.Errorf("events differ\nlocal:\n%s\nremote record:\n%s", l, r)
			}
			tc.check(t, r.rec, f)
		})
	}
}

// eventLine is a local run's event as "<kind> <node> (<task>)", the part
// of its progress line that does not depend on time.
func eventLine(ev engine.Event) string {
	kind := "started"
	if ev.Kind != engine.EventStarted {
		kind = string(ev.Task.Status)
	}
	return kind + " " + ev.Task.Node + " (" + ev.Task.TaskID + ")"
}

// recordLines are the events a remote run's record stands for, sorted:
// for each task and each nested call that is not a for_each instance
// and ran, its start and its end.
func recordLines(rec *sandbox.Record) []string {
	var out []string
	add := func(t sandbox.TaskRecord) {
		last := t.Name[strings.LastIndexByte(t.Name, '+')+1:]
		if strings.Contains(last, "@") || t.Status == "pending" || t.Status == "skipped" {
			return
		}
		out = append(out, "started "+t.Name+" ("+t.Task+")")
		if t.Status != "running" {
			out = append(out, t.Status+" "+t.Name+" ("+t.Task+")")
		}
	}
	for _, t := range rec.Tasks {
		add(t)
		for _, nt := range t.Nested {
			add(nt)
		}
	}
	slices.Sort(out)
	return out
}
