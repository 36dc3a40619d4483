package engine

import (
	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/config"
)

// Engine compiles and runs workflows. Create one per command with New and
// Close it at the end, which ends every plugin process it started.
type Engine struct {
	Config  *config.Config
	Plugins *Plugins
	Logger  hclog.Logger
}

// New returns an engine for cfg. Plugin logs go to logger, named after each
// plugin.
func New(cfg *config.Config, logger hclog.Logger) *Engine {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Engine{
		Config: cfg,
		Plugins: NewPlugins(PluginsOptions{
			Dirs:     cfg.SDK.PluginDirs,
			Logger:   logger,
			LogLevel: cfg.SDK.LoggingLevel,
		}),
		Logger: logger,
	}
}

// Close ends every plugin process the engine started.
func (e *Engine) Close() { e.Plugins.Close() }
