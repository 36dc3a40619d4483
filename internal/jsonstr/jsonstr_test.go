package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is what encoding/json writes for s.
func encodingJSON(t testing.TB, s string, escapeHTML bool) string {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(escapeHTML)
	if err := e.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var corpus = []string{
	"",
	"plain text",
	`quote " backslash \ slash /`,
	"line\nbreak\ttab\r\b\f\x00\x01\x1f\x7f",
	"<html> & </html>",
	"é ü 日本 🙂",
	"sep\u2028and\u2029",
	"bad \xff byte, cut \xc3, surrogate \xed\xa0\x80",
	"\ufffd already",
}

func TestAppendAsEncodingJSON(t *testing.T) {
	for _, s := range corpus {
		for _, html := range []bool{true, false} {
			if got, want := string(Append(nil, s, html)), encodingJSON(t, s, html); got != want {
				t.Errorf("Append(%q, escapeHTML=%v) = %s, want %s", s, html, got, want)
			}
		}
	}
	if got := string(Append([]byte("x="), "v", false)); got != `x="v"` {
		t.Errorf("Append after bytes = %s", got)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range corpus {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := string(Append(nil, s, html)), encodingJSON(t, s, html); got != want {
			t.Errorf("Append(%q, escapeHTML=%v) = %s, want %s", s, html, got, want)
		}
	})
}
