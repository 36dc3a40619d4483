package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// TestRecordProgress turns record snapshots into the events of a local
// run: each task starts once and ends once, even when a snapshot skips
// its running state; skipped tasks give no event.
func TestRecordProgress(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	snap := func(statuses ...string) *sandbox.Record {
		rec := &sandbox.Record{ID: "p:d:r1", Workflow: "wf"}
		for i, st := range statuses {
			tr := sandbox.TaskRecord{Name: string(rune('a' + i)), Task: "text.split", Status: st}
			if st != sandbox.StatusPending {
				tr.Start = t0
			}
			if ended(st) {
				tr.End = t0.Add(time.Second)
			}
			rec.Tasks = append(rec.Tasks, tr)
		}
		return rec
	}
	var got []string
	p := &recordProgress{observe: func(ev engine.Event) {
		kind := map[engine.EventKind]string{engine.EventStarted: "started", engine.EventSucceeded: "succeeded", engine.EventFailed: "failed"}[ev.Kind]
		got = append(got, kind+" "+ev.Task.Node+" "+string(ev.Task.Status)+" "+strings.Repeat("#", ev.Done))
	}}
	for _, rec := range []*sandbox.Record{
		snap("pending", "pending", "pending"),
		snap("succeeded", "pending", "pending"), // a ran between two snapshots
		snap("succeeded", "running", "pending"),
		snap("succeeded", "running", "pending"), // no change, no event
		snap("succeeded", "failed", "skipped"),
	} {
		p.update(rec)
	}
	want := []string{
		"started a succeeded #",
		"succeeded a succeeded #",
		"started b running #",
		"failed b failed ###",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestRecordProgressNested gives the calls nested below a task the
// lines a local run prints for them, between the task's start and end,
// each once, and none for for_each instances.
func TestRecordProgressNested(t *testing.T) {
	nested := func(name, status string) sandbox.TaskRecord {
		return sandbox.TaskRecord{Name: name, Task: "text.split", Status: status}
	}
	snaps := []*sandbox.Record{
		{Tasks: []sandbox.TaskRecord{{Name: "each", Task: "workflow.wc", Status: "running", Nested: []sandbox.TaskRecord{
			nested("each@0", "running"), nested("each@0+split", "running")}}}},
		{Tasks: []sandbox.TaskRecord{{Name: "each", Task: "workflow.wc", Status: "running", Nested: []sandbox.TaskRecord{
			nested("each@0", "running"), nested("each@0+split", "succeeded"), nested("each@0+count", "running"), nested("each@0+skip", "skipped")}}}},
		// The end and an eager task's children, all in one snapshot;
		// records that ended long ago may be gone from it.
		{Tasks: []sandbox.TaskRecord{
			{Name: "each", Task: "workflow.wc", Status: "succeeded", Nested: []sandbox.TaskRecord{nested("each@0+count", "failed")}},
			{Name: "shouts", Task: "text.shout_all", Status: "succeeded", Nested: []sandbox.TaskRecord{nested("shouts+1+upper", "succeeded")}},
		}},
	}
	var got []string
	p := &recordProgress{observe: func(ev engine.Event) {
		kind := map[engine.EventKind]string{engine.EventStarted: "started", engine.EventSucceeded: "succeeded", engine.EventFailed: "failed"}[ev.Kind]
		got = append(got, kind+" "+ev.Task.Node)
	}}
	for _, rec := range snaps {
		p.update(rec)
	}
	want := []string{
		"started each", "started each@0+split",
		"succeeded each@0+split", "started each@0+count",
		"failed each@0+count", "succeeded each",
		"started shouts", "started shouts+1+upper", "succeeded shouts+1+upper", "succeeded shouts",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestRecordResult renders a remote record as a local result: typed
// outputs, task errors, the run's error.
func TestRecordResult(t *testing.T) {
	g := &engine.Graph{Name: "wf", Outputs: []*engine.Output{{Name: "n", Type: cty.Number}, {Name: "words", Type: cty.List(cty.String)}}}
	rec := &sandbox.Record{ID: "p:d:r1", Name: "r1", Workflow: "wf", Status: "succeeded",
		Outputs: map[string]json.RawMessage{"n": json.RawMessage("3"), "words": json.RawMessage(`["a","b"]`)},
		Tasks:   []sandbox.TaskRecord{{Name: "a", Task: "text.split", Status: "succeeded", Cache: "hit"}}}
	res := recordResult(rec, g, "s3://b/p/r1")
	out := resultJSON(res)
	var buf bytes.Buffer
	if err := writeJSON(&buf, out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"n": 3`, `"a",`, `"run_dir": "s3://b/p/r1"`, `"cache": "hit"`, `"status": "succeeded"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("--json has no %s:\n%s", want, buf.String())
		}
	}
	rec = &sandbox.Record{ID: "p:d:r2", Workflow: "wf", Status: "failed", Error: `task "a" (text.split) failed: boom`,
		Tasks: []sandbox.TaskRecord{{Name: "a", Task: "text.split", Status: "failed", Error: "boom"}}}
	res = recordResult(rec, g, "")
	if res.Status != engine.StatusFailed || res.Err == nil || res.Err.Error() != rec.Error || res.Tasks[0].Err == nil || res.Outputs != nil {
		t.Errorf("a failed run: %+v", res)
	}
	// Terminated by hand: a failure, with a reason.
	res = recordResult(&sandbox.Record{Status: sandbox.StatusInterrupted}, g, "")
	if res.Status != engine.StatusFailed || res.Err == nil {
		t.Errorf("an interrupted run: %+v", res)
	}
}

// TestNodeEndLines makes, from a remote record, the engine's lines a
// local run writes for the nodes that run no plugin: sub-workflow calls,
// for_each nodes and their instances, at the configured level.
func TestNodeEndLines(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	rec := &sandbox.Record{Tasks: []sandbox.TaskRecord{
		{Name: "each", Task: "workflow.wc", Status: "succeeded", Attempts: 1, Instances: 1, Start: t0, End: t0.Add(5 * time.Millisecond), Nested: []sandbox.TaskRecord{
			{Name: "each@0", Task: "workflow.wc", Status: "succeeded", Attempts: 1, Start: t0, End: t0.Add(time.Millisecond)},
			{Name: "each@0+split", Task: "text.split", Status: "succeeded", Attempts: 1, Start: t0, End: t0.Add(time.Millisecond)},
			{Name: "each@0+inner", Task: "workflow.x", Status: "cancelled", Attempts: 1, Start: t0, End: t0.Add(time.Millisecond)},
		}},
		{Name: "count", Task: "text.count", Status: "failed", Attempts: 1, Instances: 2, Error: "1 of 2 instances failed", Start: t0, End: t0.Add(time.Second)},
		{Name: "plain", Task: "text.upper", Status: "succeeded", Attempts: 1, Start: t0, End: t0.Add(time.Second)},
		{Name: "later", Task: "workflow.wc", Status: "skipped"},
	}}
	line := func(l sandbox.LogLine) string {
		return fmt.Sprintf("%s %s %s %v", l.Node, l.Level, l.Msg, l.Fields)
	}
	for _, tc := range []struct {
		task, level string
		want        []string
	}{
		{"", "info", []string{"each info task succeeded map[duration:5ms]", "each@0 info task succeeded map[]",
			"each@0+inner warn task cancelled map[]", "count error task failed map[error:1 of 2 instances failed]"}},
		{"", "warn", []string{"each@0+inner warn task cancelled map[]", "count error task failed map[error:1 of 2 instances failed]"}},
		{"each@0", "info", []string{"each@0 info task succeeded map[]", "each@0+inner warn task cancelled map[]"}},
		{"plain", "info", nil},
	} {
		var got []string
		for _, l := range nodeEndLines(rec, tc.task, 0, tc.level) {
			if l.Source != sandbox.LogSourceEngine || l.Logger != "goflyte" || l.Attempt != 1 {
				t.Errorf("line %+v", l)
			}
			got = append(got, line(l))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("task %q at %s (-want +got):\n%s", tc.task, tc.level, diff)
		}
	}
}
