package sandbox

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/goflyte/goflyte/internal/jsonstr"
)

// appendLogLine appends line to buf as encodeLine does (the same bytes:
// TestAppendLogLine holds it to them), without reflection, with the
// helpers of the task record's encoder (recordenc.go): at -v a run writes
// a line or two per task, and encoding/json's reflection over LogLine and
// its fields map was most of a line's cost in the task log writer. Field
// values of other types than a log line usually holds (strings, numbers,
// booleans, nil) are encoded by encoding/json, and so is a line whose time
// encoding/json might write otherwise. An error (a value that does not
// encode) may leave bytes in buf: the caller resets it.
func appendLogLine(buf *bytes.Buffer, line *LogLine) error {
	b := buf.AvailableBuffer()
	b = append(b, `{"time":`...)
	b, ok := appendTime(b, line.Time, true)
	if !ok {
		return encodeLine(buf, line)
	}
	b = append(b, `,"level":`...)
	b = jsonstr.Append(b, line.Level, false)
	b = append(b, `,"source":`...)
	b = jsonstr.Append(b, line.Source, false)
	if line.Logger != "" {
		b = append(b, `,"logger":`...)
		b = jsonstr.Append(b, line.Logger, false)
	}
	b = append(b, `,"node":`...)
	b = jsonstr.Append(b, line.Node, false)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(line.Attempt), 10)
	if line.Task != "" {
		b = append(b, `,"task":`...)
		b = jsonstr.Append(b, line.Task, false)
	}
	b = append(b, `,"msg":`...)
	b = jsonstr.Append(b, line.Msg, false)
	if len(line.Fields) > 0 {
		b = append(b, `,"fields":{`...)
		var arr [8]string
		keys := sortedKeys(arr[:0], line.Fields)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, k, false)
			b = append(b, ':')
			var err error
			if b, err = appendLogValue(b, line.Fields[k]); err != nil {
				return err
			}
		}
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	buf.Write(b)
	return nil
}

// appendLogValue appends a field's value as encoding/json encodes it with
// SetEscapeHTML(false).
func appendLogValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return jsonstr.Append(b, x, false), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if fb, ok := appendFloat(b, x, true); ok {
			return fb, nil
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}
