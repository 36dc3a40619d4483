package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/cache"
)

// runCached compiles and runs src with text inputs and returns the
// outputs as text and each task's cache outcome.
func runCached(t *testing.T, e *Engine, src string, inputs map[string]string, opts RunOptions) (map[string]string, map[string]string) {
	t.Helper()
	res := mustRun(t, e, src, inputs, opts)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	outs := map[string]string{}
	for k, v := range res.Outputs {
		outs[k] = FormatValue(v)
	}
	caches := map[string]string{}
	for _, tr := range res.Tasks {
		caches[tr.Node] = tr.Cache
		if tr.CacheReason != "" {
			caches[tr.Node] += ": " + tr.CacheReason
		}
	}
	return outs, caches
}

const counterWF = `
workflow "c" {
  input "x" { type = any }
  input "note" {
    type    = string
    default = "a"
  }
  task "count" {
    uses                = "fake.counter"
    inputs              = { x = input.x, note = input.note }
    cache               = true
    cache_version       = "1"
    cache_ignore_inputs = ["note"]
  }
  output "n" { value = task.count.n }
}`

func TestCacheHitSkipsTheTask(t *testing.T) {
	e, f := newTestEngine(t)
	outs, caches := runCached(t, e, counterWF, map[string]string{"x": `{"a":1,"b":2}`}, RunOptions{})
	if outs["n"] != "1" || caches["count"] != CacheMiss {
		t.Fatalf("first run: outputs %v, cache %v", outs, caches)
	}
	// Same inputs (map order differs), and a different ignored input.
	outs, caches = runCached(t, e, counterWF, map[string]string{"x": `{"b":2,"a":1}`, "note": "b"}, RunOptions{})
	if outs["n"] != "1" || caches["count"] != CacheHit {
		t.Errorf("second run: outputs %v, cache %v; want the cached 1", outs, caches)
	}
	if got := f.counter.Load(); got != 1 {
		t.Errorf("the task ran %d times, want 1", got)
	}
	// A different input misses, and --explain says which.
	_, caches = runCached(t, e, counterWF, map[string]string{"x": `{"a":1,"b":3}`}, RunOptions{Explain: true})
	if want := CacheMiss + ": input changed since the latest entry: x"; caches["count"] != want {
		t.Errorf("cache = %q, want %q", caches["count"], want)
	}
}

func TestCacheExplain(t *testing.T) {
	e, _ := newTestEngine(t)
	_, caches := runCached(t, e, counterWF, map[string]string{"x": "1"}, RunOptions{Explain: true})
	if want := CacheMiss + ": no entry for this task"; caches["count"] != want {
		t.Errorf("cache = %q, want %q", caches["count"], want)
	}
	v2 := strings.Replace(counterWF, `cache_version       = "1"`, `cache_version       = "2"`, 1)
	_, caches = runCached(t, e, v2, map[string]string{"x": "1"}, RunOptions{Explain: true})
	if want := CacheMiss + `: cache version changed ("2", was "1")`; caches["count"] != want {
		t.Errorf("cache = %q, want %q", caches["count"], want)
	}
}

func TestCacheOverwriteThenNormalRun(t *testing.T) {
	e, _ := newTestEngine(t)
	in := map[string]string{"x": "1"}
	runCached(t, e, counterWF, in, RunOptions{})
	e.Config.Local.CacheOverwrite = true
	outs, caches := runCached(t, e, counterWF, in, RunOptions{})
	if outs["n"] != "2" || caches["count"] != CacheOverwrite {
		t.Fatalf("overwrite run: outputs %v, cache %v", outs, caches)
	}
	e.Config.Local.CacheOverwrite = false
	outs, caches = runCached(t, e, counterWF, in, RunOptions{})
	if outs["n"] != "2" || caches["count"] != CacheHit {
		t.Errorf("normal run after overwrite: outputs %v, cache %v; want the new value 2 from the cache", outs, caches)
	}
}

