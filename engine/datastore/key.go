package datastore

import (
	"fmt"
	"strings"
)

// checkKey reports why key is not a valid store key, or "" when it is.
//
// A key is a relative slash-separated path: not empty, not starting with
// "/", with no empty, "." or ".." segment, and with no backslash, NUL or
// other control character. The rules make a key mean the same file on every
// backend: it cannot escape a local store's directory, it has no second
// spelling (a//b, a/./b), and it names a file, not a directory (no trailing
// slash).
func checkKey(key string) string {
	switch {
	case key == "":
		return "key is empty"
	case strings.HasPrefix(key, "/"):
		return "key is absolute"
	case strings.ContainsRune(key, '\\'):
		return "key contains a backslash"
	}
	for _, r := range key {
		if r == 0 {
			return "key contains NUL"
		}
		if r < 0x20 || r == 0x7f {
			return "key contains a control character"
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return "key has an empty segment"
		case ".", "..":
			return fmt.Sprintf("key has a %q segment", seg)
		}
	}
	return ""
}

// joinKey joins a store prefix and a key.
func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	if key == "" {
		return prefix
	}
	return prefix + "/" + key
}
