package remote_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
)

// These tests cover what only the remote driver does: worker losses,
// digests, the cache as the worker reports it, cancellation through
// Temporal, the run's timeout, invalid runs and the record query.

func TestWorkerLossExhausted(t *testing.T) {
	in := runInput(t, features, "single", map[string]any{"text": "lost"})
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	if r.rec == nil {
		t.Fatalf("no record: %v", r.err)
	}
	up := task(t, r.rec, "upper")
	want := `the task lost its worker 4 times (no heartbeat for 5s, or no answer); a task may lose its worker 3 times`
	if up.Status != "failed" || up.Error != want || up.Attempts != 1 {
		t.Errorf("upper: %+v", up)
	}
	if r.rec.Error != `task "upper" (text.upper) failed: `+want {
		t.Errorf("error: %q", r.rec.Error)
	}
	// Temporal ran the activity again after each loss, with the same
	// attempt: worker losses do not use up the task's retries.
	var attempts []int
	for _, c := range f.calls() {
		if c.Task == "upper" {
			attempts = append(attempts, c.Attempt)
		}
	}
	if !slices.Equal(attempts, []int{1, 1, 1, 1}) {
		t.Errorf("attempts the worker saw: %v", attempts)
	}
}

func TestDigestMismatchIsNotRetried(t *testing.T) {
	in := runInput(t, features, "single", nil)
	f := newFakeTasks(in.Plugins)
	f.digestMismatch["text.upper"] = true
	r := runRemote(t, in, f, nil)
	if r.rec == nil {
		t.Fatalf("no record: %v", r.err)
	}
	up := task(t, r.rec, "upper")
	if up.Status != "failed" || up.Attempts != 1 || !strings.Contains(up.Error, `plugin "text" on this worker is not the one`) || !strings.Contains(up.Error, "sha-text") {
		t.Errorf("upper: %+v", up)
	}
	if n := len(nodes(f, "text.upper")); n != 1 {
		t.Errorf("%d calls, want 1 (retries = 2 must not apply)", n)
	}
}

func TestCacheAsTheWorkerReports(t *testing.T) {
	t.Run("hit", func(t *testing.T) {
		in := runInput(t, features, "single", nil)
		in.CachePrefix, in.CacheOverwrite = "s3://bucket/cache", true
		f := newFakeTasks(in.Plugins)
		f.hits["text.upper"] = true
		r := runRemote(t, in, f, nil)
		if r.err != nil {
			t.Fatal(r.err)
		}
		up := task(t, r.rec, "upper")
		if up.Cache != sandbox.CacheHit || up.CacheKey != "key-upper" || string(up.Outputs) != `{"text":"FROM CACHE"}` || len(up.AttemptTimes) != 0 {
			t.Errorf("upper: %+v", up)
		}
		if string(r.rec.Outputs["text"]) != `"FROM CACHE"` {
			t.Errorf("outputs: %s", r.rec.Outputs["text"])
		}
		if s := task(t, r.rec, "sleep"); s.Cache != "" {
			t.Errorf("sleep is not cacheable, cache %q", s.Cache)
		}
		for _, c := range f.calls() {
			switch c.Task {
			case "upper":
				if c.Cache == nil || c.Cache.Version != "2" || c.CachePrefix != "s3://bucket/cache" || !c.CacheOverwrite {
					t.Errorf("upper's input: %+v", c)
				}
			case "sleep":
				if c.Cache != nil || c.CachePrefix != "" {
					t.Errorf("sleep's input: %+v", c)
				}
			}
		}
	})
	t.Run("cache disabled", func(t *testing.T) {
		in := runInput(t, features, "single", nil)
		f := newFakeTasks(in.Plugins)
		f.hits["text.upper"] = true // ignored: no policy is sent
		r := runRemote(t, in, f, nil)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if up := task(t, r.rec, "upper"); up.Cache != "" || string(up.Outputs) != `{"text":"HELLO"}` {
			t.Errorf("upper: %+v", up)
		}
	})
}

