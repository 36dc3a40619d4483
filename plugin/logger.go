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
}

var _ hclog.Logger = hostLogger{}

// leading are the fields shown first, in this order.
var leading = []string{"task", "node", "attempt"}

func (l hostLogger) Log(level hclog.Level, msg string, args ...any) {
	if isLogMark(msg) {
		return // go-plugin's line of a log mark: for Client alone
	}
	// go-plugin reports a normal exit at info level: that is noise to a
	// user; an exit with an error carries an "error" field and stays.
	if msg == "plugin process exited" && !hasKey(args, "error") {
		level = hclog.Debug
	}
	args = tidy(args)
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
	return hostLogger{l.Logger.With(args...), l.redact}
}

// Named drops go-plugin's sub-name for the binary: the logger is already
// named after the plugin.
func (l hostLogger) Named(name string) hclog.Logger {
	if strings.HasPrefix(name, BinaryPrefix) {
		return l
	}
	return hostLogger{l.Logger.Named(name), l.redact}
}

func (l hostLogger) ResetNamed(name string) hclog.Logger {
	return hostLogger{l.Logger.ResetNamed(name), l.redact}
}

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
