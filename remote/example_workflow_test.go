package remote_test

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/goflyte/goflyte/remote"
)

// A worker that runs runs' interpreter workflows polls the run's task
// queue and registers the workflows and the local activity that loads
// outputs the data store keeps; the plugins' activities are served on
// their own queues (remote.PluginQueue).
func ExampleRegisterWorkflow() {
	o := remote.Options{URL: "127.0.0.1:7233", Insecure: true, TaskQueue: "goflyte"}
	c, err := remote.Dial(context.Background(), o)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	w := worker.New(c, o.TaskQueue, worker.Options{})
	remote.RegisterWorkflow(w) // goflyte.run and goflyte.batch
	w.RegisterActivityWithOptions(func(ctx context.Context, uri string) (json.RawMessage, error) {
		return nil, fmt.Errorf("read %s from the data store", uri) // the worker's data store
	}, activity.RegisterOptions{Name: remote.ActivityLoadOutputs})
	if err := w.Run(worker.InterruptCh()); err != nil {
		fmt.Println(err)
	}
}
