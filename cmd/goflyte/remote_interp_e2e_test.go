package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/goflyte/goflyte/remote"
)

// TestE2ERemoteInterpreter runs `goflyte run --remote` against the real
// interpreter workflow (remote.RegisterWorkflow, merged from rflow) on a
// worker in this test process. `goflyte worker` is not merged yet: the
// text plugin's tasks are stand-in activities here (split and count
// computed in Go, "fail" in the text fails count with a task failure), on
// the plugin's own queue as a worker serves them. The real end to end,
// with two goflyte worker processes, is written at merge.
func TestE2ERemoteInterpreter(t *testing.T) {
	// Its own servers (Temporal, OIDC, bucket): it waits on them more than it computes.
	t.Parallel()
	x := newRemoteServers(t, "s3://runs/goflyte")
	w := worker.New(x.c, "goflyte", worker.Options{})
	remote.RegisterWorkflow(w)
	w.RegisterActivityWithOptions(func(_ context.Context, uri string) (json.RawMessage, error) {
		return nil, fmt.Errorf("no large outputs in this test: %s", uri)
	}, activity.RegisterOptions{Name: remote.ActivityLoadOutputs})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	tw := worker.New(x.c, remote.PluginQueue("goflyte", "text"), worker.Options{})
	task := func(f func(in map[string]any) (any, error)) func(context.Context, remote.TaskInput) (*remote.TaskOutput, error) {
		return func(_ context.Context, in remote.TaskInput) (*remote.TaskOutput, error) {
			start := time.Now()
			var inputs map[string]any
			if err := json.Unmarshal(in.Inputs, &inputs); err != nil {
				return nil, err
			}
			outs, err := f(inputs)
			if err != nil {
				return nil, temporal.NewNonRetryableApplicationError(err.Error(), remote.ErrTaskFailed, nil,
					remote.TaskFailure{Message: err.Error(), Kind: "task", Worker: "test", Start: start, End: time.Now()})
			}
			data, err := json.Marshal(outs)
			return &remote.TaskOutput{Outputs: data, Worker: "test", Start: start, End: time.Now()}, err
		}
	}
	tw.RegisterActivityWithOptions(task(func(in map[string]any) (any, error) {
		return map[string]any{"words": strings.Fields(in["text"].(string))}, nil
	}), activity.RegisterOptions{Name: "text.split"})
	tw.RegisterActivityWithOptions(task(func(in map[string]any) (any, error) {
		words := in["words"].([]any)
		for _, w := range words {
			if w == "fail" {
				return nil, fmt.Errorf("boom")
			}
		}
		return map[string]any{"n": len(words)}, nil
	}), activity.RegisterOptions{Name: "text.count"})
	if err := tw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Stop)

	wf := wordcountFile()
	r := x.run("run", "--remote", wf, "--input", "text=to be or not to be")
	if r.code != 0 || !strings.Contains(r.stdout, "Outputs:\n  n = 6\n") {
		t.Fatalf("run --remote with the interpreter: want n = 6\n%s", r)
	}
	for _, re := range []string{`(?m)^\[\s*\S+\] started   split \(text\.split\)$`, `(?m)^\[\s*\S+\] succeeded split \(text\.split\) in `, `(?m)^\[\s*\S+\] succeeded count \(text\.count\) in `, `(?m)^wordcount succeeded in `} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("no line %s\n%s", re, r)
		}
	}
	name := submittedRE.FindStringSubmatch(r.stderr)[2]
	out, r := x.runJSON("run", "--remote", wf, "--input", "text=a b c")
	if r.code != 0 || out.Status != "succeeded" || out.Outputs["n"] != float64(3) || len(out.Tasks) != 2 || out.Tasks[1].Name != "count" || out.Tasks[1].Status != "succeeded" {
		t.Errorf("--json with the interpreter\n%s", r)
	}
	r = x.run("run", "--remote", wf, "--input", "text=please fail")
	if r.code != 1 || !strings.Contains(r.stderr, `count`) || !strings.Contains(r.stderr, "boom") || !regexp.MustCompile(`(?m)^\[\s*\S+\] failed    count \(text\.count\)`).MatchString(r.stderr) {
		t.Errorf("a failed run with the interpreter: want exit 1 naming count\n%s", r)
	}
	failed := submittedRE.FindStringSubmatch(r.stderr)[2]
	r = x.run("runs", "show", "--remote", name)
	if r.code != 0 || !regexp.MustCompile(`(?m)^\s+└ count\s+text\.count\s+succeeded`).MatchString(r.stdout) || !strings.Contains(r.stdout, "n = 6") {
		t.Errorf("runs show --remote of the interpreter's run\n%s", r)
	}
	// Resume the failed run: split is kept by the interpreter.
	r = x.run("run", "--remote", "--resume", failed)
	if r.code != 1 || !regexp.MustCompile(`(?m)^\[\s*\S+\] kept      split \(text\.split\)`).MatchString(r.stderr) {
		t.Errorf("resume with the interpreter: split kept, count fails again\n%s", r)
	}
}
