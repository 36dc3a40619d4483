package jsonlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// marshalingErr is an error that encodes itself: hclog writes it with
// its MarshalJSON, not its message.
type marshalingErr struct{}

func (marshalingErr) Error() string                { return "plain message" }
func (marshalingErr) MarshalJSON() ([]byte, error) { return []byte(`{"code":7}`), nil }

type point struct{ X, Y int }

// stamp matches a line's timestamp, the one part of a line that differs
// between two loggers.
var stamp = regexp.MustCompile(`"@timestamp":"[^"]*"`)

// TestSameAsHclog logs the same calls through this package and through
// hclog's JSON logger and wants the same bytes, but for the timestamps.
func TestSameAsHclog(t *testing.T) {
	tests := []struct {
		name string
		call func(l hclog.Logger)
	}{
		{"message only", func(l hclog.Logger) { l.Info("hello") }},
		{"empty message", func(l hclog.Logger) { l.Info("") }},
		{"levels", func(l hclog.Logger) {
			l.Trace("t")
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			l.Error("e")
			l.Log(hclog.Off, "off")
			l.Log(hclog.NoLevel, "no level")
		}},
		{"strings", func(l hclog.Logger) {
			l.Info("quote \" backslash \\ <html> & more", "s", "line\nbreak\ttab\r\b\f\x01\x1f", "u", "é ü 日本 🙂", "sep", "a\u2028b\u2029c", "bad", "x\xffy\xc3", "empty", "")
		}},
		{"ints", func(l hclog.Logger) {
			l.Info("n", "int", 42, "neg", -7, "zero", 0, "i8", int8(-8), "i16", int16(1600), "i32", int32(-32), "i64", int64(math.MinInt64), "max", int64(math.MaxInt64),
				"u", uint(7), "u8", uint8(255), "u16", uint16(65535), "u32", uint32(1<<31), "u64", uint64(math.MaxUint64))
		}},
		{"bool nil error duration format", func(l hclog.Logger) {
			var noErr error
			l.Warn("m", "t", true, "f", false, "nil", nil, "noerr", noErr, "err", errors.New("boom <x>"), "wrapped", fmt.Errorf("ctx: %w", io.EOF), "d", 1500*time.Millisecond, "fmt", hclog.Format{"%d items of %s", 3, "x"})
		}},
		{"handed to hclog", func(l hclog.Logger) {
			l.Info("float", "f", 1.5)
			l.Info("big float", "f", 1e21, "g", float32(0.1))
			l.Info("nan", "f", math.NaN())
			l.Info("struct", "p", point{1, 2})
			l.Info("slice", "s", []string{"a", "b"})
			l.Info("map", "m", map[string]int{"a": 1})
			l.Info("marshaling error", "err", marshalingErr{})
			l.Info("time", "at", time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
			l.Info("stack", "k", "v", hclog.CapturedStacktrace("goroutine 1"))
		}},
		{"keys", func(l hclog.Logger) {
			l.Info("dup", "k", 1, "k", 2, "a", "first")
			l.Info("header keys", "@message", "mine", "@level", "loud", "@timestamp", "then", "@module", "me")
			l.Info("keys that sort before @", "!", 1, "0", 2, "?", 3, "A", 4, "_", 5, "z", 6)
			l.Info("odd", "k", "v", "extra")
			l.Info("odd one", "alone")
			l.Info("not a string key", 5, "five", errors.New("k"), "err key")
			l.Info("escaped key", "a\"b<", 1)
		}},
		{"with", func(l hclog.Logger) {
			w := l.With("task", "upper", "node", "t1", "attempt", 1)
			w.Info("upper-casing text", "bytes", 5)
			w.Info("override", "node", "t2")
			w.With("extra").Info("odd with")
			w.With("k", "v", nil).Info("odd nil with")
			w.With("task", "lower").Info("with again")
		}},
		{"names", func(l hclog.Logger) {
			l.Named("sub").Info("named")
			l.Named("sub").Named("deeper").Info("named twice")
			l.Named("sub").ResetNamed("other").Info("reset")
			l.ResetNamed("").Info("no name")
			l.Named("n").With("k", 1).Info("named with")
		}},
	}
	for _, name := range []string{"", "text"} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%q", tt.name, name), func(t *testing.T) {
				var got, want bytes.Buffer
				tt.call(New(Options{Name: name, Level: hclog.Trace, Output: &got}))
				tt.call(hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Trace, Output: &want, JSONFormat: true}))
				g := stamp.ReplaceAllString(got.String(), `"@timestamp":"T"`)
				w := stamp.ReplaceAllString(want.String(), `"@timestamp":"T"`)
				if g != w {
					t.Errorf("lines differ from hclog's\ngot:\n%s\nwant:\n%s", g, w)
				}
				if strings.Count(got.String(), `"@timestamp"`) == 0 && tt.name != "handed to hclog" {
					t.Errorf("no line written:\n%s", got.String())
				}
			})
		}
	}
}

