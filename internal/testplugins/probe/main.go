// Command goflyte-plugin-probe is a plugin for the tests of remote runs
// (engine.ExecuteTask, goflyte worker): a long task that checkpoints its
// progress, a task that holds a secret and tries to leak it in every
// way a task can (its error, its outputs, its log, its stderr), and a
// dynamic task and an eager task that call whatever task they are told
// to.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/goflyte/goflyte/sdk"
)

// token is the secret the leak task needs.
var token = sdk.SecretRequest{Group: "probe", Key: "token"}

type stepsIn struct {
	N  int `json:"n" desc:"How many steps to make."`
	MS int `json:"ms,omitempty" desc:"How long each step sleeps, in milliseconds."`
}

type stepsOut struct {
	ResumedFrom int    `json:"resumed_from" desc:"The step this attempt started from: 0 unless it restored a checkpoint."`
	Done        int    `json:"done" desc:"Steps made, in all attempts."`
	Attempt     int    `json:"attempt" desc:"The attempt that finished."`
	Node        string `json:"node" desc:"The node the task was told it runs."`
}

// steps makes n steps of ms milliseconds, saving the next step in its
// checkpoint after each, and resumes from a checkpoint when it has one.
func steps(ctx context.Context, in stepsIn) (stepsOut, error) {
	p := sdk.Params(ctx)
	next := 0
	saved, err := p.Checkpoint().Read()
	if err != nil {
		return stepsOut{}, err
	}
	if saved != nil {
		if err := json.Unmarshal(saved, &next); err != nil {
			return stepsOut{}, fmt.Errorf("bad checkpoint: %w", err)
		}
	}
	out := stepsOut{ResumedFrom: next, Attempt: p.Attempt, Node: p.Node}
	for ; next < in.N; next++ {
		select {
		case <-ctx.Done():
			return stepsOut{}, ctx.Err()
		case <-time.After(time.Duration(in.MS) * time.Millisecond):
		}
		data, _ := json.Marshal(next + 1)
		if err := p.Checkpoint().Write(data); err != nil {
			return stepsOut{}, err
		}
		p.Logger.Info("step done", "step", next+1)
	}
	out.Done = next
	return out, nil
}

type leakIn struct {
	Mode string `json:"mode" desc:"How to leak the secret: error, retryable, diagnostic, output, log, crash or none."`
}

type leakOut struct {
	Digest string `json:"digest" desc:"SHA-256 of the secret, hex."`
	Value  string `json:"value,omitempty" desc:"The secret itself (mode output)."`
}

func leak(ctx context.Context, in leakIn) (leakOut, error) {
	p := sdk.Params(ctx)
	secret, err := p.Secrets().GetBytes(token.Group, token.Key)
	if err != nil {
		return leakOut{}, err
	}
	s := string(secret)
	sum := sha256.Sum256(secret)
	out := leakOut{Digest: hex.EncodeToString(sum[:])}
	switch in.Mode {
	case "error":
		return leakOut{}, errors.New("the token " + s + " was refused")
	case "retryable":
		return leakOut{}, sdk.Retryable(errors.New("the token " + s + " timed out"))
	case "diagnostic":
		return leakOut{}, sdk.AttrError("mode", "Bad token "+s, "The token "+s+" is not accepted.")
	case "output":
		out.Value = s
	case "log":
		p.Logger.Info("using the token " + s)
	case "crash":
		fmt.Fprintln(os.Stderr, "panic: the token "+s+" broke me")
		os.Exit(3)
	}
	return out, nil
}

type viaIn struct {
	Uses   string            `json:"uses" desc:"The task to call, plugin.task."`
	Inputs map[string]string `json:"inputs" desc:"Its inputs."`
	Output string            `json:"output" desc:"Which of its outputs to return."`
}

type viaOut struct {
	Value string `json:"value" desc:"The called task's output."`
}

// via is a dynamic task whose workflow calls the task it is told to: a
// plugin that the run's own graph does not use.
func via(ctx context.Context, in viaIn) (*sdk.Graph[viaOut], error) {
	g := sdk.NewGraph[viaOut]()
	inputs := make(map[string]any, len(in.Inputs))
	for k, v := range in.Inputs {
		inputs[k] = v
	}
	g.Task("call", in.Uses, inputs)
	g.Output("value", sdk.Ref("task.call."+in.Output))
	return g, nil
}

type callIn struct {
	Uses       string            `json:"uses" desc:"The task to call, plugin.task."`
	Inputs     map[string]string `json:"inputs" desc:"Its inputs."`
	Output     string            `json:"output" desc:"Which of its outputs to return."`
	IgnoreFail bool              `json:"ignore_fail,omitempty" desc:"Succeed with an empty value when the call fails."`
}

// call is an eager task that runs the task it is told to through the
// engine: a task of another plugin than its own.
func call(ctx context.Context, in callIn) (viaOut, error) {
	inputs := make(map[string]any, len(in.Inputs))
	for k, v := range in.Inputs {
		inputs[k] = v
	}
	res, err := sdk.Params(ctx).Run(ctx, in.Uses, inputs)
	if err != nil {
		if in.IgnoreFail {
			return viaOut{}, nil
		}
		return viaOut{}, err
	}
	var outs map[string]any
	if err := res.Decode(&outs); err != nil {
		return viaOut{}, err
	}
	return viaOut{Value: fmt.Sprint(outs[in.Output])}, nil
}

type bigIn struct {
	Words     int `json:"words" desc:"How many words the text has (each 10 bytes with its space)."`
	Items     int `json:"items,omitempty" desc:"How many items the list has."`
	ItemBytes int `json:"item_bytes,omitempty" desc:"How many bytes each item has."`
}

type bigOut struct {
	Text  string   `json:"text" desc:"The words \"w000000001\" to the last, separated by spaces."`
	Items []string `json:"items" desc:"The items, each item_bytes bytes of words."`
}

// big makes large values, for the tests of values above Temporal's
// payload limit.
func big(_ context.Context, in bigIn) (bigOut, error) {
	var b []byte
	for i := 1; i <= in.Words; i++ {
		if i > 1 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "w%09d", i)
	}
	out := bigOut{Text: string(b), Items: []string{}}
	for i := 0; i < in.Items; i++ {
		item := make([]byte, 0, in.ItemBytes)
		for j := 0; len(item) < in.ItemBytes; j++ {
			item = fmt.Appendf(item, "i%03dw%05d ", i, j)
		}
		out.Items = append(out.Items, string(item[:in.ItemBytes]))
	}
	return out, nil
}

func main() {
	sdk.ServeWithOptions(sdk.Options{Name: "probe"}, map[string]sdk.Task{
		"big":   sdk.Func(big).WithDoc("Makes a text of words and a list of items as large as asked (for tests of large values)."),
		"steps": sdk.Func(steps).WithDoc("Makes n steps of ms milliseconds, checkpointing after each (for tests)."),
		"leak":  sdk.Func(leak).WithDoc("Holds the secret probe/token and leaks it as mode says (for tests).").WithSecrets(token),
		"call":  sdk.Eager(call).WithDoc("Runs the task uses with inputs through the engine and returns its output (an eager task, for tests)."),
		"via":   sdk.Dynamic(via).WithDoc("Returns a workflow that calls the task uses with inputs, and returns its output (a dynamic task, for tests)."),
	})
}
