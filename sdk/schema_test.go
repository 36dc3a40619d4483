package sdk_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
)

// inputOf returns a task whose one input, "v", has Go type T.
func inputOf[T any]() sdk.Task {
	return sdk.Func(func(context.Context, struct {
		V T `json:"v"`
	}) (struct{}, error) {
		return struct{}{}, nil
	})
}

type point struct {
	Y float64 `json:"y"`
	X float64 `json:"x"`
}

type named string

type wordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

type customJSON struct{}

func (customJSON) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

func TestSchemaTypes(t *testing.T) {
	tests := []struct {
		name string
		task sdk.Task
		want string
	}{
		{"string", inputOf[string](), "string"},
		{"named string", inputOf[named](), "string"},
		{"bool", inputOf[bool](), "bool"},
		{"int", inputOf[int](), "number"},
		{"int8", inputOf[int8](), "number"},
		{"int64", inputOf[int64](), "number"},
		{"uint", inputOf[uint](), "number"},
		{"uint16", inputOf[uint16](), "number"},
		{"float32", inputOf[float32](), "number"},
		{"float64", inputOf[float64](), "number"},
		{"json.Number", inputOf[json.Number](), "number"},
		{"bytes", inputOf[[]byte](), "string"},
		{"time.Time", inputOf[time.Time](), "string"},
		{"time.Duration", inputOf[time.Duration](), "number"},
		{"slice", inputOf[[]string](), "list(string)"},
		{"array", inputOf[[3]int](), "list(number)"},
		{"byte array", inputOf[[4]byte](), "list(number)"},
		{"list of lists", inputOf[[][]float64](), "list(list(number))"},
		{"map", inputOf[map[string]int](), "map(number)"},
		{"map of named keys", inputOf[map[named]bool](), "map(bool)"},
		{"map of lists", inputOf[map[string][]string](), "map(list(string))"},
		{"struct", inputOf[point](), "object({x=number,y=number})"},
		{"empty struct", inputOf[struct{}](), "object({})"},
		{"list of structs", inputOf[[]wordCount](), "list(object({count=number,word=string}))"},
		{"nested struct", inputOf[struct {
			P     point    `json:"p"`
			Tags  []string `json:"tags"`
			Inner struct {
				Ok bool
			} `json:"inner"`
		}](), "object({inner=object({Ok=bool}),p=object({x=number,y=number}),tags=list(string)})"},
		{"any", inputOf[any](), "any"},
		{"interface{}", inputOf[interface{}](), "any"},
		{"json.RawMessage", inputOf[json.RawMessage](), "any"},
		{"map of any", inputOf[map[string]any](), "map(any)"},
		{"pointer", inputOf[*int](), "number"},
		{"pointer to pointer", inputOf[**string](), "string"},
		{"pointer to struct", inputOf[*point](), "object({x=number,y=number})"},
		{"slice of pointers", inputOf[[]*string](), "list(string)"},
		{"json.Marshaler", inputOf[customJSON](), "any"},
		{"encoding.TextMarshaler", inputOf[netip.Addr](), "string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.task.Schema()
			if len(s.Inputs) != 1 {
				t.Fatalf("got %d inputs, want 1: %+v", len(s.Inputs), s.Inputs)
			}
			if got := s.Inputs[0].Type; got != tc.want {
				t.Errorf("type = %q, want %q", got, tc.want)
			}
		})
	}
}

type base struct {
	ID   string `json:"id" desc:"The id."`
	Note string `json:"note"`
}

type Exported struct {
	Level int `json:"level"`
}

func TestSchemaFields(t *testing.T) {
	_ = fieldsIn{private: "not an input"}
	task := sdk.Func(func(context.Context, fieldsIn) (struct {
		Words []string `json:"words" desc:"The words."`
		Extra string   `json:"extra,omitempty"`
		Ptr   *bool    `json:"ptr"`
	}, error) {
		panic("not called")
	}).WithDoc("Splits text.")
	want := plugin.TaskSchema{
		Doc:  "Splits text.",
		Kind: plugin.KindPlain,
		Inputs: []plugin.Field{
			{Name: "text", Type: "string", Doc: "The text to split."},
			{Name: "sep", Type: "string", Optional: true},
			{Name: "limit", Type: "number", Optional: true},
			{Name: "later", Type: "string", Optional: true},
			{Name: "on", Type: "bool"},
			{Name: "GoName", Type: "number"},
			{Name: "quoted", Type: "string"},
			{Name: "labels", Type: "map(string)", Optional: true},
			{Name: "id", Type: "string", Doc: "The id."},
			{Name: "level", Type: "number"},
			{Name: "note", Type: "string"},
		},
		Outputs: []plugin.Field{
			{Name: "words", Type: "list(string)", Doc: "The words."},
			{Name: "extra", Type: "string", Optional: true},
			{Name: "ptr", Type: "bool", Optional: true},
		},
	}
	if diff := cmp.Diff(want, task.Schema()); diff != "" {
		t.Errorf("schema mismatch (-want +got):\n%s", diff)
	}
}

