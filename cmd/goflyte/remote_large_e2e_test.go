package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"

	"github.com/goflyte/goflyte/remote"
)

// hugeWorkflow moves values far above Temporal's payload limit (about
// 2 MB) in every way a workflow can: a task returns a text of about
// 4.6 MB and a list of about 2.4 MB; a task takes the text as a plain
// reference, another an expression over it; a branch decides on it; a
// for_each runs over the list; a run input of about 3 MB; outputs of
// about 4.6 and 3 MB.
const hugeWorkflow = `
workflow "huge" {
  input "blob" { type = string }
  task "make" {
    uses   = "probe.big"
    inputs = { words = 420000 }
  }
  task "list" {
    uses   = "probe.big"
    inputs = { words = 1, items = 30, item_bytes = 80000 }
  }
  # A plain reference: the worker reads it, the workflow never does.
  task "shout" {
    uses          = "text.upper"
    inputs        = { text = task.make.text }
    cache         = true
    cache_version = "1"
  }
  # An expression over it: evaluated by the workflow.
  task "split" {
    uses   = "text.split"
    inputs = { text = "${task.make.text} end" }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }
  branch "size" {
    case {
      if = substr(task.make.text, 4000000, 1) != ""
      task "large" {
        uses   = "text.upper"
        inputs = { text = "large" }
      }
      output "size" { value = task.large.text }
    }
    default {
      output "size" { value = "small" }
    }
  }
  task "each" {
    uses     = "text.split"
    for_each = task.list.items
    inputs   = { text = each.value }
  }
  task "blob" {
    uses   = "text.upper"
    inputs = { text = input.blob }
  }
  output "shout" { value = task.shout.text }
  output "n"     { value = task.count.n }
  output "size"  { value = branch.size.size }
  output "items" { value = length(task.each.words) }
  output "last"  { value = task.each.words[29][0] }
  output "blob"  { value = task.blob.text }
}
`

