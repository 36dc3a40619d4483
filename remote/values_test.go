package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// bigWorkflow uses values held by reference in every way: plain
// references to a run input and to a task's outputs (passed through to
// the worker, never read by the workflow), an expression over a large
// run input (read in parts, and the evaluated inputs stored), a branch
// condition over a large task output (read in parts), and outputs that
// are plain references.
const bigWorkflow = `workflow "big" {
  input "text"  { type = string }
  input "other" { type = string }
  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }
  task "shout" {
    uses   = "text.upper"
    inputs = { text = "${input.other}!" }
  }
  branch "size" {
    case {
      if = substr(task.shout.text, 1000, 1) != ""
      task "loud" {
        uses   = "text.upper"
        inputs = { text = "big" }
      }
      output "what" { value = task.loud.text }
    }
    default {
      output "what" { value = "small" }
    }
  }
  output "n"     { value = task.count.n }
  output "words" { value = task.split.words }
  output "shout" { value = task.shout.text }
  output "what"  { value = branch.size.what }
}
`

// TestLargeValuesByReference: values the workflow holds by reference
// reach the tasks that use them as references, the workflow reads only
// those it evaluates (in parts), stores evaluated inputs above the
// inline limit, and returns plain references as its outputs; the run's
// outputs and records are the local engine's.
func TestLargeValuesByReference(t *testing.T) {
	text := strings.Repeat("to be or not to be ", 20)
	other := strings.Repeat("x", remote.InlineLimit+10)
	in := runInput(t, features, "single", map[string]any{"text": text, "other": other})
	in.Main, in.Workflow = "big.hcl", "big"
	in.Sources = map[string]string{"big.hcl": bigWorkflow}
	lf := newFakeTasks(in.Plugins)
	res := runLocal(t, in, lf)

	// Remotely, both inputs come by reference, as the submitter stores
	// inputs above the inline limit (fake references, inline).
	in.InputRefs = map[string]string{}
	for name, data := range in.Inputs {
		in.InputRefs[name] = "inline:" + string(data)
	}
	in.Inputs = map[string]json.RawMessage{}
	f := newFakeTasks(in.Plugins)
	r := runRemote(t, in, f, func(env *testsuite.TestWorkflowEnvironment) {
		// As the workers run it: a busy machine takes longer than the
		// SDK's default second over values of hundreds of KB.
		env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: remote.WorkflowDeadlockTimeout})
	})
	if r.err != nil {
		t.Fatalf("workflow error: %v", r.err)
	}
	sameAsLocal(t, r.rec, res)

	calls := map[string]remote.TaskInput{}
	for _, c := range f.calls() {
		calls[c.Node] = c
	}
	splitRef := task(t, r.rec, "split").OutputsRef
	if splitRef == "" {
		t.Fatal("split's record has no OutputsRef: its outputs were not held by reference")
	}
	// Plain references travel as references; nothing inline.
	if got := calls["split"].InputRefs["text"]; got.URI != in.InputRefs["text"] || got.Field != "" || strings.Contains(string(calls["split"].Inputs), "not to be") {
		t.Errorf("split: input refs %+v, inputs %s: want text by reference to the run's input", calls["split"].InputRefs, calls["split"].Inputs)
	}
	if got := calls["count"].InputRefs["words"]; got.URI != splitRef || got.Field != "words" || string(calls["count"].Inputs) != "{}" {
		t.Errorf("count: input refs %+v, inputs %s: want words by reference to split's outputs", calls["count"].InputRefs, calls["count"].Inputs)
	}
	// An evaluated input above the limit is stored by the workflow.
	if c := calls["shout"]; c.InputsRef == "" || (len(c.Inputs) != 0 && string(c.Inputs) != "null") {
		t.Errorf("shout: inputs ref %q, %d bytes inline: want its inputs stored", c.InputsRef, len(c.Inputs))
	}
	if len(f.stored) != 1 {
		t.Errorf("stored values %v, want shout's inputs", f.stored)
	}
	// The workflow read what it evaluates (input other, shout's outputs),
	// in parts, and nothing it passes on.
	reads := map[string]int{}
	for _, p := range f.parts {
		reads[p.URI]++
	}
	shoutReads := 0
	for uri, n := range reads {
		if strings.HasPrefix(uri, `inline:{"text":"XXX`) {
			shoutReads += n
		}
	}
	if reads[in.InputRefs["other"]] < 2 || shoutReads < 2 {
		t.Errorf("reads of input other: %d, of shout's outputs: %d; want both read in parts", reads[in.InputRefs["other"]], shoutReads)
	}
	for _, uri := range []string{in.InputRefs["text"], splitRef} {
		if reads[uri] > 0 {
			t.Errorf("the workflow read %.40s... (%d parts), which it only passes on", uri, reads[uri])
		}
	}
	// Outputs that are plain references travel as references.
	if ref := r.rec.OutputRefs["words"]; ref.URI != splitRef || ref.Field != "words" {
		t.Errorf("output refs %+v: want words by reference to split's outputs", r.rec.OutputRefs)
	}
	if _, ok := r.rec.Outputs["words"]; ok {
		t.Errorf("output words is inline too")
	}
}

