package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPluginNewRefuses: a bad name, a non-empty directory, a file in the
// way and a path that is not a goflyte checkout are usage errors that
// create nothing.
func TestPluginNewRefuses(t *testing.T) {
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "full", "keep.txt"), "mine")
	writeTestFile(t, filepath.Join(dir, "afile"), "mine")
	t.Chdir(dir)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"dot in the name", []string{"new", "a.b", "--goflyte", repo}},
		{"slash in the name", []string{"new", "a/b", "--goflyte", repo}},
		{"starts with a digit", []string{"new", "9lives", "--goflyte", repo}},
		{"empty name", []string{"new", "", "--goflyte", repo}},
		{"non-empty directory", []string{"new", "full", "--goflyte", repo}},
		{"non-empty --dir", []string{"new", "ok", "--dir", "full", "--goflyte", repo}},
		{"a file in the way", []string{"new", "ok", "--dir", "afile", "--goflyte", repo}},
		{"not a checkout", []string{"new", "ok", "--goflyte", dir}},
		{"unknown subcommand", []string{"create", "ok"}},
		{"no name", []string{"new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), append([]string{"plugin"}, tc.args...), nil, &stdout, &stderr)
			if code != exitUsage || !strings.HasPrefix(stderr.String(), "Error: ") {
				t.Errorf("exit %d, stderr %q; want 2 and an error", code, stderr.String())
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("something was created: %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "full", "keep.txt")); string(b) != "mine" {
		t.Errorf("full/keep.txt changed: %q", b)
	}
}

// TestPluginNewE2E does what the README's tour starts with, from a
// temporary directory: goflyte plugin new, make test and make install (into
// a user config dir of its own, through XDG_CONFIG_HOME), then goflyte run
// of the example workflow, which finds the plugin there.
func TestPluginNewE2E(t *testing.T) {
	// Self-contained (its own directories, console, browser): it overlaps the tests that wait.
	t.Parallel()
	x := newE2E(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is needed: ", err)
	}
	work := t.TempDir()
	configDir := filepath.Join(work, "config")
	// Go's own settings live under the user config dir too (GOENV): pin
	// them, so that moving XDG_CONFIG_HOME changes nothing for the go tool.
	env := []string{"XDG_CONFIG_HOME=" + configDir, "FLYTE_SDK_LOCAL_SANDBOX=" + filepath.Join(work, "sandbox")}
	for _, v := range []string{"GOFLAGS", "GOPROXY", "GOCACHE", "GOMODCACHE", "GOPATH", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(append([]string{}, x.env...), env...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		t.Logf("%s %s: %s", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return string(out)
	}

	out := run(work, e2eBin, "plugin", "new", "hello", "--goflyte", repoRoot)
	project := filepath.Join(work, "hello")
	if !strings.Contains(out, `Created the plugin "hello"`) {
		t.Errorf("plugin new said:\n%s", out)
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go", "main_test.go", "Makefile", "README.md", "example.hcl"} {
		if _, err := os.Stat(filepath.Join(project, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
	gomod, _ := os.ReadFile(filepath.Join(project, "go.mod"))
	if !strings.Contains(string(gomod), "replace github.com/goflyte/goflyte => "+repoRoot) {
		t.Errorf("go.mod does not replace goflyte with %s:\n%s", repoRoot, gomod)
	}
	// go.sum is complete: tidy has nothing to add, and make test (which
	// would fail on a missing go.sum entry) passes.
	run(project, "go", "mod", "tidy", "-diff")
	// The generated workflow is formatted and valid.
	run(project, e2eBin, "fmt", "--check", ".")

	run(project, "make", "test")
	out = run(project, "make", "install")
	installed := filepath.Join(configDir, "goflyte", "plugins", "goflyte-plugin-hello")
	if info, err := os.Stat(installed); err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Fatalf("make install did not install an executable %s: %v\n%s", installed, err, out)
	}

	// goflyte run with no flyte.hcl: the default plugin dir, under the
	// user config dir, has the plugin.
	out = run(project, e2eBin, "run", "example.hcl", "--json")
	if !strings.Contains(out, `"message": "Hello, world!"`) || !strings.Contains(out, `"status": "succeeded"`) {
		t.Errorf("goflyte run example.hcl:\n%s", out)
	}
	out = run(project, e2eBin, "plugins", "describe", "hello")
	for _, doc := range []string{"Greets someone by name.", "Who to greet.", "The word to greet with"} {
		if !strings.Contains(out, doc) {
			t.Errorf("plugins describe hello lacks %q:\n%s", doc, out)
		}
	}
}
