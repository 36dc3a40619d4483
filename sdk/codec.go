package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/goflyte/goflyte/plugin"
)

// This file moves values between JSON and a task's In and Out structs.

// encode marshals an Out value into a JSON object. Top-level outputs of
// slice or map type that are nil become [] or {} rather than null (and a
// nil []byte ""), so that a task returning no words returns an empty list.
func (s *structSchema) encode(v reflect.Value) (json.RawMessage, error) {
	data, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	var empty map[string]json.RawMessage
	for _, f := range s.fields {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || (fv.Kind() != reflect.Slice && fv.Kind() != reflect.Map) || !fv.IsNil() {
			continue
		}
		if empty == nil {
			empty = map[string]json.RawMessage{}
		}
		switch {
		case strings.HasPrefix(f.hcl, "map("):
			empty[f.name] = json.RawMessage(`{}`)
		case strings.HasPrefix(f.hcl, "list("):
			empty[f.name] = json.RawMessage(`[]`)
		case f.hcl == "string": // []byte
			empty[f.name] = json.RawMessage(`""`)
		}
	}
	if len(empty) == 0 {
		if len(data) == 0 || data[0] != '{' {
			return nil, fmt.Errorf("%s does not encode as a JSON object", s.typ)
		}
		return data, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%s does not encode as a JSON object", s.typ)
	}
	for name, raw := range empty {
		if string(obj[name]) == "null" { // present (not omitempty) and null
			obj[name] = raw
		}
	}
	return json.Marshal(obj)
}

// fieldByIndex is v.FieldByIndex(index), but reports false instead of
// panicking at a nil embedded struct pointer.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// decode fills dst, a struct of s's type, from a JSON object of inputs. It
// reports every problem at once, as a *plugin.TaskError with a Diagnostic
// per input; a JSON null counts as not set.
func (s *structSchema) decode(inputs json.RawMessage, dst reflect.Value) error {
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(inputs)) > 0 {
		if err := json.Unmarshal(inputs, &obj); err != nil {
			return &plugin.TaskError{Message: "inputs are not a JSON object: " + err.Error()}
		}
	}
	var diags []plugin.Diagnostic
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		if _, ok := s.byName[name]; !ok {
			diags = append(diags, plugin.Diagnostic{
				Severity:  plugin.SeverityError,
				Summary:   "Unsupported input",
				Detail:    fmt.Sprintf("This task has no input named %q. %s", name, s.expected()),
				Attribute: name,
			})
		}
	}
	for _, f := range s.fields {
		raw, ok := obj[f.name]
		if !ok || string(bytes.TrimSpace(raw)) == "null" {
			if !f.optional {
				diags = append(diags, plugin.Diagnostic{
					Severity:  plugin.SeverityError,
					Summary:   "Missing required input",
					Detail:    fmt.Sprintf("The input %q (%s) is required, but it was not set.", f.name, f.hcl),
					Attribute: f.name,
				})
			}
			continue
		}
		holder := reflect.New(f.decodeType)
		dec := json.NewDecoder(bytes.NewReader(append(append([]byte(`{"v":`), raw...), '}')))
		dec.DisallowUnknownFields()
		if err := dec.Decode(holder.Interface()); err != nil {
			diags = append(diags, plugin.Diagnostic{
				Severity:  plugin.SeverityError,
				Summary:   "Invalid value for input",
				Detail:    invalidValueDetail(f, raw, err),
				Attribute: f.name,
			})
			continue
		}
		fieldByIndexAlloc(dst, f.index).Set(holder.Elem().Field(0))
	}
	if len(diags) > 0 {
		return &plugin.TaskError{Diagnostics: diags}
	}
	return nil
}

// expected lists the task's inputs for a message.
func (s *structSchema) expected() string {
	switch len(s.fields) {
	case 0:
		return "It takes no inputs."
	case 1:
		return fmt.Sprintf("Its only input is %q.", s.fields[0].name)
	}
	var b bytes.Buffer
	b.WriteString("Its inputs are ")
	for i, name := range s.names() {
		switch {
		case i == len(s.fields)-1:
			b.WriteString(" and ")
		case i > 0:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", name)
	}
	b.WriteString(".")
	return b.String()
}

// fieldByIndexAlloc is v.FieldByIndex(index), allocating nil embedded
// struct pointers on the way.
func fieldByIndexAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// invalidValueDetail explains, in whole sentences, why raw does not fit
// field f. It names the input and the type it expects.
func invalidValueDetail(f structField, raw json.RawMessage, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// te.Field is the path inside our one-field holder: "v" for the
		// value itself, "v.a.b" for a nested attribute.
		if te.Field == "v" || te.Field == "" {
			return fmt.Sprintf("The input %q must be %s, but got %s.", f.name, describe(te.Type, f.hcl), excerpt(raw))
		}
		path := f.name + strings.TrimPrefix(te.Field, "v")
		return fmt.Sprintf("The input %q must be a value of type %s, but at %s it got %s where %s was expected.",
			f.name, f.hcl, path, describeJSON(te.Value), describe(te.Type, ""))
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Sprintf("The input %q must be %s, but its value is invalid: %s.", f.name, describe(f.typ, f.hcl), msg)
}

// describe says what a value of Go type t looks like to the person writing
// the workflow; hcl is the type's HCL expression, if known.
func describe(t reflect.Type, hcl string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "an RFC 3339 timestamp string (string)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number (number)"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		bits := t.Bits()
		return fmt.Sprintf("a whole number from %d to %d (number)", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("a whole number from 0 to %d (number)", uint64(1)<<t.Bits()-1)
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "a whole number of at least 0 (number)"
	case reflect.Float32, reflect.Float64:
		return "a number (number)"
	case reflect.Bool:
		return "true or false (bool)"
	case reflect.String:
		return "a string (string)"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && (hcl == "" || hcl == "string") {
			return "a base64-encoded string (string)"
		}
	}
	if hcl != "" {
		return "a value of type " + hcl
	}
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.Array:
		return fmt.Sprintf("a list of %d elements", t.Len())
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a value of Go type " + t.String()
}

// describeJSON turns json.UnmarshalTypeError.Value ("string", "number
// 2.5", "array", ...) into words.
func describeJSON(v string) string {
	switch {
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "bool":
		return "a bool"
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ")
	}
	return "a " + v
}

// excerpt returns raw JSON shortened for a message.
func excerpt(raw json.RawMessage) string {
	s := []rune(string(bytes.TrimSpace(raw)))
	if len(s) > 60 {
		return string(s[:57]) + "..."
	}
	return string(s)
}
