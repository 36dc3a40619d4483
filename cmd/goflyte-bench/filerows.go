package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

// bigFileSize is the file the file-passing rows hand from task to task.
const bigFileSize = 1 << 30

// fileComparisons are the rows of issue 7: files between tasks, and
// checkpoints.
func fileComparisons() []Comparison {
	return []Comparison{
		{
			ID:   "file-pass",
			Name: "passing a 1 GiB file between two tasks vs cp",
			Goflyte: Side{
				What: "one Run of produce -> consume: produce returns a 1 GiB file in its working directory, the engine " +
					"checks its path and stores it in the run's data store, consume gets the stored path and stats it " +
					"(an in-process provider, so the row shows what the engine adds)",
				Setup: setupFilePass(false),
			},
			Baseline: &Side{
				What:  "cp of the same 1 GiB file (in the page cache) to a new file in the same directory",
				Setup: setupCopyBigFile,
			},
			Target: 1.5, Op: AtMost,
			N: 5, QuickN: 3, Warmup: 1,
		},
		{
			ID:   "file-pass-cached",
			Name: "passing a 1 GiB file to a cached task vs cp",
			Goflyte: Side{
				What:  "as file-pass, with consume cached: the engine hashes the file's contents (SHA-256) for the cache key",
				Setup: setupFilePass(true),
			},
			Baseline: &Side{
				What:  "cp of the same 1 GiB file, as in file-pass",
				Setup: setupCopyBigFile,
			},
			N: 5, QuickN: 3, Warmup: 1,
		},
		{
			ID:   "checkpoint-write",
			Name: "empty checkpoint write vs os.WriteFile",
			Goflyte: Side{
				What:  "Checkpoint.Write(nil), as sdk.Params(ctx).Checkpoint() does it: a temporary file, chmod, rename over the last checkpoint",
				Setup: setupCheckpointWrite,
			},
			Baseline: &Side{
				What:  "os.WriteFile(path, nil, 0o600) over an existing file",
				Setup: setupWriteFile,
			},
			N: 200, QuickN: 50, Warmup: 10,
		},
	}
}

var bigFile struct {
	once sync.Once
	path string
	err  error
}

// theBigFile writes the 1 GiB file once per bench run.
func theBigFile(env *Env) (string, error) {
	bigFile.once.Do(func() {
		bigFile.path = filepath.Join(env.Dir, "big.bin")
		f, err := os.Create(bigFile.path)
		if err != nil {
			bigFile.err = err
			return
		}
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i * 7)
		}
		for n := 0; n < bigFileSize && err == nil; n += len(chunk) {
			chunk[0]++ // no two chunks alike
			_, err = f.Write(chunk)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		bigFile.err = err
	})
	return bigFile.path, bigFile.err
}

func setupCopyBigFile(ctx context.Context, env *Env) (Sampler, error) {
	src, err := theBigFile(env)
	if err != nil {
		return nil, err
	}
	dst := filepath.Join(env.Dir, "big-copy.bin")
	return func(ctx context.Context) (time.Duration, error) {
		os.Remove(dst)
		start := time.Now()
		out, err := exec.CommandContext(ctx, "cp", src, dst).CombinedOutput()
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("cp: %v: %s", err, out)
		}
		os.Remove(dst)
		return d, nil
	}, nil
}

// fileTasks is an in-process plugin: produce links the big file into its
// working directory and returns it; consume reports its input's size.
type fileTasks struct{ big string }

func (p fileTasks) Describe(context.Context) (*plugin.Schema, error) {
	return &plugin.Schema{Name: "files", Version: "bench", Tasks: []plugin.TaskSchema{
		{Name: "produce", Outputs: []plugin.Field{{Name: "file", Type: "file"}}},
		{Name: "consume", Inputs: []plugin.Field{{Name: "file", Type: "file"}}, Outputs: []plugin.Field{{Name: "size", Type: "number"}}},
	}}, nil
}

