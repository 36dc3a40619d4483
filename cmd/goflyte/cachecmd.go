package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
)

func cacheCommand() *command {
	return &command{
		name:    "cache",
		args:    "list [--task T] | show KEY | clear (--task T | --all) | prune --older-than D  [--remote [--raw-output-data-prefix URI]] [--json]",
		summary: "Inspect and clean the result cache (local, or the bucket's with --remote)",
		help: `
Cached tasks (cache = true in the workflow, or a plugin task that is
cacheable) reuse an earlier result when their plugin, task, cache version
and inputs are the same. Entries live in local.cache_dir (default: "cache"
in the sandbox) and are shared by every workflow.

  goflyte cache list [--task PLUGIN.TASK]   entries: task, version, key, size,
                                            created, last hit, and the run that
                                            wrote each ("-" if not recorded)
  goflyte cache show KEY                    one entry (KEY or a unique prefix
                                            of 8+ characters), with its run
                                            and outputs
  goflyte cache clear --task PLUGIN.TASK    remove a task's entries
  goflyte cache clear --all                 remove every entry
  goflyte cache prune --older-than 720h     remove entries not used for that
                                            long (Go durations: 90m, 48h)

With --remote, each form works on the cache of remote runs instead: the
entries in <raw_output_data_prefix>/cache in the bucket (the same keys,
written by the workers), with the same output. Entries in a bucket record
no hits, so their LAST HIT is "never" and prune removes the entries
written more than D ago. A cleared entry is a miss for the next remote
run.

Flags:
  --task PLUGIN.TASK   list, clear: only the entries of this task
  --all                clear: every entry
  --older-than D       prune: entries not used for D (a Go duration)
  --remote             the cache of remote runs, in the bucket of
                       local.raw_output_data_prefix
  --raw-output-data-prefix URI
                       with --remote: the bucket prefix (s3://bucket/prefix,
                       gs://, azblob://) instead of
                       local.raw_output_data_prefix
  --json               print JSON`,
		run: runCache,
	}
}

func runCache(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("cache")
	task := fs.String("task", "", "")
	all := fs.Bool("all", false, "")
	olderThan := fs.Duration("older-than", 0, "")
	remoteCache := fs.Bool("remote", false, "")
	dataPrefix := fs.String("raw-output-data-prefix", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := c.parseArgs(fs, args, 1, 2)
	if err != nil {
		return err
	}
	if *dataPrefix != "" && !*remoteCache {
		return usagef("cache: --raw-output-data-prefix goes with --remote")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if *dataPrefix != "" {
		if err := cfg.Override("local.raw_output_data_prefix", *dataPrefix, "--raw-output-data-prefix"); err != nil {
			return usagef("cache: %v", err)
		}
	}
	var cc cacheEntries
	if *remoteCache {
		rc, err := c.remoteCache(cfg)
		if err != nil {
			return err
		}
		defer rc.close()
		cc = rc
	} else {
		lc, err := cache.Open(cfg.CachePath())
		if err != nil {
			return err
		}
		cc = localEntries{lc}
	}
	sub := pos[0]
	if sub != "show" && len(pos) > 1 {
		return usagef("cache %s: unexpected argument %q", sub, pos[1])
	}
	switch sub {
	case "list":
		infos, err := cc.List(ctx, *task)
		if err != nil {
			return err
		}
		if *asJSON {
			if infos == nil {
				infos = []cache.Info{}
			}
			return writeJSON(c.stdout, infos) // the console's /api/cache too
		}
		if len(infos) == 0 {
			fmt.Fprintf(c.stderr, "No cache entries in %s.\n", cc.Where())
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TASK\tVERSION\tKEY\tSIZE\tCREATED\tLAST HIT\tRUN")
		for _, in := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.Task, in.Version, in.Key.String()[:16], in.Size,
				in.Created.Local().Format(time.DateTime), lastHit(in), orDash(in.Run))
		}
		return tw.Flush()

	case "show":
		if len(pos) != 2 {
			return usagef("cache show: name the entry: goflyte cache show KEY")
		}
		key, err := cc.Resolve(ctx, pos[1])
		if err != nil {
			return usagef("cache show: %v", err)
		}
		e, err := cc.Entry(ctx, key)
		if err != nil {
			return fmt.Errorf("cache entry %s: %w", key, err)
		}
		if *asJSON {
			out := map[string]any{
				"key": key.String(), "task": e.Task, "version": e.Version, "created": e.Created,
				"inputs": e.Inputs, "outputs": e.Outputs,
			}
			if e.Run != "" {
				out["run"] = e.Run // as in cache list --json: absent when not recorded
			}
			return writeJSON(c.stdout, out)
		}
		fmt.Fprintf(c.stdout, "key      %s\ntask     %s\nversion  %s\ncreated  %s\nrun      %s\n", key, e.Task, e.Version,
			e.Created.Local().Format(time.DateTime), orDash(e.Run))
		fmt.Fprintln(c.stdout, "inputs (digests of their values)")
		for _, name := range sortedStrings(e.Inputs) {
			fmt.Fprintf(c.stdout, "  %s  %s\n", name, e.Inputs[name][:16])
		}
		fmt.Fprintf(c.stdout, "outputs  %s\n", e.Outputs)
		return nil

	case "clear":
		if *all == (*task != "") {
			return usagef("cache clear: give --task PLUGIN.TASK or --all")
		}
		n, err := cc.Clear(ctx, *task)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "Removed %d cache entr%s.\n", n, plural(n, "y", "ies"))
		return nil

	case "prune":
		if *olderThan <= 0 {
			return usagef("cache prune: give --older-than DURATION, e.g. --older-than 720h")
		}
		n, err := cc.Prune(ctx, *olderThan, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "Removed %d cache entr%s not used for %s.\n", n, plural(n, "y", "ies"), *olderThan)
		return nil
	}
	return usagef("cache: unknown subcommand %q; try goflyte help cache", sub)
}

