package sandbox

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

// TestAppendLogLine: the hand-written encoder of a task log line writes
// the bytes encoding/json writes, for every kind of value a line holds.
func TestAppendLogLine(t *testing.T) {
	at := time.Date(2026, 12, 2, 22, 25, 44, 504000000, time.UTC)
	base := LogLine{Time: at, Level: "info", Source: LogSourcePlugin, Logger: "text", Node: "t1", Attempt: 1, Task: "text.upper", Msg: "upper-casing text"}
	with := func(f func(*LogLine)) LogLine {
		l := base
		f(&l)
		return l
	}
	tests := []struct {
		name    string
		line    LogLine
		wantErr bool
	}{
		{name: "plugin line", line: with(func(l *LogLine) { l.Fields = map[string]any{"bytes": 5.0} })},
		{name: "no fields, logger or task", line: with(func(l *LogLine) { l.Logger, l.Task = "", "" })},
		{name: "empty fields", line: with(func(l *LogLine) { l.Fields = map[string]any{} })},
		{name: "zone and nanoseconds", line: with(func(l *LogLine) { l.Time = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", -5*3600-30*60)) })},
		{name: "zero time", line: with(func(l *LogLine) { l.Time = time.Time{} })},
		{name: "year 10000", line: with(func(l *LogLine) { l.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), wantErr: true},
		{name: "odd text", line: with(func(l *LogLine) {
			l.Msg = "quote \" backslash \\ tab\t nl\n cr\r bell\a <html> & é \u2028 \xff end"
			l.Node = "a@1+b"
			l.Level = "warn"
		})},
		{name: "values", line: with(func(l *LogLine) {
			l.Fields = map[string]any{
				"s": "v <&>", "esc": "a\"b\\c\n", "t": true, "f": false, "n": nil,
				"i": 42, "i64": int64(-7), "i32": int32(3), "u": uint(9), "u64": uint64(1 << 63), "f32": float32(0.1),
				"f64": 0.1, "big": 1e21, "small": 1e-7, "negzero": math.Copysign(0, -1), "whole": 3.0, "huge": 1.7976931348623157e308,
				"obj": map[string]any{"z": 1.0, "a": []any{"x", nil, map[string]any{"<": ">"}}}, "list": []any{},
				"duration": "8ms", "\u00e9key": "v", "k\"q": "v",
			}
		})},
		{name: "many fields", line: with(func(l *LogLine) {
			l.Fields = map[string]any{}
			for _, k := range []string{"k", "j", "i", "h", "g", "f", "e", "d", "c", "b", "a"} {
				l.Fields[k] = k
			}
		})},
		{name: "NaN", line: with(func(l *LogLine) { l.Fields = map[string]any{"x": math.NaN()} }), wantErr: true},
		{name: "Inf", line: with(func(l *LogLine) { l.Fields = map[string]any{"x": math.Inf(1)} }), wantErr: true},
		{name: "not JSON", line: with(func(l *LogLine) { l.Fields = map[string]any{"c": make(chan int)} }), wantErr: true},
		{name: "a value with its own encoding", line: with(func(l *LogLine) { l.Fields = map[string]any{"err": errors.New("e"), "at": at} })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			werr := encodeLine(&want, &tc.line)
			gerr := appendLogLine(&got, &tc.line)
			if (werr != nil) != tc.wantErr || (gerr != nil) != tc.wantErr {
				t.Fatalf("errors: encoding/json %v, appendLogLine %v; want an error: %v", werr, gerr, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got.String() != want.String() {
				t.Errorf("appendLogLine:\n got %s\nwant %s", got.String(), want.String())
			}
		})
	}
}

// BenchmarkAppendLogLine is a plugin's line of a text.upper task.
func BenchmarkAppendLogLine(b *testing.B) {
	line := &LogLine{Time: time.Now(), Level: "info", Source: LogSourcePlugin, Logger: "text", Node: "t1", Attempt: 1, Task: "text.upper", Msg: "upper-casing text", Fields: map[string]any{"bytes": 5.0}}
	for _, bc := range []struct {
		name string
		f    func(*bytes.Buffer, *LogLine) error
	}{{"appendLogLine", appendLogLine}, {"encodingJSON", func(buf *bytes.Buffer, l *LogLine) error { return encodeLine(buf, l) }}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				_ = bc.f(&buf, line)
			}
		})
	}
}
