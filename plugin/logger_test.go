package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

func TestTidy(t *testing.T) {
	tests := []struct {
		name string
		args []any
		want []any
	}{
		{name: "none", args: nil, want: []any{}},
		{
			name: "drops timestamp and module",
			args: []any{"timestamp", "2026-01-02T03:04:05Z", "k", "v", "@module", "x"},
			want: []any{"k", "v"},
		},
		{
			name: "task, node and attempt first, then the rest sorted",
			args: []any{"z", 1, "attempt", 2, "a", 3, "node", "n", "m", 4, "task", "t"},
			want: []any{"task", "t", "node", "n", "attempt", 2, "a", 3, "m", 4, "z", 1},
		},
		{
			name: "odd trailing value kept last",
			args: []any{"b", 1, "a", 2, "dangling"},
			want: []any{"a", 2, "b", 1, "dangling"},
		},
		{
			name: "non-string key: left alone",
			args: []any{"b", 1, 42, "x", "a", 2},
			want: []any{"b", 1, 42, "x", "a", 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tidy(tc.args)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tidy mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// newTestHostLogger returns a hostLogger named "fake" at trace level that
// writes lines without timestamps to buf.
func newTestHostLogger(buf *lockedBuffer, redact func(string) string) hclog.Logger {
	base := hclog.New(&hclog.LoggerOptions{Name: "fake", Level: hclog.Trace, Output: buf, DisableTime: true})
	return hostLogger{Logger: base, redact: redact}
}

func TestHostLogger(t *testing.T) {
	tests := []struct {
		name string
		log  func(l hclog.Logger)
		want string
	}{
		{
			name: "fields tidied",
			log: func(l hclog.Logger) {
				l.Info("hello", "timestamp", "2026-01-02T03:04:05Z", "@module", "x", "k", "v", "attempt", 2, "task", "split")
			},
			want: "[INFO]  fake: hello: task=split attempt=2 k=v\n",
		},
		{
			name: "normal exit is debug",
			log:  func(l hclog.Logger) { l.Info("plugin process exited", "plugin", "/bin/p", "id", 7) },
			want: "[DEBUG] fake: plugin process exited: id=7 plugin=/bin/p\n",
		},
		{
			name: "exit with an error keeps its level",
			log:  func(l hclog.Logger) { l.Error("plugin process exited", "plugin", "/bin/p", "error", "exit status 3") },
			want: "[ERROR] fake: plugin process exited: error=\"exit status 3\" plugin=/bin/p\n",
		},
		{
			name: "binary sub-name dropped",
			log:  func(l hclog.Logger) { l.Named(BinaryPrefix + "fake").Warn("w") },
			want: "[WARN]  fake: w\n",
		},
		{
			name: "other sub-names kept",
			log:  func(l hclog.Logger) { l.Named("stdio").Debug("d", "timestamp", "x") },
			want: "[DEBUG] fake.stdio: d\n",
		},
		{
			name: "With keeps tidying",
			log: func(l hclog.Logger) {
				l.With("w", 1).Named(BinaryPrefix+"fake").Trace("t", "b", 2, "timestamp", "x", "a", 1)
			},
			want: "[TRACE] fake: t: w=1 a=1 b=2\n",
		},
		{
			name: "ResetNamed keeps tidying",
			log:  func(l hclog.Logger) { l.ResetNamed("other").Info("i", "@module", "x") },
			want: "[INFO]  other: i\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			tc.log(newTestHostLogger(&buf, nil))
			if diff := cmp.Diff(tc.want, buf.String()); diff != "" {
				t.Errorf("log mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostLoggerRedact(t *testing.T) {
	const secret = "s3cr3t"
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "***") }
	tests := []struct {
		name string
		log  func(l hclog.Logger)
	}{
		{name: "message", log: func(l hclog.Logger) { l.Info("token " + secret) }},
		{name: "string field", log: func(l hclog.Logger) { l.Info("m", "tok", "x"+secret+"y") }},
		{name: "error field", log: func(l hclog.Logger) { l.Error("m", "error", errors.New("bad token "+secret)) }},
		{name: "after Named and With", log: func(l hclog.Logger) { l.Named("stdio").With("a", 1).Warn("m " + secret) }},
		{
			// go-plugin hands over JSON objects and arrays from a plugin's
			// log line as map[string]any and []any.
			name: "nested field",
			log:  func(l hclog.Logger) { l.Info("m", "cfg", map[string]any{"tok": secret}, "list", []any{secret}) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			tc.log(newTestHostLogger(&buf, redact))
			got := buf.String()
			if got == "" || strings.Contains(got, secret) || !strings.Contains(got, "***") {
				t.Errorf("log = %q, want the secret replaced by ***", got)
			}
		})
	}
}
