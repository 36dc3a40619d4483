package sandbox

// Task logs: the log lines of each task execution of a run, kept beside its
// record so that `goflyte runs logs` can show them after the run.
//
// Layout, beside the tasks/ directory of sandbox.go:
//
//	<run>/logs/<node>.log        first attempt of a task (node) of the run
//	<run>/logs/<node>.<n>.log    attempt n > 1
//
// A file holds JSON lines, one [LogLine] each, in the order they were
// written. Node names are escaped into file names (see logFileName), so no
// name can leave the directory. A task that logged nothing has no file.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// logsDir is the directory of task logs in a run's directory.
const logsDir = "logs"

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

// maxOpenLogs bounds the log files a TaskLogs keeps open: tasks run a few
// at a time, and a run of thousands of tasks must not run out of file
// descriptors. The file opened longest ago is closed first.
const maxOpenLogs = 16

// TaskLogs writes the task logs of one run. It is safe for concurrent use.
// Write only appends the line to its file's buffer: the files are created
// and the buffers written out by one goroutine every [LogFlushInterval]
// (so that readers such as the console can tail a running task: a line is
// in its file within about that long), and at Close. A task's first line
// thus costs no file creation on the task's path (0.15-0.8 ms on a busy
// disk, issue 17). After Close, each Write goes straight to its file, for
// the lines of a plugin that arrive after its task returned.
type TaskLogs struct {
	dir string // <run>/logs

	mu     sync.Mutex
	files  map[logKey]*logFile
	dirty  []*logFile     // files with pending lines
	latest map[string]int // node -> highest attempt with a file
	closed bool
	stop   chan struct{} // closed by Close; stops the flusher
	done   chan struct{} // closed when the flusher has returned

	// io is held while files are written: by the flusher, then by Close.
	io      sync.Mutex
	madeDir bool
	open    []*logFile // open files, oldest first
	errs    []error    // write errors, for Close
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

type logFile struct {
	name    string       // in dir
	pending bytes.Buffer // lines not written out yet; under TaskLogs.mu
	f       *os.File     // under TaskLogs.io
}

// TaskLogs returns the writer of the run's task logs. The caller must Close
// it when the run ends.
func (r *Run) TaskLogs() *TaskLogs {
	return &TaskLogs{dir: filepath.Join(r.Dir, logsDir), files: map[logKey]*logFile{}, latest: map[string]int{}}
}

// Write appends line to the log of its task execution; the file (mode
// 0600, in a directory of mode 0700) is created when the line is written
// out. A line without a node or with an attempt below 1, or whose node
// makes no file name, is an error; an error writing a file is reported by
// Close.
func (l *TaskLogs) Write(line *LogLine) error {
	if line.Node == "" || line.Attempt < 1 {
		return fmt.Errorf("write task log: line without a node and attempt")
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := encodeLine(buf, line); err != nil {
		// A field value that does not encode: keep the line, say so.
		cp := *line
		cp.Fields = map[string]any{"fields_error": err.Error()}
		buf.Reset()
		if err := encodeLine(buf, &cp); err != nil {
			return fmt.Errorf("write task log of %q: %w", line.Node, err)
		}
	}

	l.mu.Lock()
	key := logKey{line.Node, line.Attempt}
	lf, err := l.file(key)
	if err != nil {
		l.mu.Unlock()
		return fmt.Errorf("write task log of %q: %w", line.Node, err)
	}
	if !l.closed {
		if lf.pending.Len() == 0 {
			l.dirty = append(l.dirty, lf)
		}
		lf.pending.Write(buf.Bytes())
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// Unbuffered, and no file left open: the run is over.
	l.io.Lock()
	defer l.io.Unlock()
	if err := l.mkdir(); err != nil {
		return fmt.Errorf("write task log of %q: %w", line.Node, err)
	}
	f, err := openLog(filepath.Join(l.dir, lf.name), 0o600)
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

// file returns the log file of key, adding it if it is new. l.mu is held.
func (l *TaskLogs) file(key logKey) (*logFile, error) {
	if lf, ok := l.files[key]; ok {
		return lf, nil
	}
	name, err := logFileName(key.node, key.attempt)
	if err != nil {
		return nil, err
	}
	lf := &logFile{name: name}
	if l.stop == nil && !l.closed {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.flusher(l.stop, l.done)
	}
	l.files[key] = lf
	if key.attempt > l.latest[key.node] {
		l.latest[key.node] = key.attempt
	}
	return lf, nil
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

// flush writes out every file's buffered lines: it takes them under l.mu
// and writes them with only l.io held, so that Write never waits for a
// file to be created.
func (l *TaskLogs) flush() {
	type chunk struct {
		lf   *logFile
		data []byte
	}
	var chunks []chunk
	l.mu.Lock()
	for _, lf := range l.dirty {
		chunks = append(chunks, chunk{lf, lf.pending.Bytes()})
		lf.pending = bytes.Buffer{} // the chunk keeps the bytes; an idle file keeps none
	}
	l.dirty = l.dirty[:0]
	l.mu.Unlock()
	if len(chunks) == 0 {
		return
	}
	l.io.Lock()
	defer l.io.Unlock()
	for _, c := range chunks {
		if err := l.writeOut(c.lf, c.data); err != nil {
			l.errs = append(l.errs, err)
		}
	}
}

// writeOut appends data to lf's file, opening it (and closing the file
// opened longest ago, past maxOpenLogs) if needed. l.io is held.
func (l *TaskLogs) writeOut(lf *logFile, data []byte) error {
	if lf.f == nil {
		if err := l.mkdir(); err != nil {
			return err
		}
		if len(l.open) >= maxOpenLogs {
			oldest := l.open[0]
			l.open = l.open[1:]
			if err := oldest.close(); err != nil {
				return err
			}
		}
		f, err := openLog(filepath.Join(l.dir, lf.name), 0o600)
		if err != nil {
			return err
		}
		lf.f = f
		l.open = append(l.open, lf)
	}
	_, err := lf.f.Write(data)
	return err
}

// mkdir makes the logs directory once. l.io is held.
func (l *TaskLogs) mkdir() error {
	if !l.madeDir {
		// MkdirAll: a lazy run's directory (LazyRun) may not exist yet.
		if err := os.MkdirAll(l.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		l.madeDir = true
	}
	return nil
}

func (lf *logFile) close() error {
	err := lf.f.Close()
	lf.f = nil
	return err
}

// File returns the log file of the latest attempt of node that has one,
// relative to the run's directory and slash-separated, or "" if none
// does. (A file whose lines are still buffered appears within
// LogFlushInterval.)
func (l *TaskLogs) File(node string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.latest[node]
	if !ok {
		return ""
	}
	return logsDir + "/" + l.files[logKey{node, a}].name
}

// Close writes out and closes every log file. Lines written after Close
// are appended to their files at once.
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
	for _, lf := range l.open {
		errs = append(errs, lf.close())
	}
	l.open, l.errs = nil, nil
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

// TaskLog is one task execution's log file in a run's directory.
type TaskLog struct {
	Node    string
	Attempt int
	// Path is relative to the run's directory and slash-separated.
	Path string
}

// ListTaskLogs returns the task logs in the run directory runDir, by node
// and then attempt. A run without task logs gives none and no error.
func ListTaskLogs(runDir string) ([]TaskLog, error) {
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
	slices.SortFunc(logs, func(a, b TaskLog) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return a.Attempt - b.Attempt
	})
	return logs, nil
}

// ReadTaskLogs returns the lines of the given task logs of the run in
// runDir, merged in order of time (lines of one file keep their order). A
// last line without its newline (a write cut short) is left out; any other
// line that does not decode is an error.
func ReadTaskLogs(runDir string, logs []TaskLog) ([]LogLine, error) {
	var lines []LogLine
	for _, tl := range logs {
		rel := filepath.FromSlash(tl.Path)
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("read task log %q: outside the run directory", tl.Path)
		}
		path := filepath.Join(runDir, rel)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read task log: %w", err)
		}
		more, _, err := decodeLogLines(data, path, 1)
		if err != nil {
			return nil, fmt.Errorf("read task log: %w", err)
		}
		lines = append(lines, more...)
	}
	slices.SortStableFunc(lines, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	return lines, nil
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
