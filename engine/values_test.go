package engine

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ty   string
		json string
	}{
		{"string", "string", `"héllo \"x\""`},
		{"number", "number", `1.5`},
		{"big number", "number", `12345678901234567890`},
		{"bool", "bool", `true`},
		{"list", "list(string)", `["a","b"]`},
		{"empty list", "list(number)", `[]`},
		{"map", "map(number)", `{"a":1,"b":2}`},
		{"object", "object({a=string,b=list(number)})", `{"a":"x","b":[1,2]}`},
		{"nested any", "list(any)", `[{"a":1},{"a":2}]`},
		{"any object", "any", `{"k":[true,false],"n":null}`},
		{"object with any", "object({a=any})", `{"a":[1,"x"]}`},
		{"null", "string", `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ty, err := ParseType(tc.ty)
			if err != nil {
				t.Fatal(err)
			}
			v, err := FromJSON([]byte(tc.json), ty)
			if err != nil {
				t.Fatalf("FromJSON: %v", err)
			}
			got, err := ToJSON(v)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			if string(got) != tc.json {
				t.Errorf("round trip = %s, want %s", got, tc.json)
			}
		})
	}
}

func TestFromJSONRejects(t *testing.T) {
	tests := []struct{ ty, json string }{
		{"number", `"x"`},
		{"list(string)", `{"a":1}`},
		{"object({a=number})", `{"a":"x"}`},
		{"list(any)", `3`},
		{"map(any)", `[1]`},
	}
	for _, tc := range tests {
		ty, _ := ParseType(tc.ty)
		if v, err := FromJSON([]byte(tc.json), ty); err == nil {
			t.Errorf("FromJSON(%s as %s) = %#v, want an error", tc.json, tc.ty, v)
		}
	}
}

func TestParseInputValue(t *testing.T) {
	tests := []struct {
		ty, text, want string
		wantErr        bool
	}{
		{ty: "string", text: `  spaced "quoted" `, want: `  spaced "quoted" `},
		{ty: "number", text: " 42 ", want: "42"},
		{ty: "number", text: "4.5e1", want: "45"},
		{ty: "number", text: "lots", wantErr: true},
		{ty: "bool", text: "true", want: "true"},
		{ty: "bool", text: "yes", wantErr: true},
		{ty: "list(number)", text: "[1, 2]", want: "[1,2]"},
		{ty: "list(number)", text: "1,2", wantErr: true},
		{ty: "map(string)", text: `{"a":"b"}`, want: `{"a":"b"}`},
		{ty: "any", text: "plain text", want: "plain text"},
		{ty: "any", text: `{"a":1}`, want: `{"a":1}`},
	}
	for _, tc := range tests {
		ty, err := ParseType(tc.ty)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ParseInputValue(tc.text, ty)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseInputValue(%q, %s) = %#v, want an error", tc.text, tc.ty, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseInputValue(%q, %s): %v", tc.text, tc.ty, err)
			continue
		}
		if got := FormatValue(v); got != tc.want {
			t.Errorf("ParseInputValue(%q, %s) = %s, want %s", tc.text, tc.ty, got, tc.want)
		}
	}
}

func TestParseType(t *testing.T) {
	for _, good := range []string{"string", "list(map(number))", "object({a=string})", "any", ""} {
		if _, err := ParseType(good); err != nil {
			t.Errorf("ParseType(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"strin", "list(", "list(string, number)"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) succeeded", bad)
		}
	}
	if ty, _ := ParseType("list(string)"); !ty.Equals(cty.List(cty.String)) {
		t.Errorf("list(string) = %#v", ty)
	}
}
