package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/goflyte/goflyte/engine/config"
)

// ParseType parses an HCL type expression such as "list(string)", as
// plugins declare their fields. Types parsed once are kept (a cty.Type
// is immutable): a worker builds a task's graph from its plugin's schema
// for every attempt, and parsing its fields' types was most of that
// (BENCH.md, the sixth fan-out round).
func ParseType(expr string) (cty.Type, error) {
	if ty, ok := parsedTypes.get(expr); ok {
		return ty, nil
	}
	ty, err := parseType(expr)
	if err == nil {
		parsedTypes.put(expr, ty)
	}
	return ty, err
}

// parsedTypes are the types ParseType parsed, by expression.
var parsedTypes typeCache

// maxParsedTypes bounds typeCache: plugins declare a few dozen types;
// past the bound types are parsed every time.
const maxParsedTypes = 4096

// typeCache is ParseType's cache.
type typeCache struct {
	mu sync.RWMutex
	m  map[string]cty.Type
}

func (c *typeCache) get(expr string) (cty.Type, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ty, ok := c.m[expr]
	return ty, ok
}

func (c *typeCache) put(expr string, ty cty.Type) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cty.Type{}
	}
	if len(c.m) < maxParsedTypes {
		c.m[expr] = ty
	}
}

func parseType(expr string) (cty.Type, error) {
	if strings.TrimSpace(expr) == "" {
		return cty.DynamicPseudoType, nil
	}
	// A plugin declares its types: refuse nesting that would overflow the
	// parser's stack before parsing (see config.MaxNesting).
	diags := config.CheckNesting([]byte(expr), "type")
	var e hclsyntax.Expression
	if !diags.HasErrors() {
		e, diags = hclsyntax.ParseExpression([]byte(expr), "type", hcl.InitialPos)
	}
	if !diags.HasErrors() {
		var ty cty.Type
		ty, diags = config.TypeConstraint(e)
		if !diags.HasErrors() {
			return ty, nil
		}
	}
	{
		return cty.NilType, fmt.Errorf("invalid type %q: %s", expr, diags[0].Detail)
	}
}

// TypeString renders a type the way users write it.
func TypeString(ty cty.Type) string { return config.TypeString(ty) }

