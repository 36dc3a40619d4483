package plugin

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

// recordLogger keeps the lines logged to it, at a level.
type recordLogger struct {
	hclog.Logger
	level hclog.Level
	lines *[]logged
}

type logged struct {
	Level hclog.Level
	Msg   string
	Args  []any
}

func newRecordLogger(level hclog.Level) recordLogger {
	return recordLogger{Logger: hclog.NewNullLogger(), level: level, lines: new([]logged)}
}

func (l recordLogger) GetLevel() hclog.Level { return l.level }

func (l recordLogger) Log(level hclog.Level, msg string, args ...any) {
	*l.lines = append(*l.lines, logged{level, msg, append([]any(nil), args...)})
}

const ts = `"@timestamp":"2026-12-02T22:25:44.504000Z"`

func TestStderrLogParse(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		level hclog.Level // of the host logger; Info if 0
		// want: the level, message and fields; ok false for a line that
		// is not read as JSON.
		wantLevel hclog.Level
		wantMsg   string
		wantArgs  []any
		wantNotOK bool
	}{
		{
			name:      "hclog line",
			line:      `{"@level":"info","@message":"upper-casing text","@module":"text",` + ts + `,"attempt":1,"bytes":5,"node":"t1","task":"upper"}`,
			wantLevel: hclog.Info, wantMsg: "upper-casing text",
			wantArgs: []any{"task", "upper", "node", "t1", "attempt", int64(1), "bytes", int64(5)},
		},
		{
			name:      "levels by name, any case",
			line:      `{"@level":"WARN","@message":"m"}`,
			wantLevel: hclog.Warn, wantMsg: "m",
		},
		{
			name:      "error",
			line:      `{"@level":"error","@message":"m","error":"boom"}`,
			wantLevel: hclog.Error, wantMsg: "m", wantArgs: []any{"error", "boom"},
		},
		{
			name:      "trace at trace",
			line:      `{"@level":"trace","@message":"m","a":1}`,
			level:     hclog.Trace,
			wantLevel: hclog.Trace, wantMsg: "m", wantArgs: []any{"a", int64(1)},
		},
		{
			name:      "below the level: fields not decoded",
			line:      `{"@level":"debug","@message":"m","a":1}`,
			wantLevel: hclog.Debug,
		},
		{
			name:      "odd values",
			line:      `{"@level":"info","@message":"tab\tand \"quotes\" \u00e9","b":true,"f":false,"n":null,"neg":-1.5e3,"obj":{"k":[1,"two",{"x":null}]},"s":"a\\b\nc","list":[],"big":12345678901234567890}`,
			wantLevel: hclog.Info, wantMsg: "tab\tand \"quotes\" é",
			wantArgs: []any{"b", true, "big", 12345678901234567890.0, "f", false, "list", []any{}, "n", nil, "neg", -1500.0,
				"obj", map[string]any{"k": []any{1.0, "two", map[string]any{"x": nil}}}, "s", "a\\b\nc"},
		},
		{
			name:      "keys out of order are sorted, leading keys first",
			line:      `{"z":1,"attempt":2,"@message":"m","a":"x","node":"n","@level":"info","task":"t"}`,
			wantLevel: hclog.Info, wantMsg: "m",
			wantArgs: []any{"task", "t", "node", "n", "attempt", int64(2), "a", "x", "z", int64(1)},
		},
		{
			name:      "a key twice keeps its last value",
			line:      `{"@level":"info","@message":"first","@message":"m","k":1,"k":2}`,
			wantLevel: hclog.Info, wantMsg: "m", wantArgs: []any{"k", int64(2)},
		},
		{
			name:      "escaped key, white space",
			line:      "  { \"@level\" : \"info\" ,\t\"@message\":\"m\", \"k\\u0065y\" : \"v\" }  ",
			wantLevel: hclog.Info, wantMsg: "m", wantArgs: []any{"key", "v"},
		},
		{
			name:      "a field named timestamp is left out, as go-plugin's was",
			line:      `{"@level":"info","@message":"m","timestamp":"x","k":"v"}`,
			wantLevel: hclog.Info, wantMsg: "m", wantArgs: []any{"k", "v"},
		},
		{
			name:      "no level: JSON, not hclog",
			line:      `{"@message":"m","k":"v"}`,
			wantLevel: hclog.NoLevel, wantMsg: "m", wantArgs: []any{"k", "v"},
		},
		{name: "empty object", line: `{}`, wantLevel: hclog.NoLevel},
		{name: "null", line: `null`, wantLevel: hclog.NoLevel},
		{
			name:      "timestamps in other zones",
			line:      `{"@level":"info","@message":"m","@timestamp":"2026-12-02T22:25:44.504000+05:30","n":0}`,
			wantLevel: hclog.Info, wantMsg: "m", wantArgs: []any{"n", int64(0)},
		},
		{
			name:      "the last day of a month",
			line:      `{"@level":"info","@message":"m","@timestamp":"2026-12-31T23:59:59.999999-08:00","n":255,"m":256,"z":7.5,"e":1e3,"neg":-3}`,
			wantLevel: hclog.Info, wantMsg: "m", wantArgs: []any{"e", 1000.0, "m", int64(256), "n", int64(255), "neg", int64(-3), "z", 7.5},
		},
		{
			name:      "integers are int64, others float64",
			line:      `{"@level":"info","@message":"m","million":1000000,"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,"nineteen":1234567890123456789,"frac":2.0,"exp":2e0,"zero":-0}`,
			wantLevel: hclog.Info, wantMsg: "m",
			wantArgs: []any{"exp", 2.0, "frac", 2.0, "max", int64(9223372036854775807), "million", int64(1000000), "min", int64(-9223372036854775808),
				"nineteen", int64(1234567890123456789), "over", 9223372036854775808.0, "zero", int64(0)},
		},
		{name: "February 30", line: `{"@level":"info","@message":"m","@timestamp":"2026-02-30T00:00:00.000000Z"}`, wantNotOK: true},
		{name: "timestamp without microseconds", line: `{"@level":"info","@message":"m","@timestamp":"2026-12-02T22:25:44Z"}`, wantNotOK: true},
		{name: "month 13", line: `{"@level":"info","@message":"m","@timestamp":"2026-13-02T22:25:44.504000Z"}`, wantNotOK: true},
		{name: "bad timestamp", line: `{"@level":"info","@message":"m","@timestamp":"yesterday"}`, wantNotOK: true},
		{name: "level not a string", line: `{"@level":3,"@message":"m"}`, wantNotOK: true},
		{name: "message not a string", line: `{"@level":"info","@message":{"a":1}}`, wantNotOK: true},
		{name: "number beyond float64", line: `{"@level":"info","@message":"m","n":1e400}`, wantNotOK: true},
		{name: "white space JSON does not allow", line: "\u00a0{\"@level\":\"info\"}", wantNotOK: true},
		{name: "array", line: `[1,2]`, wantNotOK: true},
		{name: "string", line: `"text"`, wantNotOK: true},
		{name: "cut short", line: `{"@level":"info","@message":"m"`, wantNotOK: true},
		{name: "trailing text", line: `{"@level":"info"} and more`, wantNotOK: true},
		{name: "plain text", line: `hello {"a":1}`, wantNotOK: true},
		{name: "empty", line: ``, wantNotOK: true},
		{name: "nul", line: `nul`, wantNotOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			level := tc.level
			if level == 0 {
				level = hclog.Info
			}
			s := newStderrLog(hostLogger{Logger: newRecordLogger(level)})
			gotLevel, gotMsg, gotArgs, ok := s.parse([]byte(tc.line))
			if ok == tc.wantNotOK {
				t.Fatalf("parse(%s) ok = %v, want %v", tc.line, ok, !tc.wantNotOK)
			}
			if !ok {
				return
			}
			if gotLevel != tc.wantLevel || gotMsg != tc.wantMsg {
				t.Errorf("parse(%s) = %v %q, want %v %q", tc.line, gotLevel, gotMsg, tc.wantLevel, tc.wantMsg)
			}
			if len(gotArgs) == 0 {
				gotArgs = nil
			}
			if diff := cmp.Diff(tc.wantArgs, gotArgs); diff != "" {
				t.Errorf("parse(%s) args (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

// TestLogMarksLogs: what the Stderr writer logs and keeps in the tail for
// the writes go-plugin's stderr reader makes (each line, then its newline;
// a line longer than its buffer in pieces).
func TestLogMarksLogs(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name     string
		level    hclog.Level // of the host logger; Info if 0
		writes   []string
		want     []logged
		wantTail string
	}{
		{
			name:     "hclog lines",
			writes:   []string{`{"@level":"info","@message":"one","node":"a"}`, "\n", `{"@level":"debug","@message":"two"}`, "\n", `{"@level":"error","@message":"three"}`, "\n"},
			want:     []logged{{hclog.Info, "one", []any{"node", "a"}}, {hclog.Error, "three", nil}},
			wantTail: `{"@level":"info","@message":"one","node":"a"}` + "\n" + `{"@level":"debug","@message":"two"}` + "\n" + `{"@level":"error","@message":"three"}` + "\n",
		},
		{
			name:   "raw lines by prefix",
			level:  hclog.Trace,
			writes: []string{"[TRACE] t", "\n", "[DEBUG] d", "\n", "[INFO] i", "\n", "[WARN] w", "\n", "[ERROR] e", "\n", "plain", "\n", "", "\n"},
			want: []logged{{hclog.Trace, "[TRACE] t", nil}, {hclog.Debug, "[DEBUG] d", nil}, {hclog.Info, "[INFO] i", nil},
				{hclog.Warn, "[WARN] w", nil}, {hclog.Error, "[ERROR] e", nil}, {hclog.Debug, "plain", nil}, {hclog.Debug, "", nil}},
			wantTail: "[TRACE] t\n[DEBUG] d\n[INFO] i\n[WARN] w\n[ERROR] e\nplain\n\n",
		},
		{
			name:   "a panic's stack trace at error level; JSON lines keep their level",
			writes: []string{"before", "\n", "panic: boom", "\n", "", "\n", "goroutine 1 [running]:", "\n", `{"@level":"info","@message":"m"}`, "\n", "main.main()", "\n"},
			want: []logged{{hclog.Error, "panic: boom", nil}, {hclog.Error, "", nil}, {hclog.Error, "goroutine 1 [running]:", nil},
				{hclog.Info, "m", nil}, {hclog.Error, "main.main()", nil}},
			wantTail: "before\npanic: boom\n\ngoroutine 1 [running]:\n" + `{"@level":"info","@message":"m"}` + "\nmain.main()\n",
		},
		{
			name:     "JSON without a level, at debug level as it is",
			level:    hclog.Debug,
			writes:   []string{`{"msg":"m"}`, "\n", `null`, "\n", `{"@level":"off","@message":"m"}`, "\n"},
			want:     []logged{{hclog.Debug, `{"msg":"m"}`, nil}, {hclog.Debug, "null", nil}, {hclog.Debug, `{"@level":"off","@message":"m"}`, nil}},
			wantTail: `{"msg":"m"}` + "\nnull\n" + `{"@level":"off","@message":"m"}` + "\n",
		},
		{
			name:  "a long line in pieces: each piece at debug level",
			level: hclog.Debug,
			writes: []string{`{"@level":"info","@message":"` + long, long, long + `"}`, "\n",
				`{"@level":"info","@message":"after"}`, "\n"},
			want: []logged{{hclog.Debug, `{"@level":"info","@message":"` + long, nil}, {hclog.Debug, long, nil}, {hclog.Debug, long + `"}`, nil},
				{hclog.Info, "after", nil}},
			wantTail: `{"@level":"info","@message":"` + long + long + long + `"}` + "\n" + `{"@level":"info","@message":"after"}` + "\n",
		},
		{
			name:     "a piece that starts like a mark is not one",
			level:    hclog.Debug,
			writes:   []string{"start", logMarkPrefix + "1", "\n"},
			want:     []logged{{hclog.Debug, "start", nil}, {hclog.Debug, logMarkPrefix + "1", nil}},
			wantTail: "start" + logMarkPrefix + "1\n",
		},
		{
			name:     "marks are neither logged nor kept",
			level:    hclog.Debug,
			writes:   []string{"a", "\n", logMarkPrefix + "1", "\n", logMarkPrefix + "2", "\n", "b", "\n"},
			want:     []logged{{hclog.Debug, "a", nil}, {hclog.Debug, "b", nil}},
			wantTail: "a\nb\n",
		},
		{
			name:     "a line is logged when its newline comes",
			writes:   []string{`{"@level":"info","@message":"m"}`},
			wantTail: `{"@level":"info","@message":"m"}`,
		},
		{
			name:     "logger off",
			level:    hclog.Off,
			writes:   []string{`{"@level":"error","@message":"m"}`, "\n", "panic: x", "\n"},
			wantTail: `{"@level":"error","@message":"m"}` + "\npanic: x\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			level := tc.level
			if level == 0 {
				level = hclog.Info
			}
			rec := newRecordLogger(level)
			tail := newTailBuffer(1 << 20)
			m := newLogMarks(tail, newStderrLog(hostLogger{Logger: rec}))
			for _, w := range tc.writes {
				if n, err := m.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if diff := cmp.Diff(tc.want, *rec.lines); diff != "" {
				t.Errorf("logged (-want +got):\n%s", diff)
			}
			if got := string(tail.buf); got != tc.wantTail {
				t.Errorf("tail = %q, want %q", got, tc.wantTail)
			}
		})
	}
}

// TestStderrLogRedact: the message, the values (inside objects and
// lists too) and raw lines are redacted before they are logged.
func TestStderrLogRedact(t *testing.T) {
	rec := newRecordLogger(hclog.Debug)
	redact := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "s3cret", "***"), "9081726354", "***")
	}
	m := newLogMarks(newTailBuffer(1<<10), newStderrLog(hostLogger{Logger: rec, redact: redact}))
	for _, w := range []string{
		`{"@level":"info","@message":"token s3cret","node":"n","token":"s3cret","deep":{"list":["x s3cret",9081726354]},"esc":"s\u0033cret","pin":9081726354,"pin2":9081726354.5,"n":7}`, "\n",
		"raw s3cret", "\n",
		`{"@level":"info","@message":"` + strings.Repeat("s3cret", 3), `"}`, "\n",
	} {
		_, _ = m.Write([]byte(w))
	}
	got := fmt.Sprint(*rec.lines)
	if strings.Contains(got, "s3cret") || strings.Contains(got, "9081726354") {
		t.Errorf("a secret was logged: %s", got)
	}
	want := []logged{
		{hclog.Info, "token ***", []any{"node", "n", "deep", map[string]any{"list": []any{"x ***", "***"}}, "esc", "***", "n", int64(7), "pin", "***", "pin2", "***.5", "token", "***"}},
		{hclog.Debug, "raw ***", nil},
		{hclog.Debug, `{"@level":"info","@message":"******` + "***", nil},
		{hclog.Debug, `"}`, nil},
	}
	if diff := cmp.Diff(want, *rec.lines); diff != "" {
		t.Errorf("logged (-want +got):\n%s", diff)
	}
}

// BenchmarkStderrLogParse: a plugin's line of a text.upper task, read by
// stderrLog and by a generic decode (what go-plugin's parseJSON does).
func BenchmarkStderrLogParse(b *testing.B) {
	line := []byte(`{"@level":"info","@message":"upper-casing text","@module":"text",` + ts + `,"attempt":1,"bytes":5,"node":"t1","task":"upper"}`)
	b.Run("stderrLog", func(b *testing.B) {
		b.ReportAllocs()
		s := newStderrLog(hostLogger{Logger: newRecordLogger(hclog.Info)})
		for b.Loop() {
			_, _, _, _ = s.parse(line)
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			_ = json.Unmarshal(line, &m)
		}
	})
}
