package engine

import (
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/secretsbackends"
)

// Engine compiles and runs workflows. Create one per command with New and
// Close it at the end, which ends every plugin process it started.
type Engine struct {
	Config  *config.Config
	Plugins *Plugins
	Logger  hclog.Logger
	// Secrets resolves the secrets tasks declare, before they start. The
	// CLI builds it from the secrets block of flyte.hcl
	// (secretsbackends.New); nil means no task may declare a secret.
	Secrets secretsbackends.Backend
	// Workflows finds the workflows that sub-workflow calls name; nil
	// means no sub-workflow calls.
	Workflows WorkflowLookup

	redactor *redactor
	host     *eagerHost
	logs     *logRouter

	cacheOnce sync.Once
	cache     *cache.Cache
	cacheErr  error
	warned    sync.Map // ids of warnings already given
}

// New returns an engine for cfg. Plugin logs go to logger, named after each
// plugin.
func New(cfg *config.Config, logger hclog.Logger) *Engine {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	r := &redactor{}
	host := &eagerHost{}
	logs := newLogRouter()
	return &Engine{
		Config: cfg,
		Plugins: NewPlugins(PluginsOptions{
			Dirs: cfg.SDK.PluginDirs,
			// Plugin lines about a task are also kept in its run's task
			// log (see tasklog.go).
			Logger:   routeLogger{Logger: logger, router: logs},
			LogLevel: cfg.SDK.LoggingLevel,
			Redact:   r.redact,
			Env:      PluginEnv(os.Environ(), cfg, cfg.Secrets.FallbackPassphraseEnv),
			Host:     host,
			TLS:      cfg.SDK.PluginTLS,
		}),
		Logger:   logger,
		redactor: r,
		host:     host,
		logs:     logs,
	}
}

// Redact replaces every secret value the engine has resolved so far with
// "***". Plugin logs, stderr tails and task errors are already redacted;
// the CLI uses Redact for everything else it prints.
func (e *Engine) Redact(s string) string { return e.redactor.redact(s) }

// Close ends every plugin process the engine started. The plugins' last
// log lines reach their task logs before it returns.
func (e *Engine) Close() {
	e.Plugins.Close()
	e.logs.reset()
}
