package engine

import (
	"testing"
)

// FuzzParseInputValue feeds arbitrary --input text to the value parser for
// each kind of type: it may refuse, never panic, and what it accepts
// encodes back to JSON.
func FuzzParseInputValue(f *testing.F) {
	for _, seed := range []string{"", "x", "42", "-1.5e3", "true", `["a","b"]`, `{"a":{"b":[1,null]}}`, "[1,", `"\u0000"`,
		"s3://bucket/key.csv", "file:///etc/hostname", "gs://", `["s3://b/k", "azblob://c/x"]`, `{"r":"file://localhost/tmp"}`, "ftp://x/y", "a://b"} {
		f.Add(seed)
	}
	types := []string{"string", "number", "bool", "any", "list(string)", "map(number)", "object({a=string,b=list(number)})", "list(any)",
		"file", "dir", "list(file)", "object({r=file})"}
	f.Fuzz(func(t *testing.T, text string) {
		for _, expr := range types {
			ty, err := ParseType(expr)
			if err != nil {
				t.Fatal(err)
			}
			v, err := ParseInputValue(text, ty)
			if err != nil {
				continue
			}
			if _, err := ToJSON(v); err != nil {
				t.Errorf("ParseInputValue(%q, %s) gave a value that does not encode: %v", text, expr, err)
			}
		}
	})
}