// ToJSON encodes a known value as plain JSON: objects and maps as JSON
// objects, lists, sets and tuples as arrays, numbers exactly.
// A file or dir is its URI.
func ToJSON(v cty.Value) ([]byte, error) {
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && !v.IsMarked() {
		// Most inputs are short plain strings: encoded without
		// json.Marshal and its buffers (issue 17), the same bytes.
		if s := v.AsString(); plainJSONString(s) {
			b := make([]byte, 0, len(s)+2)
			b = append(b, '"')
			b = append(b, s...)
			return append(b, '"'), nil
		}
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, v, false); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// plainJSONString reports whether json.Marshal writes s as itself in
// quotes: printable ASCII without '"', '\\' and the HTML characters it
// escapes ('<', '>', '&').
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// toPluginJSON encodes a value as ToJSON does, but a file or dir as its
// local path: what a plugin is given. Every file must have one.
func toPluginJSON(v cty.Value) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v, true); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v cty.Value, local bool) error {
	if !v.IsKnown() {
		return fmt.Errorf("value is not known yet")
	}
	if v.IsNull() {
		buf.WriteString("null")
		return nil
	}
	v, _ = v.Unmark()
	ty := v.Type()
	switch {
	case ty == cty.String:
		enc, err := json.Marshal(v.AsString())
		buf.Write(enc)
		return err
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact {
			buf.WriteString(strconv.FormatInt(i, 10)) // much faster than Text for whole numbers
			return nil
		}
		buf.WriteString(bf.Text('f', -1))
		return nil
	case ty == cty.Bool:
		buf.WriteString(strconv.FormatBool(v.True()))
		return nil
	case config.IsFileType(ty):
		ref := v.EncapsulatedValue().(*config.FileRef)
		s := ref.URI
		if local || s == "" {
			s = ref.Local
		}
		if s == "" {
			return fmt.Errorf("%s %s has no local copy", ty.FriendlyName(), ref.URI)
		}
		enc, err := json.Marshal(s)
		buf.Write(enc)
		return err
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		buf.WriteByte('[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			_, ev := it.Element()
			if err := writeJSON(buf, ev, local); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case ty.IsMapType() || ty.IsObjectType():
		buf.WriteByte('{')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, ev := it.Element()
			enc, _ := json.Marshal(k.AsString())
			buf.Write(enc)
			buf.WriteByte(':')
			if err := writeJSON(buf, ev, local); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case ty == cty.DynamicPseudoType:
		return fmt.Errorf("value has no type")
	}
	return fmt.Errorf("cannot encode %s as JSON", ty.FriendlyName())
}

// FromJSON decodes plain JSON into a value of type ty. Parts typed "any"
// take the type the JSON implies.
func FromJSON(data []byte, ty cty.Type) (cty.Value, error) {
	if ty == cty.DynamicPseudoType {
		implied, err := ctyjson.ImpliedType(data)
		if err != nil {
			return cty.NilVal, err
		}
		return ctyjson.Unmarshal(data, implied)
	}
	switch ty {
	case cty.String:
		// Fast paths for the common primitive outputs: cty's JSON
		// decoder walks tokens, which dominated fully cached runs.
		var s *string
		if err := json.Unmarshal(data, &s); err != nil {
			return cty.NilVal, fmt.Errorf("expected a string: %w", err)
		}
		if s == nil {
			return cty.NullVal(ty), nil
		}
		return cty.StringVal(*s), nil
	case cty.Bool:
		var b *bool
		if err := json.Unmarshal(data, &b); err != nil {
			return cty.NilVal, fmt.Errorf("expected a bool: %w", err)
		}
		if b == nil {
			return cty.NullVal(ty), nil
		}
		return cty.BoolVal(*b), nil
	}
	if config.IsFileType(ty) {
		var s *string
		if err := json.Unmarshal(data, &s); err != nil {
			return cty.NilVal, fmt.Errorf("expected a path or URI: %w", err)
		}
		if s == nil {
			return cty.NullVal(ty), nil
		}
		ref, err := config.ParseFileRef(*s)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.CapsuleVal(ty, ref), nil
	}
	if !ty.HasDynamicTypes() && !config.HasFiles(ty) {
		if v, ok := stringsFromJSON(data, ty); ok {
			return v, nil
		}
		return ctyjson.Unmarshal(data, ty)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return cty.NullVal(ty), nil
	}
	switch {
	case ty.IsListType() || ty.IsSetType():
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return cty.NilVal, fmt.Errorf("expected %s: %w", TypeString(ty), err)
		}
		vals := make([]cty.Value, len(elems))
		for i, e := range elems {
			v, err := FromJSON(e, ty.ElementType())
			if err != nil {
				return cty.NilVal, fmt.Errorf("[%d]: %w", i, err)
			}
			vals[i] = v
		}
		// Elements typed "any" may differ; unify them, else use a tuple.
		if v, err := convert.Convert(cty.TupleVal(vals), ty); err == nil {
			return v, nil
		}
		return cty.TupleVal(vals), nil
	case ty.IsMapType() || ty.IsObjectType():
		var elems map[string]json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return cty.NilVal, fmt.Errorf("expected %s: %w", TypeString(ty), err)
		}
		vals := make(map[string]cty.Value, len(elems))
		for k, e := range elems {
			et := cty.DynamicPseudoType
			switch {
			case ty.IsMapType():
				et = ty.ElementType()
			case ty.HasAttribute(k):
				et = ty.AttributeType(k)
			}
			v, err := FromJSON(e, et)
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", k, err)
			}
			vals[k] = v
		}
		if v, err := convert.Convert(cty.ObjectVal(vals), ty); err == nil {
			return v, nil
		}
		return cty.ObjectVal(vals), nil
	}
	return cty.NilVal, fmt.Errorf("cannot decode JSON into %s", TypeString(ty))
}

