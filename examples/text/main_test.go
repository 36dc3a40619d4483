package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

// TestSchemas pins the tasks' input and output types, which workflows and
// the engine's tests depend on.
func TestSchemas(t *testing.T) {
	type schemaIO struct{ in, out map[string]string }
	want := map[string]schemaIO{
		"split": {map[string]string{"text": "string", "sep": "string?"}, map[string]string{"words": "list(string)"}},
		"count": {map[string]string{"words": "list(string)"}, map[string]string{"n": "number", "unique": "number"}},
		"upper": {map[string]string{"text": "string"}, map[string]string{"text": "string"}},
		"join":  {map[string]string{"words": "list(string)", "sep": "string?"}, map[string]string{"text": "string"}},
		"top": {map[string]string{"words": "list(string)", "k": "number"},
			map[string]string{"top": "list(object({count=number,word=string}))"}},
		"fail":       {map[string]string{"message": "string"}, map[string]string{"message": "string"}},
		"crash":      {map[string]string{"message": "string"}, map[string]string{}},
		"sleep":      {map[string]string{"ms": "number"}, map[string]string{"slept_ms": "number"}},
		"shout_all":  {map[string]string{"texts": "list(string)"}, map[string]string{"shouts": "list(string)"}},
		"count_each": {map[string]string{"texts": "list(string)"}, map[string]string{"counts": "list(number)"}},
		"env": {map[string]string{}, map[string]string{
			"execution_id": "string", "execution_date": "string", "working_directory": "string", "mode": "string",
			"task_id": "string", "node": "string", "attempt": "number", "file": "string",
		}},
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
	got := map[string]schemaIO{}
	for name, task := range tasks {
		s := task.Schema()
		if s.Doc == "" {
			t.Errorf("task %q has no doc", name)
		}
		got[name] = schemaIO{fields(s.Inputs), fields(s.Outputs)}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(schemaIO{})); diff != "" {
		t.Errorf("schemas mismatch (-want +got):\n%s", diff)
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]any
		want   []string
	}{
		{"whitespace", map[string]any{"text": "  the quick\tbrown\nfox "}, []string{"the", "quick", "brown", "fox"}},
		{"separator", map[string]any{"text": "a,b,,c", "sep": ","}, []string{"a", "b", "", "c"}},
		{"empty text", map[string]any{"text": ""}, []string{}},
		{"empty text with separator", map[string]any{"text": "", "sep": ","}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out wordsOut
			run(t, "split", tc.inputs, &out)
			if diff := cmp.Diff(tc.want, out.Words); diff != "" {
				t.Errorf("words mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCount(t *testing.T) {
	var out countOut
	run(t, "count", map[string]any{"words": []string{"the", "fox", "the"}}, &out)
	if out != (countOut{N: 3, Unique: 2}) {
		t.Errorf("got %+v", out)
	}
}

func TestUpper(t *testing.T) {
	var out textIO
	run(t, "upper", map[string]any{"text": "Hello, world"}, &out)
	if out.Text != "HELLO, WORLD" {
		t.Errorf("got %q", out.Text)
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]any
		want   string
	}{
		{"default separator", map[string]any{"words": []string{"a", "b"}}, "a b"},
		{"separator", map[string]any{"words": []string{"a", "b"}, "sep": ", "}, "a, b"},
		{"empty separator", map[string]any{"words": []string{"a", "b"}, "sep": ""}, "ab"},
		{"no words", map[string]any{"words": []string{}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out textIO
			run(t, "join", tc.inputs, &out)
			if out.Text != tc.want {
				t.Errorf("got %q, want %q", out.Text, tc.want)
			}
		})
	}
}

func TestTop(t *testing.T) {
	words := []string{"the", "fox", "the", "dog", "a", "dog", "the"}
	var out topOut
	run(t, "top", map[string]any{"words": words, "k": 3}, &out)
	want := []wordCount{{"the", 3}, {"dog", 2}, {"a", 1}}
	if diff := cmp.Diff(want, out.Top); diff != "" {
		t.Errorf("top mismatch (-want +got):\n%s", diff)
	}

	run(t, "top", map[string]any{"words": []string{}, "k": 2}, &out)
	if len(out.Top) != 0 {
		t.Errorf("top of no words: %v", out.Top)
	}
}

func TestTopBadK(t *testing.T) {
	for _, k := range []any{0, -1, 1.5} {
		_, err := sdktest.Run(t, tasks["top"], map[string]any{"words": []string{"a"}, "k": k})
		if attr := diagnosticAttribute(err); attr != "k" {
			t.Errorf("k=%v: got %v, want a diagnostic on k", k, err)
		}
	}
}

func TestFail(t *testing.T) {
	_, err := sdktest.Run(t, tasks["fail"], map[string]any{"message": "it broke"})
	var te *plugin.TaskError
	if !errors.As(err, &te) || te.Message != "it broke" {
		t.Errorf("got %v, want a TaskError with the message", err)
	}
}

func TestSleep(t *testing.T) {
	var out sleepOut
	run(t, "sleep", map[string]any{"ms": 5}, &out)
	if out.SleptMs != 5 {
		t.Errorf("slept_ms = %d", out.SleptMs)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sdktest.RunWithOptions(t, sdktest.Options{Context: ctx}, tasks["sleep"], map[string]any{"ms": 60_000})
	if err == nil {
		t.Error("a cancelled sleep succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the sleep ignored cancellation and took %v", d)
	}

	_, err = sdktest.Run(t, tasks["sleep"], map[string]any{"ms": -1})
	if attr := diagnosticAttribute(err); attr != "ms" {
		t.Errorf("ms=-1: got %v, want a diagnostic on ms", err)
	}
}

func TestEnv(t *testing.T) {
	dir := t.TempDir()
	date := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	res, err := sdktest.RunWithOptions(t, sdktest.Options{
		Plugin: "text",
		Task:   "env",
		Params: plugin.Params{
			ExecutionID:      "local:local:run1",
			ExecutionDate:    date,
			WorkingDirectory: dir,
			Mode:             sdk.ModeLocalWorkflowExecution,
			Node:             "params",
			Attempt:          2,
		},
	}, tasks["env"], nil)
	if err != nil {
		t.Fatal(err)
	}
	var out envOut
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	want := envOut{
		ExecutionID:      "local:local:run1",
		ExecutionDate:    "2026-05-06T07:08:09Z",
		WorkingDirectory: dir,
		Mode:             "LOCAL_WORKFLOW_EXECUTION",
		TaskID:           "text.env",
		Node:             "params",
		Attempt:          2,
		File:             filepath.Join(dir, "hello.txt"),
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("env mismatch (-want +got):\n%s", diff)
	}
	if data, err := os.ReadFile(out.File); err != nil || string(data) != "hello from text.env\n" {
		t.Errorf("hello.txt: %q, %v", data, err)
	}
}

// run runs the named task with inputs, fails the test on error, and
// decodes the outputs into out.
func run(t *testing.T, task string, inputs map[string]any, out any) {
	t.Helper()
	res, err := sdktest.Run(t, tasks[task], inputs)
	if err != nil {
		t.Fatalf("%s: %v", task, err)
	}
	if err := res.Decode(out); err != nil {
		t.Fatalf("%s: decode outputs: %v", task, err)
	}
}

// diagnosticAttribute returns the input the error's one diagnostic is
// about, or "".
func diagnosticAttribute(err error) string {
	var te *plugin.TaskError
	if !errors.As(err, &te) || len(te.Diagnostics) != 1 {
		return ""
	}
	return te.Diagnostics[0].Attribute
}

func TestTopDeck(t *testing.T) {
	res, err := sdktest.Run(t, tasks["top"], map[string]any{"words": []string{"b", "a", "b"}, "k": 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Decks) != 1 || res.Decks[0].Name != "Top words" {
		t.Fatalf("decks: %+v", res.Decks)
	}
	blocks := res.Decks[0].Blocks
	if len(blocks) != 3 || !strings.Contains(blocks[0].Markdown, "**3** words, **2** distinct") ||
		blocks[1].Table == nil || blocks[2].Image == nil || blocks[2].Image.MIMEType != "image/svg+xml" {
		t.Fatalf("blocks: %+v", blocks)
	}
	if diff := cmp.Diff([][]string{{"1", "b", "2"}, {"2", "a", "1"}}, blocks[1].Table.Rows); diff != "" {
		t.Errorf("table rows (-want +got):\n%s", diff)
	}
}