func TestCacheDisabled(t *testing.T) {
	e, f := newTestEngine(t)
	e.Config.Local.CacheEnabled = false
	in := map[string]string{"x": "1"}
	for i := 0; i < 2; i++ {
		_, caches := runCached(t, e, counterWF, in, RunOptions{})
		if caches["count"] != "" {
			t.Errorf("run %d: cache = %q with the cache disabled", i, caches["count"])
		}
	}
	if got := f.counter.Load(); got != 2 {
		t.Errorf("the task ran %d times, want 2", got)
	}
	if entries, _ := os.ReadDir(e.Config.CachePath()); len(entries) != 0 {
		t.Errorf("the disabled cache wrote %d entries", len(entries))
	}
}

func TestCacheSharedAcrossWorkflowsNotTasks(t *testing.T) {
	e, _ := newTestEngine(t)
	a := `workflow "a" {
  task "t" {
    uses          = "fake.echo"
    inputs        = { s = "x" }
    cache         = true
    cache_version = "1"
  }
}`
	b := strings.Replace(strings.Replace(a, `"a"`, `"b"`, 1), `task "t"`, `task "other_name"`, 1)
	other := strings.Replace(a, "fake.echo", "fake.echo2", 1)
	runCached(t, e, a, nil, RunOptions{})
	if _, caches := runCached(t, e, b, nil, RunOptions{}); caches["other_name"] != CacheHit {
		t.Errorf("another workflow with the same task and inputs: cache %v, want a hit", caches)
	}
	if _, caches := runCached(t, e, other, nil, RunOptions{}); caches["t"] != CacheMiss {
		t.Errorf("another task with the same version and inputs: cache %v, want a miss", caches)
	}
}

func TestCachePluginDeclared(t *testing.T) {
	e, _ := newTestEngine(t)
	src := `workflow "m" {
  task "m" {
    uses   = "fake.memo"
    inputs = { s = "x" }
  }
}`
	runCached(t, e, src, nil, RunOptions{})
	if _, caches := runCached(t, e, src, nil, RunOptions{}); caches["m"] != CacheHit {
		t.Errorf("plugin-declared cacheable task: cache %v, want a hit", caches)
	}
	off := strings.Replace(src, `inputs = { s = "x" }`, "inputs = { s = \"x\" }\n    cache = false", 1)
	if _, caches := runCached(t, e, off, nil, RunOptions{}); caches["m"] != "" {
		t.Errorf("cache = false in the workflow: cache %v, want none", caches)
	}
}

