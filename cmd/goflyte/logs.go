package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// runsLogs prints the task logs of the run nameOrID: all of them, or
// task's (with its for_each instances and the tasks it ran: "<task>@…",
// "<task>+…"), or one attempt of task's.
func runsLogs(c *cli, sb sandbox.Sandbox, nameOrID, task string, attempt int, asJSON bool) error {
	if attempt != 0 && task == "" {
		return usagef("runs logs: --attempt N goes with a TASK")
	}
	if attempt < 0 {
		return usagef("runs logs: --attempt must be at least 1")
	}
	rec, err := loadRun(sb, "runs logs", nameOrID)
	if err != nil {
		return err
	}
	dir := sb.RunDir(rec.Name)
	all, err := sandbox.ListTaskLogs(dir)
	if err != nil {
		return err
	}
	logs := all
	if task != "" {
		logs = nil
		for _, tl := range all {
			if ofTask(tl.Node, task) && (attempt == 0 || tl.Attempt == attempt) {
				logs = append(logs, tl)
			}
		}
		if len(logs) == 0 && !knownTask(rec, all, task) {
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
	}
	lines, err := sandbox.ReadTaskLogs(dir, logs)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		what := "run " + rec.Name
		if task != "" {
			what = fmt.Sprintf("task %q of run %s", task, rec.Name)
			if attempt != 0 {
				what = fmt.Sprintf("attempt %d of %s", attempt, what)
			}
		}
		fmt.Fprintf(c.stderr, "No log lines for %s. Task logs keep the lines at the run's sdk.logging_level; "+
			"run with -v to keep the plugins' info lines too.\n", what)
		return nil
	}
	// One task's one log needs no prefix; otherwise each line says whose
	// it is: the node, and the attempt after the first ("split.2").
	return writeLogLines(c.stdout, lines, asJSON, task == "" || len(logs) > 1)
}

// writeLogLines writes task log lines to out: as JSON lines, or as text,
// each line prefixed with whose it is (logLabel) when prefixed.
func writeLogLines(out io.Writer, lines []sandbox.LogLine, asJSON, prefixed bool) error {
	w := bufio.NewWriter(out)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i := range lines {
			if err := enc.Encode(&lines[i]); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	width := 0
	if prefixed {
		for _, l := range lines {
			width = max(width, len(logLabel(l)))
		}
	}
	for _, l := range lines {
		if prefixed {
			fmt.Fprintf(w, "%-*s | ", width, logLabel(l))
		}
		writeLogLine(w, l)
	}
	return w.Flush()
}

// loadRun loads the record of the run nameOrID (a name or an execution
// id). A run that does not exist is a usage error that suggests a close
// name.
func loadRun(sb sandbox.Sandbox, cmd, nameOrID string) (*sandbox.Record, error) {
	rec, err := sb.LoadRecord(nameOrID)
	if err == nil {
		return rec, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("%s: %v", cmd, err)
	}
	msg := fmt.Sprintf("%s: no run %q in %s", cmd, nameOrID, sb.Root)
	if recs, _, _ := sb.ListRecords(); len(recs) > 0 {
		var names []string
		for _, r := range recs {
			names = append(names, r.Name, r.ID)
		}
		if s := config.Suggest(nameOrID, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
	}
	return nil, usagef("%s\nRun 'goflyte runs list' for the runs.", msg)
}

// ofTask reports whether node is task, one of its for_each instances or a
// task it ran (a sub-workflow's, a dynamic or eager task's).
func ofTask(node, task string) bool {
	return node == task || strings.HasPrefix(node, task+"@") || strings.HasPrefix(node, task+"+")
}

func knownTask(rec *sandbox.Record, logs []sandbox.TaskLog, task string) bool {
	for _, t := range rec.Tasks {
		if t.Name == task {
			return true
		}
	}
	for _, tl := range logs {
		if ofTask(tl.Node, task) {
			return true
		}
	}
	return false
}

func logLabel(l sandbox.LogLine) string {
	if l.Attempt > 1 {
		return l.Node + "." + strconv.Itoa(l.Attempt)
	}
	return l.Node
}

// hclogBrackets are hclog's level columns.
var hclogBrackets = map[string]string{
	"trace": "[TRACE]", "debug": "[DEBUG]", "info": "[INFO] ", "warn": "[WARN] ", "error": "[ERROR]",
}

// writeLogLine writes l as hclog's text format does:
//
//	2026-11-25T12:51:35.123+0100 [INFO]  text: split text: bytes=12 words=3
func writeLogLine(w io.Writer, l sandbox.LogLine) {
	level, ok := hclogBrackets[l.Level]
	if !ok {
		level = "[" + strings.ToUpper(l.Level) + "]"
	}
	var b strings.Builder
	b.WriteString(l.Time.Local().Format("2006-01-02T15:04:05.000Z0700"))
	b.WriteString(" " + level + " ")
	if l.Logger != "" {
		b.WriteString(l.Logger + ": ")
	}
	b.WriteString(l.Msg)
	if len(l.Fields) > 0 {
		keys := make([]string, 0, len(l.Fields))
		for k := range l.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(":")
		for _, k := range keys {
			b.WriteString(" " + k + "=" + logValue(l.Fields[k]))
		}
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// logValue renders a field value as hclog does: strings bare unless they
// need quotes, numbers plainly, anything else as JSON.
func logValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || strings.ContainsAny(x, " \t\r\n\"=") {
			return strconv.Quote(x)
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "<nil>"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