func TestCancelThroughTemporal(t *testing.T) {
	in := runInput(t, features, "single", map[string]any{"ms": 20000})
	f := newFakeTasks(in.Plugins)
	// The workflow must ask Temporal to cancel the sleeping activity (the
	// test environment tells the listener; it does not end the
	// activity's context). A bound on the run's wall time said so before,
	// which a loaded machine could break.
	var cancelled []string
	r := runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
		env.SetOnActivityCanceledListener(func(info *activity.Info) {
			cancelled = append(cancelled, info.ActivityType.Name)
		})
	})
	if !temporal.IsCanceledError(r.err) {
		t.Fatalf("workflow error %v, want a cancellation", r.err)
	}
	if want := remote.ActivityName("text", "sleep"); !slices.Contains(cancelled, want) {
		t.Errorf("activities cancelled: %q, want %s among them", cancelled, want)
	}
	v, err := r.env.QueryWorkflow(remote.QueryRecord)
	if err != nil {
		t.Fatal(err)
	}
	var rec sandbox.Record
	if err := v.Get(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != "cancelled" || rec.Error != "run cancelled: the run was cancelled" {
		t.Errorf("record: %s %q", rec.Status, rec.Error)
	}
	if s, u := task(t, &rec, "sleep"), task(t, &rec, "upper"); s.Status != "cancelled" || u.Status != "cancelled" {
		t.Errorf("sleep %s, upper %s", s.Status, u.Status)
	}
}

func TestRunTimeout(t *testing.T) {
	in := runInput(t, features, "single", map[string]any{"ms": 20000})
	in.Timeout = time.Second
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	var app *temporal.ApplicationError
	if !errors.As(r.err, &app) || app.Type() != remote.ErrRunFailed || r.rec == nil {
		t.Fatalf("workflow error %v, want %s with the record", r.err, remote.ErrRunFailed)
	}
	if want := "run cancelled: the run timed out after 1s (--timeout)"; r.rec.Status != "cancelled" || r.rec.Error != want {
		t.Errorf("record: %s %q, want cancelled %q", r.rec.Status, r.rec.Error, want)
	}
	if s := task(t, r.rec, "sleep"); s.Status != "cancelled" || s.Error != "context canceled" {
		t.Errorf("sleep: %+v", s)
	}
}

func TestInvalidRun(t *testing.T) {
	cases := []struct {
		name   string
		source string
		inputs map[string]any
		want   []string
	}{
		{name: "unknown task", source: "workflow \"w\" {\n  task \"a\" {\n    uses = \"text.uper\"\n  }\n}\n",
			want: []string{"Error: Unknown task", "on flows/main.hcl line 3", `Did you mean "text.upper"?`}},
		{name: "type error", source: "workflow \"w\" {\n  task \"a\" {\n    uses = \"math.sum\"\n    inputs = { values = \"x\" }\n  }\n}\n",
			want: []string{"flows/main.hcl line 4"}},
		{name: "syntax", source: "workflow \"w\" {\n  task \"a\" {\n",
			want: []string{"flows/main.hcl line"}},
		{name: "missing input", source: "workflow \"w\" {\n  input \"x\" { type = number }\n}\n",
			want: []string{`missing required input "x" (number)`}},
		{name: "wrong input", source: "workflow \"w\" {\n  input \"x\" { type = number }\n}\n", inputs: map[string]any{"x": "ten"},
			want: []string{`input "x": expected number`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := runInput(t, features, "w", tc.inputs)
			in.Main, in.Sources = "flows/main.hcl", map[string]string{"flows/main.hcl": tc.source}
			r := runRemote(t, in, newFakeTasks(in.Plugins), nil)
			var app *temporal.ApplicationError
			if !errors.As(r.err, &app) || app.Type() != remote.ErrInvalidRun || !app.NonRetryable() {
				t.Fatalf("workflow error %v, want a non-retryable %s", r.err, remote.ErrInvalidRun)
			}
			for _, w := range tc.want {
				if !strings.Contains(app.Message(), w) {
					t.Errorf("message lacks %q:\n%s", w, app.Message())
				}
			}
		})
	}
}

func TestQueryRecordWhileRunning(t *testing.T) {
	in := runInput(t, features, "single", map[string]any{"ms": 1500})
	f := newFakeTasks(in.Plugins)
	var mid sandbox.Record
	var qerr error
	r := runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(remote.QueryRecord)
			if err == nil {
				err = v.Get(&mid)
			}
			qerr = err
		}, 500*time.Millisecond)
	})
	if r.err != nil || qerr != nil {
		t.Fatal(r.err, qerr)
	}
	if mid.Status != "running" || mid.ID != "proj:dev:single" || mid.Name != "single" || mid.Workflow != "single" || mid.File != features {
		t.Errorf("record while running: %+v", mid)
	}
	if s, u := task(t, &mid, "sleep"), task(t, &mid, "upper"); s.Status != "running" || u.Status != "pending" {
		t.Errorf("sleep %s, upper %s", s.Status, u.Status)
	}
	if r.rec.Status != "succeeded" || r.rec.TaskCounts["succeeded"] != 2 || r.rec.End.Before(r.rec.Start) {
		t.Errorf("final record: %+v", r.rec)
	}
}

