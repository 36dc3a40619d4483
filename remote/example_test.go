package remote_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/goflyte/goflyte/auth"
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

// Tokens from the credentials block: an auth.Source refreshes them ahead
// of expiry and is told when the service refuses one; a refusal (or no
// token where one is wanted) is a DialError with Refused set, whose
// message names the credentials settings to check.
func ExampleDial_credentials() {
	cfg := config.Defaults()
	cfg.Platform.URL = "temporal.example.com:7233"
	cfg.Credentials.Issuer = "https://login.example.com/"
	cfg.Credentials.ClientID = "goflyte-worker"
	cfg.Credentials.ClientSecretEnvVar = "GOFLYTE_CLIENT_SECRET"

	set, err := auth.FromConfig(cfg, nil)
	if err != nil {
		fmt.Println(err) // a *auth.ConfigError naming the setting
		return
	}
	src, err := auth.New(auth.Options{Settings: set})
	if err != nil {
		fmt.Println(err)
		return
	}
	o := remote.OptionsFromConfig(cfg.Platform)
	o.Token = src
	if p := src.Proxy(); p != nil {
		o.ProxyToken = p // credentials.proxy_command
	}
	c, err := remote.Dial(context.Background(), o)
	var de *remote.DialError
	if errors.As(err, &de) && de.Refused {
		fmt.Println(err) // ...; check credentials: the server refused the token (a JWT: ...)
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
}

// A remote run's data and cache live under raw_output_data_prefix, which
// must be a bucket.
func ExampleDataPrefixes() {
	data, cache, _ := remote.DataPrefixes("s3://my-bucket/goflyte", "r20261202-101500-3fa9c27d", true)
	fmt.Println(data)
	fmt.Println(cache)
	_, _, err := remote.DataPrefixes("/tmp/goflyte", "r1", true)
	fmt.Println(err != nil)
	// Output:
	// s3://my-bucket/goflyte/r20261202-101500-3fa9c27d
	// s3://my-bucket/goflyte/cache
	// true
}

// The console link of a run, as `run --remote` prints it (no run id: it
// stays the run's when the run continues as new), and of one Temporal
// run of it.
func ExampleConsoleURL() {
	id := remote.ExecutionID("flytesnacks", "development", "r1")
	fmt.Println(remote.ConsoleURL("http://localhost:8233", "default", id, ""))
	fmt.Println(remote.ConsoleURL("http://localhost:8233", "default", id, "0193f2b0-aa"))
	// Output:
	// http://localhost:8233/namespaces/default/workflows/flytesnacks%3Adevelopment%3Ar1
	// http://localhost:8233/namespaces/default/workflows/flytesnacks%3Adevelopment%3Ar1/0193f2b0-aa/history
}