// TestWorkerInputsByReference: a real worker (the test server, the text
// plugin, a local data store) reads inputs that come by reference
// (InputRefs, a field of a task's outputs; InputsRef, the whole inputs)
// and computes the cache key from the values: a call whose inputs come
// by reference hits the cache entry of the same call made inline.
func TestWorkerInputsByReference(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true})
	w, err := remote.NewWorker(context.Background(), c, remote.WorkerOptions{
		Engine: newEngine(t), TaskQueue: "refs", Plugins: []string{"text"}, Identity: "w1", Workflows: registerParallel,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	dir := t.TempDir()
	text := strings.Repeat("by reference ", 30_000)
	// The outputs of an earlier task, and a task's whole inputs, as the
	// worker and the workflow store them.
	outputs, _ := json.Marshal(map[string]any{"text": text, "n": 3})
	inputs, _ := json.Marshal(map[string]any{"text": text})
	for name, data := range map[string][]byte{"outputs.json": outputs, "inputs.json": inputs} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := remote.TaskInput{ExecutionID: "p:d:r", Plugin: "text", Task: "upper", Attempt: 1, DataPrefix: "file://" + t.TempDir(),
		Cache: &remote.CachePolicy{Version: "1"}, CachePrefix: "file://" + t.TempDir()}
	inline, byField, whole := base, base, base
	inline.Node, inline.Inputs = "inline", inputs
	byField.Node, byField.Inputs = "field", json.RawMessage(`{}`)
	byField.InputRefs = map[string]remote.ValueRef{"text": {URI: "file://" + filepath.Join(dir, "outputs.json"), Field: "text"}}
	whole.Node, whole.InputsRef = "whole", "file://"+filepath.Join(dir, "inputs.json")
	var out []remote.TaskOutput
	for i, in := range []remote.TaskInput{inline, byField, whole} {
		var o []remote.TaskOutput
		if err := startRun(t, c, "refs", fmt.Sprintf("refs-%d", i), []remote.TaskInput{in}).Get(context.Background(), &o); err != nil {
			t.Fatalf("%s: %v", in.Node, err)
		}
		out = append(out, o[0])
	}
	if out[0].Cache != "miss" || out[0].CacheKey == "" || out[0].OutputsRef == "" {
		t.Fatalf("inline call: cache %q, key %q, outputs ref %q", out[0].Cache, out[0].CacheKey, out[0].OutputsRef)
	}
	for _, o := range out[1:] {
		if o.Cache != "hit" || o.CacheKey != out[0].CacheKey || o.OutputsRef == "" {
			t.Errorf("call by reference: cache %q, key %q; want a hit on %q", o.Cache, o.CacheKey, out[0].CacheKey)
		}
	}
}
