package sandbox

// Task logs: the log lines of each task execution of a run, kept beside its
// record so that `goflyte runs logs` can show them after the run.
//
// Layout: one file per run, beside the record:
//
//	<run>/logs.jsonl    every task log line of the run, in the order written
//
// It holds JSON lines, one [LogLine] each; each line names its task
// execution (node and attempt), so the lines of one execution are those
// with its node and attempt, and [ListTaskLogs] and [ReadTaskLogs] read
// them by task. The file is only appended to; a last line cut short (the
// process died while writing it) is left out by readers, and cut off by
// the next writer before it appends. A run whose tasks logged nothing has
// no file.
//
// Runs recorded before (and the remote worker's uploads, see
// [SplitTaskLogs]) kept one file per task execution, which readers still
// read:
//
//	<run>/logs/<node>.log        first attempt of a task (node) of the run
//	<run>/logs/<node>.<n>.log    attempt n > 1
//
// with the node escaped into the file name (see logFileName). One file per
// run costs one new inode per run instead of one per task attempt: on this
// machine a new inode costs 0.15-0.8 ms, most of what -v added to a chain
// of trivial tasks (issue 17).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sources of a [LogLine].
const (
	LogSourcePlugin = "plugin" // the task's plugin logged it
	LogSourceEngine = "engine" // the engine logged it about the task
)

// logsDir is the directory of per-execution task logs (the layout before
// TaskLogFile) in a run's directory.
const logsDir = "logs"

// TaskLogFile is the file of a run's task logs in its directory.
const TaskLogFile = "logs.jsonl"

// LogLine is one line of a task's log. It never holds a secret value: the
// engine redacts before it writes.
type LogLine struct {
	Time time.Time `json:"time"`
	// Level is hclog's name of the level: "trace", "debug", "info",
	// "warn" or "error".
	Level string `json:"level"`
	// Source is LogSourcePlugin or LogSourceEngine.
	Source string `json:"source"`
	// Logger names who logged: the plugin's name, or "goflyte".
	Logger string `json:"logger,omitempty"`
	// Node and Attempt name the task execution: the node as in the
	// record (with "@<i>" for an instance of a for_each, "<task>+" before
	// the nodes of a sub-workflow or an eager task's children) and the
	// attempt, counted from 1.
	Node    string `json:"node"`
	Attempt int    `json:"attempt"`
	// Task is the plugin task, "<plugin>.<task>", when known.
	Task   string         `json:"task,omitempty"`
	Msg    string         `json:"msg"`
	Fields map[string]any `json:"fields,omitempty"`
}

// TaskLogs writes the task logs of one run. It is safe for concurrent use.
// Write only appends the line to a buffer: the run's log file is created
// and the buffer written out by one goroutine every [LogFlushInterval]
// (so that readers such as the console can tail a running task: a line is
// in the file within about that long), and at Close. After Close, each
// Write goes straight to the file, for the lines of a plugin that arrive
// after its task returned.
type TaskLogs struct {
	path string // <run>/logs.jsonl

	mu      sync.Mutex
	pending bytes.Buffer    // lines not written out yet
	logged  map[string]bool // nodes with a line
	closed  bool
	stop    chan struct{} // closed by Close; stops the flusher
	done    chan struct{} // closed when the flusher has returned

	// io is held while the file is written: by the flusher, then by Close
	// and the writes after it.
	io   sync.Mutex
	f    *os.File // open from the first write out to Close
	errs []error  // write errors, for Close
}

// LogFlushInterval is how long a task log line may wait in a buffer
// before it reaches its file. Writing each line at once would cost a
// system call per line; a run's logs are written out by one goroutine at
// this pace instead, so a line is readable within about this long.
const LogFlushInterval = 200 * time.Millisecond

type logKey struct {
	node    string
	attempt int
}

// TaskLogs returns the writer of the run's task logs. The caller must Close
// it when the run ends.
func (r *Run) TaskLogs() *TaskLogs {
	return &TaskLogs{path: filepath.Join(r.Dir, TaskLogFile), logged: map[string]bool{}}
}

