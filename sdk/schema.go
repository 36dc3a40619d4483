package sdk

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goflyte/goflyte/plugin"
)

// This file derives a task's input and output schema from Go types, the
// way encoding/json sees them: json tag names, "-", omitempty/omitzero,
// ",string", and embedded structs flattened with Go's dominance rules.

var (
	timeType           = reflect.TypeFor[time.Time]()
	numberType         = reflect.TypeFor[json.Number]()
	rawMessageType     = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType  = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshalType  = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType  = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalType  = reflect.TypeFor[encoding.TextUnmarshaler]()
	supportedTypesHint = "inputs and outputs must be JSON values: string, bool, integer and float types, " +
		"slices, arrays, maps with string keys, structs, pointers to these, time.Time, json.Number, json.RawMessage or any"
)

// structField is one input or output: a field of the In or Out struct
// (possibly promoted from an embedded struct).
type structField struct {
	name     string       // JSON name: the input or output name
	goName   string       // Go field name (through embedded fields), for messages
	index    []int        // path for reflect.Value.FieldByIndex
	typ      reflect.Type // Go type of the field
	hcl      string       // HCL type expression
	doc      string       // from the desc tag
	optional bool         // omitempty/omitzero, or a pointer
	tag      string       // the json tag, reused to decode the field alone
	// decodeType is struct{ V <typ> `json:"v,<opts>"` }: decoding a lone
	// value through it applies the field's tag options (",string").
	decodeType reflect.Type
	depth      int
	tagged     bool
}

// structFields returns the JSON fields of struct type t in declaration
// order, following encoding/json's rules for embedded structs. Names that
// encoding/json would silently drop as ambiguous are an error here.
func structFields(t reflect.Type, path string, visiting map[reflect.Type]bool) ([]structField, error) {
	type entry struct {
		typ    reflect.Type
		index  []int
		goPath string // Go names of the embedded fields leading here
		depth  int
	}
	var all []structField
	visited := map[reflect.Type]bool{}
	next := []entry{{typ: t}}
	for len(next) > 0 {
		current := next
		next = nil
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := 0; i < e.typ.NumField(); i++ {
				sf := e.typ.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(slices.Clone(e.index), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					if sf.Type.Kind() == reflect.Pointer && !sf.IsExported() {
						return nil, fmt.Errorf("%sembedded *%s is a pointer to an unexported struct type, which encoding/json cannot fill in; embed %s instead",
							at(path), ft, ft)
					}
					next = append(next, entry{typ: ft, index: index, goPath: joinPath(e.goPath, sf.Name), depth: e.depth + 1})
					continue
				}
				f := structField{
					name:   name,
					goName: joinPath(e.goPath, sf.Name),
					index:  index,
					typ:    sf.Type,
					doc:    sf.Tag.Get("desc"),
					tag:    tag,
					depth:  e.depth,
					tagged: name != "",
				}
				if f.name == "" {
					f.name = sf.Name
				}
				fpath := joinPath(path, sf.Name)
				if !isIdentifier(f.name) {
					return nil, fmt.Errorf("%sname %q is not a valid HCL attribute name; use a json tag with a name matching [A-Za-z_][A-Za-z0-9_-]*", at(fpath), f.name)
				}
				f.optional = sf.Type.Kind() == reflect.Pointer || hasOption(opts, "omitempty") || hasOption(opts, "omitzero")
				hcl, err := hclType(sf.Type, fpath, visiting)
				if err != nil {
					return nil, err
				}
				if hasOption(opts, "string") && quotable(sf.Type) {
					hcl = "string" // ",string" carries the value JSON-quoted
				}
				f.hcl = hcl
				f.decodeType = reflect.StructOf([]reflect.StructField{{
					Name: "V",
					Type: sf.Type,
					Tag:  reflect.StructTag(`json:"v,` + opts + `"`),
				}})
				all = append(all, f)
			}
		}
	}

	// Resolve names that occur more than once: the shallowest wins, then a
	// tagged one; anything else is ambiguous.
	byName := map[string][]structField{}
	for _, f := range all {
		byName[f.name] = append(byName[f.name], f)
	}
	var fields []structField
	for name, fs := range byName {
		if len(fs) == 1 {
			fields = append(fields, fs[0])
			continue
		}
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].depth < fs[j].depth })
		top := fs[:1]
		for _, f := range fs[1:] {
			if f.depth == fs[0].depth {
				top = append(top, f)
			}
		}
		if len(top) == 1 {
			fields = append(fields, top[0])
			continue
		}
		var tagged []structField
		for _, f := range top {
			if f.tagged {
				tagged = append(tagged, f)
			}
		}
		if len(tagged) == 1 {
			fields = append(fields, tagged[0])
			continue
		}
		return nil, fmt.Errorf("%sfields %s and %s of embedded structs both have the JSON name %q; rename one with a json tag",
			at(path), top[0].goName, top[1].goName, name)
	}
	sort.Slice(fields, func(i, j int) bool { return slices.Compare(fields[i].index, fields[j].index) < 0 })
	return fields, nil
}

