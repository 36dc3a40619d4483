package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
)

// TestShortRecord: a record larger than RecordInlineLimit travels short
// (tasks without their outputs, digests, paths) and names the whole
// record, which the workflow stored in the data store; LoadWholeRecord
// reads it back. A small record travels whole.
func TestShortRecord(t *testing.T) {
	words := strings.Repeat("word ", remote.RecordInlineLimit/5+1000)
	for _, tc := range []struct {
		name  string
		text  string
		short bool
	}{
		{"small", "a b c", false},
		{"large", words, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := runInput(t, features, "single", nil)
			in.Main, in.Workflow = "words.hcl", "words"
			in.Sources = map[string]string{"words.hcl": `workflow "words" {
  input "text" { type = string }
  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }
  output "n" { value = task.count.n }
}
`}
			in.Inputs = map[string]json.RawMessage{"text": mustMarshal(t, tc.text)}
			f := newFakeTasks(in.Plugins)
			r := runRemote(t, in, f, nil)
			if r.err != nil {
				t.Fatal(r.err)
			}
			want := fmt.Sprint(len(strings.Fields(tc.text)))
			if got := string(r.rec.Outputs["n"]); got != want {
				t.Errorf("n = %s, want %s", got, want)
			}
			if (r.rec.WholeRecord != "") != tc.short {
				t.Fatalf("whole record %q", r.rec.WholeRecord)
			}
			split := task(t, r.rec, "split")
			if tc.short == (len(taskOutputs(split)) > 0) || split.Status != "succeeded" || split.Start.IsZero() {
				t.Errorf("split: status %s, %d bytes of outputs", split.Status, len(split.Outputs))
			}
			whole, err := remote.LoadWholeRecord(context.Background(), r.rec, func(_ context.Context, uri string) ([]byte, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.objects[uri], nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if ws := task(t, whole, "split"); len(taskOutputs(ws)) < len(tc.text) || ws.Digest == "" || len(ws.LogURIs) != 1 {
				t.Errorf("whole record's split: %d bytes of outputs, digest %q, logs %v", len(taskOutputs(ws)), ws.Digest, ws.LogURIs)
			}
			if whole.WholeRecord != "" || whole.Status != "succeeded" {
				t.Errorf("whole record: %s, names %q", whole.Status, whole.WholeRecord)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestResolveTaskOutputs: the outputs of tasks that a record holds by
// reference are read into their outputs; a record without any is
// returned as it is; an unreadable or invalid object is an error naming
// the task.
func TestResolveTaskOutputs(t *testing.T) {
	objects := map[string]string{"mem://a.json": `{"text":"A"}`, "mem://bad.json": `{"text":`}
	fetch := func(_ context.Context, uri string) ([]byte, error) {
		data, ok := objects[uri]
		if !ok {
			return nil, fmt.Errorf("no object %s", uri)
		}
		return []byte(data), nil
	}
	for _, tc := range []struct {
		name    string
		ref     string
		outputs string
		err     string
	}{
		{"inline", "", `{"text":"B"}`, ""},
		{"by reference", "mem://a.json", `{"text":"A"}`, ""},
		{"missing", "mem://none.json", "", `the outputs of task "t" of p:d:r: no object mem://none.json`},
		{"not JSON", "mem://bad.json", "", `the outputs of task "t" of p:d:r at mem://bad.json are not JSON`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &sandbox.Record{ID: "p:d:r", Tasks: []sandbox.TaskRecord{{Name: "t", OutputsRef: tc.ref}}}
			if tc.ref == "" {
				rec.Tasks[0].Outputs = json.RawMessage(tc.outputs)
			}
			got, err := remote.ResolveTaskOutputs(context.Background(), rec, fetch)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tk := got.Tasks[0]; string(tk.Outputs) != tc.outputs || tk.OutputsRef != "" {
				t.Errorf("task: outputs %s, outputs_ref %q; want %s", tk.Outputs, tk.OutputsRef, tc.outputs)
			}
			if tc.ref != "" && rec.Tasks[0].OutputsRef != tc.ref {
				t.Errorf("the record given changed: %+v", rec.Tasks[0])
			}
			if tc.ref == "" && got != rec {
				t.Error("a record without references was copied")
			}
		})
	}
}
