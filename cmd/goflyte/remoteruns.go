package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/client"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/remote"
)

// `goflyte runs list|show|logs|cancel --remote`: the local forms' output,
// from Temporal (visibility, the run's record) and the data store (logs).

func (c *cli) runsRemote(ctx context.Context, cfg *config.Config, pos []string, asJSON bool, attempt int, watch bool) error {
	known := map[string]bool{"list": len(pos) == 1, "show": len(pos) == 2, "cancel": len(pos) == 2, "logs": len(pos) == 2 || len(pos) == 3}
	if !known[pos[0]] {
		return usagef("runs --remote: try goflyte runs list --remote, goflyte runs show --remote RUN, goflyte runs logs --remote RUN [TASK] or goflyte runs cancel --remote RUN")
	}
	cl, po, err := c.dialPlatform(ctx, cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	if pos[0] == "list" {
		return c.remoteList(ctx, cl, po, asJSON)
	}
	info, err := remote.Resolve(ctx, cl, po.Namespace, cfg.Local.Project, cfg.Local.Domain, pos[1])
	if err != nil {
		return remoteUsage("runs "+pos[0], err)
	}
	link := remote.ConsoleURL(cfg.Platform.ConsoleEndpoint, po.Namespace, info.ID, "") // the run's, across continue-as-new
	switch pos[0] {
	case "cancel":
		if err := remote.Cancel(ctx, cl, po.Namespace, info.ID); err != nil {
			return remoteUsage("runs cancel", err)
		}
		fmt.Fprintf(c.stderr, "Asked run %s to cancel; it stops its tasks and records itself cancelled.\n", info.ID)
		return nil
	case "logs":
		task := ""
		if len(pos) == 3 {
			task = pos[2]
		}
		return c.remoteLogs(ctx, cfg, cl, po, info, task, attempt, asJSON)
	}
	if watch && info.Status == sandbox.StatusRunning {
		p := newProgress(c.stderr, c.isTTY(), false)
		rp := &recordProgress{observe: p.observe}
		rec, err := remote.Follow(ctx, cl, info.ID, info.RunID, followEvery, rp.update)
		p.stop()
		if err != nil {
			if ctx.Err() != nil {
				c.detached(info.ID)
				return &exitError{code: exitCancel}
			}
			return err
		}
		if rec, err = c.shownRecord(ctx, cfg, rec); err != nil {
			return err
		}
		if err := c.showRemote(rec, link, asJSON); err != nil {
			return err
		}
		return c.statusExit(recordResult(rec, nil, ""), true)
	}
	rec, _, err := remote.Record(ctx, cl, po.Namespace, info.ID)
	if err == nil {
		rec, err = c.shownRecord(ctx, cfg, rec)
	}
	if err != nil {
		return err
	}
	if err := c.showRemote(rec, link, asJSON); err != nil {
		return err
	}
	if watch {
		return c.statusExit(recordResult(rec, nil, ""), true)
	}
	return nil
}

// recordLogs reads the task logs of task (all when "") of a remote run
// from the URIs its record names (TaskRecord.LogURIs, and those of its
// nested calls), fetched into tmp; files counts the logs it used.
func recordLogs(ctx context.Context, st storage, rec *sandbox.Record, tmp, task string, attempt int) (lines []sandbox.LogLine, files int, err error) {
	for _, t := range rec.Tasks {
		uris := t.LogURIs
		if len(uris) == 0 && strings.Contains(t.LogFile, "://") {
			uris = []string{t.LogFile} // a record that keeps only the latest log, as a URI
		}
		if task != "" && !ofTask(t.Name, task) {
			uris = nil
		}
		// The logs of its instances and of the tasks run below it.
		for _, nt := range t.Nested {
			if task == "" || ofTask(nt.Name, task) {
				uris = append(uris, nt.LogURIs...)
			}
		}
		for _, uri := range uris {
			dst := filepath.Join(tmp, fmt.Sprintf("%d.log", files))
			if err := st.Fetch(ctx, uri, dst, false); err != nil {
				return nil, 0, fmt.Errorf("runs logs: the log of task %q: %w", t.Name, err)
			}
			data, err := os.ReadFile(dst)
			if err != nil {
				return nil, 0, err
			}
			more, err := sandbox.DecodeTaskLog(data, uri)
			if err != nil {
				return nil, 0, fmt.Errorf("runs logs: %w", err)
			}
			used := false
			for _, l := range more {
				if task != "" && (!ofTask(l.Node, task) || (attempt != 0 && l.Attempt != attempt)) {
					continue
				}
				lines = append(lines, l)
				used = true
			}
			if used {
				files++
			}
		}
	}
	return lines, files, nil
}

// nodeEndLines are the engine's lines about how the nodes of a remote
// run that run no plugin ended (sub-workflow calls, for_each nodes, their
// instances), for task (all when "") and attempt (any when 0). A local
// run's engine writes them in its task logs (engine's logEnd); a remote
// run's workflow cannot (it does no I/O), so they come from its record,
// at the sdk.logging_level a local run with this configuration keeps.
func nodeEndLines(rec *sandbox.Record, task string, attempt int, level string) []sandbox.LogLine {
	keep := hclog.LevelFromString(level)
	if keep == hclog.NoLevel {
		keep = hclog.Warn
	}
	var out []sandbox.LogLine
	add := func(t sandbox.TaskRecord) {
		if !strings.HasPrefix(t.Task, "workflow.") && t.Instances == 0 {
			return // its worker wrote its line
		}
		if (task != "" && !ofTask(t.Name, task)) || (attempt != 0 && max(t.Attempts, 1) != attempt) || t.End.IsZero() {
			return
		}
		l := sandbox.LogLine{Time: t.End, Source: sandbox.LogSourceEngine, Logger: "goflyte", Node: t.Name, Attempt: max(t.Attempts, 1), Task: t.Task}
		lv := hclog.Info
		switch t.Status {
		case sandbox.StatusCancelled:
			lv, l.Msg = hclog.Warn, "task cancelled"
		case sandbox.StatusFailed:
			lv, l.Msg, l.Fields = hclog.Error, "task failed", map[string]any{"error": t.Error}
		case sandbox.StatusSucceeded:
			l.Msg = "task succeeded"
			if !instance(t.Name) {
				l.Fields = map[string]any{"duration": t.End.Sub(t.Start).Round(time.Millisecond).String()}
			}
		default:
			return
		}
		if lv < keep {
			return
		}
		l.Level = lv.String()
		out = append(out, l)
	}
	for _, t := range rec.Tasks {
		add(t)
		for _, nt := range t.Nested {
			add(nt)
		}
	}
	return out
}

// omittedBelow reports whether the remote record rec left out nested
// calls whose logs runs logs TASK shows (of any task when task is "").
func omittedBelow(rec *sandbox.Record, task string) bool {
	for _, t := range rec.Tasks {
		if t.NestedOmitted > 0 && (task == "" || ofTask(t.Name, task) || ofTask(task, t.Name)) {
			return true
		}
	}
	return false
}

// bucketLogs reads the task logs of task (all when "") of a remote run
// from its directory in the data store, <run dir>/_logs/, where the
// workers put every task's, instance's and nested task's log: fetched
// into tmp, then listed and read as a local run's logs/.
func bucketLogs(ctx context.Context, cl client.Client, st storage, info *remote.RunInfo, tmp, task string, attempt int) ([]sandbox.LogLine, int, error) {
	in, err := remote.StartedInput(ctx, cl, info.ID, info.RunID)
	if err != nil {
		return nil, 0, fmt.Errorf("runs logs: %w", err)
	}
	base, query, _ := strings.Cut(in.DataPrefix, "?")
	uri := strings.TrimRight(base, "/") + "/_logs"
	if query != "" {
		uri += "?" + query
	}
	dir := filepath.Join(tmp, "run")
	if err := st.Fetch(ctx, uri, filepath.Join(dir, "logs"), true); err != nil {
		return nil, 0, fmt.Errorf("runs logs: the task logs of %s: %w", info.ID, err)
	}
	all, err := sandbox.ListTaskLogs(dir)
	if err != nil {
		return nil, 0, err
	}
	var logs []sandbox.TaskLog
	for _, tl := range all {
		if task == "" || ofTask(tl.Node, task) && (attempt == 0 || tl.Attempt == attempt) {
			logs = append(logs, tl)
		}
	}
	lines, err := sandbox.ReadTaskLogs(dir, logs)
	return lines, len(logs), err
}

// remoteKnownTask reports whether task names a task of the remote run
// rec, one of its instances or a task run below it (as runs logs' TASK),
// as far as the record knows (it may have omitted nested ones).
func remoteKnownTask(rec *sandbox.Record, task string) bool {
	for _, t := range rec.Tasks {
		if ofTask(t.Name, task) || (t.NestedOmitted > 0 && ofTask(task, t.Name)) {
			return true
		}
		if slices.ContainsFunc(t.Nested, func(nt sandbox.TaskRecord) bool { return ofTask(nt.Name, task) }) {
			return true
		}
	}
	return false
}

func (c *cli) showRemote(rec *sandbox.Record, link string, asJSON bool) error {
	if asJSON {
		return writeJSON(c.stdout, rec)
	}
	printRecord(c, rec, "")
	if link != "" {
		fmt.Fprintf(c.stderr, "Console: %s\n", link)
	}
	return nil
}

func (c *cli) remoteList(ctx context.Context, cl client.Client, po remote.Options, asJSON bool) error {
	sums, err := remote.List(ctx, cl, 0)
	if err != nil {
		return err
	}
	if asJSON {
		if sums == nil {
			sums = []sandbox.RunSummary{}
		}
		return writeJSON(c.stdout, sums)
	}
	if len(sums) == 0 {
		fmt.Fprintf(c.stderr, "No runs in namespace %s at %s.\n", po.Namespace, po.URL)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tWORKFLOW\tSTATUS\tSTARTED\tDURATION")
	for _, s := range sums {
		d := "-"
		if !s.End.IsZero() {
			d = roundDuration(s.End.Sub(s.Start))
		}
		wf := s.Workflow
		if wf == "" {
			wf = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, wf, s.Status, s.Start.Local().Format(time.DateTime), d)
	}
	return tw.Flush()
}

// remoteLogs prints a remote run's task logs as runs logs prints a local
// run's: they are in the data store (TaskRecord.LogURIs).
func (c *cli) remoteLogs(ctx context.Context, cfg *config.Config, cl client.Client, po remote.Options, info *remote.RunInfo, task string, attempt int, asJSON bool) error {
	if attempt != 0 && task == "" {
		return usagef("runs logs: --attempt N goes with a TASK")
	}
	if attempt < 0 {
		return usagef("runs logs: --attempt must be at least 1")
	}
	rec, _, err := remote.Record(ctx, cl, po.Namespace, info.ID)
	if err == nil {
		rec, err = c.wholeRecord(ctx, cfg, rec)
	}
	if err != nil {
		return err
	}
	if task != "" && !remoteKnownTask(rec, task) {
		var names []string
		for _, t := range rec.Tasks {
			names = append(names, t.Name)
		}
		msg := fmt.Sprintf("runs logs: run %s has no task %q", rec.Name, task)
		if s := config.Suggest(task, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if len(names) > 0 {
			msg += fmt.Sprintf(" (its tasks: %s)", strings.Join(names, ", "))
		}
		return usagef("%s", msg)
	}
	tmp, err := os.MkdirTemp("", "goflyte-logs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st := storageFor(cfg, c.logger(cfg))
	// The logs the record names, or, when it left some of the calls out,
	// those in the run's directory in the bucket: every task's, as the
	// local form reads them from the run's.
	var lines []sandbox.LogLine
	var files int
	if omittedBelow(rec, task) {
		lines, files, err = bucketLogs(ctx, cl, st, info, tmp, task, attempt)
	} else {
		lines, files, err = recordLogs(ctx, st, rec, tmp, task, attempt)
	}
	if err != nil {
		return err
	}
	ends := nodeEndLines(rec, task, attempt, cfg.SDK.LoggingLevel)
	lines, files = append(lines, ends...), files+len(ends)
	slices.SortStableFunc(lines, func(a, b sandbox.LogLine) int { return a.Time.Compare(b.Time) })
	if len(lines) == 0 {
		what := "run " + rec.Name
		if task != "" {
			what = fmt.Sprintf("task %q of run %s", task, rec.Name)
			if attempt != 0 {
				what = fmt.Sprintf("attempt %d of %s", attempt, what)
			}
		}
		fmt.Fprintf(c.stderr, "No log lines for %s. Task logs keep the lines at the workers' sdk.logging_level.\n", what)
		return nil
	}
	return writeLogLines(c.stdout, lines, asJSON, task == "" || files > 1)
}

// wholeRecord returns the whole record of a remote run whose record came
// short (a run of thousands of tasks: sandbox.Record.WholeRecord), read
// from the data store; rec itself otherwise.
func (c *cli) wholeRecord(ctx context.Context, cfg *config.Config, rec *sandbox.Record) (*sandbox.Record, error) {
	return remote.LoadWholeRecord(ctx, rec, func(ctx context.Context, uri string) ([]byte, error) {
		return c.fetchBytes(ctx, cfg, uri)
	})
}

// shownRecord is wholeRecord with the outputs of the tasks that the
// workflow held by reference read from the data store, as `runs show`
// and `run --json` show a local record's (remote.ResolveTaskOutputs).
func (c *cli) shownRecord(ctx context.Context, cfg *config.Config, rec *sandbox.Record) (*sandbox.Record, error) {
	rec, err := c.wholeRecord(ctx, cfg, rec)
	if err != nil {
		return nil, err
	}
	return c.resolveTaskOutputs(ctx, cfg, rec)
}

// resolveTaskOutputs reads the outputs of rec's tasks that the workflow
// held by reference (remote.ResolveTaskOutputs).
func (c *cli) resolveTaskOutputs(ctx context.Context, cfg *config.Config, rec *sandbox.Record) (*sandbox.Record, error) {
	return remote.ResolveTaskOutputs(ctx, rec, func(ctx context.Context, uri string) ([]byte, error) {
		return c.fetchBytes(ctx, cfg, uri)
	})
}

// fetchBytes reads the object at uri from the data store.
func (c *cli) fetchBytes(ctx context.Context, cfg *config.Config, uri string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "goflyte-record-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "object.json")
	if err := storageFor(cfg, c.logger(cfg)).Fetch(ctx, uri, dst, false); err != nil {
		return nil, err
	}
	return os.ReadFile(dst)
}