// hclType returns the HCL type expression for Go type t. path names the
// field for error messages; visiting holds the struct types being
// described, to refuse recursive types.
func hclType(t reflect.Type, path string, visiting map[reflect.Type]bool) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == fileType:
		return "file", nil
	case t == dirType:
		return "dir", nil
	case t == timeType:
		return "string", nil
	case t == numberType:
		return "number", nil
	case t == rawMessageType:
		return "any", nil
	case implements(t, jsonMarshalerType) || implements(t, jsonUnmarshalType):
		// The type chooses its own JSON form, which we cannot see.
		return "any", nil
	case implements(t, textMarshalerType) || implements(t, textUnmarshalType):
		return "string", nil
	}
	switch t.Kind() {
	case reflect.String:
		return "string", nil
	case reflect.Bool:
		return "bool", nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number", nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implements(t.Elem(), jsonMarshalerType) && !implements(t.Elem(), textMarshalerType) {
			return "string", nil // base64, as encoding/json does
		}
		elem, err := hclType(t.Elem(), path+"[]", visiting)
		if err != nil {
			return "", err
		}
		return "list(" + elem + ")", nil
	case reflect.Array:
		elem, err := hclType(t.Elem(), path+"[]", visiting)
		if err != nil {
			return "", err
		}
		return "list(" + elem + ")", nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return "", fmt.Errorf("%smap key type %s is not a string type; HCL maps are keyed by strings, so use map[string]%s", at(path), t.Key(), t.Elem())
		}
		elem, err := hclType(t.Elem(), path+"[key]", visiting)
		if err != nil {
			return "", err
		}
		return "map(" + elem + ")", nil
	case reflect.Struct:
		if visiting[t] {
			return "", fmt.Errorf("%stype %s is recursive, which an HCL type cannot express; use any (or json.RawMessage) for the recursive part", at(path), t)
		}
		visiting[t] = true
		defer delete(visiting, t)
		fields, err := structFields(t, path, visiting)
		if err != nil {
			return "", err
		}
		sort.Slice(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
		attrs := make([]string, len(fields))
		for i, f := range fields {
			attrs[i] = f.name + "=" + f.hcl
		}
		return "object({" + strings.Join(attrs, ",") + "})", nil
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "any", nil
		}
		return "", fmt.Errorf("%sinterface type %s cannot be decoded from JSON; use any or a concrete type", at(path), t)
	}
	return "", fmt.Errorf("%sunsupported Go type %s (%s)", at(path), t, supportedTypesHint)
}

// structSchema describes the In or Out type of a task.
type structSchema struct {
	typ    reflect.Type
	fields []structField
	byName map[string]int
}

// newStructSchema builds the schema of a task's In or Out type; role is
// "input" or "output", for messages.
func newStructSchema(t reflect.Type, role string) (*structSchema, error) {
	if t.Kind() != reflect.Struct {
		hint := "use a struct type (struct{} for none)"
		if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
			hint = "use " + t.Elem().String() + ", not a pointer to it"
		}
		return nil, fmt.Errorf("%s type %s is not a struct: %s", role, t, hint)
	}
	visiting := map[reflect.Type]bool{t: true}
	fields, err := structFields(t, "", visiting)
	if err != nil {
		return nil, fmt.Errorf("%s type %s: %w", role, t, err)
	}
	s := &structSchema{typ: t, fields: fields, byName: make(map[string]int, len(fields))}
	for i, f := range fields {
		s.byName[f.name] = i
	}
	return s, nil
}

// pluginFields returns the fields as the wire schema declares them.
func (s *structSchema) pluginFields() []plugin.Field {
	out := make([]plugin.Field, len(s.fields))
	for i, f := range s.fields {
		out[i] = plugin.Field{Name: f.name, Type: f.hcl, Doc: f.doc, Optional: f.optional}
	}
	return out
}

// names returns the field names in declaration order.
func (s *structSchema) names() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

// quotable reports whether the ",string" tag option applies to t.
func quotable(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return false
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// isIdentifier reports whether s matches [A-Za-z_][A-Za-z0-9_-]*, the
// names HCL allows for attributes and goflyte allows for tasks.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && (r == '-' || '0' <= r && r <= '9'):
		default:
			return false
		}
	}
	return true
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// at prefixes an error message with the field it is about.
func at(path string) string {
	if path == "" {
		return ""
	}
	return "field " + path + ": "
}