func TestCacheSecretsAreNotInTheKey(t *testing.T) {
	e, _ := newTestEngine(t)
	src := `workflow "s" {
  task "s" {
    uses          = "fake.secrets"
    cache         = true
    cache_version = "1"
    secret {
      group = "api"
      key   = "token"
    }
  }
}`
	e.Secrets = mapBackend{"api/token": "first-value"}
	runCached(t, e, src, nil, RunOptions{})
	e.Secrets = mapBackend{"api/token": "second-value"}
	if _, caches := runCached(t, e, src, nil, RunOptions{}); caches["s"] != CacheHit {
		t.Errorf("cache %v: a changed secret must not change the key", caches)
	}
	err := filepath.WalkDir(e.Config.CachePath(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), "first-value") || strings.Contains(string(data), "second-value") {
			t.Errorf("a secret value is in cache file %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCacheNeverStoresAnOutputHoldingASecret(t *testing.T) {
	e, _ := newTestEngine(t)
	src := `workflow "r" {
  task "r" {
    uses          = "fake.reveal"
    cache         = true
    cache_version = "1"
    secret {
      group = "api"
      key   = "token"
    }
  }
}`
	e.Secrets = mapBackend{"api/token": "revealed-value"}
	for i := 0; i < 2; i++ {
		if _, caches := runCached(t, e, src, nil, RunOptions{}); caches["r"] != CacheMiss {
			t.Errorf("run %d: cache %v, want a miss every time: the result was not stored", i+1, caches)
		}
	}
	assertNotInTree(t, e.Config.CachePath(), "revealed-value")
}

// assertNotInTree fails if any file under root holds value.
func assertNotInTree(t *testing.T, root, value string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if strings.Contains(string(data), value) {
			t.Errorf("a secret value is in %s", path)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func TestCacheCorruptEntryIsAMiss(t *testing.T) {
	e, f := newTestEngine(t)
	in := map[string]string{"x": "1"}
	res := mustRun(t, e, counterWF, in, RunOptions{})
	key, err := cache.ParseKey(res.Tasks[0].CacheKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.Config.CachePath(), key.String()[:2], key.String())
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	outs, caches := runCached(t, e, counterWF, in, RunOptions{})
	if caches["count"] != CacheMiss || outs["n"] != "2" || f.counter.Load() != 2 {
		t.Errorf("after corrupting the entry: outputs %v, cache %v", outs, caches)
	}
	if diff := cmp.Diff("2", outs["n"]); diff != "" {
		t.Error(diff)
	}
}

// TestCacheKeyParts checks that cacheKey, which frames its parts in a
// buffer of its own, is cache.Sum of the parts it always was (keys must
// not change: every entry would miss): the key version, plugin, task,
// cache version, then each input's name and digest in name order, less
// the ignored ones. It also covers more inputs than the names' stack
// array holds, and more bytes than its buffer.
func TestCacheKeyParts(t *testing.T) {
	reference := func(n *Node, digests map[string]string) cache.Key {
		parts := [][]byte{[]byte(cacheKeyVersion), []byte(n.Plugin), []byte(n.Task), []byte(n.Cache.Version)}
		for _, name := range sortedKeys(digests) {
			if n.Cache.Ignore[name] {
				continue
			}
			parts = append(parts, []byte(name), []byte(digests[name]))
		}
		return cache.Sum(parts...)
	}
	many := map[string]string{}
	for i := range 20 {
		many[strings.Repeat("n", i+1)] = strings.Repeat("d", 64)
	}
	for name, tc := range map[string]struct {
		n       *Node
		digests map[string]string
	}{
		"no inputs":   {&Node{Plugin: "text", Task: "upper", Cache: &CachePolicy{Version: "1"}}, nil},
		"one input":   {&Node{Plugin: "text", Task: "upper", Cache: &CachePolicy{Version: "1"}}, map[string]string{"text": "abc"}},
		"sorted":      {&Node{Plugin: "p", Task: "t", Cache: &CachePolicy{}}, map[string]string{"b": "2", "a": "1", "c": "3"}},
		"ignored":     {&Node{Plugin: "p", Task: "t", Cache: &CachePolicy{Version: "v", Ignore: map[string]bool{"b": true}}}, map[string]string{"b": "2", "a": "1"}},
		"all ignored": {&Node{Plugin: "p", Task: "t", Cache: &CachePolicy{Ignore: map[string]bool{"a": true}}}, map[string]string{"a": "1"}},
		"many":        {&Node{Plugin: "p", Task: "t", Cache: &CachePolicy{Version: strings.Repeat("v", 600)}}, many},
	} {
		if got, want := cacheKey(tc.n, tc.digests), reference(tc.n, tc.digests); got != want {
			t.Errorf("%s: cacheKey = %s, want %s", name, got, want)
		}
	}
	// A fixed key, as computed before the change.
	n := &Node{Plugin: "text", Task: "upper", Cache: &CachePolicy{Version: "1"}}
	if got, want := cacheKey(n, map[string]string{"text": "abc"}).String(), "d712b2971a7461191f2b5680aa8daf5069aa60883f34c6e5cd81dd128be86e12"; got != want {
		t.Errorf("cacheKey = %s, want %s", got, want)
	}
}
