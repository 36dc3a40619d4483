package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/goflyte/goflyte/engine"
)

// workerComparisons are the rows of the worker's side of issue 13: one
// task attempt made for a remote run (engine.ExecuteTask, what a
// `goflyte worker` activity does around the Temporal SDK) against the
// local engine's one-task run.
func workerComparisons() []Comparison {
	return []Comparison{
		{
			ID:   "execute-task",
			Name: "worker task attempt vs local one-task run",
			Goflyte: Side{
				What: "engine.ExecuteTask(text.upper) on an engine whose plugin runs: the task described as data, " +
					"its own sandbox run, the call, output checks, the task log put in a local data store",
				Setup: setupExecuteTask,
			},
			Baseline: &Side{
				What:  "TaskGraph(text.upper) + Run(text=hello) on the same engine (the warm-call row)",
				Setup: setupWarmEngineCall,
			},
			Target: 1.5, Op: AtMost,
			N: 1000, QuickN: 200, Warmup: 50,
		},
	}
}

func setupExecuteTask(ctx context.Context, env *Env) (Sampler, error) {
	eng, _, err := env.WarmEngine(ctx)
	if err != nil {
		return nil, err
	}
	data, err := env.TempDir("worker-data-")
	if err != nil {
		return nil, err
	}
	if eng.Storage == nil {
		eng.Storage = localStorage{} // the task log goes to the data store
	}
	n := 0
	return func(ctx context.Context) (time.Duration, error) {
		n++
		call := engine.TaskCall{
			ExecutionID: "p:d:bench", Node: fmt.Sprintf("up%d", n), Plugin: "text", Task: "upper",
			Inputs: json.RawMessage(`{"text":"hello"}`), DataPrefix: data,
		}
		start := time.Now()
		res, err := eng.ExecuteTask(ctx, call)
		d := time.Since(start)
		if err == nil && string(res.Outputs) != `{"text":"HELLO"}` {
			err = fmt.Errorf("unexpected outputs %s", res.Outputs)
		}
		return d, err
	}, nil
}
