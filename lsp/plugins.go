package lsp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// schemaCache describes each plugin binary of sdk.plugin_dirs once and
// keeps its schema (or the error describing it gave) by path and SHA-256.
// refresh stats every binary, which costs microseconds; only a binary
// whose size or modification time changed is hashed again, and only a
// hash never seen for that path is started and asked to Describe itself.
// So a plugin rebuilt during a session is picked up by the next refresh
// (the server polls), and switching back to an earlier build costs
// nothing. It is safe for concurrent use.
type schemaCache struct {
	launch func(ctx context.Context, name, path string) (*plugin.Schema, error)

	refreshMu sync.Mutex // one refresh at a time

	mu        sync.Mutex
	dirs      []string
	lock      *config.Lock // nil: no lock file, every binary is trusted
	lockPath  string
	current   map[string]*pluginEntry // plugin name -> the binary in use
	described map[string]*described   // path + "\x00" + sha256 -> result
}

type pluginEntry struct {
	name, path string
	size       int64
	mod        time.Time
	sum        string
	result     *described
}

type described struct {
	schema *plugin.Schema
	err    error
}

func newSchemaCache(launch func(ctx context.Context, name, path string) (*plugin.Schema, error)) *schemaCache {
	return &schemaCache{launch: launch, current: map[string]*pluginEntry{}, described: map[string]*described{}}
}

// describePlugin is the launch function the server uses: start the
// binary as `goflyte validate` would (environment without secrets, the
// configured log level and TLS), ask it to Describe itself, and end it.
func describePlugin(cfg *config.Config, logger hclog.Logger) func(ctx context.Context, name, path string) (*plugin.Schema, error) {
	env := engine.PluginEnv(os.Environ(), cfg, cfg.Secrets.FallbackPassphraseEnv)
	return func(ctx context.Context, name, path string) (*plugin.Schema, error) {
		c, err := plugin.Launch(ctx, path, plugin.LaunchOptions{Name: name, Logger: logger.Named(name), LogLevel: cfg.SDK.LoggingLevel, Env: env, TLS: cfg.SDK.PluginTLS, StartTimeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := c.Describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe plugin %q: %w", name, err)
		}
		return s, nil
	}
}

// configure sets the directories and lock file (nil for none); the next
// refresh uses them.
func (c *schemaCache) configure(dirs []string, lock *config.Lock, lockPath string, launch func(ctx context.Context, name, path string) (*plugin.Schema, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirs, c.lock, c.lockPath = dirs, lock, lockPath
	if launch != nil {
		c.launch = launch
	}
	c.current = map[string]*pluginEntry{} // re-check every binary against the new lock
}

// found is a plugin binary found in the directories.
type found struct {
	name, path string
	info       os.FileInfo
}

// scan lists the plugin binaries the engine would find, with the same
// rules (engine.Plugins): the first directory that has a name wins; only
// regular, executable files named goflyte-plugin-<name>.
func scan(dirs []string) []found {
	seen := map[string]bool{}
	var out []found
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := plugin.NameFromPath(e.Name())
			if name == "" || e.IsDir() || seen[name] {
				continue
			}
			path := filepath.Join(dir, e.Name())
			info, err := os.Stat(path)
			if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
				continue
			}
			seen[name] = true
			out = append(out, found{name: name, path: path, info: info})
		}
	}
	return out
}