func (p fileTasks) Execute(_ context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	switch req.Task {
	case "produce":
		if err := os.Link(p.big, filepath.Join(req.Params.WorkingDirectory, "big.bin")); err != nil {
			return nil, err
		}
		return &plugin.ExecuteResult{Outputs: json.RawMessage(`{"file":"big.bin"}`)}, nil
	case "consume":
		var in struct{ File string }
		if err := json.Unmarshal(req.Inputs, &in); err != nil {
			return nil, err
		}
		fi, err := os.Stat(in.File)
		if err != nil {
			return nil, err
		}
		return &plugin.ExecuteResult{Outputs: json.RawMessage(fmt.Sprintf(`{"size":%d}`, fi.Size()))}, nil
	}
	return nil, &plugin.TaskError{Message: "no task " + req.Task}
}

func setupFilePass(cached bool) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		big, err := theBigFile(env)
		if err != nil {
			return nil, err
		}
		cfg, err := env.EngineConfig()
		if err != nil {
			return nil, err
		}
		sandboxDir, err := env.TempDir("files-sandbox-")
		if err != nil {
			return nil, err
		}
		cfg.SDK.LocalSandbox = sandboxDir
		cfg.Local.CacheDir = filepath.Join(sandboxDir, "cache")
		eng := engine.New(cfg, nil)
		env.Cleanup(eng.Close)
		eng.Storage = localStorage{}
		eng.Plugins.Register("files", fileTasks{big: big})
		cache := ""
		if cached {
			cache = `cache = true
    cache_version = "1"`
		}
		src := fmt.Sprintf(`workflow "pass" {
  task "produce" { uses = "files.produce" }
  task "consume" {
    uses   = "files.consume"
    inputs = { file = task.produce.file }
    %s
  }
  output "size" { value = task.consume.size }
}
`, cache)
		path := filepath.Join(sandboxDir, "pass.hcl")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			return nil, err
		}
		wf, diags := config.NewParser().LoadWorkflowFile(path)
		if diags.HasErrors() {
			return nil, diags
		}
		g, diags := eng.Compile(ctx, wf.Workflows[0])
		if diags.HasErrors() {
			return nil, diags
		}
		return func(ctx context.Context) (time.Duration, error) {
			start := time.Now()
			res, err := eng.Run(ctx, g, engine.RunOptions{})
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			if res.Status != engine.StatusSucceeded {
				return 0, fmt.Errorf("run %s: %v", res.Status, res.Err)
			}
			if got := engine.FormatValue(res.Outputs["size"]); got != fmt.Sprint(bigFileSize) {
				return 0, fmt.Errorf("consume saw %s bytes, want %d", got, bigFileSize)
			}
			os.RemoveAll(res.RunDir) // the run's links, not the big file's data
			return d, nil
		}, nil
	}
}

func setupCheckpointWrite(ctx context.Context, env *Env) (Sampler, error) {
	cp := sdk.NewCheckpoint(filepath.Join(env.Dir, "checkpoint"), "")
	return func(context.Context) (time.Duration, error) {
		start := time.Now()
		err := cp.Write(nil)
		return time.Since(start), err
	}, nil
}

func setupWriteFile(ctx context.Context, env *Env) (Sampler, error) {
	path := filepath.Join(env.Dir, "plain-write")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return nil, err
	}
	return func(context.Context) (time.Duration, error) {
		start := time.Now()
		err := os.WriteFile(path, nil, 0o600)
		return time.Since(start), err
	}, nil
}

// localStorage is engine/datastore as the engine's Storage, for local
// directories (as the CLI's, without cloud settings).
type localStorage struct{}

func (localStorage) Open(ctx context.Context, prefix string) (engine.Store, error) {
	st, err := datastore.Open(ctx, prefix, datastore.Options{})
	if err != nil {
		return nil, err // not a nil *datastore.Store in a non-nil interface
	}
	return st, nil
}

func (localStorage) Fetch(ctx context.Context, uri, dst string, dir bool) error {
	return datastore.Fetch(ctx, uri, dst, dir, datastore.Options{})
}
