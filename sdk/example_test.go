package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

type splitIn struct {
	Text string `json:"text" desc:"The text to split."`
	Sep  string `json:"sep,omitempty" desc:"The separator; whitespace if unset."`
}

type splitOut struct {
	Words []string `json:"words" desc:"The words, in order."`
}

func split(ctx context.Context, in splitIn) (splitOut, error) {
	sdk.Params(ctx).Logger.Info("splitting", "bytes", len(in.Text))
	if in.Sep == "" {
		return splitOut{Words: strings.Fields(in.Text)}, nil
	}
	return splitOut{Words: strings.Split(in.Text, in.Sep)}, nil
}

// A plugin's main would pass the same map to sdk.Serve. Here we call the
// provider directly, as the engine does over gRPC.
func Example_task() {
	p := sdk.NewProvider("text", "1.0.0", map[string]sdk.Task{
		"split": sdk.Func(split).WithDoc("Splits text into words."),
	})
	ctx := context.Background()

	schema, _ := p.Describe(ctx)
	for _, task := range schema.Tasks {
		fmt.Printf("%s.%s: %s\n", schema.Name, task.Name, task.Doc)
		for _, f := range task.Inputs {
			fmt.Printf("  in  %-5s %-12s optional=%-5v %s\n", f.Name, f.Type, f.Optional, f.Doc)
		}
		for _, f := range task.Outputs {
			fmt.Printf("  out %-5s %-12s optional=%-5v %s\n", f.Name, f.Type, f.Optional, f.Doc)
		}
	}

	res, err := p.Execute(ctx, &plugin.ExecuteRequest{
		Task:   "split",
		Inputs: json.RawMessage(`{"text": "the quick  brown fox"}`),
		Params: plugin.Params{Mode: sdk.ModeLocalTaskExecution, TaskID: "text.split", Attempt: 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(res.Outputs))

	// Bad inputs fail the task with one diagnostic per input.
	_, err = p.Execute(ctx, &plugin.ExecuteRequest{
		Task:   "split",
		Inputs: json.RawMessage(`{"text": 42, "lang": "en"}`),
	})
	var te *plugin.TaskError
	if errors.As(err, &te) {
		for _, d := range te.Diagnostics {
			fmt.Printf("%s: %s: %s\n", d.Attribute, d.Summary, d.Detail)
		}
	}

	// Output:
	// text.split: Splits text into words.
	//   in  text  string       optional=false The text to split.
	//   in  sep   string       optional=true  The separator; whitespace if unset.
	//   out words list(string) optional=false The words, in order.
	// {"words":["the","quick","brown","fox"]}
	// lang: Unsupported input: This task has no input named "lang". Its inputs are "text" and "sep".
	// text: Invalid value for input: The input "text" must be a string (string), but got 42.
}

// A task adds Markdown and a table to a deck of its own. The engine renders
// it, beside the default decks, for a task block with enable_deck = true.
func ExampleExecutionParams_Deck() {
	count := sdk.Func(func(ctx context.Context, in splitIn) (splitOut, error) {
		words := strings.Fields(in.Text)
		d := sdk.Params(ctx).Deck("Summary")
		d.Markdown(fmt.Sprintf("**%d** words", len(words)))
		d.Table([]string{"#", "word"}, [][]any{{1, words[0]}, {2, words[1]}})
		return splitOut{Words: words}, nil
	})
	p := sdk.NewProvider("text", "1.0.0", map[string]sdk.Task{"count": count})
	res, err := p.Execute(context.Background(), &plugin.ExecuteRequest{
		Task:   "count",
		Inputs: json.RawMessage(`{"text": "hello decks"}`),
		Params: plugin.Params{EnableDeck: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range res.Decks {
		fmt.Println(d.Name)
		for _, b := range d.Blocks {
			switch {
			case b.Markdown != "":
				fmt.Println("  markdown:", b.Markdown)
			case b.Table != nil:
				fmt.Println("  table:", b.Table.Header, b.Table.Rows)
			}
		}
	}
	// Output:
	// Summary
	//   markdown: **2** words
	//   table: [# word] [[1 hello] [2 decks]]
}
