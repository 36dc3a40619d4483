package engine

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
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

// TestParseTypeKept checks that a type parsed once is kept (a worker
// builds a task's graph from its plugin's schema for every attempt): the
// same type again, without parsing (no allocation), and an invalid
// expression fails every time.
func TestParseTypeKept(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want cty.Type
	}{
		{"list(object({name=string, n=number}))", cty.List(cty.Object(map[string]cty.Type{"name": cty.String, "n": cty.Number}))},
		{"map(string)", cty.Map(cty.String)},
	} {
		first, err := ParseType(tc.expr)
		if err != nil {
			t.Fatalf("ParseType(%q): %v", tc.expr, err)
		}
		again, err := ParseType(tc.expr)
		if err != nil || !again.Equals(first) || !again.Equals(tc.want) {
			t.Errorf("ParseType(%q) again = %#v, %v; want %#v", tc.expr, again, err, tc.want)
		}
		if n := testing.AllocsPerRun(10, func() { _, _ = ParseType(tc.expr) }); n != 0 {
			t.Errorf("ParseType(%q) of a type parsed before: %v allocations, want 0 (kept)", tc.expr, n)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := ParseType("list(strin)"); err == nil {
			t.Errorf("ParseType(list(strin)) call %d succeeded", i+1)
		}
	}
}

// TestStringsFromJSONMatchesCty checks the fast path for collections of
// strings against cty's own decoder: the same value where it applies, and
// no answer (so that cty decides) where it does not.
func TestStringsFromJSONMatchesCty(t *testing.T) {
	tests := []struct {
		ty, json string
		fast     bool
	}{
		{"list(string)", `["a","b","a"]`, true},
		{"list(string)", ` [ ] `, true},
		{"set(string)", `["b","a","b"]`, true},
		{"set(string)", `[]`, true},
		{"map(string)", `{"k":"v","j":"w"}`, true},
		{"map(string)", `{}`, true},
		{"list(string)", `["caf\u00e9","e\u0301"]`, true},
		{"list(string)", `["a",1]`, false},
		{"list(string)", `["a",null]`, false},
		{"list(string)", `["a",true]`, false},
		{"list(string)", `null`, false},
		{"map(string)", `{"k":1}`, false},
		{"list(number)", `[1,2]`, false},
		{"string", `"x"`, false},
	}
	for _, tc := range tests {
		ty, err := ParseType(tc.ty)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := stringsFromJSON([]byte(tc.json), ty)
		if ok != tc.fast {
			t.Errorf("stringsFromJSON(%s as %s) ok = %v, want %v", tc.json, tc.ty, ok, tc.fast)
			continue
		}
		want, err := ctyjson.Unmarshal([]byte(tc.json), ty)
		if ok && (err != nil || !got.RawEquals(want)) {
			t.Errorf("stringsFromJSON(%s as %s) = %#v, cty gives %#v, %v", tc.json, tc.ty, got, want, err)
		}
		if v, err := FromJSON([]byte(tc.json), ty); err == nil && want != cty.NilVal && !v.RawEquals(want) {
			t.Errorf("FromJSON(%s as %s) = %#v, cty gives %#v", tc.json, tc.ty, v, want)
		}
	}
}

// TestStringOutputsMatchesDecode checks decodeOutputs' fast path for
// tasks whose outputs are all strings against its general path.
func TestStringOutputsMatchesDecode(t *testing.T) {
	n := &Node{Plugin: "p", OutputTypes: map[string]cty.Type{"a": cty.String, "b": cty.String}}
	for _, data := range []string{`{"a":"x","b":"y"}`, `{"a":"x"}`, `{"a":null,"b":"y","c":3}`, `{}`, `null`, `{"a":1}`, `[1]`, `{"a":"\u00e9"}`,
		`{"a":"x\"y","b":"\u00e9\n\\"}`, " { \"a\" : \"x\" ,\n\t\"b\" : null } ", `{"a":"x"} x`, `{"a":"x",}`, `{"a":"x","a":"y"}`,
		`{"a":{"b":"c"}}`, "{\"a\":\"\xff\"}", `{"a":"caf\u0065\u0301"}`, `{"a":nul}`, `{"a":"x"`, `{"a" "x"}`, ``} {
		fast, ok := stringOutputs(n, json.RawMessage(data))
		var raw map[string]json.RawMessage
		_ = json.Unmarshal([]byte(data), &raw)
		slow := map[string]cty.Value{}
		var slowErr error
		if err := json.Unmarshal([]byte(data), &raw); err != nil {
			slowErr = err
		}
		for name, ty := range n.OutputTypes {
			r, present := raw[name]
			if !present {
				slow[name] = cty.NullVal(ty)
				continue
			}
			v, err := FromJSON(r, ty)
			if err != nil {
				slowErr = err
			}
			slow[name] = v
		}
		mustAccept := map[string]bool{`{"a":"x","b":"y"}`: true, `{}`: true, `{"a":"\u00e9"}`: true, " { \"a\" : \"x\" ,\n\t\"b\" : null } ": true}
		if !ok {
			if mustAccept[data] {
				t.Errorf("%s: the fast path declined", data)
			}
			continue // decodeOutputs takes the general path
		}
		if slowErr != nil {
			t.Errorf("%s: fast path accepted what the general path rejects (%v)", data, slowErr)
			continue
		}
		if !cty.ObjectVal(fast).RawEquals(cty.ObjectVal(slow)) {
			t.Errorf("%s: fast path %#v, general path %#v", data, fast, slow)
		}
		got, err := decodeOutputs(n, json.RawMessage(data))
		if err != nil || !cty.ObjectVal(got).RawEquals(cty.ObjectVal(slow)) {
			t.Errorf("decodeOutputs(%s) = %#v, %v", data, got, err)
		}
	}
}

// TestMembersJSON: evalInputsIn's object of inputs is objectJSON's, byte
// for byte, names needing escapes and repeated names included.
func TestMembersJSON(t *testing.T) {
	tests := [][]member{
		nil,
		{{"text", []byte(`"w1"`)}},
		{{"b", []byte(`1`)}, {"a", []byte(`{"x":[1,2]}`)}, {"a_b-C9", []byte(`null`)}},
		{{"<&>", []byte(`true`)}, {"é", []byte(`2`)}, {`q"uote`, []byte(`3`)}, {"tab\t", []byte(`4`)}, {"\u2028", []byte(`5`)}},
		{{"x", []byte(`1`)}, {"y", []byte(`2`)}, {"x", []byte(`3`)}},
	}
	for _, ms := range tests {
		m := map[string][]byte{}
		for _, x := range ms {
			m[x.name] = x.data
		}
		want := objectJSON(m)
		got := membersJSON(sortMembers(slices.Clone(ms)))
		if string(got) != string(want) {
			t.Errorf("membersJSON(%q) = %s, want %s", ms, got, want)
		}
	}
}

// TestToJSONPlainStrings: the shortcut for plain strings writes what
// json.Marshal writes, and leaves the others to it.
func TestToJSONPlainStrings(t *testing.T) {
	for _, s := range []string{"", "w1", "hello world", "a/b:c?d=e", "~!@#$%^*()_+{}|[]", `q"uote`, `back\slash`,
		"<tag>", "a&b", "tab\t", "nl\n", "\x00", "\x7f", "é", "\u2028", "\xff\xfe", "日本"} {
		got, err := ToJSON(cty.StringVal(s))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(cty.StringVal(s).AsString())
		if string(got) != string(want) {
			t.Errorf("ToJSON(%q) = %s, want %s", s, got, want)
		}
	}
}