// TestManyInstances runs a for_each of more instances than MaxInFlight:
// the rest wait in the workflow and run as slots free up.
func TestManyInstances(t *testing.T) {
	texts := make([]string, remote.MaxInFlight+150)
	for i := range texts {
		texts[i] = "a b"
	}
	in := runInput(t, features, "wide", map[string]any{"texts": texts})
	in.Parallelism = 5000
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	// How many were in flight at once is checked on the real server,
	// in the history (TestInFlightBound).
	if got := string(r.rec.Outputs["total"]); got != "2300" {
		t.Errorf("total = %s", got)
	}
}

func TestResumeKeepsOutputs(t *testing.T) {
	in := runInput(t, examples+"wordcount.hcl", "wordcount", map[string]any{"text": "to be or not to be"})
	in.Resume = map[string]json.RawMessage{
		"split": json.RawMessage(`{"words":["kept","words","only"]}`),
		"count": json.RawMessage(`{"n":"not a number"}`), // does not decode: runs again
	}
	in.ResumedFrom = "proj:dev:earlier"
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := string(r.rec.Outputs["n"]); got != "3" {
		t.Errorf("n = %s, want 3 (from the kept words)", got)
	}
	if s := task(t, r.rec, "split"); !s.Resumed || s.Status != "succeeded" {
		t.Errorf("split: %+v", s)
	}
	if got := nodes(f, "text.split"); len(got) != 0 {
		t.Errorf("split ran again: %v", got)
	}
	if r.rec.ResumedFrom != "proj:dev:earlier" {
		t.Errorf("resumed from %q", r.rec.ResumedFrom)
	}

	// A node whose upstream runs again runs again too.
	in.Resume = map[string]json.RawMessage{"count": json.RawMessage(`{"n":99,"unique":1}`)}
	f = newFakeTasks(in.Plugins)
	r = runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := string(r.rec.Outputs["n"]); got != "6" || task(t, r.rec, "count").Resumed {
		t.Errorf("n = %s; count was kept without its upstream", got)
	}
}

// TestSecretsTravelAsNames: a task's secrets reach the worker as names
// (the worker resolves them through its own chain); the workflow never
// holds a value.
func TestSecretsTravelAsNames(t *testing.T) {
	in := runInput(t, examples+"signed.hcl", "signed", map[string]any{"message": "hello"})
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if string(r.rec.Outputs["valid"]) != "true" {
		t.Errorf("outputs: %s", js(r.rec.Outputs))
	}
	calls := f.calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	for _, c := range calls {
		const want = "signing/key" // both tasks declare it in their schema
		var got []string
		for _, s := range c.Secrets {
			got = append(got, s.String())
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: secrets %q, want %q", c.Node, got, want)
		}
	}
}

// TestHistoryGuard: a run whose history nears Temporal's limit stops
// starting tasks and fails with a record, instead of being terminated.
func TestHistoryGuard(t *testing.T) {
	in := runInput(t, features, "single", map[string]any{"ms": 1000})
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(remote.HistoryGuard + 1) }, 200*time.Millisecond)
	})
	var app *temporal.ApplicationError
	if !errors.As(r.err, &app) || app.Type() != remote.ErrRunFailed || r.rec == nil {
		t.Fatalf("workflow error %v, want %s with the record", r.err, remote.ErrRunFailed)
	}
	if r.rec.Status != "failed" || !strings.HasPrefix(r.rec.Error, "run stopped: the run's history holds 45001 events, near Temporal's limit") {
		t.Errorf("record: %s %q", r.rec.Status, r.rec.Error)
	}
	if u := task(t, r.rec, "upper"); u.Status == "succeeded" || len(nodes(f, "text.upper")) != 0 {
		t.Errorf("upper ran after the guard: %+v", u)
	}
}

