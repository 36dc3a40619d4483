package plugin

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Log marks: a barrier between a call's answer and its log lines.
//
// A plugin logs on its stderr, which go-plugin reads on a goroutine of its
// own and hands line by line to this package, which logs each through the
// host's logger (the engine routes each task line to its run's task log
// there: stderrlog.go); the call's answer comes back
// on the gRPC connection. The two are separate streams: the answer can
// arrive, and the engine store or read the task's log, before the reader
// has handled the task's last lines (on a loaded machine it did:
// `goflyte runs logs --remote` missed a task's last line now and then).
//
// So a [Client] gives every call a mark (ExecuteRequest.log_mark on the
// wire). After the call has returned, the plugin side ([grpcServer])
// writes the line logMarkPrefix+mark to the process's stderr, behind every
// line the call logged, and says so in its answer (log_marked). It writes
// none when nothing was written through [ProcessStderr] during the call
// (by this call or any other): there is nothing to wait for, and a quiet
// chain of tasks (a plugin below the log level) costs no more than it
// did; a mark cost about 12 system calls a task between the two
// processes (cmd/goflyte-bench/BENCH.md). The host
// sees the mark where go-plugin hands over each stderr line
// ([logMarks.Write], the Stderr of go-plugin's client config, which logs
// the lines: stderrlog.go): by then every line before it has been logged,
// so every line the call wrote. Client.Execute returns once the mark has come (at once, with no
// wake-up, if it came before the answer), or after logMarkWait (the
// process died, say), saying so at debug level. A plugin built before
// log marks does not know the field, writes none and answers without
// log_marked: the host does not wait for it.
//
// Why the answer says whether there is a mark, not the plugin's schema
// (as LazyWorkingDirectory is announced): each answer states it for
// itself, so nothing depends on which schema the engine holds (a cached
// one, a pool's), an old plugin needs no test of its own beyond "no
// log_marked", and a plugin that wrote nothing is not waited for. The
// mark is written by this package's gRPC server, not by the sdk, so
// every Provider served with [Serve] has it. A mark is a counter of the
// Client, not the call id: unique per process, and set for every call.
//
// The mark line is dropped before anyone sees it: it is neither kept in
// the stderr tail nor logged.
//
// Why not a line on the plugin's log (JSON, through hclog): lines below
// the host logger's level are dropped before they are logged, and a
// plain line in Stderr is seen whatever the level, without parsing.

// logMarkPrefix starts a log mark line; the mark follows.
const logMarkPrefix = "goflyte-plugin-log-mark: "

// logMarkWait bounds how long Client.Execute waits for a call's mark after
// its answer. The mark is normally behind the answer by the time it takes
// the stderr reader to log the call's lines.
const logMarkWait = 2 * time.Second

// seenMark stands, in logMarks.calls, for a mark that came before its call
// waited for it.
var seenMark = make(chan struct{})

func init() { close(seenMark) }

// logMarks is go-plugin's Stderr writer for one plugin process: it passes
// stderr lines on to the tail and logs them (stderrlog.go), and takes out
// the log marks, waking the call that waits for each.
type logMarks struct {
	tail io.Writer
	log  *stderrLog // nil: lines are not logged
	next atomic.Uint64

	mu sync.Mutex
	// calls holds the marks of calls that have not had theirs yet: nil
	// while no one waits, seenMark once it came, or the channel the call
	// waits on.
	calls map[string]chan struct{}

	// Only go-plugin's stderr reader writes: each line, then its newline;
	// a line longer than its buffer in pieces, the newline after the last.
	//
	// line is the piece written last, while open (its newline has not
	// come); mark says it was a log mark; long, that the line came in
	// pieces.
	line             []byte
	open, mark, long bool
}

func newLogMarks(tail io.Writer, log *stderrLog) *logMarks {
	return &logMarks{tail: tail, log: log, calls: map[string]chan struct{}{}}
}

// expect returns a new mark for a call.
func (m *logMarks) expect() string {
	id := strconv.FormatUint(m.next.Add(1), 36)
	m.mu.Lock()
	m.calls[id] = nil
	m.mu.Unlock()
	return id
}

// forget drops a call's mark: the plugin did not write it.
func (m *logMarks) forget(id string) {
	m.mu.Lock()
	delete(m.calls, id)
	m.mu.Unlock()
}

// wait returns when the call's mark has come, ctx ends or logMarkWait has
// passed; it reports whether the mark came.
func (m *logMarks) wait(ctx context.Context, id string) bool {
	m.mu.Lock()
	ch := m.calls[id]
	if ch == seenMark {
		delete(m.calls, id)
		m.mu.Unlock()
		return true
	}
	ch = make(chan struct{})
	m.calls[id] = ch
	m.mu.Unlock()
	t := time.NewTimer(logMarkWait)
	defer t.Stop()
	select {
	case <-ch:
		return true // the reader deleted it
	case <-ctx.Done():
	case <-t.C:
	}
	m.forget(id)
	return false
}

// seen records that the mark id came.
func (m *logMarks) seen(id string) {
	m.mu.Lock()
	ch, ok := m.calls[id]
	switch {
	case !ok: // a call that stopped waiting, or not ours
	case ch == nil:
		m.calls[id] = seenMark
	default:
		close(ch)
		delete(m.calls, id)
	}
	m.mu.Unlock()
}

// Write is called by go-plugin's stderr reader with each line, then its
// newline (longer lines in pieces). A line is logged when its newline
// comes, before the next line is read: so every line before a mark has
// been logged when the mark is seen.
func (m *logMarks) Write(p []byte) (int, error) {
	if m.open && len(p) == 1 && p[0] == '\n' {
		m.open = false
		if m.mark {
			m.mark = false
			return 1, nil
		}
		_, _ = m.tail.Write(p)
		if m.log != nil {
			if m.long {
				m.log.piece(m.line)
			} else {
				m.log.line(m.line)
			}
		}
		m.long = false
		return 1, nil
	}
	switch {
	case m.open && m.mark: // not a mark after all (go-plugin writes none such)
		m.mark = false
	case m.open: // the piece before was not a whole line
		m.long = true
		if m.log != nil {
			m.log.piece(m.line)
		}
	}
	m.open = true
	if !m.long && bytes.HasPrefix(p, []byte(logMarkPrefix)) {
		m.seen(string(p[len(logMarkPrefix):]))
		m.mark = true
		return len(p), nil
	}
	m.line = append(m.line[:0], p...)
	return m.tail.Write(p)
}

// writeLogMark writes the mark line of id to w (the plugin's stderr) and
// reports whether it did. An id that would not stay one line is not
// written.
func writeLogMark(w io.Writer, id string) bool {
	if id == "" || strings.ContainsAny(id, "\r\n") {
		return false
	}
	_, err := io.WriteString(w, logMarkPrefix+id+"\n")
	return err == nil
}

// waitLogs waits for a call's log mark if the plugin wrote it (marked),
// and forgets it otherwise.
func (c *Client) waitLogs(ctx context.Context, mark string, marked bool) {
	if !marked {
		c.marks.forget(mark)
		return
	}
	if !c.marks.wait(ctx, mark) && ctx.Err() == nil {
		c.logger.Debug("the plugin's log mark did not come: the task log may lack the call's last lines", "wait", logMarkWait)
	}
}
