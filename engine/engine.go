package engine

import (
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/secretsbackends"
	"github.com/goflyte/goflyte/stats"
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
	// Storage keeps the files and directories tasks return and fetches
	// remote ones (engine/datastore); nil means tasks cannot exchange
	// files.
	Storage Storage

	redactor *redactor
	host     *eagerHost
	logs     *logRouter

	cacheOnce sync.Once
	cache     *cache.Cache
	cacheErr  error
	warned    sync.Map // ids of warnings already given
	hashes    hashes   // content hashes of files, for cache keys

	// statsd is where tasks and the engine send metrics; nil when the
	// statsd block sets no host (or it could not be resolved).
	statsd         *stats.Client
	statsdEndpoint *plugin.StatsD
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
	e := &Engine{
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
			// Describe answers are kept by binary digest, so that a
			// compile need not start the plugins (pluginschemas.go).
			SchemaDir: schemaDir(cfg),
		}),
		Logger:   logger,
		redactor: r,
		host:     host,
		logs:     logs,
	}
	e.dialStatsD()
	return e
}

// dialStatsD sets up the StatsD client when the configuration enables one.
// A host that does not resolve is a warning: metrics stay in the record.
func (e *Engine) dialStatsD() {
	s := e.Config.StatsD
	if !s.Enabled() {
		return
	}
	endpoint := plugin.StatsD{Host: s.Host, Port: s.Port, DisableTags: s.DisableTags, Prefix: s.Prefix}
	c, err := stats.Dial(endpoint)
	if err != nil {
		msg := err.Error()
		if src, _ := e.Config.Source("statsd.host"); src.Kind == config.SourceEnv && strings.HasPrefix(src.Name, "FLYTE_SECRETS_") {
			msg = "the host from " + src.Name + " does not resolve" // the value may be a secret
		}
		e.Logger.Warn("metrics stay in the run record: cannot set up StatsD", "error", msg)
		return
	}
	e.statsd, e.statsdEndpoint = c, &endpoint
}

// Redact replaces every secret value the engine has resolved so far with
// "***". Plugin logs, stderr tails and task errors are already redacted;
// the CLI uses Redact for everything else it prints.
func (e *Engine) Redact(s string) string { return e.redactor.redact(s) }

// Learn makes the engine redact secret wherever it redacts resolved
// secrets (plugin logs, errors, records, what the CLI prints). The CLI
// gives it the client secret and the tokens package auth handles.
func (e *Engine) Learn(secret string) { e.redactor.add([]byte(secret)) }

// Close ends every plugin process the engine started. The plugins' last
// log lines reach their task logs before it returns.
func (e *Engine) Close() {
	e.Plugins.Close()
	e.logs.reset()
	if e.statsd != nil {
		e.statsd.Close()
	}
}
