package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

func pluginProtocol() uint { return plugin.Handshake.ProtocolVersion }

func pluginsCommand() *command {
	return &command{
		name:    "plugins",
		args:    "list | describe NAME | lock  [--json]",
		summary: "List installed plugins or show a plugin's tasks and schemas",
		help: `
Plugins are executables named goflyte-plugin-<name> in sdk.plugin_dirs
(the first directory that has a name wins).

  goflyte plugins list            every plugin with its version and tasks
  goflyte plugins describe NAME   each task's doc, inputs and outputs
  goflyte plugins lock            record every plugin's path, version, protocol
                                  and SHA-256 in goflyte.lock.hcl (next to
                                  flyte.hcl); while that file exists, goflyte
                                  refuses plugins that are not in it or whose
                                  binary changed (--lock=false skips the check)

Flags:
  --json   print JSON instead of text`,
		run: func(ctx context.Context, c *cli, args []string) error {
			fs := newFlagSet("plugins")
			asJSON := fs.Bool("json", false, "")
			pos, err := c.parseArgs(fs, args, 1, 2)
			if err != nil {
				return err
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			eng := c.newEngine(cfg)
			defer eng.Close()
			switch {
			case pos[0] == "list" && len(pos) == 1:
				names, err := eng.Plugins.Names()
				if err != nil {
					return err
				}
				type row struct {
					Name    string   `json:"name"`
					Path    string   `json:"path"`
					Version string   `json:"version,omitempty"`
					Tasks   []string `json:"tasks"`
					Error   string   `json:"error,omitempty"`
				}
				rows := []row{}
				for _, name := range names {
					path, _ := eng.Plugins.Path(name)
					r := row{Name: name, Path: path, Tasks: []string{}}
					_, schema, err := eng.Plugins.Get(ctx, name)
					if err != nil {
						r.Error = err.Error()
					} else {
						r.Version, r.Tasks = schema.Version, schema.TaskNames()
					}
					rows = append(rows, r)
				}
				if *asJSON {
					return writeJSON(c.stdout, rows)
				}
				if len(rows) == 0 {
					fmt.Fprintf(c.stderr, "No plugins found in sdk.plugin_dirs (%s).\nBuild the examples with 'make plugins', or add a directory to sdk.plugin_dirs in flyte.hcl.\n", strings.Join(eng.Plugins.Dirs(), ", "))
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tVERSION\tTASKS\tPATH")
				for _, r := range rows {
					tasks := strings.Join(r.Tasks, ", ")
					if r.Error != "" {
						tasks = "error: " + firstLine(r.Error)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Version, tasks, r.Path)
				}
				return tw.Flush()
			case pos[0] == "lock" && len(pos) == 1:
				return c.lockPlugins(ctx, cfg, *asJSON)
			case pos[0] == "describe" && len(pos) == 2:
				_, schema, err := eng.Plugins.Get(ctx, pos[1])
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(c.stdout, schema)
				}
				printSchema(c, pos[1], schema)
				return nil
			}
			return usagef("plugins: try goflyte plugins list or goflyte plugins describe NAME")
		},
	}
}

func printSchema(c *cli, name string, s *plugin.Schema) {
	w := c.stdout
	fmt.Fprintf(w, "Plugin %s (version %s)\n", name, s.Version)
	tasks := append([]plugin.TaskSchema(nil), s.Tasks...)
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Name < tasks[j].Name })
	for _, t := range tasks {
		fmt.Fprintf(w, "\n%s.%s", name, t.Name)
		if t.Kind != plugin.KindPlain {
			fmt.Fprintf(w, " (%s)", t.Kind)
		}
		fmt.Fprintln(w)
		if t.Doc != "" {
			fmt.Fprintf(w, "  %s\n", t.Doc)
		}
		printFields(c, "Inputs", t.Inputs)
		printFields(c, "Outputs", t.Outputs)
	}
}

func printFields(c *cli, title string, fields []plugin.Field) {
	if len(fields) == 0 {
		fmt.Fprintf(c.stdout, "  %s: none\n", title)
		return
	}
	fmt.Fprintf(c.stdout, "  %s:\n", title)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		opt := ""
		if f.Optional {
			opt = " (optional)"
		}
		fmt.Fprintf(tw, "    %s\t%s%s\t%s\n", f.Name, f.Type, opt, f.Doc)
	}
	tw.Flush()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// lockPlugins writes the lock file: every plugin found, started once to
// ask its version, with the SHA-256 of its binary.
func (c *cli) lockPlugins(ctx context.Context, cfg *config.Config, asJSON bool) error {
	c.lock = false // locking is how a changed plugin becomes trusted again
	eng := c.newEngine(cfg)
	defer eng.Close()
	names, err := eng.Plugins.Names()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usagef("plugins lock: no plugins found in sdk.plugin_dirs (%s)", strings.Join(eng.Plugins.Dirs(), ", "))
	}
	lock := &config.Lock{Plugins: map[string]config.LockedPlugin{}}
	for _, name := range names {
		path, _ := eng.Plugins.Path(name)
		_, schema, err := eng.Plugins.Get(ctx, name)
		if err != nil {
			return fmt.Errorf("plugins lock: %w", err)
		}
		sum, err := engine.FileSHA256(path)
		if err != nil {
			return fmt.Errorf("plugins lock: %w", err)
		}
		lock.Plugins[name] = config.LockedPlugin{Name: name, Path: path, Version: schema.Version, ProtocolVersion: int(pluginProtocol()), SHA256: sum}
	}
	wd, _ := os.Getwd()
	path := config.LockPath(cfg, wd)
	if err := config.WriteLock(path, lock); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, lock.Plugins)
	}
	fmt.Fprintf(c.stderr, "Locked %d plugin(s) in %s.\n", len(names), path)
	return nil
}
