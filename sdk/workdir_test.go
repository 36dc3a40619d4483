package sdk_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

type dirOut struct {
	Existed bool `json:"existed"` // the directory existed when the task looked
}

// rawTask is a Task of its own: it reads the working directory from the
// request, past Params.
type rawTask struct{}

func (rawTask) Schema() plugin.TaskSchema {
	return plugin.TaskSchema{Outputs: []plugin.Field{{Name: "existed", Type: "bool"}}}
}

func (rawTask) Execute(_ context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	_, err := os.Stat(req.Params.WorkingDirectory)
	return &plugin.ExecuteResult{Outputs: []byte(`{"existed":` + map[bool]string{true: "true", false: "false"}[err == nil] + `}`)}, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// TestLazyWorkingDirectory runs tasks over gRPC with an engine's request
// that leaves the working directory to the plugin
// (Params.MakeWorkingDirectory): it exists for a task that asks for its
// params or writes into it, before its first use, and not at all for a
// task that never asks for them or only logs; a request without the flag
// (an older engine, which made it) is left alone.
func TestLazyWorkingDirectory(t *testing.T) {
	p := plugin.TestProvider(t, sdk.NewProvider("demo", "1", map[string]sdk.Task{
		"pure": sdk.Func(func(context.Context, struct{}) (dirOut, error) { return dirOut{}, nil }),
		"logs": sdk.Func(func(ctx context.Context, _ struct{}) (dirOut, error) {
			sdk.Logger(ctx).Info("only logging")
			return dirOut{}, nil
		}),
		"params": sdk.Func(func(ctx context.Context, _ struct{}) (dirOut, error) {
			return dirOut{Existed: isDir(sdk.Params(ctx).WorkingDirectory)}, nil
		}),
		"write": sdk.Func(func(ctx context.Context, _ struct{}) (dirOut, error) {
			p := sdk.Params(ctx)
			if err := os.WriteFile(filepath.Join(p.WorkingDirectory, "out.txt"), []byte("x"), 0o600); err != nil {
				return dirOut{}, err
			}
			if err := p.Checkpoint().Write([]byte("progress")); err != nil {
				return dirOut{}, err
			}
			return dirOut{Existed: true}, nil
		}),
		"raw": rawTask{},
	}))
	s, err := p.Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !s.LazyWorkingDirectory {
		t.Fatal("the sdk does not announce LazyWorkingDirectory")
	}
	tests := []struct {
		task        string
		make        bool
		wantDir     bool // the directory exists after the call
		wantExisted bool // the task saw it
		// wantReport is what the answer says of the directory
		// (ExecuteResult.Workdir), over gRPC.
		wantReport plugin.WorkdirReport
	}{
		{"pure", true, false, false, plugin.WorkdirNotMade},
		{"logs", true, false, false, plugin.WorkdirNotMade},
		{"params", true, true, true, plugin.WorkdirMade},
		{"write", true, true, true, plugin.WorkdirMade},
		{"raw", true, true, true, plugin.WorkdirMade},
		{"params", false, false, false, plugin.WorkdirUnreported}, // the engine said it made it: nothing to do
	}
	for _, tt := range tests {
		t.Run(tt.task+map[bool]string{true: "/make", false: "/made"}[tt.make], func(t *testing.T) {
			run := t.TempDir()
			dir := filepath.Join(run, "tasks", tt.task)
			if err := os.Mkdir(filepath.Dir(dir), 0o700); err != nil {
				t.Fatal(err)
			}
			res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: tt.task, Inputs: []byte(`{}`), Params: plugin.Params{
				WorkingDirectory: dir, MakeWorkingDirectory: tt.make, Attempt: 1,
				CheckpointDir: filepath.Join(run, "checkpoints", tt.task),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := isDir(dir); got != tt.wantDir {
				t.Errorf("directory exists after the call: %v, want %v", got, tt.wantDir)
			}
			if res.Workdir != tt.wantReport {
				t.Errorf("answer says %v of the directory, want %v", res.Workdir, tt.wantReport)
			}
			if got := strings.Contains(string(res.Outputs), `"existed":true`); got != tt.wantExisted {
				t.Errorf("task saw its directory: %v, want %v (outputs %s)", got, tt.wantExisted, res.Outputs)
			}
			if tt.wantDir {
				if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm() != 0o700 {
					t.Errorf("directory mode %v, want 0700 (private)", fi.Mode().Perm())
				}
			}
		})
	}
}

// TestLazyWorkingDirectoryFresh checks that the plugin never hands a task
// a directory that already exists (another execution's files): the
// mkdir fails, and so does the task, whose answer says nothing of the
// directory (it exists, but the call did not make it).
func TestLazyWorkingDirectoryFresh(t *testing.T) {
	p := plugin.TestProvider(t, sdk.NewProvider("demo", "1", map[string]sdk.Task{
		"params": sdk.Func(func(ctx context.Context, _ struct{}) (dirOut, error) {
			return dirOut{Existed: isDir(sdk.Params(ctx).WorkingDirectory)}, nil
		}),
		"raw": rawTask{},
	}))
	for _, task := range []string{"params", "raw"} {
		dir := t.TempDir() // exists already
		res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: task, Inputs: []byte(`{}`), Params: plugin.Params{WorkingDirectory: dir, MakeWorkingDirectory: true}})
		var te *plugin.TaskError
		if !errors.As(err, &te) || !strings.Contains(te.Message, "make the task's working directory") {
			t.Errorf("%s: err = %v, want a TaskError about making the working directory", task, err)
		}
		if res != nil && res.Workdir != plugin.WorkdirUnreported {
			t.Errorf("%s: answer says %v of the directory, want nothing", task, res.Workdir)
		}
	}
}

// TestLazyWorkingDirectoryReportOnFailure checks that a failed task's
// answer says what became of its directory too: the engine names it in
// the record of the failed attempt only if it exists.
func TestLazyWorkingDirectoryReportOnFailure(t *testing.T) {
	p := plugin.TestProvider(t, sdk.NewProvider("demo", "1", map[string]sdk.Task{
		"used": sdk.Func(func(ctx context.Context, _ struct{}) (dirOut, error) {
			_ = sdk.Params(ctx)
			return dirOut{}, errors.New("failed after using it")
		}),
		"idle": sdk.Func(func(context.Context, struct{}) (dirOut, error) {
			return dirOut{}, errors.New("failed without it")
		}),
	}))
	for task, want := range map[string]plugin.WorkdirReport{"used": plugin.WorkdirMade, "idle": plugin.WorkdirNotMade} {
		dir := filepath.Join(t.TempDir(), task)
		res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: task, Inputs: []byte(`{}`), Params: plugin.Params{WorkingDirectory: dir, MakeWorkingDirectory: true}})
		if err == nil {
			t.Fatalf("%s: no error", task)
		}
		if res == nil || res.Workdir != want {
			t.Errorf("%s: answer %+v, want one saying %v", task, res, want)
		}
	}
}
