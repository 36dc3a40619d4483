package sandbox

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/goflyte/goflyte/internal/jsonstr"
)

// A task's record line is written by hand, not by encoding/json's
// reflection: a fully cached re-run of 10,000 tasks encodes every task
// twice (its events line and record.json) and reflection was about a
// tenth of the run's CPU (issue 17). The bytes are those of a
// json.Encoder with SetEscapeHTML(false): appendTaskRecord gives up
// (reports false) on anything it would encode differently or that
// encoding/json rejects (a time outside years 0-9999, a NaN, invalid raw
// JSON), and the caller encodes that task with encoding/json instead.
// TestTaskRecordEncoding compares the two over many record shapes.

// fastTaskRecords says whether TaskRecord, AttemptTime and Metric have
// exactly the fields appendTaskRecord knows. A field added to one of them
// without teaching appendTaskRecord turns it off (every task is then
// encoded by reflection, as before), and the test that checks this flag
// fails.
var fastTaskRecords = knownShape(reflect.TypeFor[TaskRecord](), taskRecordShape) &&
	knownShape(reflect.TypeFor[AttemptTime](), attemptTimeShape) &&
	knownShape(reflect.TypeFor[Metric](), metricShape)

// The fields appendTaskRecord encodes, as "Name type `tag`", in order.
var (
	taskRecordShape = []string{
		"Name string name", "Task string task", "Status string status",
		"Attempts int attempts,omitempty", "Start time.Time start,omitzero", "End time.Time end,omitzero",
		"Cache string cache,omitempty", "CacheKey string cache_key,omitempty",
		"Outputs json.RawMessage outputs,omitempty", "OutputsFile string outputs_file,omitempty",
		"OutputsRef string outputs_ref,omitempty", "OutputsRedacted bool outputs_redacted,omitempty",
		"Error string error,omitempty", "Stderr string stderr,omitempty", "WorkDir string work_dir,omitempty",
		"InputsDigest string inputs_digest,omitempty", "Deps []string deps,omitempty",
		"Digest string digest,omitempty", "CacheReason string cache_reason,omitempty",
		"Resumed bool resumed,omitempty", "AttemptErrors []string attempt_errors,omitempty",
		"AttemptTimes []sandbox.AttemptTime attempt_times,omitempty", "Instances int instances,omitempty",
		"FailedInstances []string failed_instances,omitempty", "Children []string children,omitempty",
		"LogFile string log_file,omitempty", "LogURIs []string log_uris,omitempty", "Deck string deck,omitempty",
		"Nested []sandbox.TaskRecord nested,omitempty", "NestedOmitted int nested_omitted,omitempty",
		"Metrics []sandbox.Metric metrics,omitempty",
	}
	attemptTimeShape = []string{"Start time.Time start", "End time.Time end,omitzero"}
	metricShape      = []string{
		"Name string name", "Kind string kind", "Tags map[string]string tags,omitempty",
		"Value float64 value", "Count int64 count", "Min float64 min,omitempty", "Max float64 max,omitempty",
	}
)

func knownShape(t reflect.Type, want []string) bool {
	got := make([]string, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		got[i] = f.Name + " " + f.Type.String() + " " + f.Tag.Get("json")
	}
	return slices.Equal(got, want)
}

// encodeTaskLine appends t as one line of JSON, with its newline, as
// encodeLine would.
func encodeTaskLine(buf *bytes.Buffer, t *TaskRecord) error {
	if fastTaskRecords {
		b := buf.AvailableBuffer()
		if b, ok := appendTaskRecord(b, t); ok {
			buf.Write(append(b, '\n'))
			return nil
		}
	}
	return encodeLine(buf, t)
}

