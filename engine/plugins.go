package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// Plugins finds plugin binaries in a list of directories and starts each at
// most once. It is safe for concurrent use. Close ends every process it
// started.
type Plugins struct {
	dirs     []string
	logger   hclog.Logger
	logLevel string
	redact   func(string) string
	env      []string
	host     plugin.Host
	tls      bool

	scanOnce sync.Once
	paths    map[string]string // plugin name -> binary path
	scanErr  error

	// schemas, when set, keeps the plugins' Describe answers (see
	// pluginschemas.go).
	schemas *schemaStore

	// lock, when set, is the plugin lock file every binary must match.
	lock     *config.Lock
	lockPath string
	verified sync.Map // path -> true or the error

	mu      sync.Mutex
	running map[string]*runningPlugin
	retired []*plugin.Client // dead processes replaced by new ones
	closed  bool
}

type runningPlugin struct {
	ready    chan struct{}
	provider plugin.Provider
	client   *plugin.Client // nil for a registered in-process provider
	schema   *plugin.Schema
	err      error
}

// PluginsOptions configures NewPlugins.
type PluginsOptions struct {
	// Dirs are searched in order; the first binary of a name wins.
	Dirs []string
	// Logger receives the plugins' log lines, named after each plugin.
	Logger hclog.Logger
	// LogLevel is passed to each plugin ("debug", "info", "warn", "error").
	LogLevel string
	// Redact is applied to the plugins' log and stderr lines.
	Redact func(string) string
	// Host is served to each plugin for its eager tasks.
	Host plugin.Host
	// Env is the environment of plugin processes; nil means the engine's
	// own, less the variables that carry secrets (see PluginEnv).
	Env []string
	// TLS runs plugin connections over mutual TLS (sdk.plugin_tls).
	TLS bool
	// SchemaDir, if not "", keeps each plugin binary's Describe answer
	// there, so that [Plugins.Schema] need not start the plugin again
	// (see pluginschemas.go).
	SchemaDir string
}

// NewPlugins returns a registry over the given directories. Nothing is
// scanned or started until first use.
func NewPlugins(opts PluginsOptions) *Plugins {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	p := &Plugins{dirs: opts.Dirs, logger: opts.Logger, logLevel: opts.LogLevel, redact: opts.Redact, env: opts.Env, host: opts.Host, tls: opts.TLS, running: map[string]*runningPlugin{}}
	if opts.SchemaDir != "" {
		p.schemas = &schemaStore{dir: opts.SchemaDir, now: time.Now}
	}
	return p
}

// UseLock makes the registry refuse plugin binaries that lock (read from
// path) does not list with their SHA-256. Call it before the first Get.
func (p *Plugins) UseLock(lock *config.Lock, path string) {
	p.lock, p.lockPath = lock, path
}

// Dirs returns the directories searched for plugins.
func (p *Plugins) Dirs() []string { return p.dirs }

func (p *Plugins) scan() {
	p.paths = map[string]string{}
	for _, dir := range p.dirs {
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			p.scanErr = fmt.Errorf("read plugin dir: %w", err)
			return
		}
		for _, e := range entries {
			name := plugin.NameFromPath(e.Name())
			if name == "" || e.IsDir() {
				continue
			}
			if _, dup := p.paths[name]; dup {
				continue
			}
			path := filepath.Join(dir, e.Name())
			info, err := os.Stat(path)
			if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
				continue
			}
			p.paths[name] = path
		}
	}
}