// Write appends line to the run's task log; the file (mode 0600) is
// created when the line is written out. A line without a node or with an
// attempt below 1 is an error; an error writing the file is reported by
// Close.
func (l *TaskLogs) Write(line *LogLine) error {
	if line.Node == "" || line.Attempt < 1 {
		return fmt.Errorf("write task log: line without a node and attempt")
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := appendLogLine(buf, line); err != nil {
		// A field value that does not encode: keep the line, say so.
		cp := *line
		cp.Fields = map[string]any{"fields_error": err.Error()}
		buf.Reset()
		if err := encodeLine(buf, &cp); err != nil {
			return fmt.Errorf("write task log of %q: %w", line.Node, err)
		}
	}

	l.mu.Lock()
	if !l.logged[line.Node] {
		l.logged[line.Node] = true
	}
	if !l.closed {
		if l.stop == nil {
			l.stop, l.done = make(chan struct{}), make(chan struct{})
			go l.flusher(l.stop, l.done)
		}
		l.pending.Write(buf.Bytes())
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// Unbuffered, and the file not kept open: the run is over.
	l.io.Lock()
	defer l.io.Unlock()
	f, err := openRunLog(l.path)
	if err != nil {
		return fmt.Errorf("write task log of %q: %w", line.Node, err)
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write task log of %q: %w", line.Node, err)
	}
	return nil
}

// flusher writes out the buffered lines every LogFlushInterval until stop
// is closed.
func (l *TaskLogs) flusher(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(LogFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		l.flush()
	}
}

// flush writes out the buffered lines: it takes them under l.mu and writes
// them with only l.io held, so that Write never waits for the file.
func (l *TaskLogs) flush() {
	l.mu.Lock()
	data := l.pending.Bytes()
	l.pending = bytes.Buffer{} // data keeps the bytes; an idle run keeps none
	l.mu.Unlock()
	if len(data) == 0 {
		return
	}
	l.io.Lock()
	defer l.io.Unlock()
	if l.f == nil {
		f, err := openRunLog(l.path)
		if err != nil {
			l.errs = append(l.errs, err)
			return
		}
		l.f = f
	}
	if _, err := l.f.Write(data); err != nil {
		l.errs = append(l.errs, err)
	}
}

// openRunLog opens the run's task log for appending, creating it, and
// cuts off a last line without its newline (a write that a dead process
// cut short), so that what is appended starts a line of its own.
// The run's directory is made if it is missing (a LazyRun's).
func openRunLog(path string) (*os.File, error) {
	f, err := openLog(path, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		f, err = openLog(path, 0o600)
	}
	if err != nil {
		return nil, err
	}
	if err := cutTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// cutTornLine truncates f after its last newline, if its last byte is not
// one.
func cutTornLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	var buf [4096]byte
	end := size
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		chunk := buf[:n]
		if _, err := f.ReadAt(chunk, end-n); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		i := bytes.LastIndexByte(chunk, '\n')
		if i == int(n)-1 && end == size {
			return nil // whole lines
		}
		if i >= 0 {
			return f.Truncate(end - n + int64(i) + 1)
		}
		end -= n
	}
	return f.Truncate(0)
}

// File returns the file that holds the log lines of node, relative to the
// run's directory and slash-separated ([TaskLogFile]), or "" if node
// logged nothing. (Lines still buffered reach it within
// LogFlushInterval.)
func (l *TaskLogs) File(node string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.logged[node] {
		return ""
	}
	return TaskLogFile
}

// Close writes out and closes the log file. Lines written after Close are
// appended to it at once.
func (l *TaskLogs) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	stop, done := l.stop, l.done
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	l.flush()
	l.io.Lock()
	defer l.io.Unlock()
	errs := l.errs
	if l.f != nil {
		errs = append(errs, l.f.Close())
		l.f = nil
	}
	l.errs = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close task logs: %w", err)
	}
	return nil
}

