package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/internal/testtmp"
	"github.com/goflyte/goflyte/plugin"
)

// The plugin schema cache runs a real plugin process: the example text
// plugin, behind a shell script that notes each start in a file, so that
// the tests see whether the plugin was started.

var textPlugin struct {
	once sync.Once
	path string
	err  error
}

// textPluginPath builds the example text plugin once per test binary.
func textPluginPath(t *testing.T) string {
	t.Helper()
	textPlugin.once.Do(func() {
		dir, err := testtmp.Dir("goflyte-schema-test-")
		if err != nil {
			textPlugin.err = err
			return
		}
		textPlugin.path = filepath.Join(dir, "text")
		cmd := exec.Command("go", "build", "-o", textPlugin.path, "./examples/text")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			textPlugin.err = errors.New("build the text plugin: " + err.Error() + "\n" + string(out))
		}
	})
	if textPlugin.err != nil {
		t.Fatal(textPlugin.err)
	}
	return textPlugin.path
}

// countedPlugin writes goflyte-plugin-counted into a new plugin
// directory: a script that appends a line to the returned log at each
// start, then runs the text plugin. extra goes into the script as a
// comment (a different extra is a different binary).
func countedPlugin(t *testing.T, dir, extra string) (log string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the counting plugin is a shell script")
	}
	log = filepath.Join(dir, "starts.log")
	script := "#!/bin/sh\n# " + extra + "\necho started >>'" + log + "'\nexec '" + textPluginPath(t) + "' \"$@\"\n"
	path := filepath.Join(dir, plugin.BinaryPrefix+"counted")
	// Replace, not rewrite: a new file, as a build or an install makes.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return log
}

func starts(t *testing.T, log string) int {
	t.Helper()
	data, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "started\n")
}

// schemaPlugins is a registry over dir with the schema cache in
// schemaDir, as engine.New makes it; closed at the end of the test.
func schemaPlugins(t *testing.T, dir, schemaDir string, env ...string) *Plugins {
	p := NewPlugins(PluginsOptions{Dirs: []string{dir}, SchemaDir: schemaDir, Env: append(os.Environ(), env...)})
	t.Cleanup(p.Close)
	return p
}

func TestPluginSchemaCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	ctx := context.Background()
	dir, schemaDir := t.TempDir(), filepath.Join(t.TempDir(), "plugin-schemas")
	log := countedPlugin(t, dir, "one")

	// First use: the plugin starts and describes itself; the answer is kept.
	p1 := schemaPlugins(t, dir, schemaDir)
	want, err := p1.Schema(ctx, "counted")
	if err != nil {
		t.Fatal(err)
	}
	if n := starts(t, log); n != 1 {
		t.Fatalf("first Schema started the plugin %d times, want 1", n)
	}
	if _, ok := want.Task("upper"); !ok {
		t.Fatalf("schema lacks text's task upper: %+v", want)
	}

	// Another registry (another run): the kept answer, no process.
	p2 := schemaPlugins(t, dir, schemaDir)
	got, err := p2.Schema(ctx, "counted")
	if err != nil {
		t.Fatal(err)
	}
	if n := starts(t, log); n != 1 {
		t.Errorf("Schema with the answer kept started the plugin (%d starts, want 1)", n)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kept schema differs from the plugin's answer (-want +got):\n%s", diff)
	}
	// A task call still starts the plugin, which describes itself.
	_, live, err := p2.Get(ctx, "counted")
	if err != nil {
		t.Fatal(err)
	}
	if n := starts(t, log); n != 2 {
		t.Errorf("Get after a kept Schema: %d starts, want 2", n)
	}
	if diff := cmp.Diff(want, live); diff != "" {
		t.Errorf("live schema differs (-want +got):\n%s", diff)
	}

	// What invalidates the answer: each case starts the plugin again.
	for _, tc := range []struct {
		name    string
		prepare func() *Plugins
	}{
		{"changed binary", func() *Plugins {
			countedPlugin(t, dir, "two")
			return schemaPlugins(t, dir, schemaDir)
		}},
		{"changed environment", func() *Plugins {
			return schemaPlugins(t, dir, schemaDir, "GOFLYTE_TEST_SCHEMA_ENV=1")
		}},
		{"changed log level", func() *Plugins {
			p := schemaPlugins(t, dir, schemaDir)
			p.logLevel = "debug"
			return p
		}},
		{"corrupt entries", func() *Plugins {
			entries, err := os.ReadDir(schemaDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				path := filepath.Join(schemaDir, e.Name())
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				data[len(data)-1] ^= 0x20 // one bit of the payload
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return schemaPlugins(t, dir, schemaDir)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := starts(t, log)
			p := tc.prepare()
			got, err := p.Schema(ctx, "counted")
			if err != nil {
				t.Fatal(err)
			}
			if n := starts(t, log) - before; n != 1 {
				t.Errorf("Schema started the plugin %d times, want 1", n)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("schema differs (-want +got):\n%s", diff)
			}
			// And the new answer is kept in turn.
			before = starts(t, log)
			p.Close()
			again := schemaPlugins(t, dir, schemaDir)
			again.logLevel = p.logLevel
			again.env = p.env
			if _, err := again.Schema(ctx, "counted"); err != nil {
				t.Fatal(err)
			}
			if n := starts(t, log) - before; n != 0 {
				t.Errorf("the new answer was not kept: %d starts", n)
			}
		})
	}

	// The lock is checked on a hit too.
	p3 := schemaPlugins(t, dir, schemaDir)
	p3.UseLock(&config.Lock{Plugins: map[string]config.LockedPlugin{}}, "goflyte.lock")
	var lerr *LockError
	if _, err := p3.Schema(ctx, "counted"); !errors.As(err, &lerr) {
		t.Errorf("Schema of a plugin the lock does not list: %v, want a *LockError", err)
	}
}

func TestSchemaKey(t *testing.T) {
	base := plugin.LaunchOptions{LogLevel: "info", Env: []string{"A=1", "B=2"}}
	key := func(name, sum string, opts plugin.LaunchOptions) string { return schemaKey(name, sum, opts) }
	k := key("text", "aa", base)
	if k != key("text", "aa", plugin.LaunchOptions{LogLevel: "info", Env: []string{"A=1", "B=2"}, Logger: nil, Name: "other"}) {
		t.Error("the key depends on what does not reach the plugin")
	}
	for _, tc := range []struct {
		name string
		key  string
	}{
		{"plugin name", key("text2", "aa", base)},
		{"binary digest", key("text", "ab", base)},
		{"log level", key("text", "aa", plugin.LaunchOptions{LogLevel: "debug", Env: base.Env})},
		{"TLS", key("text", "aa", plugin.LaunchOptions{LogLevel: "info", Env: base.Env, TLS: true})},
		{"environment value", key("text", "aa", plugin.LaunchOptions{LogLevel: "info", Env: []string{"A=1", "B=3"}})},
		{"environment split", key("text", "aa", plugin.LaunchOptions{LogLevel: "info", Env: []string{"A=1B=2"}})},
		{"environment extra", key("text", "aa", plugin.LaunchOptions{LogLevel: "info", Env: []string{"A=1", "B=2", "C="}})},
	} {
		if tc.key == k {
			t.Errorf("changing the %s does not change the key", tc.name)
		}
	}
}

