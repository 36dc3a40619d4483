// Command goflyte-plugin-math is an example goflyte plugin with arithmetic
// tasks on numbers and lists of numbers. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/goflyte/goflyte/sdk"
)

func main() {
	sdk.ServeWithOptions(sdk.Options{Name: "math"}, tasks)
}

var tasks = map[string]sdk.Task{
	"add":  sdk.Func(add).WithDoc("Adds two numbers."),
	"mul":  sdk.Func(mul).WithDoc("Multiplies two numbers."),
	"div":  sdk.Func(div).WithDoc("Divides a by b."),
	"sum":  sdk.Func(sum).WithDoc("Adds up a list of numbers."),
	"mean": sdk.Func(mean).WithDoc("Returns the arithmetic mean of a non-empty list of numbers."),
	"series": sdk.Func(series).WithDoc("Adds up 1..n in steps, saving its progress in a checkpoint after each " +
		"step, so that a retried attempt goes on where the last one stopped."),
}

type pair struct {
	A float64 `json:"a" desc:"The first operand."`
	B float64 `json:"b" desc:"The second operand."`
}

type sumOut struct {
	Sum float64 `json:"sum" desc:"a + b"`
}

func add(ctx context.Context, in pair) (sumOut, error) {
	sdk.Logger(ctx).Info("adding", "a", in.A, "b", in.B)
	return sumOut{Sum: in.A + in.B}, nil
}

type productOut struct {
	Product float64 `json:"product" desc:"a × b"`
}

func mul(ctx context.Context, in pair) (productOut, error) {
	sdk.Logger(ctx).Info("multiplying", "a", in.A, "b", in.B)
	return productOut{Product: in.A * in.B}, nil
}

type quotientOut struct {
	Quotient float64 `json:"quotient" desc:"a / b"`
}

func div(ctx context.Context, in pair) (quotientOut, error) {
	sdk.Logger(ctx).Info("dividing", "a", in.A, "b", in.B)
	if in.B == 0 {
		// An AttrError points the engine's message at the input b in the
		// workflow file.
		return quotientOut{}, sdk.AttrError("b", "Division by zero", "The divisor b must not be zero.")
	}
	return quotientOut{Quotient: in.A / in.B}, nil
}

type valuesIn struct {
	Values []float64 `json:"values" desc:"The numbers."`
}

type totalOut struct {
	Total float64 `json:"total" desc:"The sum of the values; 0 for an empty list."`
}

func sum(ctx context.Context, in valuesIn) (totalOut, error) {
	sdk.Logger(ctx).Info("summing", "values", len(in.Values))
	var total float64
	for _, v := range in.Values {
		total += v
	}
	return totalOut{Total: total}, nil
}

type meanOut struct {
	Mean float64 `json:"mean" desc:"The arithmetic mean of the values."`
}

// errEmpty is mean's error for an empty list.
var errEmpty = errors.New("the mean of an empty list is undefined: values must hold at least one number")

func mean(ctx context.Context, in valuesIn) (meanOut, error) {
	sdk.Logger(ctx).Info("averaging", "values", len(in.Values))
	if len(in.Values) == 0 {
		return meanOut{}, errEmpty
	}
	var total float64
	for _, v := range in.Values {
		total += v
	}
	return meanOut{Mean: total / float64(len(in.Values))}, nil
}

type seriesIn struct {
	N    int `json:"n" desc:"Add up the whole numbers from 1 to n."`
	Step int `json:"step,omitempty" desc:"How many numbers to add per step (default 10)."`
	// StopAfter makes the task fail after that many steps in each attempt,
	// to show a retried attempt picking up from the checkpoint.
	StopAfter int `json:"stop_after,omitempty" desc:"Fail (retryably) after this many steps in each attempt; 0 never."`
}

type seriesOut struct {
	Sum         float64 `json:"sum" desc:"1 + 2 + ... + n"`
	ResumedFrom int     `json:"resumed_from" desc:"The number the last attempt started from: 1 unless it resumed from a checkpoint."`
}

// seriesState is what series keeps in its checkpoint.
type seriesState struct {
	Next int     `json:"next"`
	Sum  float64 `json:"sum"`
}

func series(ctx context.Context, in seriesIn) (seriesOut, error) {
	p := sdk.Params(ctx)
	step := in.Step
	if step <= 0 {
		step = 10
	}
	st := seriesState{Next: 1}
	saved, err := p.Checkpoint().Read()
	if err != nil {
		return seriesOut{}, err
	}
	if saved != nil {
		if err := json.Unmarshal(saved, &st); err != nil {
			return seriesOut{}, fmt.Errorf("bad checkpoint: %w", err)
		}
		p.Logger.Info("resuming from the checkpoint", "next", st.Next)
	}
	out := seriesOut{ResumedFrom: st.Next}
	for steps := 0; st.Next <= in.N; steps++ {
		if in.StopAfter > 0 && steps == in.StopAfter {
			return seriesOut{}, sdk.Retryable(fmt.Errorf("stopped after %d steps at %d", steps, st.Next))
		}
		if err := ctx.Err(); err != nil {
			return seriesOut{}, err
		}
		for end := min(st.Next+step, in.N+1); st.Next < end; st.Next++ {
			st.Sum += float64(st.Next)
		}
		data, _ := json.Marshal(st)
		if err := p.Checkpoint().Write(data); err != nil {
			return seriesOut{}, err
		}
	}
	out.Sum = st.Sum
	return out, nil
}