// logFileName returns the file name of a task execution's log:
// "<node>.log" for the first attempt, "<node>.<attempt>.log" for later
// ones. Bytes of the node other than ASCII letters, digits, '_', '-', '@'
// and '+' are escaped as %XX, so the name is never "." or "..", never holds
// a separator, and the attempt is the only '.'-separated part. A name too
// long for a file system is an error, as it is for TaskDir.
func logFileName(node string, attempt int) (string, error) {
	if node == "" || attempt < 1 {
		return "", errors.New("invalid task log name " + strconv.Quote(node))
	}
	var b strings.Builder
	for i := 0; i < len(node); i++ {
		c := node[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '@', c == '+':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if attempt > 1 {
		b.WriteString("." + strconv.Itoa(attempt))
	}
	b.WriteString(".log")
	if b.Len() > 255 {
		return "", errors.New("task log name too long for " + strconv.Quote(node))
	}
	return b.String(), nil
}

// parseLogFileName is the inverse of logFileName; ok is false for a name
// logFileName does not make.
func parseLogFileName(name string) (node string, attempt int, ok bool) {
	base, found := strings.CutSuffix(name, ".log")
	if !found || base == "" {
		return "", 0, false
	}
	attempt = 1
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		n, err := strconv.Atoi(base[i+1:])
		if err != nil || n < 2 || strconv.Itoa(n) != base[i+1:] {
			return "", 0, false
		}
		base, attempt = base[:i], n
	}
	var b strings.Builder
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c == '.' || c == '/' || c == '\\' {
			return "", 0, false
		}
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(base) {
			return "", 0, false
		}
		v, err := strconv.ParseUint(base[i+1:i+3], 16, 8)
		if err != nil {
			return "", 0, false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), attempt, true
}

// TaskLog is one task execution's log in a run's directory.
type TaskLog struct {
	Node    string
	Attempt int
	// Path is the file that holds the execution's lines, relative to the
	// run's directory and slash-separated: [TaskLogFile], which holds
	// every execution's, or, in a run recorded before it, the execution's
	// own file in logs/.
	Path string
}

// ListTaskLogs returns the task logs in the run directory runDir, by node
// and then attempt. A run without task logs gives none and no error.
func ListTaskLogs(runDir string) ([]TaskLog, error) {
	logs, err := listOldTaskLogs(runDir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(runDir, TaskLogFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list task logs: %w", err)
	}
	if len(data) > 0 {
		keys, err := logKeys(data, filepath.Join(runDir, TaskLogFile))
		if err != nil {
			return nil, fmt.Errorf("list task logs: %w", err)
		}
		for _, k := range keys {
			logs = append(logs, TaskLog{Node: k.node, Attempt: k.attempt, Path: TaskLogFile})
		}
	}
	slices.SortStableFunc(logs, func(a, b TaskLog) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return a.Attempt - b.Attempt
	})
	return logs, nil
}

// listOldTaskLogs lists the per-execution files of runDir's logs/.
func listOldTaskLogs(runDir string) ([]TaskLog, error) {
	entries, err := os.ReadDir(filepath.Join(runDir, logsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list task logs: %w", err)
	}
	var logs []TaskLog
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		node, attempt, ok := parseLogFileName(e.Name())
		if !ok {
			continue
		}
		logs = append(logs, TaskLog{Node: node, Attempt: attempt, Path: logsDir + "/" + e.Name()})
	}
	return logs, nil
}

// logKeys returns the task executions that have whole lines in data, a
// run's log file at path, in the order of their first lines.
func logKeys(data []byte, path string) ([]logKey, error) {
	var keys []logKey
	seen := map[logKey]bool{}
	var head struct {
		Node    string `json:"node"`
		Attempt int    `json:"attempt"`
	}
	for n, rest := 1, data; ; n++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return keys, nil // torn or unfinished last line
		}
		head.Node, head.Attempt = "", 0
		if err := json.Unmarshal(rest[:i], &head); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rest = rest[i+1:]
		k := logKey{head.Node, head.Attempt}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
}

// ReadTaskLogs returns the lines of the given task logs of the run in
// runDir, merged in order of time (lines of one task execution keep their
// order). A last line without its newline (a write cut short) is left
// out; any other line that does not decode is an error.
func ReadTaskLogs(runDir string, logs []TaskLog) ([]LogLine, error) {
	// Each file once, with the executions wanted from it.
	var paths []string
	want := map[string]map[logKey]bool{}
	for _, tl := range logs {
		rel := filepath.FromSlash(tl.Path)
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("read task log %q: outside the run directory", tl.Path)
		}
		if want[tl.Path] == nil {
			want[tl.Path] = map[logKey]bool{}
			paths = append(paths, tl.Path)
		}
		want[tl.Path][logKey{tl.Node, tl.Attempt}] = true
	}
	var lines []LogLine
	for _, p := range paths {
		path := filepath.Join(runDir, filepath.FromSlash(p))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read task log: %w", err)
		}
		more, _, err := decodeLogLines(data, path, 1)
		if err != nil {
			return nil, fmt.Errorf("read task log: %w", err)
		}
		if p == TaskLogFile {
			keys := want[p]
			more = slices.DeleteFunc(more, func(l LogLine) bool { return !keys[logKey{l.Node, l.Attempt}] })
		}
		lines = append(lines, more...)
	}
	slices.SortStableFunc(lines, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	return lines, nil
}

