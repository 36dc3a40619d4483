// Command goflyte-plugin-misbehave is a test plugin whose tasks fail the
// ways real plugins do: it hangs ignoring cancellation, and it crashes on
// a task's first attempt. The end-to-end tests use it for retries and
// timeouts.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goflyte/goflyte/sdk"
)

type out struct {
	Attempt int `json:"attempt"`
}

// hang never returns, whatever its context says.
func hang(ctx context.Context, _ struct{}) (out, error) {
	for {
		time.Sleep(time.Hour)
	}
}

// crashOnce kills its plugin process on the first attempt of a task and
// succeeds on the next: a marker beside the working directories (each
// attempt gets its own) remembers the crash.
func crashOnce(ctx context.Context, _ struct{}) (out, error) {
	p := sdk.Params(ctx)
	marker := filepath.Join(filepath.Dir(p.WorkingDirectory), "crashed-"+p.Node)
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return out{}, err
		}
		fmt.Fprintln(p.Stderr, "crash_once: dying on attempt", p.Attempt)
		os.Exit(3)
	}
	return out{Attempt: p.Attempt}, nil
}

func main() {
	sdk.Serve(map[string]sdk.Task{
		"hang":       sdk.Func(hang),
		"crash_once": sdk.Func(crashOnce),
	})
}