type fieldsIn struct {
	Text      string            `json:"text" desc:"The text to split."`
	Sep       string            `json:"sep,omitempty"`
	Limit     *int              `json:"limit"`
	Later     time.Time         `json:"later,omitzero"`
	Renamed   bool              `json:"on"`
	GoName    float64           // no tag: the Go name
	Skipped   string            `json:"-"`
	Quoted    int               `json:"quoted,string"`
	Labels    map[string]string `json:"labels,omitempty"`
	private   string
	base             // embedded, unexported type: its fields are promoted
	*Exported        // embedded pointer: promoted, too
	Note      string `json:"note"` // shadows base.Note (shallower wins)
}

func TestSchemaNoFields(t *testing.T) {
	s := sdk.Func(func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil }).Schema()
	if len(s.Inputs) != 0 || len(s.Outputs) != 0 {
		t.Errorf("got inputs %v, outputs %v; want none", s.Inputs, s.Outputs)
	}
}

type recursive struct {
	Children []recursive `json:"children"`
}

type ambiguousA struct{ Name string }
type ambiguousB struct{ Name string }

// TestFuncPanics checks that types with no HCL form panic at start-up, with
// a message that names the culprit.
func TestFuncPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
		// mention is a word the message must contain: the field or type
		// the author has to fix.
		mention string
	}{
		{"nil function", func() { sdk.Func[struct{}, struct{}](nil) }, "nil"},
		{"input not a struct", func() {
			sdk.Func(func(context.Context, string) (struct{}, error) { return struct{}{}, nil })
		}, "string"},
		{"input pointer to struct", func() {
			sdk.Func(func(context.Context, *point) (struct{}, error) { return struct{}{}, nil })
		}, "point"},
		{"output not a struct", func() {
			sdk.Func(func(context.Context, struct{}) (map[string]any, error) { return nil, nil })
		}, "map"},
		{"chan", func() { inputOf[chan int]() }, "V"},
		{"func", func() { inputOf[func()]() }, "V"},
		{"complex", func() { inputOf[complex128]() }, "V"},
		{"interface with methods", func() { inputOf[error]() }, "V"},
		{"int map keys", func() { inputOf[map[int]string]() }, "V"},
		{"nested bad type", func() {
			inputOf[struct {
				Items []struct {
					Ch chan int `json:"ch"`
				} `json:"items"`
			}]()
		}, "Ch"},
		{"recursive", func() { inputOf[recursive]() }, "recursive"},
		{"not an identifier", func() {
			sdk.Func(func(context.Context, struct {
				A string `json:"a b"`
			}) (struct{}, error) {
				return struct{}{}, nil
			})
		}, "a b"},
		{"name that is a dash", func() {
			sdk.Func(func(context.Context, struct {
				//lint:ignore SA5008 the test checks that this tag is refused
				Dash string `json:"-,"`
			}) (struct{}, error) {
				return struct{}{}, nil
			})
		}, "-"},
		{"ambiguous embedded names", func() {
			sdk.Func(func(context.Context, struct {
				ambiguousA
				ambiguousB
			}) (struct{}, error) {
				return struct{}{}, nil
			})
		}, "Name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := panicMessage(tc.fn)
			if msg == "" {
				t.Fatal("did not panic")
			}
			t.Log(msg)
			if !strings.Contains(msg, tc.mention) {
				t.Errorf("panic message %q does not mention %q", msg, tc.mention)
			}
		})
	}
}

func panicMessage(fn func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = strings.TrimSpace(fmtValue(v))
			if msg == "" {
				msg = "(empty panic)"
			}
		}
	}()
	fn()
	return ""
}

func fmtValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return "non-string panic"
}
