package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/template"

	"github.com/goflyte/goflyte/plugin"
)

// goflyteModule is goflyte's module path, which generated plugins require.
const goflyteModule = "github.com/goflyte/goflyte"

//go:embed plugintemplate/*.tmpl
var pluginTemplates embed.FS

// pluginFiles maps each template to the file it becomes.
var pluginFiles = []struct{ tmpl, file string }{
	{"go.mod.tmpl", "go.mod"},
	{"main.go.tmpl", "main.go"},
	{"main_test.go.tmpl", "main_test.go"},
	{"example.hcl.tmpl", "example.hcl"},
	{"Makefile.tmpl", "Makefile"},
	{"README.md.tmpl", "README.md"},
	{"gitignore.tmpl", ".gitignore"},
}

func pluginCommand() *command {
	return &command{
		name:    "plugin",
		args:    "new NAME [--dir DIR] [--goflyte PATH] [--module PATH]",
		summary: "Create a new plugin project, ready to build, test and install",
		help: `
goflyte plugin new NAME creates a Go module for a plugin named NAME in
./NAME (or --dir): main.go with one documented example task written with
sdk.Func, a unit test with sdk/sdktest, a Makefile (build into
goflyte-plugin-NAME, test, install into <user config dir>/goflyte/plugins),
a README, and example.hcl, a workflow that uses the plugin and runs
without --input. Then it runs go mod tidy there, so go.sum is complete
(the go tool must be on PATH; modules come from the module cache or the
module proxy).

  goflyte plugin new hello
  cd hello && make test && make install
  goflyte run example.hcl

NAME uses letters, digits, underscores and dashes, starting with a
letter. The directory must not exist or be empty.

goflyte is not published as a module yet, so the new module builds against
a local checkout of goflyte with a replace directive: --goflyte PATH, or by
default the checkout this goflyte binary was built from, when it still
exists (a binary built with -trimpath does not know it: pass --goflyte).

Flags:
  --dir DIR        where to create the project (default: ./NAME)
  --goflyte PATH   the goflyte checkout to build against (default: the one
                   this binary was built from)
  --module PATH    the new module's path (default: goflyte-plugin-NAME)`,
		run: runPluginNew,
	}
}

func runPluginNew(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("plugin")
	dir := fs.String("dir", "", "")
	checkout := fs.String("goflyte", "", "")
	module := fs.String("module", "", "")
	pos, err := c.parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	if pos[0] != "new" {
		return usagef("plugin: unknown subcommand %q; try goflyte plugin new NAME (goflyte plugins lists, describes and locks plugins)", pos[0])
	}
	name := pos[1]
	if err := plugin.ValidName(name); err != nil {
		return usagef("plugin new: %v", err)
	}
	if *dir == "" {
		*dir = name
	}
	if *module == "" {
		*module = plugin.BinaryPrefix + name
	}
	if err := checkEmptyDir(*dir); err != nil {
		return usagef("plugin new: %v", err)
	}
	root, err := goflyteCheckout(*checkout)
	if err != nil {
		return usagef("plugin new: %v", err)
	}
	goVersion, err := goDirective(filepath.Join(root, "go.mod"))
	if err != nil {
		return usagef("plugin new: %v", err)
	}
	data := map[string]any{
		"Name":        name,
		"Module":      *module,
		"Workflow":    name + "_example",
		"GoVersion":   goVersion,
		"Replace":     true,
		"GoflytePath": modPath(root),
	}
	if err := writePluginProject(*dir, data); err != nil {
		return fmt.Errorf("plugin new: %w", err)
	}
	tidy := exec.CommandContext(ctx, "go", "mod", "tidy")
	tidy.Dir = *dir
	if out, err := tidy.CombinedOutput(); err != nil {
		return fmt.Errorf("plugin new: the project is in %s, but go mod tidy failed there (run it again once fixed): %v\n%s", *dir, err, bytes.TrimSpace(out))
	}
	var files []string
	for _, f := range pluginFiles {
		files = append(files, f.file)
	}
	fmt.Fprintf(c.stdout, "Created the plugin %q in %s (module %s, goflyte from %s):\n  %s, go.sum\n\nNext:\n  cd %s\n  make test      # unit tests\n  make install   # into <user config dir>/goflyte/plugins\n  goflyte run example.hcl\n",
		name, *dir, *module, root, strings.Join(files, ", "), *dir)
	return nil
}

// checkEmptyDir returns an error when dir exists and is not an empty
// directory.
func checkEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		if info, serr := os.Stat(dir); serr == nil && !info.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s exists and is not empty: choose another NAME or --dir", dir)
	}
	return nil
}

// goflyteCheckout returns the absolute path of the goflyte checkout to
// build against: path, or the checkout this binary was compiled from.
func goflyteCheckout(path string) (string, error) {
	if path == "" {
		// The compiler records this file's path unless -trimpath was
		// used: cmd/goflyte/plugincmd.go in the checkout.
		_, file, _, ok := runtime.Caller(0)
		if !ok || !filepath.IsAbs(file) {
			return "", errors.New("goflyte is not published yet and this binary does not know its source: pass --goflyte PATH, a checkout of " + goflyteModule)
		}
		path = filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if err := isGoflyteCheckout(path); err != nil {
			return "", fmt.Errorf("this binary was built from %s, which is no longer a goflyte checkout (%v): pass --goflyte PATH", path, err)
		}
		return path, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if err := isGoflyteCheckout(abs); err != nil {
		return "", fmt.Errorf("--goflyte %s: %v", path, err)
	}
	return abs, nil
}

func isGoflyteCheckout(dir string) error {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("no go.mod: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			if fields[1] != goflyteModule {
				return fmt.Errorf("its go.mod is module %s, not %s", fields[1], goflyteModule)
			}
			return nil
		}
	}
	return fmt.Errorf("its go.mod names no module")
}

// goDirective returns the go version a go.mod declares.
func goDirective(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "go" {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("%s has no go directive", gomod)
}

// modPath writes a path for go.mod, quoted when it needs to be.
func modPath(p string) string {
	if strings.ContainsAny(p, " \t\"'`\\") {
		return strconv.Quote(p)
	}
	return p
}

// writePluginProject writes the project's files into dir (made if
// missing), each with mode 0644.
func writePluginProject(dir string, data map[string]any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range pluginFiles {
		t, err := template.ParseFS(pluginTemplates, "plugintemplate/"+f.tmpl)
		if err != nil {
			return err // a broken template: a bug, caught by the tests
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.file), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
