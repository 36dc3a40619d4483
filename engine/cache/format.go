package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The entry file format, version 1. One header line, then the content:
//
//	goflyte-cache v1 <key> <written> <length> <checksum>\n
//	<content>
//
// where
//
//   - key is the entry's key, 64 lower-case hex digits;
//   - written is when Put wrote the file, in Unix nanoseconds (decimal),
//     from which Info.LastHit is derived (see lastHit);
//   - length is the length of the content in bytes (decimal);
//   - checksum is the SHA-256, in 64 lower-case hex digits, of the header
//     up to and including the space before the checksum, followed by the
//     content;
//   - content is two lines: the Entry without its outputs as a JSON
//     object, then the outputs as compact JSON.
//
// The first line's object may gain fields (omitted when empty, decoded
// by name) without a new version: "run" was added so. Entries written
// before a field existed decode with it empty, and older code ignores
// fields it does not know; the checksum covers the line whatever it
// holds, and the key never depends on it. The one fixed point is that
// "task" comes first (see hasTask).
//
// Get checks that the key is the one asked for, the length is the number
// of bytes after the header, and the checksum matches; only then does it
// decode the JSON. So an empty, truncated, extended, bit-flipped or
// misplaced file is never returned as a hit, and a file that passes is
// exactly what Put wrote for that key. The file stays readable with cat.
//
// The outputs have a line of their own so that Get need not scan them:
// Put checked that they are valid JSON, and the checksum proves they are
// what Put wrote. Get decodes only the small first line, so its cost
// does not grow with the size of the outputs beyond reading and hashing
// them.
//
// A future incompatible format changes the version word; entries in a
// format this code does not know read as corrupt (and are removed), which
// costs one re-run of each task and nothing else.
const (
	magic     = "goflyte-cache v1 "
	hexKeyLen = 2 * len(Key{})
	hexSumLen = 2 * sha256.Size
	// maxHeader bounds the search for the header's newline.
	maxHeader = len(magic) + hexKeyLen + 1 + 20 + 1 + 20 + 1 + hexSumLen + 1
)

// meta is the first line of an entry's content: the Entry but its outputs.
type meta struct {
	Task    string            `json:"task"`
	Version string            `json:"version"`
	Inputs  map[string]string `json:"inputs"`
	Created time.Time         `json:"created"`
	Run     string            `json:"run,omitempty"`
}

// encodeEntry returns the file contents for e stored under k, written at
// the given time.
func encodeEntry(k Key, e *Entry, written time.Time) ([]byte, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	err := enc.Encode(meta{Task: e.Task, Version: e.Version, Inputs: e.Inputs, Created: e.Created, Run: e.Run}) // appends '\n'
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	outputs := []byte(e.Outputs)
	if len(outputs) == 0 {
		outputs = []byte("null") // as encoding/json encodes a nil RawMessage
	}
	// Compact validates (one value, nothing after it) and leaves the
	// outputs on one line; it does not escape HTML characters.
	if err := json.Compact(&body, outputs); err != nil {
		return nil, fmt.Errorf("encode entry: outputs: %w", err)
	}
	body.WriteByte('\n')

	out := make([]byte, 0, maxHeader+body.Len())
	out = append(out, magic...)
	out = hex.AppendEncode(out, k[:])
	out = append(out, ' ')
	out = strconv.AppendInt(out, max(written.UnixNano(), 0), 10)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(body.Len()), 10)
	out = append(out, ' ')
	sum := checksum(out, body.Bytes())
	out = hex.AppendEncode(out, sum[:])
	out = append(out, '\n')
	out = append(out, body.Bytes()...)
	return out, nil
}

