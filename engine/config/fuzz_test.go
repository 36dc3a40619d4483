package config

import (
	"os"
	"path/filepath"
	"testing"
)

// seedFiles adds every fixture under dirs to the fuzz corpus.
func seedFiles(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
}

// FuzzLoadWorkflow feeds arbitrary bytes to the workflow parser and its
// static checks: they may report diagnostics, never panic.
func FuzzLoadWorkflow(f *testing.F) {
	seedFiles(f, "../testdata/workflows/*/*.hcl", "../../examples/workflows/*.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		wf, _ := NewParser().LoadWorkflowSource(src, "fuzz.hcl")
		if wf == nil {
			return
		}
		for _, w := range wf.Workflows {
			for _, tk := range w.Tasks {
				_ = tk.PluginName() + tk.TaskName()
			}
		}
	})
}

// FuzzLoadConfig feeds arbitrary bytes to the flyte.hcl loader.
func FuzzLoadConfig(f *testing.F) {
	seedFiles(f, "testdata/config/*/*.hcl", "../../flyte.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "flyte.hcl")
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _ := NewParser().LoadConfig(LoadOptions{ExplicitPath: path, WorkDir: dir, Getenv: func(string) (string, bool) { return "", false }})
		if cfg == nil {
			t.Fatal("LoadConfig returned no config")
		}
		_ = cfg.Settings()
	})
}
