package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/secretsbackends"
)

func workerCommand() *command {
	return &command{
		name:    "worker",
		args:    "[--plugin NAME]... [--concurrency N] [--grace D] [--identity NAME] [--workflows=false]",
		summary: "Run tasks of remote runs: serve this machine's plugins to Temporal",
		help: `
Connects to the Temporal frontend in platform.url (namespace
platform.namespace) and runs the tasks of remote runs (goflyte run --remote)
whose plugins it has: the plugins found in sdk.plugin_dirs, started once
and kept running. Tasks are routed by plugin: for each plugin served the
worker polls the queue <platform.task_queue>.<plugin> (goflyte.text, ...),
so a machine serves only what it has (a GPU machine can serve the ml
plugin alone). A task whose plugin binary is not the one the run was
validated against (another SHA-256) is refused, naming both digests.

The worker also runs the runs' interpreter workflows (the queue
platform.task_queue itself): they hold no plugin code, only decide which
task runs next, so any worker can run any run's workflow, and a run
survives the loss of the worker that ran its workflow.

Each task runs as in a local run, on this machine: secrets from this
machine's own chain (env FLYTE_SECRETS_*, files, keychain), a fresh
working directory under <sdk.local_sandbox>/worker, files fetched from and
stored in the run's bucket, the cache in the bucket, checkpoints, decks and
task logs put in the bucket. A task heartbeats every second: if this worker
dies, the task runs again on another worker within seconds, from its last
checkpoint, without using up its retries.

SIGTERM or Ctrl-C drains: polling stops at once, running tasks get --grace
to finish, the rest are cancelled (they run again elsewhere), and the
worker exits 0. A second signal cancels the running tasks at once.

Exit codes: 0 stopped by SIGTERM or Ctrl-C; 1 the server could not be
reached or polling failed; 2 bad flags or configuration (no platform.url,
an unknown plugin, no plugins) or a token the platform refuses.

Flags:
  --plugin NAME       serve only this plugin (repeatable; default: every
                      plugin in sdk.plugin_dirs)
  --concurrency N     task slots, shared by the plugins' queues (default 4)
  --grace D           how long running tasks may take to finish after
                      SIGTERM or Ctrl-C (default 30s)
  --identity NAME     the worker's name in Temporal and in task results
                      (default <pid>@<hostname>)
  --workflows=false   do not run the runs' workflows, only plugin tasks`,
		run: runWorker,
	}
}

func runWorker(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("worker")
	var only multiFlag
	fs.Var(&only, "plugin", "")
	concurrency := fs.Int("concurrency", 4, "")
	grace := fs.Duration("grace", remote.DefaultWorkerGrace, "")
	identity := fs.String("identity", "", "")
	workflows := fs.Bool("workflows", true, "")
	if _, err := c.parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	if *concurrency < 1 {
		return usagef("worker: --concurrency must be at least 1, got %d", *concurrency)
	}
	if *grace < 0 {
		return usagef("worker: --grace must not be negative, got %s", *grace)
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if !platformSet(cfg) {
		return usagef("worker: no Temporal frontend configured: set platform.url in flyte.hcl (or FLYTE_PLATFORM_URL), e.g. url = \"127.0.0.1:7233\" with insecure = true for a dev server")
	}
	logger := c.logger(cfg)
	e := c.newEngine(cfg)
	defer e.Close()
	// Remote execution: the unprefixed env lookup (<GROUP>_<KEY>) is for
	// local runs only, as in Flytekit.
	so := secretsOptions(cfg, logger)
	so.Local = false
	e.Secrets = secretsbackends.New(so)

	found, err := e.Plugins.Names()
	if err != nil {
		return err
	}
	serve := found
	if len(only) > 0 {
		serve = nil
		seen := map[string]bool{}
		for _, name := range only {
			if seen[name] {
				continue
			}
			seen[name] = true
			if !contains(found, name) {
				msg := fmt.Sprintf("worker: --plugin %s: no plugin named %q in %s", name, name, strings.Join(e.Plugins.Dirs(), ", "))
				if s := config.Suggest(name, found); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else if len(found) > 0 {
					msg += " (found: " + strings.Join(found, ", ") + ")"
				}
				return usagef("%s", msg)
			}
			serve = append(serve, name)
		}
	}
	if len(serve) == 0 {
		return usagef("worker: no plugins to serve: none found in sdk.plugin_dirs (%s)", strings.Join(e.Plugins.Dirs(), ", "))
	}

	o := platformOptions(cfg, logger)
	client, err := remote.Dial(ctx, o)
	if err != nil {
		var de *remote.DialError
		if errors.As(err, &de) && de.Setting == "platform.url" && de.Addr != "" && strings.Contains(de.Err.Error(), "not a host:port") {
			return usagef("worker: %v", err) // a configuration error, not an unreachable server
		}
		return fmt.Errorf("worker: %w", err) // a refused token stays a *remote.DialError: exit 2
	}
	defer client.Close()

	wlog := workerLogger(cfg, c, logger)
	wo := remote.WorkerOptions{
		Engine:      e,
		TaskQueue:   cfg.Platform.TaskQueue,
		Plugins:     serve,
		Concurrency: *concurrency,
		Grace:       *grace,
		Identity:    *identity,
		Logger:      wlog,
	}
	if *workflows {
		// The interpreter workflow and its local activity, on the
		// workflow queue platform.task_queue, beside the plugin queues.
		wo.Workflows = remote.RegisterWorkflow
	}
	w, err := remote.NewWorker(ctx, client, wo)
	if err != nil {
		var le *engine.LockError
		if errors.As(err, &le) {
			return usagef("worker: %v", err) // refused before anything runs, as for run
		}
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	wlog.Info("worker started", "identity", w.Identity(), "server", o.URL, "namespace", namespaceOf(cfg), "slots", *concurrency, "grace", *grace)
	if *workflows {
		wlog.Info("serving workflows", "queue", taskQueueOf(cfg), "workflow", remote.WorkflowType)
	}
	for _, name := range serve {
		sum, _ := w.PluginSHA256(name)
		wlog.Info("serving plugin", "plugin", name, "queue", remote.PluginQueue(taskQueueOf(cfg), name), "sha256", sum, "tasks", strings.Join(w.Tasks(name), ","))
	}
	<-ctx.Done()
	wlog.Info("draining: stopped polling; running tasks get the grace period (signal again to cancel them now)", "grace", *grace)
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-again:
			wlog.Warn("second signal: cancelling the running tasks now; they run again elsewhere")
			w.Abort()
		case <-stopped:
		}
	}()
	start := time.Now()
	w.Stop()
	wlog.Info("worker stopped", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// workerLogger is the logger of the worker's own lines (tasks started,
// ended; drain): the CLI's, at info unless the level was set.
func workerLogger(cfg *config.Config, c *cli, logger hclog.Logger) hclog.Logger {
	l := logger.Named("worker")
	if src, _ := cfg.Source("sdk.logging_level"); src.Kind == config.SourceDefault && l.GetLevel() > hclog.Info {
		l = hclog.New(&hclog.LoggerOptions{
			Name:       programName + ".worker",
			Level:      hclog.Info,
			Output:     c.stderr,
			Color:      hclog.ColorOff,
			JSONFormat: cfg.SDK.LogFormat == "json",
		})
	}
	return l
}

func namespaceOf(cfg *config.Config) string {
	if cfg.Platform.Namespace == "" {
		return "default"
	}
	return cfg.Platform.Namespace
}

func taskQueueOf(cfg *config.Config) string {
	if cfg.Platform.TaskQueue == "" {
		return "goflyte"
	}
	return cfg.Platform.TaskQueue
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
