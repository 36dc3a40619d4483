package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/sandbox"
)

func runsCommand() *command {
	return &command{
		name:    "runs",
		args:    "list | show RUN | logs RUN [TASK] | deck RUN [TASK] [--open] | delete RUN... | prune --older-than D | cancel RUN  [--json]",
		summary: "List past runs, show one run's tasks, timings and errors, its task logs or its decks; delete, prune or cancel runs",
		help: `
Every run leaves a record in its sandbox directory, written as it goes. A
run whose goflyte process died (killed, crashed, machine rebooted) shows
as interrupted; goflyte run --resume RUN continues it.

  goflyte runs list        newest first: run, workflow, status, start, duration
  goflyte runs show RUN    the run's tasks as a tree (each under the tasks it
                           depends on), with status, timing, cache use, and
                           errors with the plugin's last stderr lines, and
                           each task's metrics (the engine's and its own)
  goflyte runs deck RUN [TASK]
                           the path of the run's deck index (or of TASK's
                           deck): HTML reports of the tasks whose block has
                           enable_deck = true, written when the run ends
  goflyte runs logs RUN    the log lines of every task of the run, in order
                           of time, each prefixed by its task (node; ".N"
                           after it for attempt N > 1)
  goflyte runs logs RUN TASK
                           the log lines of one task: all its attempts, its
                           for_each instances (TASK@i) and the tasks it ran
                           (TASK+...)

  goflyte runs delete RUN...
                           remove runs: their directories (record, working
                           directories, logs, decks, checkpoints, the data
                           store in the run) and their data store under a
                           local local.raw_output_data_prefix
  goflyte runs prune --older-than D [--keep N] [--status S,...] [--dry-run]
                           delete the finished runs that ended at least D
                           ago (a Go duration: 720h; an interrupted run
                           counts from its start), except the N newest
                           finished ones (of the statuses given), only
                           those with the statuses given (succeeded,
                           failed, cancelled, interrupted); --dry-run only
                           lists them
  goflyte runs cancel RUN  stop a running run as Ctrl-C on its goflyte
                           process would (SIGINT to the process that holds
                           the run's lock); its record ends cancelled

delete and prune list the runs they remove on stdout (with --json, as a
JSON array of runs list objects). A running run is never removed: delete
exits 1 and says it is running (the other runs named are removed).

RUN is a run's name (r20261125-130501-3fa9c27d) or its execution id
(local:local:r20261125-130501-3fa9c27d).

With --remote, list, show, logs and cancel work on the runs of the
Temporal namespace (platform.url, platform.namespace) started with
goflyte run --remote, with the same output: list from Temporal's
visibility, show from the run's workflow (its record so far, or its
final one), logs from the data store, cancel by cancelling the workflow
(it stops its tasks and ends cancelled). show --watch follows a running
run with progress lines until it ends, then shows it, and exits as goflyte
run would (0, 1, or 130 when interrupted: the run goes on).

Task logs hold what the plugin logged for the task (tagged with the task's
node and attempt) and the engine's lines about it (started, retried,
cached, succeeded, failed with its error), at sdk.logging_level: run with
-v to keep the plugins' info lines. Secret values are replaced with ***, as
on the terminal. They are kept in <run dir>/logs.jsonl, one JSON object
per line for all the run's tasks (runs recorded before: one file per task
attempt, <run dir>/logs/<task>[.<attempt>].log).

Flags:
  --json        print JSON (the record itself, for show; the stored JSON
                lines, for logs: time, level, source, logger, node,
                attempt, task, msg, fields)
  --attempt N   logs: only attempt N of TASK
  --open        deck: open the deck in a browser with xdg-open, open or
                rundll32, whichever the platform has
  --older-than D   prune: only runs that ended at least D ago (required)
  --keep N         prune: keep the N newest finished runs
  --status LIST    prune: only runs with these statuses (comma-separated)
  --dry-run        prune: list the runs, remove nothing
  --remote      list, show, logs, cancel: the runs on Temporal (goflyte
                run --remote) instead of the local sandbox
  --watch       show --remote: follow the run until it ends`,
		run: runRuns,
	}
}

