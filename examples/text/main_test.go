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
		"split":       {map[string]string{"text": "string", "sep": "string?"}, map[string]string{"words": "list(string)"}},
		"count":       {map[string]string{"words": "list(string)"}, map[string]string{"n": "number", "unique": "number"}},
		"upper":       {map[string]string{"text": "string"}, map[string]string{"text": "string"}},
		"write":       {map[string]string{"text": "string", "name": "string?"}, map[string]string{"file": "file"}},
		"upper_file":  {map[string]string{"file": "file"}, map[string]string{"file": "file"}},
		"read":        {map[string]string{"file": "file"}, map[string]string{"text": "string", "bytes": "number"}},
		"split_lines": {map[string]string{"file": "file"}, map[string]string{"dir": "dir", "files": "number"}},
		"cat":         {map[string]string{"dir": "dir"}, map[string]string{"text": "string", "files": "number"}},
		"join":        {map[string]string{"words": "list(string)", "sep": "string?"}, map[string]string{"text": "string"}},
		"top": {map[string]string{"words": "list(string)", "k": "number"},
			map[string]string{"top": "list(object({count=number,word=string}))"}},
		"fail":       {map[string]string{"message": "string"}, map[string]string{"message": "string"}},
		"crash":      {map[string]string{"message": "string"}, map[string]string{}},
		"sleep":      {map[string]string{"ms": "number"}, map[string]string{"slept_ms": "number"}},
		"shout_all":  {map[string]string{"texts": "list(string)"}, map[string]string{"shouts": "list(string)"}},
		"count_each": {map[string]string{"texts": "list(string)"}, map[string]string{"counts": "list(number)"}},
		"env": {map[string]string{}, map[string]string{
			"execution_id": "string", "execution_date": "string", "working_directory": "string", "mode": "string",
			"task_id": "string", "node": "string", "attempt": "number", "file": "string", "tmp_dir": "string", "raw_output_prefix": "string",
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

func TestCountMetrics(t *testing.T) {
	res, err := sdktest.Run(t, tasks["count"], map[string]any{"words": []string{"the", "quick", "fox", "the"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, m := range res.Metrics {
		got[m.Name+" "+m.Kind.String()+" "+m.Tags["size"]] = float64(m.Count)
	}
	want := map[string]float64{
		"text.words counter short": 3,
		"text.words counter long":  1,
		"text.unique_words gauge ": 1,
		"text.count.time timer ":   1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric sample counts (-want +got):\n%s", diff)
	}
}

func TestCountMetricsOutsideATask(t *testing.T) {
	// Called directly, the task records into the process's in-memory
	// recorder, Flytekit's MockStats.
	s := sdk.Params(context.Background()).Stats()
	before := s.Value("text.words", sdk.Tags{"size": "long"})
	if _, err := count(context.Background(), wordsIn{Words: []string{"quick", "brown"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Value("text.words", sdk.Tags{"size": "long"}) - before; got != 2 {
		t.Errorf("text.words{size=long} grew by %g, want 2", got)
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
			TmpDir:           filepath.Join(dir, "tmp"),
			RawOutputPrefix:  "s3://bucket/run1",
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
		TmpDir:           filepath.Join(dir, "tmp"),
		RawOutputPrefix:  "s3://bucket/run1",
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

func TestFileTasks(t *testing.T) {
	work, tmp := t.TempDir(), t.TempDir()
	params := plugin.Params{WorkingDirectory: work, TmpDir: tmp}
	run := func(task string, in any, out any) {
		t.Helper()
		res, err := sdktest.RunWithOptions(t, sdktest.Options{Task: task, Params: params}, tasks[task], in)
		if err != nil {
			t.Fatalf("%s: %v", task, err)
		}
		if err := res.Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var w struct{ File string }
	run("write", map[string]any{"text": "one\ntwo\n", "name": "in.txt"}, &w)
	if w.File != "in.txt" {
		t.Errorf("write returned %q, want the name relative to the working directory", w.File)
	}
	var up struct{ File string }
	run("upper_file", map[string]any{"file": filepath.Join(work, w.File)}, &up)
	var split struct {
		Dir   string
		Files int
	}
	run("split_lines", map[string]any{"file": up.File}, &split)
	if split.Files != 2 || filepath.Dir(split.Dir) != tmp {
		t.Errorf("split_lines = %+v, want 2 files in a directory of %s", split, tmp)
	}
	var c struct {
		Text  string
		Files int
	}
	run("cat", map[string]any{"dir": split.Dir}, &c)
	if c.Text != "ONE\nTWO\n" || c.Files != 2 {
		t.Errorf("cat = %+v", c)
	}
	var r struct {
		Text  string
		Bytes int
	}
	run("read", map[string]any{"file": up.File}, &r)
	if r.Text != "ONE\nTWO\n" || r.Bytes != 8 {
		t.Errorf("read = %+v", r)
	}
	_, err := sdktest.RunWithOptions(t, sdktest.Options{Task: "write", Params: params}, tasks["write"], map[string]any{"text": "x", "name": "../x"})
	if err == nil {
		t.Error("write accepted a name with a directory")
	}
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
