package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine/cache"
)

// The cache rows: a fully cached re-run of a large workflow through the
// CLI against the same workflow's first run, and the cache's read of one
// entry against os.ReadFile of the same file.

// cachedTasks is the size of the cached re-run's workflow.
const cachedTasks = 10000

// cachedRerunLimit is the spec's absolute target for the cached re-run of
// cachedTasks tasks (on a 2-core machine).
const cachedRerunLimit = 500 * time.Millisecond

// cachedWorkflow is n independent text.upper tasks with distinct inputs
// ("w1" to "wn"), each cached with cache_version "1", in the most compact
// HCL the language allows: a block on one line may hold one attribute at
// most, so each task takes six lines; labels are bare identifiers, and no
// optional space is written. It has no inputs and no outputs.
func cachedWorkflow(n int) string {
	var b strings.Builder
	b.Grow(n * 80)
	b.WriteString("workflow cached {\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "task t%d {\nuses=\"text.upper\"\ninputs={text=\"w%d\"}\ncache=true\ncache_version=\"1\"\n}\n", i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

// cliWorkflow is a workflow file and a flyte.hcl (the bench's plugin dir,
// a sandbox of its own, and so a cache of its own) in a directory of
// their own.
type cliWorkflow struct {
	dir, config, file, sandbox string
	cli                        string
	env                        []string
	// global are flags before the command ("-v").
	global []string
	// lastRSS is the max RSS of the last run's goflyte process, in
	// bytes (0 where the system does not say).
	lastRSS int64
}

func newCLIWorkflow(env *Env, name, workflow string) (*cliWorkflow, error) {
	dir, err := env.TempDir(name + "-")
	if err != nil {
		return nil, err
	}
	w := &cliWorkflow{
		dir:     dir,
		config:  filepath.Join(dir, "flyte.hcl"),
		file:    filepath.Join(dir, name+".hcl"),
		sandbox: filepath.Join(dir, "sandbox"),
		cli:     env.CLI,
		env:     hostEnv(),
	}
	cfg := fmt.Sprintf("sdk {\n  plugin_dirs   = [%q]\n  local_sandbox = %q\n}\n", env.PluginDir, w.sandbox)
	if err := os.WriteFile(w.config, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.file, []byte(workflow), 0o644); err != nil {
		return nil, err
	}
	return w, nil
}

// run runs `goflyte run FILE -q --config flyte.hcl` plus args, as a user
// would (without FLYTE_* variables, but for extraEnv), and returns its
// wall time and its standard output and error. A failed run is an error.
func (w *cliWorkflow) run(ctx context.Context, extraEnv []string, args ...string) (time.Duration, string, string, error) {
	argv := append(append(w.global[:len(w.global):len(w.global)], "run", w.file, "-q", "--config", w.config), args...)
	cmd := exec.CommandContext(ctx, w.cli, argv...)
	cmd.Dir = w.dir
	cmd.Env = append(w.env[:len(w.env):len(w.env)], extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	w.lastRSS = maxRSS(cmd.ProcessState)
	if err != nil {
		return 0, "", "", fmt.Errorf("goflyte %s: %v\n%s%s", strings.Join(argv, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return d, stdout.String(), stderr.String(), nil
}

// runSummary is what `goflyte run -q` ends its standard error with for a
// run of n tasks that all succeeded, cached of them from the cache.
func runSummary(n, cached int) string {
	if cached == 0 {
		return fmt.Sprintf("(%d succeeded)", n)
	}
	return fmt.Sprintf("(%d succeeded, %d from the cache)", n, cached)
}

func checkSummary(stderr string, n, cached int) error {
	if want := runSummary(n, cached); !strings.Contains(stderr, want) {
		return fmt.Errorf("goflyte run: stderr lacks %q:\n%s", want, stderr)
	}
	return nil
}

// cachedCase is one shape of the cached re-run's 10,000-task workflow.
type cachedCase struct {
	name     string
	workflow string
	// inputs, if set, is a JSON inputs file passed with --inputs-file.
	inputs []byte
	// succeeded and cached are the counts the run's summary shows when
	// every task (instance) comes from the cache.
	succeeded, cached int
}

// blocksCase is cachedTasks task blocks, one per task.
func blocksCase() cachedCase {
	return cachedCase{name: "blocks", workflow: cachedWorkflow(cachedTasks), succeeded: cachedTasks, cached: cachedTasks}
}

// fanOutCase is one task with for_each over cachedTasks items given as an
// input: the way a workflow of that size is written.
func fanOutCase() cachedCase {
	items := make([]string, cachedTasks)
	for i := range items {
		items[i] = fmt.Sprintf("w%d", i+1)
	}
	data, _ := json.Marshal(map[string][]string{"items": items})
	return cachedCase{
		name: "fanout",
		workflow: `workflow fanout {
  input "items" { type = list(string) }
  task "up" {
    uses          = "text.upper"
    for_each      = input.items
    inputs        = { text = each.value }
    cache         = true
    cache_version = "1"
  }
}
`,
		inputs:    data,
		succeeded: 1,
		cached:    cachedTasks,
	}
}

// plainFanOutCase is fanOutCase without the cache: a for_each over
// cachedTasks items of a trivial task.
func plainFanOutCase() cachedCase {
	c := fanOutCase()
	c.name = "plainfanout"
	c.workflow = strings.Replace(strings.Replace(c.workflow, "    cache         = true\n", "", 1), "    cache_version = \"1\"\n", "", 1)
	c.cached = 0
	return c
}

// eagerCase is one eager task (text.shout_all) that runs text.upper
// through the engine for each of cachedTasks items.
func eagerCase() cachedCase {
	c := fanOutCase()
	c.name = "eager"
	c.workflow = `workflow eager {
  input "items" { type = list(string) }
  task "all" {
    uses   = "text.shout_all"
    inputs = { texts = input.items }
  }
}
`
	c.cached = 0
	return c
}

// args writes the case's inputs file, if any, and returns the run's extra
// arguments.
func (c cachedCase) args(w *cliWorkflow) ([]string, error) {
	if c.inputs == nil {
		return nil, nil
	}
	path := filepath.Join(w.dir, "inputs.json")
	if err := os.WriteFile(path, c.inputs, 0o644); err != nil {
		return nil, err
	}
	return []string{"--inputs-file", path}, nil
}

// setupCachedRerun writes the workflow, runs it once (not timed) to fill
// its cache, and times fully cached re-runs.
func setupCachedRerun(c cachedCase) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		w, err := newCLIWorkflow(env, "cached-"+c.name, c.workflow)
		if err != nil {
			return nil, err
		}
		args, err := c.args(w)
		if err != nil {
			return nil, err
		}
		_, _, stderr, err := w.run(ctx, nil, args...)
		if err != nil {
			return nil, fmt.Errorf("filling the cache: %w", err)
		}
		if err := checkSummary(stderr, c.succeeded, 0); err != nil {
			return nil, fmt.Errorf("filling the cache: %w", err)
		}
		return func(ctx context.Context) (time.Duration, error) {
			d, _, stderr, err := w.run(ctx, nil, args...)
			if err != nil {
				return 0, err
			}
			return d, checkSummary(stderr, c.succeeded, c.cached)
		}, nil
	}
}

// setupFirstRun times first runs of the same workflow: each with an empty
// cache directory of its own (FLYTE_LOCAL_CACHE_DIR), so that every task
// misses, runs, and writes its entry. After each sample (not timed) it
// removes that cache and the run's directory, so that every sample starts
// from the same sandbox and the disk use stays flat.
func setupFirstRun(c cachedCase) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		w, err := newCLIWorkflow(env, "first-"+c.name, c.workflow)
		if err != nil {
			return nil, err
		}
		args, err := c.args(w)
		if err != nil {
			return nil, err
		}
		runs := filepath.Join(w.sandbox, "runs")
		return func(ctx context.Context) (time.Duration, error) {
			cacheDir, err := os.MkdirTemp(w.dir, "cache-")
			if err != nil {
				return 0, err
			}
			d, _, stderr, err := w.run(ctx, []string{"FLYTE_LOCAL_CACHE_DIR=" + cacheDir}, args...)
			if err == nil {
				err = checkSummary(stderr, c.succeeded, 0)
			}
			if rerr := os.RemoveAll(cacheDir); err == nil {
				err = rerr
			}
			if rerr := os.RemoveAll(runs); err == nil {
				err = rerr
			}
			return d, err
		}, nil
	}
}

// cacheReadOutputs is the size of the outputs of the entry the cache-read
// row reads: about 1 KiB.
const cacheReadOutputs = 1024

// cacheEntry is one entry in a cache of its own, shared by the two sides of
// the cache-read row so that both read the same file.
type cacheEntry struct {
	cache *cache.Cache
	key   cache.Key
	// outputs are the entry's outputs; size is the size of its file.
	outputs []byte
	size    int
	err     error
}

// CacheEntry returns the cache-read row's entry, writing it on first use.
func (e *Env) CacheEntry() (*cacheEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.entry == nil {
		e.entry = newCacheEntry(e)
	}
	return e.entry, e.entry.err
}

func newCacheEntry(env *Env) *cacheEntry {
	ce := &cacheEntry{}
	dir, err := env.TempDir("cache-")
	if err == nil {
		ce.cache, err = cache.Open(dir)
	}
	if err != nil {
		ce.err = err
		return ce
	}
	// {"text":"WWW…W"}, 1 KiB in all, as text.upper would return it.
	ce.outputs, _ = json.Marshal(map[string]string{"text": strings.Repeat("W", cacheReadOutputs-len(`{"text":""}`))})
	in, _ := json.Marshal("www")
	ce.key = cache.Sum([]byte("text"), []byte("upper"), []byte("1"), []byte("text"), in)
	ce.err = ce.cache.Put(ce.key, &cache.Entry{
		Task:    "text.upper",
		Version: "1",
		Inputs:  map[string]string{"text": cache.Sum(in).String()},
		Outputs: ce.outputs,
	})
	if ce.err == nil {
		var info os.FileInfo
		if info, ce.err = os.Stat(ce.cache.Path(ce.key)); ce.err == nil {
			ce.size = int(info.Size())
		}
	}
	return ce
}

func setupCacheGet(ctx context.Context, env *Env) (Sampler, error) {
	ce, err := env.CacheEntry()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		e, err := ce.cache.Get(ce.key)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(e.Outputs, ce.outputs) {
			return 0, fmt.Errorf("cache.Get returned outputs of %d bytes, want the %d put", len(e.Outputs), len(ce.outputs))
		}
		return d, nil
	}, nil
}

func setupCacheReadFile(ctx context.Context, env *Env) (Sampler, error) {
	ce, err := env.CacheEntry()
	if err != nil {
		return nil, err
	}
	path := ce.cache.Path(ce.key)
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		data, err := os.ReadFile(path)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if len(data) != ce.size {
			return 0, fmt.Errorf("os.ReadFile(%s) read %d bytes, want %d", path, len(data), ce.size)
		}
		return d, nil
	}, nil
}
