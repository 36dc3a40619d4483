package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// A Key identifies one repeatable task execution: a SHA-256 the engine
// computes over everything that can change the result (plugin name, task
// name, cache version, the canonical inputs minus the ignored ones, the
// contents of file inputs). The cache never looks inside a key; it only
// stores under it.
type Key [sha256.Size]byte

// String returns the key as 64 lower-case hex digits.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// MarshalText encodes the key as [Key.String] does, so that a Key (and an
// [Info]) reads as hex in JSON.
func (k Key) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(len(k)))
	hex.Encode(b, k[:])
	return b, nil
}

// UnmarshalText decodes a key as [ParseKey] does.
func (k *Key) UnmarshalText(b []byte) error {
	key, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = key
	return nil
}

// ParseKey parses a full key: exactly 64 hex digits, in either case. To turn
// a shorter prefix typed by a user into a key, use [Cache.Resolve], which
// needs the cache to know which keys exist.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != hex.EncodedLen(len(k)) {
		return Key{}, fmt.Errorf("cache: parse key %q: want %d hex digits, got %d characters", s, hex.EncodedLen(len(k)), len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return Key{}, fmt.Errorf("cache: parse key %q: not hex", s)
	}
	return k, nil
}

// Sum returns the SHA-256 of parts, each preceded by its length as 8
// big-endian bytes. The length prefixes make the encoding unambiguous:
// Sum([]byte("ab"), []byte("c")) differs from Sum([]byte("a"), []byte("bc")),
// and Sum(x) differs from Sum(x, nil). Callers that hash a variable number
// of named values should still put each name and value in a part of its own.
func Sum(parts ...[]byte) Key {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k Key
	h.Sum(k[:0])
	return k
}

// AppendPart appends p to b as Sum frames each part (its length as 8
// big-endian bytes, then p). SumParts of the parts so appended is Sum of
// them: a caller that hashes strings in a buffer of its own (on its
// stack) computes a key without allocating, where Sum needs each part as
// a []byte of its own (a cache key per task of a fully cached re-run,
// issue 17).
func AppendPart(b []byte, p string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	return append(b, p...)
}

// SumParts returns the key of parts framed by AppendPart.
func SumParts(framed []byte) Key { return Key(sha256.Sum256(framed)) }
