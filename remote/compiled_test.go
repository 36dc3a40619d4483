package remote_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/goflyte/goflyte/remote"
)

// TestCompiledGraphsAreNotMutated: a worker shares the graph it compiled
// for a run between the workflow executions of runs with the same
// sources (remote/compiled.go). Each case runs twice through the
// interpreter (the second run on the kept graph), which must give the
// same record; then the kept graph must equal a fresh compile field by
// field, unexported ones included: nothing of a run wrote it.
func TestCompiledGraphsAreNotMutated(t *testing.T) {
	cases := []struct {
		name           string
		main, workflow string
		files          []string
		inputs         map[string]any
	}{
		{name: "tasks", main: examples + "wordcount.hcl", workflow: "wordcount", inputs: map[string]any{"text": "to be or not to be"}},
		{name: "for_each", main: examples + "fanout.hcl", workflow: "fanout", inputs: map[string]any{"texts": []string{"a b", "c d e", "f"}}},
		{name: "min_success_ratio", main: features, workflow: "ratio", inputs: map[string]any{"divisors": []int{1, 0, 3, 4}}},
		{name: "branch", main: examples + "classify.hcl", workflow: "classify", inputs: map[string]any{"text": "short and sweet"}},
		{name: "branch fail", main: examples + "classify.hcl", workflow: "classify", inputs: map[string]any{"text": ""}},
		{name: "sub-workflows", main: examples + "pipeline.hcl", workflow: "pipeline", files: []string{examples + "wordcount.hcl"},
			inputs: map[string]any{"texts": []string{"the cat sat", "on the mat", "x"}}},
		{name: "nested for_each", main: features, workflow: "nested", inputs: map[string]any{"texts": []string{"a b", "c"}}},
		{name: "retries and on_failure", main: examples + "resilient.hcl", workflow: "resilient", inputs: map[string]any{"text": "always"}},
		{name: "dynamic and eager", main: examples + "dynamic.hcl", workflow: "dynamic", inputs: map[string]any{"texts": []string{"to be or not", "to be"}}},
	}
	// All fields, unexported ones too, but functions (the HCL operators'
	// implementations), which cmp cannot compare but by nil.
	opts := cmp.Options{
		cmp.Exporter(func(reflect.Type) bool { return true }),
		cmp.FilterPath(func(p cmp.Path) bool { return p.Last().Type().Kind() == reflect.Func }, cmp.Ignore()),
	}
	var graphs []any
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote.ForgetCompiled()
			in := runInput(t, tc.main, tc.workflow, tc.inputs, tc.files...)
			first := runRemote(t, in, newFakeTasks(in.Plugins), nil)
			kept := remote.CachedGraph(in)
			if kept == nil {
				t.Fatal("the run's graph was not kept")
			}
			second := runRemote(t, in, newFakeTasks(in.Plugins), nil)
			if kept2 := remote.CachedGraph(in); kept2 != kept {
				t.Fatal("the second run compiled again")
			}
			if first.rec == nil || second.rec == nil {
				t.Fatalf("no record: %v, %v", first.err, second.err)
			}
			if a, b := strings.Join(recordLines(first.rec), "\n"), strings.Join(recordLines(second.rec), "\n"); a != b || first.rec.Status != second.rec.Status || first.rec.Error != second.rec.Error {
				t.Errorf("the run on the kept graph differs:\nfirst (%s %s):\n%s\nsecond (%s %s):\n%s", first.rec.Status, first.rec.Error, a, second.rec.Status, second.rec.Error, b)
			}
			for name, v := range first.rec.Outputs {
				if string(second.rec.Outputs[name]) != string(v) {
					t.Errorf("output %s: %s, then %s on the kept graph", name, v, second.rec.Outputs[name])
				}
			}
			if diff := cmp.Diff(remote.CompileFresh(in), kept, opts); diff != "" {
				t.Errorf("the kept graph changed in the runs (-fresh +kept):\n%s", diff)
			}
			graphs = append(graphs, kept)
		})
	}
	// The comparison sees a difference where there is one.
	if len(graphs) > 1 && cmp.Diff(graphs[0], graphs[1], opts) == "" {
		t.Error("two different workflows' graphs compare equal")
	}
}

