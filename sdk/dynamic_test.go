package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

type dynIn struct {
	Texts []string `json:"texts"`
}

type dynOut struct {
	Joined string `json:"joined"`
}

func TestDynamicRendersAWorkflow(t *testing.T) {
	task := sdk.Dynamic(func(ctx context.Context, in dynIn) (*sdk.Graph[dynOut], error) {
		g := sdk.NewGraph[dynOut]()
		for _, text := range in.Texts {
			g.Task("up", "text.upper", map[string]any{"text": text, "opts": map[string]any{"n": 1, "list": []any{sdk.Ref("task.a.b"), "x"}}})
		}
		g.Output("joined", sdk.Ref("task.up.text"))
		return g, nil
	})
	if k := task.Schema().Kind; k != plugin.KindDynamic {
		t.Fatalf("kind = %v", k)
	}
	p := plugin.TestProvider(t, sdk.NewProvider("p", "1", map[string]sdk.Task{"d": task}))
	res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "d", Inputs: []byte(`{"texts":["say ${hi} %{if}"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `workflow "d" {
  task "up" {
    uses = "text.upper"
    inputs = {
      "opts" = {"list" = [task.a.b, "x"], "n" = 1}
      "text" = "say $${hi} %%{if}"
    }
  }
  output "joined" { value = task.up.text }
}
`
	if res.Workflow != want {
		t.Errorf("workflow:\n%s\nwant:\n%s", res.Workflow, want)
	}
}

func TestDynamicErrors(t *testing.T) {
	task := sdk.Dynamic(func(ctx context.Context, in dynIn) (*sdk.Graph[dynOut], error) {
		return nil, errors.New("cannot plan")
	})
	p := plugin.TestProvider(t, sdk.NewProvider("p", "1", map[string]sdk.Task{"d": task}))
	_, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "d", Inputs: []byte(`{"texts":[]}`)})
	var te *plugin.TaskError
	if !errors.As(err, &te) || !strings.Contains(te.Message, "cannot plan") {
		t.Errorf("err = %v", err)
	}
}
