package plugin

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// A plugin's stderr lines, logged by the host.
//
// A plugin logs hclog JSON lines on its stderr (sdk, [NewPluginLogger]).
// go-plugin's stderr reader would decode each of them into a generic map
// (parseJSON), flatten it, format its timestamp and log it through the
// client's logger: at -v, a line per task, that was about a tenth of the
// engine's CPU in a chain of tasks (cmd/goflyte-bench/BENCH.md, "-v
// without go-plugin's parse"). go-plugin skips all of that when the
// logger it names for the reader is Off, and still hands each raw line to
// ClientConfig.Stderr. So the reader gets an Off logger ([hostLogger.Named],
// [stderrReaderLogger]) and the Stderr writer ([logMarks]) logs each line
// itself, with [stderrLog]: it reads only what the host logs (level,
// message, fields) and gives the fields in the order the host logger
// shows them, so that nothing is decoded, formatted or sorted twice.
//
// What is logged is what go-plugin logged (client.go, logStderr, v1.8.0):
//
//   - A JSON object with an hclog "@level" is logged at that level, with
//     its "@message" and its other keys as fields, unless the level is
//     below the host logger's. "@timestamp" and "@module" are left out
//     (the host logger stamps the line and names the plugin). A line whose
//     "@timestamp" is not hclog's is not an hclog line (go-plugin's parse
//     failed on it).
//   - Other JSON (null, an object without a known level) is logged at
//     debug level as it is.
//   - Any other line is logged as it is, at the level its "[TRACE]" ...
//     "[ERROR]" prefix says, at error level from a "panic: " or "fatal
//     error: " line on (the rest of a stack trace), else at debug level.
//   - A line longer than go-plugin's read buffer (64 KB) comes in pieces:
//     each is logged as it is, at debug level.
//
// Where go-plugin panicked (an "@message", "@level" or "@timestamp" that
// is not a string: a type assertion in its parse), the line is logged as
// it is, at debug level.

// stderrLog logs a plugin process's stderr lines through the host logger.
// Only go-plugin's stderr reader calls it, one line at a time.
type stderrLog struct {
	logger hostLogger
	level  hclog.Level // the host logger's: lines below it are dropped unparsed
	// inPanic is set from the first line that starts a panic or fatal
	// error on: the lines of its stack trace are logged at error level.
	inPanic bool
	// args is reused for each line's fields: the host logger does not keep
	// them (hclog formats them at once, the engine copies them).
	args []any
	// keys are the fields' keys seen, by their JSON text (see key).
	keys map[string]any
}

func newStderrLog(logger hostLogger) *stderrLog {
	return &stderrLog{logger: logger, level: logger.GetLevel()}
}

// line logs one whole stderr line (without its newline).
func (s *stderrLog) line(b []byte) {
	if s.level == hclog.Off {
		return
	}
	level, msg, args, ok := s.parse(b)
	switch {
	case !ok:
		s.raw(b)
	case level == hclog.NoLevel || level == hclog.Off:
		// JSON, but not an hclog line.
		if hclog.Debug >= s.level {
			s.logger.log(hclog.Debug, string(b), nil)
		}
	case level >= s.level:
		s.logger.log(level, msg, args)
	}
	clear(s.args) // drop the references to the line's values
}

// piece logs a piece of a line longer than go-plugin's read buffer.
func (s *stderrLog) piece(b []byte) {
	if hclog.Debug >= s.level {
		s.logger.log(hclog.Debug, string(b), nil)
	}
}

// raw logs a line that is not JSON at the level its prefix says.
func (s *stderrLog) raw(b []byte) {
	level := hclog.Debug
	switch {
	case bytes.HasPrefix(b, []byte("[TRACE]")):
		level = hclog.Trace
	case bytes.HasPrefix(b, []byte("[DEBUG]")):
		level = hclog.Debug
	case bytes.HasPrefix(b, []byte("[INFO]")):
		level = hclog.Info
	case bytes.HasPrefix(b, []byte("[WARN]")):
		level = hclog.Warn
	case bytes.HasPrefix(b, []byte("[ERROR]")):
		level = hclog.Error
	case bytes.HasPrefix(b, []byte("panic: ")) || bytes.HasPrefix(b, []byte("fatal error: ")):
		s.inPanic = true
		level = hclog.Error
	case s.inPanic:
		level = hclog.Error
	}
	if level >= s.level {
		s.logger.log(level, string(b), nil)
	}
}