// TestCompiledGraphCacheKey: a run with other sources, another workflow
// or other schemas compiles its own graph; an invalid run is not kept.
func TestCompiledGraphCacheKey(t *testing.T) {
	remote.ForgetCompiled()
	base := runInput(t, examples+"wordcount.hcl", "wordcount", map[string]any{"text": "a"})
	runRemote(t, base, newFakeTasks(base.Plugins), nil)
	kept := remote.CachedGraph(base)
	if kept == nil {
		t.Fatal("not kept")
	}
	// Inputs, ids and the data prefix are not part of compiling.
	same := runInput(t, examples+"wordcount.hcl", "wordcount", map[string]any{"text": "b c"})
	same.ExecutionID, same.DataPrefix = "proj:dev:other", "s3://bucket/other"
	if remote.CachedGraph(same) != kept {
		t.Error("a run of the same sources with other inputs missed")
	}
	edited := runInput(t, examples+"wordcount.hcl", "wordcount", nil)
	for p, src := range edited.Sources {
		edited.Sources[p] = src + "\n# an edit\n"
	}
	schema := runInput(t, examples+"wordcount.hcl", "wordcount", nil)
	ref := schema.Plugins["text"]
	s := *ref.Schema
	s.Version += "-other"
	ref.Schema = &s
	schema.Plugins["text"] = ref
	for name, in := range map[string]remote.RunInput{"edited source": edited, "other schema": schema} {
		if remote.CachedGraph(in) != nil {
			t.Errorf("%s: hit the kept graph", name)
		}
	}
	bad := runInput(t, examples+"wordcount.hcl", "wordcount", nil)
	bad.Workflow = "nope"
	r := runRemote(t, bad, newFakeTasks(bad.Plugins), nil)
	if r.err == nil || !strings.Contains(r.err.Error(), "Unknown workflow") {
		t.Errorf("invalid run: %v", r.err)
	}
	if remote.CachedGraph(bad) != nil {
		t.Error("an invalid run's graph was kept")
	}
}

// TestLoopWaitsAlike: the interpreter's loop waits for its futures by
// their readiness in runs started now (remote.ChangeAwaitReady, version
// 1) and with one selector in runs started before it (DefaultVersion,
// which their replays keep: TestReplayHistories); both give the same
// records, for fan-outs, retries with backoff timers, failures and the
// run's timeout.
func TestLoopWaitsAlike(t *testing.T) {
	cases := []struct {
		name           string
		main, workflow string
		inputs         map[string]any
		timeout        time.Duration
	}{
		{name: "for_each", main: examples + "fanout.hcl", workflow: "fanout", inputs: map[string]any{"texts": []string{"a b", "c d e", "f", "g h"}}},
		{name: "min_success_ratio", main: features, workflow: "ratio", inputs: map[string]any{"divisors": []int{0, 0, 3}}},
		{name: "retries and on_failure", main: examples + "resilient.hcl", workflow: "resilient", inputs: map[string]any{"text": "always"}},
		{name: "timeout", main: features, workflow: "single", inputs: map[string]any{"ms": 20000}, timeout: 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var recs [2]*remoteRun
			for i, version := range []workflow.Version{1, workflow.DefaultVersion} {
				in := runInput(t, tc.main, tc.workflow, tc.inputs)
				in.Timeout = tc.timeout
				r := runRemote(t, in, newFakeTasks(in.Plugins), func(env *testsuite.TestWorkflowEnvironment) {
					env.OnGetVersion(remote.ChangeAwaitReady, workflow.DefaultVersion, 1).Return(version)
				})
				// The workflow asked for the version of its loop.
				r.env.AssertExpectations(t)
				if r.rec == nil {
					t.Fatalf("version %d: no record: %v", version, r.err)
				}
				recs[i] = &r
			}
			a, b := recs[0].rec, recs[1].rec
			if la, lb := strings.Join(recordLines(a), "\n"), strings.Join(recordLines(b), "\n"); la != lb || a.Status != b.Status || a.Error != b.Error {
				t.Errorf("readiness (%s %q):\n%s\nselector (%s %q):\n%s", a.Status, a.Error, la, b.Status, b.Error, lb)
			}
			for name, v := range a.Outputs {
				if string(b.Outputs[name]) != string(v) {
					t.Errorf("output %s: %s by readiness, %s by the selector", name, v, b.Outputs[name])
				}
			}
		})
	}
}