// TestTaskRun: a RunInput with Task is a single task's run (`run --remote
// --task`): the graph engine.TaskGraph builds locally, from the schema
// the run carries.
func TestTaskRun(t *testing.T) {
	in := runInput(t, features, "single", nil)
	in.Main, in.Workflow, in.Sources = "", "text.upper", nil
	in.Task = "text.upper"
	in.Inputs = map[string]json.RawMessage{"text": json.RawMessage(`"to be"`)}
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rec.Workflow != "text.upper" || r.rec.File != "" || r.rec.Mode != "LOCAL_TASK_EXECUTION" || string(r.rec.Outputs["text"]) != `"TO BE"` {
		t.Errorf("record: workflow %q file %q mode %q outputs %s", r.rec.Workflow, r.rec.File, r.rec.Mode, js(r.rec.Outputs))
	}
	if up := task(t, r.rec, "upper"); up.Status != "succeeded" || up.Task != "text.upper" {
		t.Errorf("upper: %+v", up)
	}

	for _, bad := range []string{"text.nope", "nope.upper", "text"} {
		in.Task = bad
		r := runRemote(t, in, newFakeTasks(in.Plugins), nil)
		var app *temporal.ApplicationError
		if !errors.As(r.err, &app) || app.Type() != remote.ErrInvalidRun {
			t.Errorf("task %q: %v, want an invalid run", bad, r.err)
		}
	}
}

// TestDynamicPluginsFromTheRun: a dynamic task's worker that lacks a
// plugin its workflow uses reports no schema for it; the run's own
// plugins (with a dynamic task, every plugin the submitter had) fill it
// in, so the workflow compiles and its tasks go to that plugin's queue.
func TestDynamicPluginsFromTheRun(t *testing.T) {
	in := runInput(t, examples+"dynamic.hcl", "dynamic", map[string]any{"texts": []string{"to be or not", "to be"}})
	f := newFakeTasks(in.Plugins)
	f.plugins = map[string]remote.PluginRef{} // the dynamic task's worker has none of its workflow's plugins
	r := runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := string(r.rec.Outputs["counts"]); got != "[4,2]" {
		t.Errorf("counts %s, want [4,2]", got)
	}
	for _, c := range f.calls() {
		if c.Plugin == "text" && c.PluginSHA256 != in.Plugins["text"].SHA256 {
			t.Errorf("%s: digest %q, want the run's %q", c.Node, c.PluginSHA256, in.Plugins["text"].SHA256)
		}
	}
}

// TestRecordBounded runs a wide for_each (in batches):
// the record keeps the latest MaxNestedRecords ended instances and
// counts the others, so that QueryRecord's answer and the workflow's
// result stay far below Temporal's payload limit (about 2 MB).
func TestRecordBounded(t *testing.T) {
	n := 2_000 // past the bound; -args -large: the 10,000 the README's size is measured on
	if *large {
		n = 10_000
	}
	texts := make([]string, n)
	for i := range texts {
		texts[i] = "a b"
	}
	in := runInput(t, features, "wide", map[string]any{"texts": texts})
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	v, err := r.env.QueryWorkflow(remote.QueryRecord)
	if err != nil {
		t.Fatal(err)
	}
	var queried sandbox.Record
	if err := v.Get(&queried); err != nil {
		t.Fatal(err)
	}
	for what, rec := range map[string]*sandbox.Record{"result": r.rec, "query": &queried} {
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1<<20 {
			t.Errorf("the %s holds %d bytes of JSON, want under 1 MiB", what, len(data))
		}
		t.Logf("the %s: %d bytes of JSON", what, len(data))
		c := task(t, rec, "count")
		if n := len(c.Nested); n < remote.MaxNestedRecords || n > remote.MaxNestedRecords*5/4 {
			t.Errorf("the %s keeps %d instances' records, want %d to %d", what, n, remote.MaxNestedRecords, remote.MaxNestedRecords*5/4)
		}
		if c.NestedOmitted+len(c.Nested) != len(texts) {
			t.Errorf("the %s keeps %d records and omits %d, want %d in all", what, len(c.Nested), c.NestedOmitted, len(texts))
		}
		// The latest ones: the last batch's instances are among them.
		last := c.Nested[len(c.Nested)-1]
		if last.Status != "succeeded" || len(last.LogURIs) != 1 || !strings.HasPrefix(last.Name, fmt.Sprintf("count@%d", n/100-1)) {
			t.Errorf("the %s's latest instance record: %+v", what, last)
		}
	}
}