// hclogTime is the layout of hclog's JSON "@timestamp" (go-plugin's
// parseJSON requires it).
const hclogTime = "2006-01-02T15:04:05.000000Z07:00"

// parse reads b as an hclog JSON line. ok is false when b is not JSON
// that go-plugin would have read as a log entry (not JSON, not an object
// or null, a bad timestamp). level is NoLevel for JSON without a known
// level. args are the fields as key/value pairs in the host logger's
// order ([tidy]), valid until the next call; they are not decoded for a
// line below s.level.
func (s *stderrLog) parse(b []byte) (level hclog.Level, msg string, args []any, ok bool) {
	b = bytes.Trim(b, " \t\r\n") // JSON's white space
	if len(b) == 0 || (b[0] != '{' && b[0] != 'n') || !json.Valid(b) {
		return hclog.NoLevel, "", nil, false
	}
	if b[0] == 'n' { // null: decodes into an empty map
		return hclog.NoLevel, "", nil, true
	}
	// b is one valid JSON object: the scan below trusts its syntax.
	args = s.args[:0]
	level = hclog.NoLevel
	var stamp []byte
	below := false
	i := 1
	for {
		i = skipSpace(b, i)
		if b[i] == '}' {
			break
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		kEnd := valueEnd(b, i)
		kb := b[i:kEnd]
		i = skipSpace(b, kEnd)
		i = skipSpace(b, i+1) // the colon
		vEnd := valueEnd(b, i)
		v := b[i:vEnd]
		i = vEnd
		switch string(kb) { // no string is made for the comparisons
		case `"@level"`:
			if v[0] != '"' {
				return hclog.NoLevel, "", nil, false
			}
			level = levelOf(v)
			// A line below the host's level is dropped: its fields need
			// no decoding (hclog writes "@level" before them).
			below = level != hclog.NoLevel && level < s.level
		case `"@message"`:
			if v[0] != '"' {
				return hclog.NoLevel, "", nil, false
			}
			msg = jsonString(v)
		case `"@timestamp"`:
			if v[0] != '"' {
				return hclog.NoLevel, "", nil, false
			}
			stamp = v
		case `"@module"`, `"timestamp"`:
			// Left out, as hostLogger leaves them out of go-plugin's lines.
		default:
			if below {
				continue
			}
			val, ok := jsonValue(v)
			if !ok {
				return hclog.NoLevel, "", nil, false
			}
			args = setArg(args, s.key(kb), val)
		}
	}
	s.args = args
	if stamp != nil && !hclogTimestamp(stamp) {
		return hclog.NoLevel, "", nil, false
	}
	if below {
		return level, "", nil, true
	}
	return level, msg, tidyArgs(args), true
}

// key returns the key of a field, the JSON string kb, as a log argument:
// the same one for the same key, line after line (plugins log the same
// few keys), so that neither the string nor its boxing is made again.
func (s *stderrLog) key(kb []byte) any {
	if k, ok := s.keys[string(kb)]; ok {
		return k
	}
	var k any = jsonString(kb)
	if len(s.keys) < maxKeys {
		if s.keys == nil {
			s.keys = map[string]any{}
		}
		s.keys[string(kb)] = k
	}
	return k
}

// maxKeys bounds stderrLog.keys.
const maxKeys = 256

// levelOf returns the level named by the JSON string v.
func levelOf(v []byte) hclog.Level {
	switch string(v) {
	case `"trace"`:
		return hclog.Trace
	case `"debug"`:
		return hclog.Debug
	case `"info"`:
		return hclog.Info
	case `"warn"`:
		return hclog.Warn
	case `"error"`:
		return hclog.Error
	}
	return hclog.LevelFromString(jsonString(v))
}

// hclogTimestamp reports whether the JSON string v is a time in hclog's
// layout (hclogTime), as time.Parse with that layout would. A time in the
// shape hclog writes, with a day of the month up to 28, is checked by
// hand; any other goes to time.Parse.
func hclogTimestamp(v []byte) bool {
	t := v[1 : len(v)-1]
	// 2006-01-02T15:04:05.000000Z or 2006-01-02T15:04:05.000000+07:00
	const shape = "dddd-dd-ddTdd:dd:dd.dddddd"
	if len(t) == len(shape)+1 && t[len(shape)] == 'Z' || len(t) == len(shape)+6 && (t[len(shape)] == '+' || t[len(shape)] == '-') && t[len(shape)+3] == ':' {
		ok := true
		for i := 0; i < len(shape) && ok; i++ {
			if shape[i] == 'd' {
				ok = t[i] >= '0' && t[i] <= '9'
			} else {
				ok = t[i] == shape[i]
			}
		}
		num := func(i int) int { return int(t[i]-'0')*10 + int(t[i+1]-'0') }
		if ok && num(5) >= 1 && num(5) <= 12 && num(8) >= 1 && num(8) <= 28 && num(11) < 24 && num(14) < 60 && num(17) < 60 {
			if len(t) == len(shape)+1 {
				return true
			}
			z := len(shape) + 1
			if isDigits(t[z:z+2]) && isDigits(t[z+3:z+5]) && num(z) < 24 && num(z+3) < 60 {
				return true
			}
		}
	}
	_, err := time.Parse(hclogTime, jsonString(v))
	return err == nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// setArg sets key to v in the key/value pairs args: a key that comes twice
// in a JSON object keeps its last value, as in a decoded map.
func setArg(args []any, key, v any) []any {
	for i := 0; i < len(args); i += 2 {
		if args[i] == key {
			args[i+1] = v
			return args
		}
	}
	return append(args, key, v)
}

// tidyArgs orders key/value pairs as [tidy] does, in place: the leading
// keys first, then the rest by key. hclog writes a JSON line's keys sorted,
// so that usually only the leading keys move.
func tidyArgs(args []any) []any {
	sorted := true
	for i := 2; i < len(args); i += 2 {
		if args[i-2].(string) > args[i].(string) {
			sorted = false
			break
		}
	}
	if !sorted {
		return tidy(args)
	}
	// Sorted: move the leading keys, in their order, to the front.
	n := 0 // pairs already in front
	for _, l := range leading {
		for i := 2 * n; i < len(args); i += 2 {
			if args[i] == l {
				k, v := args[i], args[i+1]
				copy(args[2*n+2:i+2], args[2*n:i])
				args[2*n], args[2*n+1] = k, v
				n++
				break
			}
		}
	}
	return args
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the end of the JSON value that starts at b[i], in
// valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = valueEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // a number, true, false, null
		j := i
		for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
			j++
		}
		return j
	}
}

// jsonString returns the text of the JSON string v (quotes included).
func jsonString(v []byte) string {
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	var s string
	_ = json.Unmarshal(v, &s) // valid JSON
	return s
}

// jsonValue returns the JSON value v as encoding/json decodes it into an
// any, but for an integer that an int64 holds, which is an int64 (not a
// float64): the host logger writes it with strconv rather than with
// fmt's %v, which also showed a count of a million as 1e+06. ok is false
// for a number a float64 cannot hold (the decode fails).
func jsonValue(v []byte) (any, bool) {
	switch v[0] {
	case '"':
		return jsonString(v), true
	case 't':
		return true, true
	case 'f':
		return false, true
	case 'n':
		return nil, true
	case '{', '[':
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, false
		}
		return x, true
	default:
		if n, ok := jsonInt(v); ok {
			return n, true // boxed without allocating below 256
		}
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil
	}
}

// jsonInt reads the JSON number v as an integer: ok is false for a number
// with a fraction or an exponent, or beyond int64.
func jsonInt(v []byte) (int64, bool) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) > 18 { // may not fit: let strconv say
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	if len(digits) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if v[0] == '-' {
		n = -n
	}
	return n, true
}
