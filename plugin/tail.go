package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// tailBuffer keeps the last bytes written to it: the plugin's stderr, so
// that a crash can show its last words without holding all of its output.
type tailBuffer struct {
	mu     sync.Mutex
	max    int
	buf    []byte
	redact func(string) string // nil: keep lines as they are
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write keeps p. The buffer grows to twice its size before it drops the
// oldest bytes, so that dropping them (a copy of max bytes) happens once
// per max bytes written, not on every write: go-plugin writes each stderr
// line and then its newline, and at -v a plugin writes a line per task
// (a full 64 KB buffer copied twice a line was most of a line's cost).
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// last returns the last max bytes. Under t.mu.
func (t *tailBuffer) last() []byte {
	if over := len(t.buf) - t.max; over > 0 {
		return t.buf[over:]
	}
	return t.buf
}

// Tail returns the last n lines, with hclog JSON lines shown as
// "[LEVEL] message key=value". When a panic or fatal error is among the
// last 200 lines, the tail starts at it, so that a deep stack trace keeps
// its first line. Redaction, if set, is applied to every value.
func (t *tailBuffer) Tail(n int) string {
	t.mu.Lock()
	data := bytes.TrimRight(t.last(), "\n")
	lines := strings.Split(string(data), "\n")
	t.mu.Unlock()
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	start := max(len(lines)-n, 0)
	for i := len(lines) - 1; i >= max(len(lines)-200, 0); i-- {
		if strings.HasPrefix(lines[i], "panic: ") || strings.HasPrefix(lines[i], "fatal error: ") {
			start = min(start, i)
			break
		}
	}
	lines = lines[start:]
	for i, l := range lines {
		lines[i] = readableLogLine(l, t.redact)
	}
	out := strings.Join(lines, "\n")
	if t.redact != nil {
		// Redact the whole tail as well: a secret may have been written
		// in several pieces.
		out = t.redact(out)
	}
	return out
}

// readableLogLine turns an hclog JSON line into its text form; any other
// line is returned as it is. redact, if not nil, is applied to the
// message and to every string inside the values before they are encoded.
func readableLogLine(line string, redact func(string) string) string {
	if !strings.HasPrefix(line, "{") {
		return line
	}
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	msg, ok1 := m["@message"].(string)
	level, ok2 := m["@level"].(string)
	if !ok1 || !ok2 {
		return line // JSON, but not an hclog line
	}
	if redact != nil {
		msg = redact(msg)
	}
	var b strings.Builder
	b.WriteString("[" + strings.ToUpper(level) + "] " + msg)
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var enc bytes.Buffer
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false)
		_ = e.Encode(redactValue(m[k], redact))
		b.WriteString(" " + k + "=" + strings.TrimSuffix(enc.String(), "\n"))
	}
	return b.String()
}

// redactValue applies redact to every string in v, a value decoded from
// JSON or a log argument, looking inside maps and slices.
func redactValue(v any, redact func(string) string) any {
	if redact == nil {
		return v
	}
	switch x := v.(type) {
	case string:
		return redact(x)
	case error:
		return redact(x.Error())
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[redact(k)] = redactValue(e, redact)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = redactValue(e, redact)
		}
		return c
	case fmt.Stringer:
		return redact(x.String())
	case int64: // a number in a plugin's JSON line
		return redactNumber(v, redact, strconv.FormatInt(x, 10))
	case float64:
		return redactNumber(v, redact, strconv.FormatFloat(x, 'f', -1, 64), strconv.FormatFloat(x, 'g', -1, 64))
	}
	return v
}

// redactNumber returns v, or its text redacted if one of its texts (as
// the task log and the terminal write it) holds a secret: a secret of
// digits logged as a number.
func redactNumber(v any, redact func(string) string, texts ...string) any {
	for _, s := range texts {
		if r := redact(s); r != s {
			return r
		}
	}
	return v
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
