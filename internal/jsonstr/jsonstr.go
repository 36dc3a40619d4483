// Package jsonstr appends strings as JSON, byte for byte as encoding/json
// writes them, without encoding/json's reflection: for the hand-written
// encoders of hot lines (run records, task log lines, a plugin's log
// lines).
package jsonstr

import "unicode/utf8"

const hex = "0123456789abcdef"

// Append appends s quoted as encoding/json quotes a string: with
// escapeHTML, as json.Marshal does (an Encoder's default too); without, as
// an Encoder after SetEscapeHTML(false). It is encoding/json's
// appendString (Go 1.26): control characters, quotes and backslashes
// escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped, and, with
// escapeHTML, <, > and &.
func Append(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && (!escapeHTML || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
