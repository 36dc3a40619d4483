// Package jsonlog is an [hclog.Logger] that writes the lines hclog writes
// with JSONFormat, byte for byte, at a fraction of the cost.
//
// A plugin logs on its stderr in hclog's JSON, which the engine reads line
// by line (plugin/stderrlog.go). hclog makes each line by putting its
// fields in a map and encoding the map with encoding/json: reflection on
// every value, the keys sorted, about 26 allocations a line. In a chain of
// tasks run with -v, where every task logs one line, that was the largest
// part of what -v costs a plugin (about 10 µs of CPU a line on the idle
// 2-core VM; cmd/goflyte-bench/BENCH.md, "-v: the plugin's log line, and
// what -v really costs"). This logger appends the line to a reused buffer
// instead.
//
// The lines are hclog's: the same keys ("@level", "@message", "@module",
// "@timestamp", then the fields), in the same order (sorted, as
// encoding/json sorts a map's keys), a field given twice keeping its last
// value, strings escaped as encoding/json escapes them (HTML characters
// too, as hclog asks), errors written as their message. A line with a value
// this package does not write itself (a struct, a slice, a float, an error
// that marshals itself, ...) is handed to hclog, on the same output under
// the same lock, so that no line differs from what hclog would have
// written.
//
// Loggers made from one [New] (With, Named, ResetNamed) share its level,
// output and lock, as hclog's do by default.
package jsonlog

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/internal/jsonstr"
)

// Options configures New.
type Options struct {
	// Name is the logger's name, "@module" in its lines ("" for none).
	Name string
	// Level is the lowest level logged; NoLevel means hclog.DefaultLevel.
	Level hclog.Level
	// Output receives one Write per line; nil means os.Stderr.
	Output io.Writer
	// Mutex is held while a line is written, so that loggers sharing an
	// output do not interleave; nil means a mutex of the logger's own.
	Mutex hclog.Locker
}

// New returns a logger that writes hclog's JSON lines to opts.Output.
func New(opts Options) hclog.Logger {
	r := &root{out: opts.Output, mu: opts.Mutex}
	if r.out == nil {
		r.out = os.Stderr
	}
	if r.mu == nil {
		r.mu = new(sync.Mutex)
	}
	level := opts.Level
	if level == hclog.NoLevel {
		level = hclog.DefaultLevel
	}
	r.level.Store(int32(level))
	r.hclog = hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Trace, // the levels are checked before it is asked
		Output:     r.out,
		Mutex:      r.mu,
		JSONFormat: true,
	})
	return &logger{root: r, name: opts.Name}
}

// root is what the loggers made from one New share.
type root struct {
	out   io.Writer
	mu    hclog.Locker
	level atomic.Int32
	// hclog writes the lines this package does not: hclog's own JSON
	// logger on the same output and lock, with neither name nor level.
	hclog hclog.Logger
}

type logger struct {
	*root
	name    string
	implied []any // key/value pairs (With)
}

var _ hclog.Logger = (*logger)(nil)

// lineBufs are the buffers lines are made in.
var lineBufs = sync.Pool{New: func() any { return &lineBuf{line: make([]byte, 0, 512), vals: make([]byte, 0, 256)} }}

// lineBuf holds a line being made and its values, written.
type lineBuf struct{ line, vals []byte }

// putLineBuf keeps lb for another line, unless a long line made it large.
func putLineBuf(lb *lineBuf) {
	if cap(lb.line) <= 64<<10 && cap(lb.vals) <= 64<<10 {
		lineBufs.Put(lb)
	}
}

func (l *logger) Log(level hclog.Level, msg string, args ...any) {
	if level < l.GetLevel() {
		return
	}
	t := time.Now()
	lb := lineBufs.Get().(*lineBuf)
	defer putLineBuf(lb)
	if !lb.appendLine(t, level, l.name, msg, l.implied, args) {
		l.viaHclog(level, msg, args)
		return
	}
	l.mu.Lock()
	_, _ = l.out.Write(lb.line)
	l.mu.Unlock()
}

// viaHclog has hclog write a line.
func (l *logger) viaHclog(level hclog.Level, msg string, args []any) {
	h := l.root.hclog
	if l.name != "" {
		h = h.Named(l.name)
	}
	h.Log(level, msg, append(l.implied[:len(l.implied):len(l.implied)], args...)...)
}

func (l *logger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *logger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *logger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *logger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *logger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *logger) IsTrace() bool { return l.GetLevel() <= hclog.Trace }
func (l *logger) IsDebug() bool { return l.GetLevel() <= hclog.Debug }
func (l *logger) IsInfo() bool  { return l.GetLevel() <= hclog.Info }
func (l *logger) IsWarn() bool  { return l.GetLevel() <= hclog.Warn }
func (l *logger) IsError() bool { return l.GetLevel() <= hclog.Error }

func (l *logger) ImpliedArgs() []any { return l.implied }

// With adds implied fields. As in hclog, an odd last argument is kept as
// the value of hclog.MissingKey, unless it is nil.
func (l *logger) With(args ...any) hclog.Logger {
	var extra any
	if len(args)%2 != 0 {
		extra = args[len(args)-1]
		args = args[:len(args)-1]
	}
	implied := make([]any, 0, len(l.implied)+len(args)+2)
	implied = append(append(implied, l.implied...), args...)
	if extra != nil {
		implied = append(implied, hclog.MissingKey, extra)
	}
	return &logger{root: l.root, name: l.name, implied: implied}
}