// TestLargeValuesRemote: a run whose values are far above Temporal's
// payload limit gives remotely the outputs and cache keys it gives
// locally, and `runs show --remote` prints its real outputs. About a
// minute on an idle machine (the workflow writes megabytes of history),
// so it runs in `make test-large` (GOFLYTE_TEST_LARGE=1), which .ci/run
// runs after make test.
func TestLargeValuesRemote(t *testing.T) {
	if os.Getenv("GOFLYTE_TEST_LARGE") == "" {
		t.Skip("megabytes through Temporal's history take about a minute: make test-large runs this (GOFLYTE_TEST_LARGE=1)")
	}
	t.Parallel()
	x := newIntegration(t)
	x.writeFile("wf/huge.hcl", hugeWorkflow)
	x.startWorker("worker-a", x.full, true)
	x.startWorker("worker-b", x.full, true)

	blob := strings.Repeat("a run input above the payload limit ", 3_000_000/36)
	data, err := json.Marshal(map[string]string{"blob": blob})
	if err != nil {
		t.Fatal(err)
	}
	file := x.writeFile("huge.json", string(data))
	start := time.Now()
	local, remote_, lr, rr := x.runBoth(t, "huge", "--inputs-file", file)
	t.Logf("local and remote run: %s (remote %s to %s)", time.Since(start).Round(time.Millisecond), remote_.ExecutionDate.Format(time.TimeOnly), time.Now().Format(time.TimeOnly))
	if lr.code != 0 {
		t.Fatalf("local run\n%.3000s", lr)
	}
	if rr.code != 0 {
		t.Fatalf("remote run\n%.3000s", rr)
	}
	shout, _ := local.Outputs["shout"].(string)
	if len(shout) < 4_000_000 || !strings.HasPrefix(shout, "W000000001 W000000002") || local.Outputs["size"] != "LARGE" ||
		fmt.Sprint(local.Outputs["n"]) != "420001" || fmt.Sprint(local.Outputs["items"]) != "30" || local.Outputs["blob"] != strings.ToUpper(blob) {
		t.Fatalf("local outputs: shout %d bytes, size %v, n %v, items %v, last %v, blob %d bytes",
			len(shout), local.Outputs["size"], local.Outputs["n"], local.Outputs["items"], local.Outputs["last"], len(fmt.Sprint(local.Outputs["blob"])))
	}
	sameRun(t, local, remote_, lr, rr, true)

	// The cache key is computed from the values, not from references.
	key := func(r runJSON) string {
		for _, tr := range r.Tasks {
			if tr.Name == "shout" {
				return tr.CacheKey
			}
		}
		return ""
	}
	if key(local) == "" || key(local) != key(remote_) {
		t.Errorf("shout's cache key: local %q, remote %q", key(local), key(remote_))
	}

	// runs show --remote prints the outputs, as runs show does.
	type record struct {
		Outputs map[string]any `json:"outputs"`
		Tasks   []struct {
			Name       string `json:"name"`
			OutputsRef string `json:"outputs_ref"`
		} `json:"tasks"`
	}
	show := func(args ...string) record {
		r := x.runT(t, append([]string{"runs", "show"}, append(args, "--json")...)...)
		var rec record
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != 0 {
			t.Fatalf("runs show %v: %v\n%.2000s", args, err, r)
		}
		return rec
	}
	lrec, rrec := show(local.ExecutionID), show("--remote", remote_.ExecutionID)
	if !reflect.DeepEqual(lrec.Outputs, rrec.Outputs) || len(lrec.Outputs) != 6 {
		t.Errorf("runs show --json outputs differ: local %d, remote %d outputs", len(lrec.Outputs), len(rrec.Outputs))
	}
	// The workflow never read what it only passes on: shout's outputs
	// (a plain reference, then the run's output) and count's input. Its
	// record says so (runs show --remote reads them: they are above).
	objects := x.bucketObjects(t)
	raw, _, err := remote.Record(context.Background(), x.w.c, "default", remote_.ExecutionID)
	if err == nil {
		raw, err = remote.LoadWholeRecord(context.Background(), raw, func(_ context.Context, uri string) ([]byte, error) {
			data, ok := objects[strings.TrimPrefix(uri, "s3://runs/")]
			if !ok {
				return nil, fmt.Errorf("no object %s", uri)
			}
			return []byte(data), nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, tr := range raw.Tasks {
		held[tr.Name] = tr.OutputsRef != ""
	}
	for _, tr := range rrec.Tasks {
		if tr.OutputsRef != "" {
			t.Errorf("runs show --remote --json: task %s has outputs_ref %s, not its outputs", tr.Name, tr.OutputsRef)
		}
	}
	if !held["shout"] || !held["split"] || held["make"] {
		t.Errorf("tasks whose outputs the workflow held by reference: %v; want shout and split, not make (a branch reads it)", held)
	}
	if r := x.runT(t, "runs", "show", "--remote", remote_.ExecutionID); !strings.Contains(r.stdout, "W000000001 W000000002") {
		t.Errorf("runs show --remote does not print output shout\n%.2000s", r.stdout)
	}

	// What the run's history holds (the values it read in parts).
	it := x.w.c.GetWorkflowHistory(context.Background(), remote_.ExecutionID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events, bytes, largest := 0, 0, 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events, bytes, largest = events+1, bytes+proto.Size(ev), max(largest, proto.Size(ev))
	}
	t.Logf("the remote run's (last Temporal run's) history: %d events, %d bytes, the largest event %d bytes", events, bytes, largest)

	// The large values travelled through the bucket: the run input and
	// the inputs the workflow evaluated (split's).
	var inputs, evaluated bool
	for k := range objects {
		inputs = inputs || strings.Contains(k, runNameOf(remote_)+"/inputs/blob.json")
		evaluated = evaluated || strings.Contains(k, runNameOf(remote_)+"/_inputs/split-1.json")
	}
	if !inputs || !evaluated {
		t.Errorf("bucket: run input stored %v, split's inputs stored %v", inputs, evaluated)
	}
}
