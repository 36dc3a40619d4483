package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// slowLogger is a host logger that takes its time over the lines that
// contain slow, as go-plugin's stderr reader does on a loaded machine,
// before it logs them.
type slowLogger struct {
	hclog.Logger
	slow  string
	delay time.Duration
}

func (l slowLogger) Log(level hclog.Level, msg string, args ...any) {
	if strings.Contains(msg, l.slow) {
		time.Sleep(l.delay)
	}
	l.Logger.Log(level, msg, args...)
}

func (l slowLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l slowLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l slowLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l slowLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l slowLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l slowLogger) With(args ...any) hclog.Logger {
	l.Logger = l.Logger.With(args...)
	return l
}

func (l slowLogger) Named(name string) hclog.Logger {
	l.Logger = l.Logger.Named(name)
	return l
}

func (l slowLogger) ResetNamed(name string) hclog.Logger {
	l.Logger = l.Logger.ResetNamed(name)
	return l
}

// TestLaunchLogMarks: Execute returns only once the host's logger has
// every line the plugin logged during the call, however slowly the
// stderr reader logs them (here 300 ms a line, far longer than a call
// takes); the mark lines show nowhere. Without log marks the line came
// after Execute returned, every time.
func TestLaunchLogMarks(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	logger := slowLogger{
		Logger: hclog.New(&hclog.LoggerOptions{Name: "engine", Level: hclog.Trace, Output: &buf}),
		slow:   "hello from task", delay: 300 * time.Millisecond,
	}
	c := mustLaunchHelper(t, "serve", LaunchOptions{Logger: logger, LogLevel: "debug"})
	for i := 1; i <= 3; i++ { // one process, reused, as the engine does
		if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "log", Inputs: json.RawMessage(`{}`)}); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if got := len(linesWith(buf.String(), "hello from task")); got != i {
			t.Fatalf("after call %d the host log has %d lines of the task, want %d:\n%s", i, got, i, buf.String())
		}
	}
	// A failed task's lines count as much: the mark comes with a
	// TaskError too.
	if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "fail", Inputs: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("Execute fail: no error")
	}
	c.Close()
	for name, text := range map[string]string{"host log": buf.String(), "stderr tail": c.StderrTail()} {
		if strings.Contains(text, logMarkPrefix) {
			t.Errorf("the %s shows a log mark:\n%s", name, text)
		}
	}
	if strings.Contains(buf.String(), "log mark did not come") {
		t.Errorf("a mark did not come:\n%s", buf.String())
	}
	if tail := c.StderrTail(); len(linesWith(tail, "hello from task")) != 3 {
		t.Errorf("the stderr tail lacks the task's lines:\n%s", tail)
	}
	// The waiters are gone.
	c.marks.mu.Lock()
	left := len(c.marks.calls)
	c.marks.mu.Unlock()
	if left != 0 {
		t.Errorf("%d calls' marks left behind", left)
	}
}

// TestLaunchLogMarksOld: a plugin built before log marks answers without
// one, and the host does not wait for it; one that says it wrote a mark
// the host never sees is waited for a while, and the host says so at
// debug level.
func TestLaunchLogMarksOld(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode   string
		missed bool // the host logs that the mark did not come
	}{
		{mode: "serve-old"},
		{mode: "serve-lost-marks", missed: true},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			var buf lockedBuffer
			logger := hclog.New(&hclog.LoggerOptions{Name: "engine", Level: hclog.Trace, Output: &buf})
			c := mustLaunchHelper(t, tc.mode, LaunchOptions{Logger: logger, LogLevel: "debug"})
			if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "log", Inputs: json.RawMessage(`{}`)}); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			c.Close()
			if got := strings.Contains(buf.String(), "log mark did not come"); got != tc.missed {
				t.Errorf("host log says a mark did not come: %v, want %v:\n%s", got, tc.missed, buf.String())
			}
			if len(linesWith(buf.String(), "hello from task")) != 1 {
				t.Errorf("host log lacks the task's line:\n%s", buf.String())
			}
		})
	}
}

// TestLogMarksWrite: the writer go-plugin gives each stderr line passes
// lines on to the tail, takes out marks (and their newlines), and wakes a
// call waiting for its mark, or lets it go at once when the mark came
// first.
func TestLogMarksWrite(t *testing.T) {
	tail := newTailBuffer(1 << 10)
	m := newLogMarks(tail, nil)
	early, late := m.expect(), m.expect()
	for _, w := range []string{"line 1", "\n", logMarkPrefix + early, "\n", logMarkPrefix + "unknown", "\n", "line 2", "\n"} {
		if _, err := m.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := string(tail.buf), "line 1\nline 2\n"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
	if !m.wait(context.Background(), early) {
		t.Error("the early mark was not seen")
	}
	done := make(chan bool)
	go func() { done <- m.wait(context.Background(), late) }()
	for { // until the call waits
		m.mu.Lock()
		waiting := m.calls[late] != nil
		m.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_, _ = m.Write([]byte(logMarkPrefix + late))
	_, _ = m.Write([]byte("\n"))
	if !<-done {
		t.Error("the late mark was not seen")
	}
	if len(m.calls) != 0 {
		t.Errorf("marks left: %v", m.calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if m.wait(ctx, m.expect()) {
		t.Error("a mark that never came was seen")
	}
	if len(m.calls) != 0 {
		t.Errorf("marks left after a cancelled wait: %v", m.calls)
	}
}
