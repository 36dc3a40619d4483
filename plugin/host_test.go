package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// echoHost is the engine side of eager tasks for the tests: it runs every
// child as an echo of its inputs, naming its parent.
type echoHost struct{}

func (echoHost) RunTask(_ context.Context, parent, task string, inputs json.RawMessage) (json.RawMessage, error) {
	return json.Marshal(map[string]any{"x": fmt.Sprintf("%s ran %s with %s", parent, task, inputs)})
}

// TestEagerTaskLongAfterLaunch: an eager task that starts more than 5 s
// after its plugin was launched (go-plugin's broker forgets a connection
// nobody dialled within 5 s) still reaches the host, as a worker's
// plugins, kept running, need; concurrent eager calls each get theirs.
func TestEagerTaskLongAfterLaunch(t *testing.T) {
	c := mustLaunchHelper(t, "serve", LaunchOptions{Host: echoHost{}})
	ctx := context.Background()
	if _, err := c.Describe(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // past go-plugin's 5 s
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("call-%d", i)
			res, err := c.Execute(ctx, &ExecuteRequest{Task: "eager", CallID: id, Inputs: json.RawMessage(`{"x":1}`)})
			if err != nil {
				t.Errorf("eager call %d: %v", i, err)
				return
			}
			want := fmt.Sprintf(`{"x":"%s ran echo with {\"x\":1}"}`, id)
			if string(res.Outputs) != want {
				t.Errorf("eager call %d: outputs %s, want %s", i, res.Outputs, want)
			}
		}()
	}
	wg.Wait()
	// A plain task gets no host connection and works as before.
	if _, err := c.Execute(ctx, &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{"x":2}`)}); err != nil {
		t.Fatal(err)
	}
}