// appendTaskRecord appends t's JSON to b; false means it did not (b's
// extension is then garbage) and encoding/json must.
func appendTaskRecord(b []byte, t *TaskRecord) ([]byte, bool) {
	ok := true
	str := func(key, s string, omitEmpty bool) {
		if omitEmpty && s == "" {
			return
		}
		b = append(b, key...)
		b = jsonstr.Append(b, s, false)
	}
	num := func(key string, n int64) {
		if n == 0 {
			return
		}
		b = append(b, key...)
		b = strconv.AppendInt(b, n, 10)
	}
	tm := func(key string, v time.Time, omitZero bool) {
		if omitZero && v.IsZero() {
			return
		}
		b = append(b, key...)
		b, ok = appendTime(b, v, ok)
	}
	strs := func(key string, ss []string) {
		if len(ss) == 0 {
			return
		}
		b = append(b, key...)
		b = append(b, '[')
		for i, s := range ss {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, s, false)
		}
		b = append(b, ']')
	}
	flag := func(key string, v bool) {
		if v {
			b = append(b, key...)
			b = append(b, "true"...)
		}
	}

	str(`{"name":`, t.Name, false)
	str(`,"task":`, t.Task, false)
	str(`,"status":`, t.Status, false)
	num(`,"attempts":`, int64(t.Attempts))
	tm(`,"start":`, t.Start, true)
	tm(`,"end":`, t.End, true)
	str(`,"cache":`, t.Cache, true)
	str(`,"cache_key":`, t.CacheKey, true)
	if len(t.Outputs) > 0 {
		b = append(b, `,"outputs":`...)
		var good bool
		if b, good = appendCompact(b, t.Outputs); !good {
			return b, false
		}
	}
	str(`,"outputs_file":`, t.OutputsFile, true)
	str(`,"outputs_ref":`, t.OutputsRef, true)
	flag(`,"outputs_redacted":`, t.OutputsRedacted)
	str(`,"error":`, t.Error, true)
	str(`,"stderr":`, t.Stderr, true)
	str(`,"work_dir":`, t.WorkDir, true)
	str(`,"inputs_digest":`, t.InputsDigest, true)
	strs(`,"deps":`, t.Deps)
	str(`,"digest":`, t.Digest, true)
	str(`,"cache_reason":`, t.CacheReason, true)
	flag(`,"resumed":`, t.Resumed)
	strs(`,"attempt_errors":`, t.AttemptErrors)
	if len(t.AttemptTimes) > 0 {
		b = append(b, `,"attempt_times":[`...)
		for i, at := range t.AttemptTimes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"start":`...)
			b, ok = appendTime(b, at.Start, ok)
			if !at.End.IsZero() {
				b = append(b, `,"end":`...)
				b, ok = appendTime(b, at.End, ok)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	num(`,"instances":`, int64(t.Instances))
	strs(`,"failed_instances":`, t.FailedInstances)
	strs(`,"children":`, t.Children)
	str(`,"log_file":`, t.LogFile, true)
	strs(`,"log_uris":`, t.LogURIs)
	str(`,"deck":`, t.Deck, true)
	if len(t.Nested) > 0 {
		b = append(b, `,"nested":[`...)
		for i := range t.Nested {
			if i > 0 {
				b = append(b, ',')
			}
			var good bool
			if b, good = appendTaskRecord(b, &t.Nested[i]); !good {
				return b, false
			}
		}
		b = append(b, ']')
	}
	num(`,"nested_omitted":`, int64(t.NestedOmitted))
	if len(t.Metrics) > 0 {
		b = append(b, `,"metrics":[`...)
		for i := range t.Metrics {
			if i > 0 {
				b = append(b, ',')
			}
			m := &t.Metrics[i]
			str(`{"name":`, m.Name, false)
			str(`,"kind":`, m.Kind, false)
			if len(m.Tags) > 0 {
				b = append(b, `,"tags":{`...)
				var arr [8]string
				keys := sortedKeys(arr[:0], m.Tags)
				for j, k := range keys {
					if j > 0 {
						b = append(b, ',')
					}
					b = jsonstr.Append(b, k, false)
					b = append(b, ':')
					b = jsonstr.Append(b, m.Tags[k], false)
				}
				b = append(b, '}')
			}
			b = append(b, `,"value":`...)
			b, ok = appendFloat(b, m.Value, ok)
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, m.Count, 10)
			if m.Min != 0 {
				b = append(b, `,"min":`...)
				b, ok = appendFloat(b, m.Min, ok)
			}
			if m.Max != 0 {
				b = append(b, `,"max":`...)
				b, ok = appendFloat(b, m.Max, ok)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	return b, ok
}

// appendTime appends v as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted); it reports false, keeping ok false, for the times
// MarshalJSON rejects or might format otherwise.
func appendTime(b []byte, v time.Time, ok bool) ([]byte, bool) {
	_, off := v.Zone()
	if y := v.Year(); y < 0 || y > 9999 || off <= -24*3600 || off >= 24*3600 || off%60 != 0 {
		return b, false
	}
	b = append(b, '"')
	b = v.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), ok
}

// appendFloat appends f as encoding/json encodes a float64; NaN and the
// infinities, which it rejects, report false.
func appendFloat(b []byte, f float64, ok bool) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, ok
}

// appendCompact appends raw JSON as encoding/json encodes a
// json.RawMessage: compacted, "<", ">" and "&" kept (SetEscapeHTML(false)).
// Most outputs are compact already ({"text":"W1"}): they are checked and
// copied. It reports false for invalid JSON.
func appendCompact(b []byte, raw json.RawMessage) ([]byte, bool) {
	if isCompactSimple(raw) {
		return append(b, raw...), true
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return b, false
	}
	return buf.Bytes(), true
}

// isCompactSimple reports whether raw is a JSON object of strings
// ({"text":"W1"}) without whitespace or escapes: such JSON is valid and
// compact as it is. Anything else reports false.
func isCompactSimple(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return false
	}
	if len(raw) == 2 {
		return true
	}
	i := 1
	for {
		for k := 0; k < 2; k++ { // key, then value
			if i >= len(raw) || raw[i] != '"' {
				return false
			}
			i++
			for i < len(raw) && raw[i] != '"' {
				if c := raw[i]; c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
					return false
				}
				i++
			}
			if i >= len(raw) {
				return false
			}
			i++ // the closing quote
			if k == 0 {
				if i >= len(raw) || raw[i] != ':' {
					return false
				}
				i++
			}
		}
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i++
		case '}':
			return i == len(raw)-1
		default:
			return false
		}
	}
}

// sortedKeys appends m's keys to dst, sorted: the order in which the
// encoders write a JSON object's members (as encoding/json does). dst
// is usually a small array on the caller's stack.
func sortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}
