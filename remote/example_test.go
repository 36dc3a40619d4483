package remote_test

import (
	"context"
	"fmt"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
)

// Dial connects with the settings of the platform block; the error names
// the setting to fix.
func ExampleDial() {
	cfg := config.Defaults()
	cfg.Platform.URL = "dns:///temporal.example.com:7233"
	cfg.Platform.CACertFilePath = "/etc/goflyte/ca.pem"

	o := remote.OptionsFromConfig(cfg.Platform)
	o.Token = remote.StaticToken("a token from the credentials block")
	c, err := remote.Dial(context.Background(), o)
	if err != nil {
		fmt.Println(err) // connect to Temporal at ...; check platform.ca_cert_file_path: ...
		return
	}
	defer c.Close()
	// c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: o.TaskQueue + ".text"}, ...)
}

func ExampleOptionsFromConfig() {
	o := remote.OptionsFromConfig(config.Defaults().Platform)
	fmt.Println(o.URL, o.Namespace, o.TaskQueue, o.TLSMode())
	// Output: localhost:30080 default goflyte verified
}