func TestBinaryDigestMemo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("digests are remembered on Linux only")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bin")
	if err := os.WriteFile(path, []byte("version one"), 0o755); err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	s := &schemaStore{dir: filepath.Join(dir, "schemas"), now: func() time.Time { return clock }}
	memo := filepath.Join(s.dir, binaryDigestName(path))

	// Just written: hashed, not remembered (it may change within the
	// file system's clock tick).
	sum1, _, _, err := s.binarySum(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := FileSHA256(path); sum1 != want {
		t.Fatalf("binarySum = %s, want %s", sum1, want)
	}
	if _, err := os.Stat(memo); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("digest of a file written just now was remembered (%v)", err)
	}

	// Settled: remembered, and the memo is what answers.
	clock = clock.Add(settleTime + time.Second)
	if _, _, _, err := s.binarySum(path); err != nil {
		t.Fatal(err)
	}
	if _, ok := readChecked(memo, digestFileHeader); !ok {
		t.Fatal("digest of a settled file was not remembered")
	}

	// Rewritten in place with the same size and modification time: the
	// change time still moves, and the digest is computed anew.
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // past the file system's clock tick
	if err := os.WriteFile(path, []byte("version two"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	sum2, _, _, err := s.binarySum(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := FileSHA256(path); sum2 != want || sum2 == sum1 {
		t.Errorf("after a rewrite binarySum = %s, want %s (not the old %s)", sum2, want, sum1)
	}

	// A damaged memo is not believed.
	clock = clock.Add(settleTime + time.Second)
	if _, _, _, err := s.binarySum(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(memo)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(data), sum2, strings.Repeat("0", len(sum2)), 1)
	if err := os.WriteFile(memo, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _ := s.binarySum(path); got != sum2 {
		t.Errorf("binarySum believed a memo whose checksum fails: %s, want %s", got, sum2)
	}
}

func TestSchemaStoreTrims(t *testing.T) {
	dir := t.TempDir()
	s := &schemaStore{dir: dir, now: time.Now}
	old := time.Now().Add(-time.Hour)
	for i := range maxSchemaFiles {
		path := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// f000 is the oldest.
		if err := os.Chtimes(path, old, old.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	schema := &plugin.Schema{Name: "text", Version: "1"}
	if err := s.put(strings.Repeat("a", 64), schema); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != maxSchemaFiles {
		t.Errorf("%d files after a put into a full store, want %d", len(entries), maxSchemaFiles)
	}
	if _, err := os.Stat(filepath.Join(dir, "f000")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oldest file was kept (%v)", err)
	}
	if got, ok := s.get(strings.Repeat("a", 64)); !ok || got.Name != "text" {
		t.Errorf("the new entry: %+v, %v", got, ok)
	}
}

// A run starts the plugins of its first tasks as it sets up (run.go), but
// only for tasks that will run: a re-run whose tasks all come from the
// cache still starts no plugin process.
func TestRunStartsNoPluginForCachedFirstTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	dir := t.TempDir()
	log := countedPlugin(t, dir, "run")
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{dir}
	cfg.Local.CacheDir = t.TempDir()
	const src = `
workflow "w" {
  input "text" { type = string }
  task "a" {
    uses          = "counted.upper"
    inputs        = { text = input.text }
    cache         = true
    cache_version = "1"
  }
  task "b" {
    uses          = "counted.upper"
    inputs        = { text = task.a.text }
    cache         = true
    cache_version = "1"
  }
  output "text" { value = task.b.text }
}`
	run := func() *Result {
		e := New(cfg, nil)
		defer e.Close()
		return mustRun(t, e, src, map[string]string{"text": "hi"}, RunOptions{})
	}
	if res := run(); res.Status != StatusSucceeded {
		t.Fatalf("first run: %s: %v", res.Status, res.Err)
	}
	before := starts(t, log)
	if before == 0 {
		t.Fatal("the first run started no plugin")
	}
	res := run()
	if res.Status != StatusSucceeded {
		t.Fatalf("cached run: %s: %v", res.Status, res.Err)
	}
	for _, tr := range res.Tasks {
		if tr.Cache != CacheHit {
			t.Errorf("cached run: task %s: cache %q, want a hit", tr.Node, tr.Cache)
		}
	}
	if n := starts(t, log) - before; n != 0 {
		t.Errorf("a fully cached run started the plugin %d times, want 0", n)
	}
}