func (l *logger) Name() string { return l.name }

func (l *logger) Named(name string) hclog.Logger {
	if l.name != "" {
		name = l.name + "." + name
	}
	return &logger{root: l.root, name: name, implied: l.implied}
}

func (l *logger) ResetNamed(name string) hclog.Logger {
	return &logger{root: l.root, name: name, implied: l.implied}
}

// SetLevel sets the level of every logger made from the same New.
func (l *logger) SetLevel(level hclog.Level) { l.level.Store(int32(level)) }

func (l *logger) GetLevel() hclog.Level { return hclog.Level(l.level.Load()) }

// StandardLogger and StandardWriter are hclog's, for a logger with this
// one's name, fields and current level.
func (l *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return l.asHclog().StandardLogger(opts)
}

func (l *logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return l.asHclog().StandardWriter(opts)
}

func (l *logger) asHclog() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       l.name,
		Level:      l.GetLevel(),
		Output:     l.out,
		Mutex:      l.mu,
		JSONFormat: true,
	}).With(l.implied...)
}

// field is one key of a line and its value, written: lineBuf.vals[start:end].
type field struct {
	key        string
	start, end int
}

// appendLine makes in lb.line the line hclog would write. It reports false
// for a value this package does not write (hclog must write the line).
func (lb *lineBuf) appendLine(t time.Time, level hclog.Level, name, msg string, implied, args []any) bool {
	var arr [16]field
	fields := arr[:0]
	vals := lb.vals[:0]

	start := len(vals)
	vals = jsonstr.Append(vals, msg, true)
	fields = append(fields, field{"@message", start, len(vals)})
	start = len(vals)
	vals = append(t.AppendFormat(append(vals, '"'), hclog.TimeFormatJSON), '"')
	fields = append(fields, field{"@timestamp", start, len(vals)})
	start = len(vals)
	vals = jsonstr.Append(vals, levelName(level), true)
	fields = append(fields, field{"@level", start, len(vals)})
	if name != "" {
		start = len(vals)
		vals = jsonstr.Append(vals, name, true)
		fields = append(fields, field{"@module", start, len(vals)})
	}

	// implied has pairs (With); an odd last argument is the value of
	// hclog.MissingKey.
	var extra []any
	if len(args)%2 != 0 {
		if _, ok := args[len(args)-1].(hclog.CapturedStacktrace); ok {
			return false
		}
		extra = []any{hclog.MissingKey, args[len(args)-1]}
		args = args[:len(args)-1]
	}
	for _, kvs := range [3][]any{implied, args, extra} {
		for i := 0; i+1 < len(kvs); i += 2 {
			key, ok := kvs[i].(string)
			if !ok {
				key = fmt.Sprintf("%s", kvs[i])
			}
			start := len(vals)
			if vals, ok = appendValue(vals, kvs[i+1]); !ok {
				lb.vals = vals[:0]
				return false
			}
			fields = append(fields, field{key, start, len(vals)})
		}
	}
	lb.vals = vals[:0]

	// Sorted by key, stably, so that the last of a key given twice comes
	// last; a few fields: insertion sort.
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].key < fields[j-1].key; j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
	line := append(lb.line[:0], '{')
	first := true
	for i, f := range fields {
		if i+1 < len(fields) && fields[i+1].key == f.key {
			continue // a later value of the same key wins
		}
		if !first {
			line = append(line, ',')
		}
		first = false
		line = jsonstr.Append(line, f.key, true)
		line = append(line, ':')
		line = append(line, vals[f.start:f.end]...)
	}
	lb.line = append(line, '}', '\n')
	return true
}

// levelName is hclog's name of a level in a JSON line.
func levelName(l hclog.Level) string {
	switch l {
	case hclog.Error:
		return "error"
	case hclog.Warn:
		return "warn"
	case hclog.Info:
		return "info"
	case hclog.Debug:
		return "debug"
	case hclog.Trace:
		return "trace"
	}
	return "all"
}

// appendValue appends v as encoding/json would encode it in hclog's line;
// ok is false for a value it leaves to hclog.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return jsonstr.Append(b, x, true), true
	case bool:
		if x {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case int:
		return appendInt(b, int64(x)), true
	case int64:
		return appendInt(b, x), true
	case int32:
		return appendInt(b, int64(x)), true
	case int16:
		return appendInt(b, int64(x)), true
	case int8:
		return appendInt(b, int64(x)), true
	case uint:
		return appendUint(b, uint64(x)), true
	case uint64:
		return appendUint(b, x), true
	case uint32:
		return appendUint(b, uint64(x)), true
	case uint16:
		return appendUint(b, uint64(x)), true
	case uint8:
		return appendUint(b, uint64(x)), true
	case time.Duration: // encoding/json writes its nanoseconds
		return appendInt(b, int64(x)), true
	case hclog.Format:
		s, ok := x[0].(string)
		if !ok {
			return b, false // hclog panics: let it
		}
		return jsonstr.Append(b, fmt.Sprintf(s, x[1:]...), true), true
	case json.Marshaler, encoding.TextMarshaler:
		return b, false
	case error:
		return jsonstr.Append(b, x.Error(), true), true
	}
	return b, false
}

func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		return appendUint(b, uint64(-n)) // -MinInt64 wraps to itself: right as unsigned
	}
	return appendUint(b, uint64(n))
}

func appendUint(b []byte, n uint64) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}
