package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

type decodeIn struct {
	Text   string            `json:"text"`
	N      int               `json:"n"`
	Small  uint8             `json:"small,omitempty"`
	Flag   bool              `json:"flag,omitempty"`
	Sep    *string           `json:"sep"`
	Points []point           `json:"points,omitempty"`
	When   time.Time         `json:"when,omitzero"`
	Data   []byte            `json:"data,omitempty"`
	Quoted int               `json:"quoted,string,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Any    any               `json:"any,omitempty"`
	embeddedIn
}

type embeddedIn struct {
	Level *int `json:"level"`
}

// echo returns the decoded input, so tests can see what the task saw.
var echo = sdk.Func(func(_ context.Context, in decodeIn) (struct {
	In decodeIn `json:"in"`
}, error) {
	return struct {
		In decodeIn `json:"in"`
	}{in}, nil
})

func TestDecode(t *testing.T) {
	sep, level := "-", 3
	res, err := sdktest.Run(t, echo, map[string]any{
		"text":   "hello",
		"n":      42,
		"small":  255,
		"flag":   true,
		"sep":    "-",
		"points": []map[string]any{{"x": 1, "y": 2.5}},
		"when":   "2026-01-02T03:04:05Z",
		"data":   "aGk=",
		"quoted": "7",
		"labels": map[string]string{"a": "b"},
		"any":    []any{"x", 1.0},
		"level":  3,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		In decodeIn `json:"in"`
	}
	if err := res.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := decodeIn{
		Text: "hello", N: 42, Small: 255, Flag: true, Sep: &sep,
		Points: []point{{X: 1, Y: 2.5}},
		When:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Data:   []byte("hi"), Quoted: 7,
		Labels:     map[string]string{"a": "b"},
		Any:        []any{"x", 1.0},
		embeddedIn: embeddedIn{Level: &level},
	}
	if diff := cmp.Diff(want, got.In, cmp.AllowUnexported(decodeIn{})); diff != "" {
		t.Errorf("decoded input mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeOptionalLeftOut(t *testing.T) {
	res, err := sdktest.Run(t, echo, map[string]any{"text": "x", "n": 1, "sep": nil})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		In decodeIn `json:"in"`
	}
	if err := res.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.In.Sep != nil || got.In.Level != nil || got.In.Flag {
		t.Errorf("optional inputs left out: got sep=%v level=%v flag=%v, want zero values", got.In.Sep, got.In.Level, got.In.Flag)
	}
}

// TestDecodeErrors checks that every problem with the inputs is reported,
// at once, as a diagnostic on the input concerned.
func TestDecodeErrors(t *testing.T) {
	type diag struct {
		Attribute string
		Summary   string
	}
	tests := []struct {
		name   string
		inputs map[string]any
		want   []diag
	}{
		{
			name:   "unknown input",
			inputs: map[string]any{"text": "x", "n": 1, "colour": "red"},
			want:   []diag{{"colour", "Unsupported input"}},
		},
		{
			name:   "missing required inputs",
			inputs: map[string]any{},
			want:   []diag{{"text", "Missing required input"}, {"n", "Missing required input"}},
		},
		{
			name:   "null for a required input",
			inputs: map[string]any{"text": nil, "n": 1},
			want:   []diag{{"text", "Missing required input"}},
		},
		{
			name:   "fraction into an int",
			inputs: map[string]any{"text": "x", "n": 2.5},
			want:   []diag{{"n", "Invalid value for input"}},
		},
		{
			name:   "string into a bool",
			inputs: map[string]any{"text": "x", "n": 1, "flag": "x"},
			want:   []diag{{"flag", "Invalid value for input"}},
		},
		{
			name:   "out of range",
			inputs: map[string]any{"text": "x", "n": 1, "small": 256},
			want:   []diag{{"small", "Invalid value for input"}},
		},
		{
			name:   "list into a string",
			inputs: map[string]any{"text": []string{"a"}, "n": 1},
			want:   []diag{{"text", "Invalid value for input"}},
		},
		{
			name:   "nested attribute of the wrong type",
			inputs: map[string]any{"text": "x", "n": 1, "points": []any{map[string]any{"x": "one"}}},
			want:   []diag{{"points", "Invalid value for input"}},
		},
		{
			name:   "unknown nested attribute",
			inputs: map[string]any{"text": "x", "n": 1, "points": []any{map[string]any{"z": 1}}},
			want:   []diag{{"points", "Invalid value for input"}},
		},
		{
			name:   "bad timestamp",
			inputs: map[string]any{"text": "x", "n": 1, "when": "yesterday"},
			want:   []diag{{"when", "Invalid value for input"}},
		},
		{
			name:   "bad base64",
			inputs: map[string]any{"text": "x", "n": 1, "data": "!!"},
			want:   []diag{{"data", "Invalid value for input"}},
		},
		{
			name:   "all at once",
			inputs: map[string]any{"n": "many", "extra": 1, "labels": []int{1}},
			want: []diag{
				{"extra", "Unsupported input"},
				{"text", "Missing required input"},
				{"n", "Invalid value for input"},
				{"labels", "Invalid value for input"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdktest.Run(t, echo, tc.inputs)
			var te *plugin.TaskError
			if !errors.As(err, &te) {
				t.Fatalf("got error %v (%T), want a *plugin.TaskError", err, err)
			}
			var got []diag
			for _, d := range te.Diagnostics {
				got = append(got, diag{d.Attribute, d.Summary})
				if d.Severity != plugin.SeverityError || d.Detail == "" {
					t.Errorf("diagnostic %+v: want an error with a detail", d)
				}
				t.Logf("%s: %s", d.Summary, d.Detail)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s", diff)
			}
			if te.Retryable {
				t.Error("bad inputs are not retryable")
			}
		})
	}
}

func TestDecodeInputsNotAnObject(t *testing.T) {
	p := sdk.NewProvider("test", "1", map[string]sdk.Task{"echo": echo})
	_, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "echo", Inputs: []byte(`[1]`)})
	var te *plugin.TaskError
	if !errors.As(err, &te) || te.Message == "" {
		t.Errorf("got %v, want a TaskError with a message", err)
	}
}

func TestEncodeNilCollections(t *testing.T) {
	task := sdk.Func(func(context.Context, struct{}) (struct {
		Words  []string          `json:"words"`
		Counts map[string]int    `json:"counts"`
		Data   []byte            `json:"data"`
		Ptr    *[]string         `json:"ptr"`
		Opt    []string          `json:"opt,omitempty"`
		Nested map[string][]bool `json:"nested"`
		Raw    json.RawMessage   `json:"raw"`
	}, error) {
		var out struct {
			Words  []string          `json:"words"`
			Counts map[string]int    `json:"counts"`
			Data   []byte            `json:"data"`
			Ptr    *[]string         `json:"ptr"`
			Opt    []string          `json:"opt,omitempty"`
			Nested map[string][]bool `json:"nested"`
			Raw    json.RawMessage   `json:"raw"`
		}
		out.Nested = map[string][]bool{"a": nil}
		return out, nil
	})
	res, err := sdktest.Run(t, task, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"words":  []any{},
		"counts": map[string]any{},
		"data":   "",
		"ptr":    nil,
		"nested": map[string]any{"a": nil}, // only top-level outputs are filled in
		"raw":    nil,                      // any: null stays null
	}
	if diff := cmp.Diff(want, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
}

type validated struct {
	K int `json:"k"`
}

func (v validated) Validate() error {
	if v.K < 1 {
		return sdk.AttrError("k", "Invalid count", "k must be at least 1.")
	}
	if v.K > 100 {
		return errors.New("k is too large")
	}
	return nil
}

func TestValidate(t *testing.T) {
	called := false
	task := sdk.Func(func(context.Context, validated) (struct{}, error) {
		called = true
		return struct{}{}, nil
	})

	_, err := sdktest.Run(t, task, map[string]any{"k": 0})
	var te *plugin.TaskError
	if !errors.As(err, &te) || len(te.Diagnostics) != 1 || te.Diagnostics[0].Attribute != "k" {
		t.Errorf("k=0: got %#v, want a TaskError with a diagnostic on k", err)
	}
	_, err = sdktest.Run(t, task, map[string]any{"k": 101})
	if !errors.As(err, &te) || te.Message == "" || len(te.Diagnostics) != 0 {
		t.Errorf("k=101: got %#v, want a TaskError with a message and no diagnostics", err)
	}
	if called {
		t.Error("the task function ran although Validate failed")
	}
	if _, err := sdktest.Run(t, task, map[string]any{"k": 5}); err != nil || !called {
		t.Errorf("k=5: got %v, called=%v; want success", err, called)
	}
}

// pointerValidated has Validate on the pointer receiver, which counts too.
type pointerValidated struct {
	S string `json:"s"`
}

func (v *pointerValidated) Validate() error {
	if v.S == "" {
		return sdk.AttrError("s", "Empty string", "s must not be empty.")
	}
	return nil
}

func TestValidatePointerReceiver(t *testing.T) {
	task := sdk.Func(func(context.Context, pointerValidated) (struct{}, error) { return struct{}{}, nil })
	_, err := sdktest.Run(t, task, map[string]any{"s": ""})
	var te *plugin.TaskError
	if !errors.As(err, &te) || len(te.Diagnostics) != 1 || te.Diagnostics[0].Attribute != "s" {
		t.Errorf("got %#v, want a diagnostic on s", err)
	}
}