func runRuns(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("runs")
	asJSON := fs.Bool("json", false, "")
	open := fs.Bool("open", false, "")
	attempt := fs.Int("attempt", 0, "")
	olderThan := fs.Duration("older-than", 0, "")
	keep := fs.Int("keep", 0, "")
	statuses := fs.String("status", "", "")
	dryRun := fs.Bool("dry-run", false, "")
	onRemote := fs.Bool("remote", false, "")
	watch := fs.Bool("watch", false, "")
	maxArgs := 3
	if len(args) > 0 && args[0] == "delete" {
		maxArgs = -1
	}
	pos, err := c.parseArgs(fs, args, 1, maxArgs)
	if err != nil {
		return err
	}
	if *watch && !(*onRemote && pos[0] == "show") {
		return usagef("runs: --watch goes with runs show --remote RUN")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if *onRemote {
		return c.runsRemote(ctx, cfg, pos, *asJSON, *attempt, *watch)
	}
	sb := sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}
	switch {
	case pos[0] == "delete" && len(pos) >= 2:
		return runsDelete(c, sb, cfg.Local.RawOutputDataPrefix, pos[1:], *asJSON)
	case pos[0] == "prune" && len(pos) == 1:
		return runsPrune(c, sb, cfg.Local.RawOutputDataPrefix, *olderThan, *keep, *statuses, *dryRun, *asJSON)
	case pos[0] == "cancel" && len(pos) == 2:
		return runsCancel(c, sb, pos[1])
	case pos[0] == "list" && len(pos) == 1:
		recs, skipped, err := sb.ListRecords()
		if err != nil {
			return err
		}
		if len(skipped) > 0 {
			fmt.Fprintf(c.stderr, "warning: %d run director%s without a readable record left out (the first: %v)\n",
				len(skipped), plural(len(skipped), "y", "ies"), skipped[0])
		}
		if *asJSON {
			sums, _, err := sb.ListSummaries()
			if err != nil {
				return err
			}
			if sums == nil {
				sums = []sandbox.RunSummary{}
			}
			return writeJSON(c.stdout, sums)
		}
		if len(recs) == 0 {
			fmt.Fprintf(c.stderr, "No runs in %s.\n", cfg.SDK.LocalSandbox)
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tWORKFLOW\tSTATUS\tSTARTED\tDURATION")
		for _, r := range recs {
			d := "-"
			if !r.End.IsZero() {
				d = roundDuration(duration(r))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Workflow, r.Status, r.Start.Local().Format(time.DateTime), d)
		}
		return tw.Flush()

	case pos[0] == "show" && len(pos) == 2:
		rec, err := loadRun(sb, "runs show", pos[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, rec)
		}
		printRecord(c, rec, sb.RunDir(rec.Name))
		return nil

	case pos[0] == "deck" && len(pos) >= 2:
		return runsDeck(c, sb, pos[1:], *open, engine.PluginEnv(os.Environ(), cfg, cfg.Secrets.FallbackPassphraseEnv))
	case pos[0] == "logs" && len(pos) >= 2:
		task := ""
		if len(pos) == 3 {
			task = pos[2]
		}
		return runsLogs(c, sb, pos[1], task, *attempt, *asJSON)
	}
	return usagef("runs: try goflyte runs list, goflyte runs show RUN, goflyte runs logs RUN [TASK], goflyte runs deck RUN [TASK], goflyte runs delete RUN..., goflyte runs prune --older-than D or goflyte runs cancel RUN")
}

func duration(r *sandbox.Record) time.Duration {
	if r.End.IsZero() {
		return 0
	}
	return r.End.Sub(r.Start)
}

// printRecord shows a run's record; runDir is its directory, "" for a
// remote run's.
func printRecord(c *cli, rec *sandbox.Record, runDir string) {
	w := c.stdout
	fmt.Fprintf(w, "Run %s  (%s)\n", rec.ID, rec.Status)
	fmt.Fprintf(w, "  workflow  %s", rec.Workflow)
	if rec.File != "" {
		fmt.Fprintf(w, " (%s)", rec.File)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  started   %s", rec.Start.Local().Format(time.DateTime))
	if !rec.End.IsZero() {
		fmt.Fprintf(w, ", took %s", roundDuration(duration(rec)))
	}
	fmt.Fprintln(w)
	if rec.ResumedFrom != "" {
		fmt.Fprintf(w, "  resumed   from %s\n", rec.ResumedFrom)
	}
	printDeck(c, rec, runDir)
	if len(rec.Inputs) > 0 {
		fmt.Fprintln(w, "  inputs")
		for _, name := range sortedRaw(rec.Inputs) {
			fmt.Fprintf(w, "    %s = %s\n", name, rec.Inputs[name])
		}
	}
	fmt.Fprintln(w, "\nTasks:")
	depth := taskDepths(rec.Tasks)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range orderByDepth(rec.Tasks, depth) {
		name := strings.Repeat("  ", depth[t.Name]) + "└ " + t.Name
		if depth[t.Name] == 0 {
			name = t.Name
		}
		d := ""
		if !t.Start.IsZero() && !t.End.IsZero() {
			d = roundDuration(t.End.Sub(t.Start))
		}
		note := ""
		switch {
		case t.Resumed:
			note = "kept from " + rec.ResumedFrom
		case t.Cache == sandbox.CacheHit:
			note = "cached"
		case t.Cache != "" && t.Cache != sandbox.CacheOff:
			note = "cache " + t.Cache
			if t.CacheReason != "" {
				note += ": " + t.CacheReason
			}
		}
		if t.Deck != "" {
			note = strings.TrimPrefix(note+", deck", ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, t.Task, t.Status, d, note)
	}
	tw.Flush()
	for _, t := range rec.Tasks {
		if len(t.Children) > 0 {
			fmt.Fprintf(w, "\nTask %q ran %d task(s) through the engine:\n", t.Name, len(t.Children))
			for _, c := range t.Children {
				fmt.Fprintf(w, "  %s\n", c)
			}
		}
	}
	printMetrics(w, rec.Tasks)
	for _, t := range rec.Tasks {
		if t.Error == "" {
			continue
		}
		fmt.Fprintf(w, "\nTask %q failed: %s\n", t.Name, t.Error)
		if t.Stderr != "" {
			fmt.Fprintf(w, "  plugin stderr (last lines):\n    %s\n", strings.ReplaceAll(t.Stderr, "\n", "\n    "))
		}
	}
	var logged []sandbox.TaskRecord
	for _, t := range rec.Tasks {
		if t.LogFile != "" {
			logged = append(logged, t)
		}
	}
	if len(logged) > 0 {
		oneFile := true // the run's logs.jsonl, since issue 17; a file per task before
		for _, t := range logged {
			oneFile = oneFile && t.LogFile == logged[0].LogFile
		}
		if oneFile {
			fmt.Fprintf(w, "\nTask logs (goflyte runs logs %s TASK; kept in %s):\n", rec.Name, logged[0].LogFile)
			for _, t := range logged {
				fmt.Fprintf(w, "  %s\n", t.Name)
			}
		} else {
			fmt.Fprintf(w, "\nTask logs (goflyte runs logs %s TASK):\n", rec.Name)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, t := range logged {
				fmt.Fprintf(tw, "  %s\t%s\n", t.Name, t.LogFile)
			}
			tw.Flush()
		}
	}
	if len(rec.Outputs) > 0 {
		fmt.Fprintln(w, "\nOutputs:")
		for _, name := range sortedRaw(rec.Outputs) {
			fmt.Fprintf(w, "  %s = %s\n", name, rec.Outputs[name])
		}
	}
	if rec.Status == sandbox.StatusInterrupted {
		resume := "goflyte run --resume"
		if runDir == "" {
			resume = "goflyte run --remote --resume" // a remote run's record
		}
		fmt.Fprintf(w, "\nThe run was interrupted. Continue it with: %s %s\n", resume, rec.Name)
	}
}

// taskDepths gives each task the length of its longest chain of
// dependencies, to draw the tree.
func taskDepths(tasks []sandbox.TaskRecord) map[string]int {
	deps := map[string][]string{}
	for _, t := range tasks {
		deps[t.Name] = t.Deps
	}
	depth := map[string]int{}
	var visit func(name string, seen map[string]bool) int
	visit = func(name string, seen map[string]bool) int {
		if d, ok := depth[name]; ok {
			return d
		}
		if seen[name] {
			return 0 // a record is acyclic; be safe anyway
		}
		seen[name] = true
		d := 0
		for _, dep := range deps[name] {
			d = max(d, visit(dep, seen)+1)
		}
		depth[name] = d
		return d
	}
	for _, t := range tasks {
		visit(t.Name, map[string]bool{})
	}
	return depth
}

func orderByDepth(tasks []sandbox.TaskRecord, depth map[string]int) []sandbox.TaskRecord {
	out := append([]sandbox.TaskRecord(nil), tasks...)
	// Stable: declaration order within a depth.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && depth[out[j].Name] < depth[out[j-1].Name]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func sortedRaw(m map[string]json.RawMessage) []string {
	s := make(map[string]string, len(m))
	for k := range m {
		s[k] = k
	}
	return sortedStrings(s)
}

// printMetrics shows each task's metrics as a table. The engine's metrics
// leave out the plugin, task and node tags: the row says which task.
func printMetrics(w io.Writer, tasks []sandbox.TaskRecord) {
	has := false
	for _, t := range tasks {
		has = has || len(t.Metrics) > 0
	}
	if !has {
		return
	}
	fmt.Fprintln(w, "\nMetrics:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TASK\tMETRIC\tKIND\tVALUE\tCOUNT\tTAGS")
	for _, t := range tasks {
		for _, m := range t.Metrics {
			var tags []string
			for _, k := range slices.Sorted(maps.Keys(m.Tags)) {
				if strings.HasPrefix(m.Name, "engine.") && (k == "plugin" || k == "task" || k == "node") {
					continue
				}
				tags = append(tags, k+"="+m.Tags[k])
			}
			value := strconv.FormatFloat(m.Value, 'g', 6, 64)
			if m.Kind == "timer" {
				value = fmt.Sprintf("%s (min %s, max %s)", ms(m.Value), ms(m.Min), ms(m.Max))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", t.Name, m.Name, m.Kind, value, m.Count, strings.Join(tags, ","))
		}
	}
	tw.Flush()
}

// ms shows milliseconds as a rounded duration.
func ms(v float64) string {
	return roundDuration(time.Duration(v * float64(time.Millisecond)))
}
