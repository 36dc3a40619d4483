package main

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

func TestSchemas(t *testing.T) {
	want := map[string][2]map[string]string{
		"add":  {{"a": "number", "b": "number"}, {"sum": "number"}},
		"mul":  {{"a": "number", "b": "number"}, {"product": "number"}},
		"div":  {{"a": "number", "b": "number"}, {"quotient": "number"}},
		"sum":  {{"values": "list(number)"}, {"total": "number"}},
		"mean": {{"values": "list(number)"}, {"mean": "number"}},
		"series": {
			{"n": "number", "step": "number?", "stop_after": "number?"},
			{"sum": "number", "resumed_from": "number"},
		},
	}
	fields := func(fs []plugin.Field) map[string]string {
		m := map[string]string{}
		for _, f := range fs {
			m[f.Name] = f.Type
			if f.Optional {
				m[f.Name] += "?"
			}
		}
		return m
	}
	got := map[string][2]map[string]string{}
	for name, task := range tasks {
		s := task.Schema()
		if s.Doc == "" {
			t.Errorf("task %q has no doc", name)
		}
		got[name] = [2]map[string]string{fields(s.Inputs), fields(s.Outputs)}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schemas mismatch (-want +got):\n%s", diff)
	}
}

func TestTasks(t *testing.T) {
	tests := []struct {
		task   string
		inputs map[string]any
		want   map[string]any
	}{
		{"add", map[string]any{"a": 1.5, "b": 2}, map[string]any{"sum": 3.5}},
		{"add", map[string]any{"a": -1, "b": 1}, map[string]any{"sum": 0.0}},
		{"mul", map[string]any{"a": 3, "b": 2.5}, map[string]any{"product": 7.5}},
		{"div", map[string]any{"a": 7, "b": 2}, map[string]any{"quotient": 3.5}},
		{"div", map[string]any{"a": 0, "b": -4}, map[string]any{"quotient": 0.0}},
		{"sum", map[string]any{"values": []float64{1, 2, 3.5}}, map[string]any{"total": 6.5}},
		{"sum", map[string]any{"values": []float64{}}, map[string]any{"total": 0.0}},
		{"mean", map[string]any{"values": []float64{1, 2, 3, 4}}, map[string]any{"mean": 2.5}},
		{"mean", map[string]any{"values": []float64{-2}}, map[string]any{"mean": -2.0}},
	}
	for _, tc := range tests {
		t.Run(tc.task, func(t *testing.T) {
			res, err := sdktest.Run(t, tasks[tc.task], tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Outputs); diff != "" {
				t.Errorf("%v: outputs mismatch (-want +got):\n%s", tc.inputs, diff)
			}
		})
	}
}

func TestDivByZero(t *testing.T) {
	_, err := sdktest.Run(t, tasks["div"], map[string]any{"a": 1, "b": 0})
	var te *plugin.TaskError
	if !errors.As(err, &te) || len(te.Diagnostics) != 1 || te.Diagnostics[0].Attribute != "b" {
		t.Fatalf("got %#v, want a TaskError with a diagnostic on b", err)
	}
	if te.Retryable {
		t.Error("division by zero is not retryable")
	}
}

func TestMeanOfNothing(t *testing.T) {
	_, err := sdktest.Run(t, tasks["mean"], map[string]any{"values": []float64{}})
	var te *plugin.TaskError
	if !errors.As(err, &te) || te.Message != errEmpty.Error() {
		t.Errorf("got %v, want a TaskError saying the list is empty", err)
	}
}

func TestMissingInput(t *testing.T) {
	_, err := sdktest.Run(t, tasks["add"], map[string]any{"a": 1})
	var te *plugin.TaskError
	if !errors.As(err, &te) || len(te.Diagnostics) != 1 || te.Diagnostics[0].Attribute != "b" {
		t.Errorf("got %#v, want a diagnostic on b", err)
	}
}

func TestOverflowFails(t *testing.T) {
	_, err := sdktest.Run(t, tasks["mul"], map[string]any{"a": 1e308, "b": 10})
	var te *plugin.TaskError
	if !errors.As(err, &te) || te.Message == "" {
		t.Errorf("got %v, want a TaskError: +Inf has no JSON form", err)
	}
}

func TestSeriesResumesFromItsCheckpoint(t *testing.T) {
	cps := t.TempDir()
	prev := ""
	var out struct {
		Sum         float64 `json:"sum"`
		ResumedFrom int     `json:"resumed_from"`
	}
	// 1..100 in steps of 10, two steps per attempt: five attempts.
	for attempt := 1; ; attempt++ {
		dest := filepath.Join(cps, strconv.Itoa(attempt))
		res, err := sdktest.RunWithOptions(t, sdktest.Options{Task: "series", Params: plugin.Params{
			Attempt: attempt, CheckpointDir: dest, PrevCheckpointDir: prev, TmpDir: t.TempDir(),
		}}, tasks["series"], map[string]any{"n": 100, "stop_after": 2})
		var te *plugin.TaskError
		if errors.As(err, &te) && te.Retryable && attempt < 10 {
			prev = dest
			continue
		}
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if attempt != 5 {
			t.Errorf("finished in attempt %d, want 5", attempt)
		}
		if err := res.Decode(&out); err != nil {
			t.Fatal(err)
		}
		break
	}
	if out.Sum != 5050 || out.ResumedFrom != 81 {
		t.Errorf("series = %+v, want sum 5050 resumed from 81", out)
	}
}
