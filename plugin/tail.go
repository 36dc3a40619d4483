package plugin

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"sync"
)

// tailBuffer keeps the last bytes written to it: the plugin's stderr, so
// that a crash can show its last words without holding all of its output.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// Tail returns the last n lines, with hclog JSON lines shown as
// "[LEVEL] message key=value".
func (t *tailBuffer) Tail(n int) string {
	t.mu.Lock()
	data := bytes.TrimRight(t.buf, "\n")
	lines := strings.Split(string(data), "\n")
	t.mu.Unlock()
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = readableLogLine(l)
	}
	return strings.Join(lines, "\n")
}

// readableLogLine turns an hclog JSON line into its text form; any other
// line is returned as it is.
func readableLogLine(line string) string {
	if !strings.HasPrefix(line, "{") {
		return line
	}
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	msg, _ := m["@message"].(string)
	level, _ := m["@level"].(string)
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
		enc, _ := json.Marshal(m[k])
		b.WriteString(" " + k + "=" + string(enc))
	}
	return b.String()
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
