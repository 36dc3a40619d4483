package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// Env holds what the rows share: the binaries built for this run, a
// temporary directory, and resources to release at the end.
type Env struct {
	// Dir is a temporary directory, removed by Close.
	Dir string
	// CLI is the goflyte binary; PluginDir holds goflyte-plugin-text.
	CLI, PluginDir string
	// TextPlugin is the path of goflyte-plugin-text.
	TextPlugin string

	mu       sync.Mutex
	cleanups []func()
	warm     *warmEngine
	entry    *cacheEntry
	remote   *remoteEnv
}

// Cleanup registers f to run at Close, in reverse order of registration.
func (e *Env) Cleanup(f func()) {
	e.mu.Lock()
	e.cleanups = append(e.cleanups, f)
	e.mu.Unlock()
}

// Close releases every resource and removes the temporary directory.
func (e *Env) Close() {
	e.mu.Lock()
	fs := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	if e.Dir != "" {
		os.RemoveAll(e.Dir)
	}
}

// TempDir returns a new directory under Dir.
func (e *Env) TempDir(prefix string) (string, error) {
	return os.MkdirTemp(e.Dir, prefix)
}

// NewEnv builds the CLI and the text plugin into a temporary directory with
// `go build`, so that no timing includes compilation. It must run in the
// goflyte module.
func NewEnv(ctx context.Context) (*Env, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "goflyte-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, PluginDir: filepath.Join(dir, "plugins")}
	e.CLI = filepath.Join(dir, "bin", "goflyte"+exeSuffix())
	e.TextPlugin = filepath.Join(e.PluginDir, plugin.BinaryPrefix+"text"+exeSuffix())
	// One `go build` for both packages: they share most of their
	// dependencies. It names the binaries after their directories.
	bin := filepath.Join(dir, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/goflyte", "./examples/text")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		e.Close()
		return nil, fmt.Errorf("go build ./cmd/goflyte ./examples/text: %v\n%s", err, out)
	}
	if err := os.MkdirAll(e.PluginDir, 0o755); err != nil {
		e.Close()
		return nil, err
	}
	if err := os.Rename(filepath.Join(bin, "text"+exeSuffix()), e.TextPlugin); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not in a Go module: run goflyte-bench from the goflyte repository (make bench)")
	}
	data, err := os.ReadFile(mod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(data, []byte("module github.com/goflyte/goflyte\n")) {
		return "", fmt.Errorf("%s is not the goflyte module: run goflyte-bench from the goflyte repository (make bench)", mod)
	}
	return filepath.Dir(mod), nil
}

// EngineConfig returns the default configuration with the plugin directory
// and a fresh sandbox of this run.
func (e *Env) EngineConfig() (*config.Config, error) {
	sandbox, err := e.TempDir("sandbox-")
	if err != nil {
		return nil, err
	}
	cfg := config.Defaults()
	cfg.SDK.PluginDirs = []string{e.PluginDir}
	cfg.SDK.LocalSandbox = sandbox
	return cfg, nil
}

// warmEngine is an engine whose text plugin is running, shared by the rows
// that measure warm calls.
type warmEngine struct {
	eng    *engine.Engine
	client plugin.Provider
	err    error
}

// WarmEngine returns the shared engine, starting it (and its text plugin)
// on first use.
func (e *Env) WarmEngine(ctx context.Context) (*engine.Engine, plugin.Provider, error) {
	e.mu.Lock()
	w := e.warm
	if w == nil {
		w = &warmEngine{}
		e.warm = w
		cfg, err := e.EngineConfig()
		if err != nil {
			w.err = err
		} else {
			w.eng = engine.New(cfg, nil)
			e.cleanups = append(e.cleanups, w.eng.Close)
			w.client, _, w.err = w.eng.Plugins.Get(ctx, "text")
		}
	}
	e.mu.Unlock()
	return w.eng, w.client, w.err
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// hostEnv is this process's environment without FLYTE_* variables, so that
// the user's goflyte settings do not change what the CLI rows measure.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYTE_") {
			env = append(env, kv)
		}
	}
	return env
}
