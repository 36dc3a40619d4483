// Command goflyte-plugin-oldsdk is a test plugin that stands for one built
// with an sdk from before lazy working directories: its Describe does not
// announce plugin.Schema.LazyWorkingDirectory (as an older sdk, whose
// answer has no such field), so the engine must make every working
// directory before the call, as it always did.
package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

type writeIn struct {
	Text string `json:"text"`
}

type writeOut struct {
	File sdk.File `json:"file"`
}

// write checks that its working directory exists before it writes into
// it (an older sdk does not make it), then writes text into a file there.
func write(ctx context.Context, in writeIn) (writeOut, error) {
	dir := sdk.Params(ctx).WorkingDirectory
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return writeOut{}, errors.New("the engine did not make the working directory " + dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "old.txt"), []byte(in.Text), 0o600); err != nil {
		return writeOut{}, err
	}
	return writeOut{File: sdk.File{Path: "old.txt"}}, nil
}

type idleOut struct {
	OK bool `json:"ok"`
}

// idle uses nothing: with a lazy plugin it would get no directory.
func idle(context.Context, struct{}) (idleOut, error) { return idleOut{OK: true}, nil }

// oldSchema hides the capability, as an older sdk's Describe would, and
// ignores the engine's request to make the directory.
type oldSchema struct{ plugin.Provider }

func (p oldSchema) Describe(ctx context.Context) (*plugin.Schema, error) {
	s, err := p.Provider.Describe(ctx)
	if s != nil {
		s.LazyWorkingDirectory = false
	}
	return s, err
}

// Execute drops the request's MakeWorkingDirectory, as an older sdk,
// which does not know the field, never sees it: it would not make the
// directory.
func (p oldSchema) Execute(ctx context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	r := *req
	r.Params.MakeWorkingDirectory = false
	return p.Provider.Execute(ctx, &r)
}

func main() {
	plugin.Serve(oldSchema{sdk.NewProvider("oldsdk", "1.0.0", map[string]sdk.Task{
		"write": sdk.Func(write),
		"idle":  sdk.Func(idle),
	})}, plugin.ServeOptions{})
}
