package plugin

import (
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hostLogger is the logger go-plugin writes a plugin's log lines to. It
// makes them read well in the engine's log: named after the plugin (not
// its binary), tagged first with task, node and attempt, the remaining
// fields sorted (go-plugin passes them in map order), without go-plugin's
// duplicate timestamp and module fields.
type hostLogger struct {
	hclog.Logger
	redact func(string) string // nil: nothing to redact
	// stderrName is the name go-plugin's stderr reader asks for (the
	// binary's file name): it gets a [stderrReaderLogger].
	stderrName string
}

var _ hclog.Logger = hostLogger{}

// leading are the fields shown first, in this order.
var leading = []string{"task", "node", "attempt"}

func (l hostLogger) Log(level hclog.Level, msg string, args ...any) {
	// go-plugin reports a normal exit at info level: that is noise to a
	// user; an exit with an error carries an "error" field and stays.
	if msg == "plugin process exited" && !hasKey(args, "error") {
		level = hclog.Debug
	}
	l.log(level, msg, tidy(args))
}

// log logs a line whose fields are in order already (see tidy), redacted.
// It may change args.
func (l hostLogger) log(level hclog.Level, msg string, args []any) {
	if l.redact != nil {
		msg = l.redact(msg)
		for i := 1; i < len(args); i += 2 {
			args[i] = redactValue(args[i], l.redact)
		}
	}
	l.Logger.Log(level, msg, args...)
}

func (l hostLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l hostLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l hostLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l hostLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l hostLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l hostLogger) With(args ...any) hclog.Logger {
	l.Logger = l.Logger.With(args...)
	return l
}

// Named drops go-plugin's sub-name for the binary: the logger is already
// named after the plugin. go-plugin's stderr reader, which asks for the
// binary's name, gets a logger that is Off (see stderrlog.go).
func (l hostLogger) Named(name string) hclog.Logger {
	if name == l.stderrName && name != "" {
		return stderrReaderLogger{l}
	}
	if strings.HasPrefix(name, BinaryPrefix) {
		return l
	}
	l.Logger = l.Logger.Named(name)
	return l
}

func (l hostLogger) ResetNamed(name string) hclog.Logger {
	l.Logger = l.Logger.ResetNamed(name)
	return l
}

// stderrReaderLogger is the logger of go-plugin's stderr reader. It is Off,
// so that the reader passes each line to ClientConfig.Stderr ([logMarks],
// which logs it) without parsing or logging it. The reader logs its own
// failure to read at error level: that is logged; the pieces of a long
// line, which it logs at debug level whatever its logger's level, are not
// (the Stderr writer logs them).
type stderrReaderLogger struct{ hostLogger }

// GetLevel reports Off: go-plugin then skips its parse of each line.
func (l stderrReaderLogger) GetLevel() hclog.Level { return hclog.Off }

func (l stderrReaderLogger) Log(level hclog.Level, msg string, args ...any) {
	if level >= hclog.Error {
		l.hostLogger.Log(level, msg, args...)
	}
}

func (l stderrReaderLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l stderrReaderLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l stderrReaderLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l stderrReaderLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l stderrReaderLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }
func (l stderrReaderLogger) IsTrace() bool                 { return false }
func (l stderrReaderLogger) IsDebug() bool                 { return false }
func (l stderrReaderLogger) IsInfo() bool                  { return false }
func (l stderrReaderLogger) IsWarn() bool                  { return false }

func hasKey(args []any, key string) bool {
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == key {
			return true
		}
	}
	return false
}

// tidy reorders key/value pairs: leading keys first, then the rest by key,
// without go-plugin's "timestamp" and "@module".
func tidy(args []any) []any {
	type kv struct {
		k string
		v any
	}
	var pairs []kv
	var rest []any // an odd trailing value, kept as it is
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			rest = append(rest, args[i])
			break
		}
		k, ok := args[i].(string)
		if !ok {
			return args // not key/value pairs: leave alone
		}
		if k == "timestamp" || k == "@module" {
			continue
		}
		pairs = append(pairs, kv{k, args[i+1]})
	}
	rank := func(k string) int {
		for i, l := range leading {
			if k == l {
				return i
			}
		}
		return len(leading)
	}
	sort.SliceStable(pairs, func(i, j int) bool {
		ri, rj := rank(pairs[i].k), rank(pairs[j].k)
		if ri != rj {
			return ri < rj
		}
		return ri == len(leading) && pairs[i].k < pairs[j].k
	})
	out := make([]any, 0, 2*len(pairs)+len(rest))
	for _, p := range pairs {
		out = append(out, p.k, p.v)
	}
	return append(out, rest...)
}