func checksum(head, content []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(head)
	h.Write(content)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// verify checks data against the format and k. It returns the content (a
// sub-slice of data) and the written field; a non-empty reason says why
// data is not a valid entry for k.
func verify(k Key, data []byte) (content, written []byte, reason string) {
	if len(data) == 0 {
		return nil, nil, "empty file"
	}
	if !bytes.HasPrefix(data, []byte(magic)) {
		if len(data) < len(magic) && bytes.HasPrefix([]byte(magic), data) {
			return nil, nil, fmt.Sprintf("truncated header (%d bytes)", len(data))
		}
		return nil, nil, "not a goflyte cache entry (unknown header)"
	}
	nl := bytes.IndexByte(data[:min(len(data), maxHeader)], '\n')
	if nl < 0 {
		if len(data) < maxHeader {
			return nil, nil, fmt.Sprintf("truncated header (%d bytes)", len(data))
		}
		return nil, nil, "malformed header"
	}
	// key SP written SP length SP checksum, each field checked exactly.
	sumOff := nl - hexSumLen
	if sumOff < len(magic)+hexKeyLen+4 || data[sumOff-1] != ' ' {
		return nil, nil, "malformed header"
	}
	fields, ok := splitFields(data[len(magic) : sumOff-1])
	if !ok || len(fields[0]) != hexKeyLen {
		return nil, nil, "malformed header"
	}
	var want [hexKeyLen]byte
	hex.Encode(want[:], k[:])
	if !bytes.Equal(fields[0], want[:]) {
		if !isLowerHex(string(fields[0])) {
			return nil, nil, "malformed header (key)"
		}
		return nil, nil, fmt.Sprintf("holds the entry for key %s", fields[0])
	}
	if _, ok := parseDecimal(fields[1]); !ok {
		return nil, nil, "malformed header (time written)"
	}
	n, ok := parseDecimal(fields[2])
	if !ok {
		return nil, nil, "malformed header (content length)"
	}
	content = data[nl+1:]
	if int64(len(content)) != n {
		if int64(len(content)) < n {
			return nil, nil, fmt.Sprintf("truncated: header says %d bytes of content, found %d", n, len(content))
		}
		return nil, nil, fmt.Sprintf("length mismatch: header says %d bytes of content, found %d", n, len(content))
	}
	// Compare hex digits, not decoded bytes, so that no change to the
	// file (not even a flipped case bit) goes unnoticed.
	sum := checksum(data[:sumOff], content)
	var sumHex [hexSumLen]byte
	hex.Encode(sumHex[:], sum[:])
	if !bytes.Equal(data[sumOff:nl], sumHex[:]) {
		return nil, nil, "checksum mismatch"
	}
	return content, fields[1], ""
}

// splitFields splits b at its spaces into exactly three fields, as
// bytes.Split(b, " ") would, without allocating; ok is false unless b
// holds exactly two spaces.
func splitFields(b []byte) (fields [3][]byte, ok bool) {
	for i := range 2 {
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return fields, false
		}
		fields[i], b = b[:sp], b[sp+1:]
	}
	fields[2] = b
	return fields, bytes.IndexByte(b, ' ') < 0
}

// decodeEntry verifies data and decodes the entry in it, and returns the
// raw written field for those that want it. The entry's Outputs share
// memory with data.
func decodeEntry(k Key, data []byte) (*Entry, []byte, string) {
	line, outputs, written, reason := split(k, data)
	if reason != "" {
		return nil, nil, reason
	}
	var m meta
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, nil, fmt.Sprintf("undecodable content: %v", err)
	}
	if m.Task == "" {
		return nil, nil, "entry has no task"
	}
	return &Entry{
		Task:    m.Task,
		Version: m.Version,
		Inputs:  m.Inputs,
		Outputs: outputs,
		Created: m.Created,
		Run:     m.Run,
	}, written, ""
}

// hasTask is decodeEntry's "entry has no task" check without decoding the
// line: encodeEntry writes the task first.
func hasTask(line []byte) bool {
	task := []byte(`{"task":"`)
	return bytes.HasPrefix(line, task) && len(line) > len(task) && line[len(task)] != '"'
}

// split verifies an entry file (see verify) and returns its first line and
// its outputs, without decoding either.
func split(k Key, data []byte) (line []byte, outputs json.RawMessage, written []byte, reason string) {
	content, written, reason := verify(k, data)
	if reason != "" {
		return nil, nil, nil, reason
	}
	// The checksum matched, so what follows was written this way; if it is
	// not an entry, a buggy or foreign writer made it. Still not a hit.
	line, rest, ok := bytes.Cut(content, []byte{'\n'})
	if !ok || len(rest) < 2 || bytes.IndexByte(rest, '\n') != len(rest)-1 {
		return nil, nil, nil, "content is not two lines"
	}
	n := len(rest) - 1
	return line, json.RawMessage(rest[:n:n]), written, ""
}

// parseDecimal parses a non-negative number exactly as encodeEntry writes
// it: decimal digits without sign or leading zeros.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n >= 0
}
