package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// The submitting side's tests run against a real temporal-testserver. The
// interpreter workflow and the workers are not merged yet: the run's
// workflow is remotetest's stand-in (a fake that walks the main
// workflow's tasks and answers QueryRecord, registered in this process),
// and readiness is served by in-process workers polling the plugin
// queues.

const wordcount = `workflow "wordcount" {
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
`

func dialServer(t *testing.T) (client.Client, *remotetest.Server) {
	t.Helper()
	srv := remotetest.Shared(t)
	c, err := remote.Dial(context.Background(), remote.Options{URL: srv.Addr, Insecure: true, Namespace: srv.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, srv
}

func submitInput(id, queue string) *remote.RunInput {
	return &remote.RunInput{
		ExecutionID: id, ExecutionDate: time.Now().UTC(), Main: "wordcount.hcl", Workflow: "wordcount",
		Sources:    map[string]string{"wordcount.hcl": wordcount},
		Inputs:     map[string]json.RawMessage{"text": json.RawMessage(`"a b c"`)},
		TaskQueue:  queue,
		DataPrefix: "s3://bucket/runs/" + remote.RunName(id), Parallelism: 4,
	}
}

func TestWaitForWorkersNamesMissingPlugins(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the server
	// more than it computes.
	t.Parallel()
	c, srv := dialServer(t)
	ctx := context.Background()
	err := remote.WaitForWorkers(ctx, c, srv.Namespace, "q1", []string{"text", "math"}, 500*time.Millisecond)
	var mw *remote.MissingWorkersError
	if !errors.As(err, &mw) || mw.WorkflowQueue != "q1" || !slices.Equal(mw.Plugins, []string{"math", "text"}) {
		t.Fatalf("no worker at all: got %v", err)
	}
	remotetest.StartStandIn(t, c, "q1", remotetest.StandIn{})
	remotetest.ServePlugins(t, c, "q1", "text")
	// Once the server has seen the workers that were started poll (a
	// failure deadline: their first polls can take seconds on a loaded
	// machine, which a 2 s wait for all of them did not allow), only the
	// plugin no worker serves is missing.
	if err := remote.WaitForWorkers(ctx, c, srv.Namespace, "q1", []string{"text"}, 2*time.Minute); err != nil {
		t.Fatalf("the stand-in and the text worker: %v", err)
	}
	err = remote.WaitForWorkers(ctx, c, srv.Namespace, "q1", []string{"text", "math"}, 2*time.Second)
	if !errors.As(err, &mw) || mw.WorkflowQueue != "" || !slices.Equal(mw.Plugins, []string{"math"}) {
		t.Fatalf("no worker for math: got %v", err)
	}
	for _, want := range []string{"math", "goflyte worker", "namespace " + srv.Namespace} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// A worker that comes up while goflyte waits is found.
	go func() {
		time.Sleep(time.Second)
		remotetest.ServePlugins(t, c, "q1", "math")
	}()
	if err := remote.WaitForWorkers(ctx, c, srv.Namespace, "q1", []string{"text", "math"}, 2*time.Minute); err != nil {
		t.Fatalf("a worker started during the wait: %v", err)
	}
}

// TestSubmitFollowSucceeded submits a run, follows its record as it
// changes, and gets the final record from the workflow's result; a second
// submission with the same id is refused.
func TestSubmitFollowSucceeded(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the server
	// more than it computes.
	t.Parallel()
	c, srv := dialServer(t)
	ctx := context.Background()
	inputs := remotetest.StartStandIn(t, c, "goflyte", remotetest.StandIn{Behave: func(remote.RunInput) remotetest.Behavior {
		return remotetest.Behavior{Step: 300 * time.Millisecond, Outputs: map[string]json.RawMessage{"n": json.RawMessage("3")}}
	}})
	in := submitInput("p:d:r1", "goflyte")
	runID, err := remote.Submit(ctx, c, in)
	if err != nil || runID == "" {
		t.Fatalf("submit: %q, %v", runID, err)
	}
	if got := inputs.Next(t); !reflect.DeepEqual(got.Sources, in.Sources) || string(got.Inputs["text"]) != `"a b c"` || got.Workflow != "wordcount" {
		t.Errorf("the workflow got %+v", got)
	}
	var mu sync.Mutex
	var seen []string
	final, err := remote.Follow(ctx, c, in.ExecutionID, runID, 50*time.Millisecond, func(rec *sandbox.Record) {
		mu.Lock()
		defer mu.Unlock()
		var st []string
		for _, t := range rec.Tasks {
			st = append(st, t.Name+"="+t.Status)
		}
		seen = append(seen, strings.Join(st, ","))
	})
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != sandbox.StatusSucceeded || string(final.Outputs["n"]) != "3" || final.Name != "r1" || final.ID != "p:d:r1" {
		t.Errorf("final record: %+v", final)
	}
	for _, want := range []string{"split=running,count=pending", "split=succeeded,count=running", "split=succeeded,count=succeeded"} {
		if !slices.Contains(seen, want) {
			t.Errorf("records seen %q: none is %q", seen, want)
		}
	}
	var exists *remote.AlreadyExistsError
	if _, err := remote.Submit(ctx, c, in); !errors.As(err, &exists) {
		t.Errorf("a second submission of %s: %v", in.ExecutionID, err)
	}
	// Closed: the record comes from the result, the input from history.
	rec, info, err := remote.Record(ctx, c, srv.Namespace, "p:d:r1")
	if err != nil || rec.Status != sandbox.StatusSucceeded || info.Status != sandbox.StatusSucceeded || info.Workflow != "wordcount" {
		t.Errorf("Record of a closed run: %+v %+v %v", rec, info, err)
	}
	started, err := remote.StartedInput(ctx, c, "p:d:r1", runID)
	if err != nil || started.Main != "wordcount.hcl" || started.DataPrefix != in.DataPrefix {
		t.Errorf("StartedInput: %+v %v", started, err)
	}
}

// TestFollowFailed: a failed run's record is the details of the
// workflow's failure.
func TestFollowFailed(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the server
	// more than it computes.
	t.Parallel()
	c, _ := dialServer(t)
	ctx := context.Background()
	remotetest.StartStandIn(t, c, "goflyte", remotetest.StandIn{Behave: func(remote.RunInput) remotetest.Behavior {
		return remotetest.Behavior{Step: 20 * time.Millisecond, Fail: "split"}
	}})
	in := submitInput("p:d:r2", "goflyte")
	runID, err := remote.Submit(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	final, err := remote.Follow(ctx, c, in.ExecutionID, runID, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != sandbox.StatusFailed || !strings.Contains(final.Error, "boom") || final.Tasks[0].Status != sandbox.StatusFailed || final.Tasks[1].Status != sandbox.StatusSkipped {
		t.Errorf("final record of a failed run: %+v", final)
	}
}

// TestListResolveCancel: a running run is listed, found by its bare name,
// cancelled (its record ends cancelled), and cannot be cancelled twice.
func TestListResolveCancel(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the server
	// more than it computes.
	t.Parallel()
	c, srv := dialServer(t)
	ctx := context.Background()
	remotetest.StartStandIn(t, c, "goflyte", remotetest.StandIn{Behave: func(remote.RunInput) remotetest.Behavior {
		return remotetest.Behavior{Step: 10 * time.Millisecond, Hold: true}
	}})
	in := submitInput("proj:dev:r20261202-120000-abcdef01", "goflyte")
	runID, err := remote.Submit(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	var runs []sandbox.RunSummary
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if runs, err = remote.List(ctx, c, 0); err == nil && len(runs) == 1 {
			break
		}
	}
	if len(runs) != 1 || runs[0].ID != in.ExecutionID || runs[0].Name != "r20261202-120000-abcdef01" || runs[0].Workflow != "wordcount" || runs[0].Status != sandbox.StatusRunning {
		t.Fatalf("list: %+v, %v", runs, err)
	}
	// By bare name, with another project and domain in the settings.
	info, err := remote.Resolve(ctx, c, srv.Namespace, "other", "dom", "r20261202-120000-abcdef01")
	if err != nil || info.ID != in.ExecutionID || info.RunID != runID {
		t.Fatalf("resolve by name: %+v, %v", info, err)
	}
	var nf *remote.NotFoundError
	if _, err := remote.Resolve(ctx, c, srv.Namespace, "proj", "dev", "r20261202-120000-abcdef02"); !errors.As(err, &nf) || nf.Suggest != in.ExecutionID {
		t.Errorf("resolve a name that is not there: %v", err)
	}
	// Running: the record comes from the workflow's query.
	var rec *sandbox.Record
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if rec, _, err = remote.Record(ctx, c, srv.Namespace, in.ExecutionID); err == nil && rec.Tasks[0].Status == sandbox.StatusRunning {
			break
		}
	}
	if rec == nil || rec.Status != sandbox.StatusRunning || rec.Tasks[0].Status != sandbox.StatusRunning {
		t.Fatalf("record of a running run: %+v %v", rec, err)
	}
	if err := remote.Cancel(ctx, c, srv.Namespace, in.ExecutionID); err != nil {
		t.Fatal(err)
	}
	final, err := remote.Follow(ctx, c, in.ExecutionID, runID, 0, nil)
	if err != nil || final.Status != sandbox.StatusCancelled || final.Tasks[0].Status != sandbox.StatusCancelled {
		t.Fatalf("a cancelled run: %+v, %v", final, err)
	}
	// Closed, cancelled: its failure has no record; the workflow's query
	// still gives it.
	if rec, info, err := remote.Record(ctx, c, srv.Namespace, in.ExecutionID); err != nil || info.Status != sandbox.StatusCancelled || rec.Status != sandbox.StatusCancelled ||
		rec.Error != "run cancelled" || len(rec.Tasks) != 2 || rec.Tasks[0].Status != sandbox.StatusCancelled {
		t.Errorf("Record of a cancelled run: %+v %+v %v", rec, info, err)
	}
	var nr *remote.NotRunningError
	if err := remote.Cancel(ctx, c, srv.Namespace, in.ExecutionID); !errors.As(err, &nr) {
		t.Errorf("cancel a cancelled run: %v", err)
	}
}

// TestFollowDetaches: cancelling the context stops following; the run
// goes on.
func TestFollowDetaches(t *testing.T) {
	// A namespace of its own on the shared server: it waits on the server
	// more than it computes.
	t.Parallel()
	c, srv := dialServer(t)
	remotetest.StartStandIn(t, c, "goflyte", remotetest.StandIn{Behave: func(remote.RunInput) remotetest.Behavior {
		return remotetest.Behavior{Step: 10 * time.Millisecond, Hold: true}
	}})
	in := submitInput("p:d:r3", "goflyte")
	runID, err := remote.Submit(context.Background(), c, in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	if _, err := remote.Follow(ctx, c, in.ExecutionID, runID, 0, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("follow after cancel: %v", err)
	}
	info, err := remote.Describe(context.Background(), c, srv.Namespace, in.ExecutionID)
	if err != nil || info.Status != sandbox.StatusRunning {
		t.Errorf("the run after detaching: %+v %v", info, err)
	}
}

func TestDataPrefixes(t *testing.T) {
	for _, tc := range []struct {
		prefix       string
		cache        bool
		data, cacheP string
		bad          bool
	}{
		{prefix: "s3://bucket/goflyte", cache: true, data: "s3://bucket/goflyte/r1", cacheP: "s3://bucket/goflyte/cache"},
		{prefix: "gs://bucket/", cache: false, data: "gs://bucket/r1"},
		{prefix: "azblob://c/p?storage_account=x", cache: true, data: "azblob://c/p/r1?storage_account=x", cacheP: "azblob://c/p/cache?storage_account=x"},
		{prefix: "", bad: true},
		{prefix: "/tmp/data", bad: true},
		{prefix: "file:///tmp/data", bad: true},
	} {
		data, cache, err := remote.DataPrefixes(tc.prefix, "r1", tc.cache)
		var pe *remote.PrefixError
		if tc.bad {
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "raw_output_data_prefix") || !strings.Contains(err.Error(), "s3://") {
				t.Errorf("%q: want a PrefixError, got %v", tc.prefix, err)
			}
			continue
		}
		if err != nil || data != tc.data || cache != tc.cacheP {
			t.Errorf("%q: got %q, %q, %v; want %q, %q", tc.prefix, data, cache, err, tc.data, tc.cacheP)
		}
	}
}

func TestConsoleURL(t *testing.T) {
	got := remote.ConsoleURL("http://localhost:8233/", "default", "flytesnacks:development:r1", "0193-ab")
	want := "http://localhost:8233/namespaces/default/workflows/flytesnacks%3Adevelopment%3Ar1/0193-ab/history"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// Without a run id: the run's page, whatever Temporal run it is in.
	got = remote.ConsoleURL("http://localhost:8233", "default", "flytesnacks:development:r1", "")
	want = "http://localhost:8233/namespaces/default/workflows/flytesnacks%3Adevelopment%3Ar1"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if remote.ConsoleURL("", "default", "a", "b") != "" {
		t.Error("no endpoint: want no link")
	}
	if remote.RunName("a:b:c") != "c" || remote.RunName("c") != "c" || remote.ExecutionID("a", "b", "c") != "a:b:c" {
		t.Error("RunName/ExecutionID")
	}
}

// TestWorkflowSources walks sub-workflow calls and workflow failure
// handlers across files.
func TestWorkflowSources(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"main.hcl": `workflow "main" {
  task "a" { uses = workflow.sub }
  on_failure = workflow.handler
}
workflow "unused" {
  task "x" { uses = "text.split" }
}
`,
		"sub.hcl":     "workflow \"sub\" {\n  task \"b\" { uses = workflow.leaf }\n}\n",
		"leaf.hcl":    "workflow \"leaf\" {\n  task \"c\" { uses = \"text.split\" }\n}\n",
		"handler.hcl": "workflow \"handler\" {\n  task \"d\" { uses = \"text.split\" }\n}\n",
		"other.hcl":   "workflow \"other\" {\n  task \"e\" { uses = \"text.split\" }\n}\n",
	}
	p := config.NewParser()
	byName := map[string]*config.Workflow{}
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		wf, _ := p.LoadWorkflowFile(path)
		if wf == nil {
			t.Fatalf("%s does not load", name)
		}
		for _, w := range wf.Workflows {
			byName[w.Name] = w
		}
	}
	got, err := remote.WorkflowSources(byName["main"], func(n string) *config.Workflow { return byName[n] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for path, src := range got {
		names = append(names, filepath.Base(path))
		if src != files[filepath.Base(path)] {
			t.Errorf("%s: wrong source", path)
		}
	}
	slices.Sort(names)
	if want := []string{"handler.hcl", "leaf.hcl", "main.hcl", "sub.hcl"}; !slices.Equal(names, want) {
		t.Errorf("sources %v, want %v", names, want)
	}
	if _, err := remote.WorkflowSources(byName["main"], func(string) *config.Workflow { return nil }, func(string) ([]byte, error) { return nil, os.ErrPermission }); err == nil {
		t.Error("an unreadable file: want an error")
	}
}

// fakePlugins is a PluginSource with a binary for "text" and none for
// "math".
type fakePlugins struct{ bin string }

func (f fakePlugins) Get(_ context.Context, name string) (plugin.Provider, *plugin.Schema, error) {
	if name == "missing" {
		return nil, nil, fmt.Errorf("not installed")
	}
	return nil, &plugin.Schema{Name: name}, nil
}

func (f fakePlugins) Path(name string) (string, bool) {
	if name == "text" || name == "sign" {
		return f.bin, true
	}
	return "", false
}

func TestPluginRefs(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "goflyte-plugin-text")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	const binSum = "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd" // sha256("binary")
	lock := &config.Lock{Plugins: map[string]config.LockedPlugin{"sign": {Name: "sign", SHA256: "0123"}}}
	refs, err := remote.PluginRefs(context.Background(), fakePlugins{bin: bin}, []string{"text", "sign", "math"}, lock)
	if err != nil {
		t.Fatal(err)
	}
	if refs["text"].SHA256 != binSum || refs["text"].Schema.Name != "text" {
		t.Errorf("text: %+v", refs["text"])
	}
	if refs["sign"].SHA256 != "0123" {
		t.Errorf("the lock's digest wins: %+v", refs["sign"])
	}
	if refs["math"].SHA256 != "" {
		t.Errorf("no binary: %+v", refs["math"])
	}
	if _, err := remote.PluginRefs(context.Background(), fakePlugins{}, []string{"missing"}, nil); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("a missing plugin: %v", err)
	}
}