// cacheEntries is a result cache as the cache command manages it: the
// local cache directory (localEntries) or the data store's cache of
// remote runs (engine.StoreCache, --remote). Both give the same shapes,
// so one printer serves both.
type cacheEntries interface {
	List(ctx context.Context, task string) ([]cache.Info, error)
	Resolve(ctx context.Context, prefix string) (cache.Key, error)
	Entry(ctx context.Context, key cache.Key) (*cache.Entry, error)
	Clear(ctx context.Context, task string) (int, error)
	Prune(ctx context.Context, olderThan time.Duration, now time.Time) (int, error)
	// Where is the cache's directory or URI.
	Where() string
}

// localEntries is the local cache directory as cacheEntries.
type localEntries struct{ c *cache.Cache }

func (l localEntries) List(_ context.Context, task string) ([]cache.Info, error) {
	return l.c.List(task)
}
func (l localEntries) Resolve(_ context.Context, prefix string) (cache.Key, error) {
	return l.c.Resolve(prefix)
}
func (l localEntries) Entry(_ context.Context, key cache.Key) (*cache.Entry, error) {
	return l.c.Get(key)
}
func (l localEntries) Clear(_ context.Context, task string) (int, error) { return l.c.Clear(task) }
func (l localEntries) Prune(_ context.Context, olderThan time.Duration, now time.Time) (int, error) {
	return l.c.Prune(olderThan, now)
}
func (l localEntries) Where() string { return l.c.Dir() }

// remoteEntries is the data store's cache of remote runs as cacheEntries.
type remoteEntries struct {
	*engine.StoreCache
	eng *engine.Engine
}

func (r remoteEntries) Where() string { return r.URI() }

func (r remoteEntries) close() {
	_ = r.StoreCache.Close()
	r.eng.Close()
}

// remoteCache opens the cache of remote runs: <raw_output_data_prefix>/cache,
// which must be a bucket, as for run --remote (exit 2 otherwise).
func (c *cli) remoteCache(cfg *config.Config) (remoteEntries, error) {
	_, prefix, err := remote.DataPrefixes(cfg.Local.RawOutputDataPrefix, "-", true)
	if err != nil {
		return remoteEntries{}, usagef("cache --remote: %v", err)
	}
	e := c.newEngine(cfg)
	return remoteEntries{StoreCache: e.StoreCache(prefix), eng: e}, nil
}

func lastHit(in cache.Info) string {
	if in.LastHit.IsZero() || !in.LastHit.After(in.Created) {
		return "never"
	}
	return in.LastHit.Local().Format(time.DateTime)
}

// orDash returns s, or "-" if it is empty (a run an old entry did not
// record).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