// A TaskLogPart is one task execution's lines of a run's task logs, as
// the file of the per-execution layout holds them.
type TaskLogPart struct {
	TaskLog
	// Name is the execution's file name in that layout:
	// "<node>[.<attempt>].log" (see logFileName).
	Name string
	// Data are the execution's whole lines, in the order written.
	Data []byte
	// File, when set, is a file in the run's directory whose content is
	// Data: the run's log when it holds only this execution's lines, or
	// the execution's own file in a run recorded before.
	File string
}

// SplitTaskLogs returns the task logs of the run in runDir one task
// execution each, by Name: what the remote worker stores in the data
// store as <data prefix>/_logs/<Name>, one object per execution, which
// `goflyte runs logs --remote` reads. An execution whose node makes no
// file name (too long) is left out, and named in the error, which comes
// with the other parts.
func SplitTaskLogs(runDir string) ([]TaskLogPart, error) {
	old, err := listOldTaskLogs(runDir)
	if err != nil {
		return nil, err
	}
	var parts []TaskLogPart
	for _, tl := range old {
		path := filepath.Join(runDir, filepath.FromSlash(tl.Path))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read task log: %w", err)
		}
		parts = append(parts, TaskLogPart{TaskLog: tl, Name: filepath.Base(path), Data: data, File: path})
	}
	var errs []error
	path := filepath.Join(runDir, TaskLogFile)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read task log: %w", err)
	}
	byKey := map[logKey]int{} // index in parts
	var head struct {
		Node    string `json:"node"`
		Attempt int    `json:"attempt"`
	}
	rest := data
	for n := 1; ; n++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break // torn or unfinished last line
		}
		line := rest[:i+1]
		rest = rest[i+1:]
		head.Node, head.Attempt = "", 0
		if err := json.Unmarshal(line, &head); err != nil {
			return nil, fmt.Errorf("read task log: %s:%d: %w", path, n, err)
		}
		k := logKey{head.Node, head.Attempt}
		j, ok := byKey[k]
		if !ok {
			name, err := logFileName(k.node, k.attempt)
			if err != nil {
				byKey[k] = -1
				errs = append(errs, fmt.Errorf("%s:%d: %w", path, n, err))
				continue
			}
			j = len(parts)
			byKey[k] = j
			parts = append(parts, TaskLogPart{TaskLog: TaskLog{Node: k.node, Attempt: k.attempt, Path: TaskLogFile}, Name: name})
		}
		if j >= 0 {
			parts[j].Data = append(parts[j].Data, line...)
		}
	}
	if len(byKey) == 1 && len(rest) == 0 && len(parts) > 0 && parts[len(parts)-1].Path == TaskLogFile {
		parts[len(parts)-1].File = path // the whole file is this execution's
	}
	slices.SortStableFunc(parts, func(a, b TaskLogPart) int { return strings.Compare(a.Name, b.Name) })
	if err := errors.Join(errs...); err != nil {
		return parts, fmt.Errorf("split task logs: %w", err)
	}
	return parts, nil
}

// decodeLogLines decodes the whole lines of a task log in data, whose
// first line is line number first of the file at path. It returns the
// lines and how many bytes it used: a last line without its newline (cut
// short, or still being written) is left for later.
func decodeLogLines(data []byte, path string, first int) (lines []LogLine, used int, err error) {
	for n := first; len(data[used:]) > 0; n++ {
		rest := data[used:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break // torn or unfinished last line
		}
		var line LogLine
		if err := json.Unmarshal(rest[:i], &line); err != nil {
			return lines, used, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		used += i + 1
		lines = append(lines, line)
	}
	return lines, used, nil
}

// DecodeTaskLog decodes the lines of a task log held in data (a log read
// from a data store: remote runs keep theirs there); path names it in
// errors. A last line without its newline is left out, as
// [ReadTaskLogs] does.
func DecodeTaskLog(data []byte, path string) ([]LogLine, error) {
	lines, _, err := decodeLogLines(data, path, 1)
	return lines, err
}