// TestTimestamp checks the time in a line: hclog's JSON layout, now.
func TestTimestamp(t *testing.T) {
	var buf bytes.Buffer
	before := time.Now()
	New(Options{Output: &buf}).Info("x")
	after := time.Now()
	m := regexp.MustCompile(`"@timestamp":"([^"]*)"`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("no timestamp in %q", buf.String())
	}
	at, err := time.Parse(hclog.TimeFormatJSON, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(before.Truncate(time.Microsecond)) || at.After(after) {
		t.Errorf("timestamp %s is not between %s and %s", at, before, after)
	}
}

// oneWrite counts the writes made to it.
type oneWrite struct {
	bytes.Buffer
	writes int
}

func (w *oneWrite) Write(p []byte) (int, error) { w.writes++; return w.Buffer.Write(p) }

func TestLevels(t *testing.T) {
	var out oneWrite
	l := New(Options{Level: hclog.Warn, Output: &out})
	child := l.Named("c").With("k", 1)
	l.Info("dropped")
	child.Debug("dropped")
	l.Warn("kept")
	if !child.IsWarn() || child.IsInfo() || !l.IsError() || l.IsTrace() {
		t.Errorf("Is*: warn %v info %v error %v trace %v", child.IsWarn(), child.IsInfo(), l.IsError(), l.IsTrace())
	}
	// A child's SetLevel is every logger's, as in hclog.
	child.SetLevel(hclog.Debug)
	if l.GetLevel() != hclog.Debug {
		t.Errorf("parent level %s after the child's SetLevel(debug)", l.GetLevel())
	}
	child.Debug("kept too")
	if got := strings.Count(out.String(), "\n"); got != 2 || out.writes != 2 {
		t.Errorf("%d lines in %d writes, want 2 in 2:\n%s", got, out.writes, out.String())
	}
	if New(Options{}).GetLevel() != hclog.DefaultLevel {
		t.Errorf("default level %s, want %s", New(Options{}).GetLevel(), hclog.DefaultLevel)
	}
}

func TestImpliedAndNames(t *testing.T) {
	l := New(Options{Name: "a"}).Named("b").With("k", "v")
	if l.Name() != "a.b" {
		t.Errorf("Name() = %q, want a.b", l.Name())
	}
	if got := fmt.Sprint(l.ImpliedArgs()); got != "[k v]" {
		t.Errorf("ImpliedArgs() = %s", got)
	}
}

func TestStandardLogger(t *testing.T) {
	var got, want bytes.Buffer
	New(Options{Name: "std", Output: &got}).With("k", 1).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[WARN] from the log package")
	hclog.New(&hclog.LoggerOptions{Name: "std", Output: &want, JSONFormat: true}).With("k", 1).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[WARN] from the log package")
	g := stamp.ReplaceAllString(got.String(), "T")
	if w := stamp.ReplaceAllString(want.String(), "T"); g != w || g == "" {
		t.Errorf("got %q, want %q", g, w)
	}
}

// TestConcurrent logs from many goroutines through one output: every line
// whole (run with -race).
func TestConcurrent(t *testing.T) {
	var out bytes.Buffer
	l := New(Options{Output: &out})
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			w := l.With("g", g)
			for i := range 100 {
				w.Info("line", "i", i, "f", 0.5) // the float goes through hclog
			}
		}()
	}
	for range 8 {
		<-done
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, `{"@level":"info","@message":"line",`) || !strings.HasSuffix(line, "}") {
			t.Fatalf("broken line %q", line)
		}
	}
}

// BenchmarkTaskLine is the line text.upper logs for each task, through
// this package and through hclog.
func BenchmarkTaskLine(b *testing.B) {
	for _, bc := range []struct {
		name string
		l    hclog.Logger
	}{
		{"jsonlog", New(Options{Name: "text", Level: hclog.Info, Output: io.Discard})},
		{"hclog", hclog.New(&hclog.LoggerOptions{Name: "text", Level: hclog.Info, Output: io.Discard, JSONFormat: true})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.l.With("task", "upper", "node", "t1", "attempt", 1).Info("upper-casing text", "bytes", 5)
			}
		})
	}
}