// Names returns the names of all plugins found, sorted.
func (p *Plugins) Names() ([]string, error) {
	p.scanOnce.Do(p.scan)
	if p.scanErr != nil {
		return nil, p.scanErr
	}
	names := make([]string, 0, len(p.paths))
	for n := range p.paths {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Path returns the binary path of the named plugin.
func (p *Plugins) Path(name string) (string, bool) {
	p.scanOnce.Do(p.scan)
	path, ok := p.paths[name]
	return path, ok
}

// NotFoundError is returned for a plugin name
// that no plugin directory holds.
type NotFoundError struct {
	Name  string
	Dirs  []string
	Known []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("no plugin named %q (looked for %s%s in %s)", e.Name, plugin.BinaryPrefix, e.Name, strings.Join(e.Dirs, ", "))
	if len(e.Dirs) == 0 {
		msg = fmt.Sprintf("no plugin named %q: no plugin directories are configured (sdk.plugin_dirs)", e.Name)
	}
	return msg
}

// Register adds an in-process provider under name, ahead of any binary of
// that name. Tests use it to run the engine against fakes.
func (p *Plugins) Register(name string, prov plugin.Provider) {
	rp := &runningPlugin{ready: make(chan struct{}), provider: prov}
	rp.schema, rp.err = prov.Describe(context.Background())
	close(rp.ready)
	p.mu.Lock()
	p.running[name] = rp
	p.mu.Unlock()
}

// Get returns the running plugin of that name and its schema, starting the
// process (and asking it to Describe itself) on first use. Concurrent
// callers for one name share one process.
func (p *Plugins) Get(ctx context.Context, name string) (plugin.Provider, *plugin.Schema, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, fmt.Errorf("plugin %q: registry is closed", name)
	}
	rp, ok := p.running[name]
	if ok && rp.client != nil && isReady(rp) && rp.client.Exited() {
		// The process died (a crash, or Kill): start a new one.
		p.retired = append(p.retired, rp.client)
		ok = false
	}
	if !ok {
		rp = &runningPlugin{ready: make(chan struct{})}
		p.running[name] = rp
		p.mu.Unlock()
		rp.client, rp.schema, rp.err = p.start(ctx, name)
		if rp.client != nil {
			rp.provider = rp.client
		}
		close(rp.ready)
	} else {
		p.mu.Unlock()
	}
	select {
	case <-rp.ready:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return rp.provider, rp.schema, rp.err
}

func (p *Plugins) start(ctx context.Context, name string) (*plugin.Client, *plugin.Schema, error) {
	path, ok := p.Path(name)
	if !ok {
		known, _ := p.Names()
		return nil, nil, &NotFoundError{Name: name, Dirs: p.dirs, Known: known}
	}
	if err := p.verifyLock(name, path); err != nil {
		return nil, nil, err
	}
	c, err := plugin.Launch(ctx, path, p.launchOptions(name))
	if err != nil {
		return nil, nil, err
	}
	schema, err := c.Describe(ctx)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("describe plugin %q: %w", name, err)
	}
	return c, schema, nil
}

// launchOptions are the options a plugin process is started with.
func (p *Plugins) launchOptions(name string) plugin.LaunchOptions {
	return plugin.LaunchOptions{Name: name, Logger: p.logger, LogLevel: p.logLevel, Redact: p.redact, Env: p.env, Host: p.host, TLS: p.tls}
}

func isReady(rp *runningPlugin) bool {
	select {
	case <-rp.ready:
		return true
	default:
		return false
	}
}

// Kill ends the process of plugin name if prov is still its current
// process, so that the next Get starts a new one: for a plugin that does
// not return after a timeout's grace period. Calls in flight on it fail.
func (p *Plugins) Kill(name string, prov plugin.Provider) {
	p.mu.Lock()
	rp, ok := p.running[name]
	if !ok || !isReady(rp) || rp.provider != prov || rp.client == nil {
		p.mu.Unlock()
		return
	}
	delete(p.running, name)
	p.retired = append(p.retired, rp.client)
	p.mu.Unlock()
	rp.client.Kill()
}

// Close ends every plugin process the registry started and waits for them.
func (p *Plugins) Close() {
	p.mu.Lock()
	p.closed = true
	running := p.running
	p.running = map[string]*runningPlugin{}
	retired := p.retired
	p.mu.Unlock()
	for _, c := range retired {
		c.Close() // already dead: this only releases go-plugin's resources
	}
	var wg sync.WaitGroup
	for _, rp := range running {
		<-rp.ready
		if rp.client != nil {
			wg.Add(1)
			go func(c *plugin.Client) {
				defer wg.Done()
				c.Close()
			}(rp.client)
		}
	}
	wg.Wait()
}

// PluginEnv returns the environment plugin processes get: environ less
// the variables that carry secrets, so that a plugin sees only the secrets
// its task declared (sent with the task) and not the whole chain. Removed:
// every variable with the secrets env prefix (FLYTE_SECRETS_...), the
// FLYTE_* overrides of secret-bearing settings, of every credentials
// setting (FLYTE_CREDENTIALS_*) and of platform.http_proxy_url (it may
// hold the proxy's password), the variable that
// credentials.client_secret_env_var names, and the names in extra (the
// keyring passphrase variable). Everything else, PATH and HOME among it,
// passes. It is the whole environment of a plugin: [plugin.Launch] does
// not add the host's.
func PluginEnv(environ []string, cfg *config.Config, extra ...string) []string {
	drop := map[string]bool{}
	for _, s := range cfg.Settings() {
		// platform.http_proxy_url may carry the proxy's password.
		if s.Secret || s.Section == "credentials" || s.Name() == "platform.http_proxy_url" {
			drop[s.EnvVar()] = true
		}
	}
	if name := cfg.Credentials.ClientSecretEnvVar; name != "" {
		drop[name] = true
	}
	for _, name := range extra {
		drop[name] = true
	}
	// Every FLYTE_CREDENTIALS_* variable goes, also those that name no
	// setting (yet).
	prefix := cfg.Secrets.EnvPrefix
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if drop[name] || prefix != "" && strings.HasPrefix(name, prefix) || strings.HasPrefix(name, "FLYTE_CREDENTIALS_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