// stringsFromJSON decodes a JSON array (for a list or set of strings) or
// object (for a map of strings) whose elements are all strings, as
// ctyjson.Unmarshal would, in one pass of encoding/json: cty's decoder
// walks tokens, which took 90 ms for the 10,000 items of a for_each input
// (issue 17). It reports false for any other type or JSON, which ctyjson
// then decodes (or rejects) as before.
func stringsFromJSON(data []byte, ty cty.Type) (cty.Value, bool) {
	if !(ty.IsListType() || ty.IsSetType() || ty.IsMapType()) || ty.ElementType() != cty.String {
		return cty.NilVal, false
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || (t[0] != '[' && t[0] != '{') {
		return cty.NilVal, false // null, or not a collection
	}
	if ty.IsMapType() {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return cty.NilVal, false
		}
		if len(m) == 0 {
			return cty.MapValEmpty(cty.String), true
		}
		vals := make(map[string]cty.Value, len(m))
		for k, e := range m {
			s, ok := e.(string)
			if !ok {
				return cty.NilVal, false
			}
			vals[k] = cty.StringVal(s)
		}
		return cty.MapVal(vals), true
	}
	var elems []any
	if json.Unmarshal(data, &elems) != nil {
		return cty.NilVal, false
	}
	vals := make([]cty.Value, len(elems))
	for i, e := range elems {
		s, ok := e.(string)
		if !ok {
			return cty.NilVal, false
		}
		vals[i] = cty.StringVal(s)
	}
	switch {
	case ty.IsSetType() && len(vals) == 0:
		return cty.SetValEmpty(cty.String), true
	case ty.IsSetType():
		return cty.SetVal(vals), true
	case len(vals) == 0:
		return cty.ListValEmpty(cty.String), true
	}
	return cty.ListVal(vals), true
}

// ParseInputValue parses a command-line input value for a declared type:
// strings are taken as they are, numbers and bools are parsed, and
// collections, objects and "any" are JSON (for "any", text that is not JSON
// is a string). JSON nested deeper than config.MaxNesting is refused with
// an error that is hcl.Diagnostics, pointing at the bracket that crosses
// the limit in a file named "--input".
func ParseInputValue(text string, ty cty.Type) (cty.Value, error) {
	if ty != cty.String && !config.IsFileType(ty) {
		if diags := config.CheckJSONNesting([]byte(text), "--input"); diags.HasErrors() {
			return cty.NilVal, diags
		}
	}
	switch {
	case ty == cty.String:
		return cty.StringVal(text), nil
	case ty == cty.Number:
		v, err := cty.ParseNumberVal(strings.TrimSpace(text))
		if err != nil {
			return cty.NilVal, fmt.Errorf("expected a number, got %q", text)
		}
		return v, nil
	case ty == cty.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return cty.NilVal, fmt.Errorf("expected true or false, got %q", text)
		}
		return cty.BoolVal(b), nil
	case ty == cty.DynamicPseudoType:
		if !json.Valid([]byte(text)) {
			return cty.StringVal(text), nil
		}
	case config.IsFileType(ty):
		ref, err := config.ParseFileRef(text)
		if err != nil {
			return cty.NilVal, err
		}
		if ref.Local != "" {
			abs, err := filepath.Abs(ref.Local)
			if err != nil {
				return cty.NilVal, err
			}
			if err := checkKind(abs, ty == config.DirType); err != nil {
				return cty.NilVal, err
			}
			ref = &config.FileRef{URI: config.LocalURI(abs), Local: abs}
		}
		return cty.CapsuleVal(ty, ref), nil
	}
	v, err := FromJSON([]byte(text), ty)
	if err != nil {
		return cty.NilVal, fmt.Errorf("expected JSON for %s: %v", TypeString(ty), err)
	}
	return v, nil
}

// ToGo converts a known value to plain Go data for encoding/json: strings,
// json.Number, bools, []any and map[string]any.
func ToGo(v cty.Value) (any, error) {
	data, err := ToJSON(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

// FormatValue renders a value compactly for humans: strings unquoted at
// the top level, everything else as JSON.
func FormatValue(v cty.Value) string {
	if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		return v.AsString()
	}
	data, err := ToJSON(v)
	if err != nil {
		return v.GoString()
	}
	return string(data)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