// refresh brings the cache up to date with the directories and reports
// whether any plugin changed (appeared, went away, or has new contents).
// Binaries that need describing are described in parallel.
func (c *schemaCache) refresh(ctx context.Context) bool {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.Lock()
	dirs, lock, lockPath, launch := c.dirs, c.lock, c.lockPath, c.launch
	old := c.current
	c.mu.Unlock()

	next := map[string]*pluginEntry{}
	changed := false
	var todo []*pluginEntry
	for _, f := range scan(dirs) {
		if e, ok := old[f.name]; ok && e.path == f.path && e.size == f.info.Size() && e.mod.Equal(f.info.ModTime()) {
			next[f.name] = e
			continue
		}
		e := &pluginEntry{name: f.name, path: f.path, size: f.info.Size(), mod: f.info.ModTime()}
		sum, err := engine.FileSHA256(f.path)
		if err != nil {
			e.result = &described{err: fmt.Errorf("read plugin %q: %w", f.name, err)}
		} else {
			e.sum = sum
			c.mu.Lock()
			e.result = c.described[f.path+"\x00"+sum]
			c.mu.Unlock()
		}
		if prev, ok := old[f.name]; !ok || prev.path != e.path || prev.sum != e.sum || e.sum == "" {
			changed = true
		}
		next[f.name] = e
		if e.result == nil {
			todo = append(todo, e)
		}
	}
	for name := range old {
		if _, ok := next[name]; !ok {
			changed = true
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, e := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d := &described{}
			if err := checkLock(lock, lockPath, e); err != nil {
				d.err = err
			} else {
				d.schema, d.err = launch(ctx, e.name, e.path)
			}
			if ctx.Err() != nil {
				return // not cached: the next refresh tries again
			}
			e.result = d
			c.mu.Lock()
			c.described[e.path+"\x00"+e.sum] = d
			c.mu.Unlock()
		}()
	}
	wg.Wait()
	for name, e := range next {
		if e.result == nil {
			delete(next, name) // cancelled
		}
	}
	c.mu.Lock()
	c.current = next
	c.mu.Unlock()
	return changed
}

// checkLock refuses a binary the lock file does not list with this
// SHA-256, with the error the engine gives (engine.LockError), so that
// the diagnostic is validate's "Plugin not trusted".
func checkLock(lock *config.Lock, lockPath string, e *pluginEntry) error {
	if lock == nil {
		return nil
	}
	locked, ok := lock.Plugins[e.name]
	if !ok {
		return &engine.LockError{Plugin: e.name, Path: e.path, LockPath: lockPath}
	}
	if locked.SHA256 != e.sum {
		return &engine.LockError{Plugin: e.name, Path: e.path, LockPath: lockPath, Want: locked.SHA256, Got: e.sum}
	}
	return nil
}

// schemas returns the described plugins by name: a schema, or the error
// describing gave.
func (c *schemaCache) schemas() map[string]*described {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*described, len(c.current))
	for name, e := range c.current {
		out[name] = e.result
	}
	return out
}

// registry returns an engine plugin registry that answers from the
// cache: every described plugin is registered as an in-process provider
// whose Describe returns the cached schema or error, so that
// engine.Compile reports exactly what it reports for the real processes
// (a plugin that is not installed is still looked up in dirs, which gives
// validate's "Unknown plugin" with its suggestion). The caller closes it.
func (c *schemaCache) registry(dirs []string) *engine.Plugins {
	reg := engine.NewPlugins(engine.PluginsOptions{Dirs: dirs})
	for name, d := range c.schemas() {
		reg.Register(name, cachedProvider{d})
	}
	return reg
}

// cachedProvider is a plugin.Provider that only describes.
type cachedProvider struct{ d *described }

func (p cachedProvider) Describe(context.Context) (*plugin.Schema, error) { return p.d.schema, p.d.err }

func (p cachedProvider) Execute(context.Context, *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	return nil, fmt.Errorf("the language server does not run tasks")
}

// taskIDs returns every "plugin.task" with its schema, sorted.
func taskIDs(schemas map[string]*described) []taskRef {
	var out []taskRef
	for name, d := range schemas {
		if d == nil || d.schema == nil {
			continue
		}
		for i := range d.schema.Tasks {
			out = append(out, taskRef{plugin: name, task: &d.schema.Tasks[i], version: d.schema.Version})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

type taskRef struct {
	plugin  string
	version string
	task    *plugin.TaskSchema
}

func (r taskRef) id() string { return r.plugin + "." + r.task.Name }
