package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// FileRef is the value of a file or dir: where its data is. It is the
// native value of FileType and DirType.
type FileRef struct {
	// URI is where the data lives: "file:///abs/path" for a local file,
	// "s3://bucket/key" (or gs://, azblob://) for a remote one. It is what
	// records, caches and workflow outputs show.
	URI string
	// Local is a local path holding the data, "" when it must be fetched
	// first. A plugin is always given a local path.
	Local string
}

// Path returns the local path if there is one, else the URI.
func (r *FileRef) Path() string {
	if r.Local != "" {
		return r.Local
	}
	return r.URI
}

// identity is what makes two files the same file: the URI, or, for a
// path not resolved yet, the path.
func (r *FileRef) identity() string {
	if r.URI != "" {
		return r.URI
	}
	return "path:" + r.Local
}

// FileType and DirType are the workflow types "file" and "dir": a file or
// a directory that a task reads or writes. A string converts to either
// (a local path or a URI), and either converts to a string (its local
// path, else its URI), so "${task.x.report}" reads as a path.
var (
	FileType = fileCapsule("file")
	DirType  = fileCapsule("dir")
)

func fileCapsule(name string) cty.Type {
	return cty.CapsuleWithOps(name, reflect.TypeOf(FileRef{}), &cty.CapsuleOps{
		GoString:     func(v any) string { return fmt.Sprintf("%s(%q)", name, v.(*FileRef).URI) },
		TypeGoString: func(reflect.Type) string { return "config." + strings.ToUpper(name[:1]) + name[1:] + "Type" },
		Equals: func(a, b any) cty.Value {
			return cty.BoolVal(a.(*FileRef).identity() == b.(*FileRef).identity())
		},
		RawEquals: func(a, b any) bool { return *a.(*FileRef) == *b.(*FileRef) },
		HashKey:   func(v any) string { return v.(*FileRef).identity() },
		ConversionFrom: func(dst cty.Type) func(any, cty.Path) (cty.Value, error) {
			if dst != cty.String {
				return nil
			}
			return func(v any, _ cty.Path) (cty.Value, error) { return cty.StringVal(v.(*FileRef).Path()), nil }
		},
		ConversionTo: func(src cty.Type) func(cty.Value, cty.Path) (any, error) {
			if src != cty.String {
				return nil
			}
			return func(v cty.Value, p cty.Path) (any, error) {
				ref, err := ParseFileRef(v.AsString())
				if err != nil {
					return nil, p.NewError(err)
				}
				return ref, nil
			}
		},
	})
}

// IsFileType reports whether ty is FileType or DirType.
func IsFileType(ty cty.Type) bool { return ty == FileType || ty == DirType }

// HasFiles reports whether values of ty may hold a file or a dir.
func HasFiles(ty cty.Type) bool {
	switch {
	case IsFileType(ty):
		return true
	case ty.IsListType(), ty.IsSetType(), ty.IsMapType():
		return HasFiles(ty.ElementType())
	case ty.IsObjectType():
		for _, at := range ty.AttributeTypes() {
			if HasFiles(at) {
				return true
			}
		}
	case ty.IsTupleType():
		for _, et := range ty.TupleElementTypes() {
			if HasFiles(et) {
				return true
			}
		}
	}
	return false
}

// RemoteSchemes are the URI schemes of remote files.
var RemoteSchemes = []string{"s3", "gs", "azblob"}

// ParseFileRef reads a file or dir given as text: a URI (file://, s3://,
// gs://, azblob://) or a local path, which is kept as it is (a task's
// output path is relative to its working directory; the engine resolves
// it).
func ParseFileRef(s string) (*FileRef, error) {
	if s == "" {
		return nil, fmt.Errorf("a file or dir cannot be an empty string")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || strings.ContainsAny(scheme, `/\. `) {
		return &FileRef{Local: s}, nil // a path, perhaps with "://" further on
	}
	switch scheme {
	case "file":
		u, err := url.Parse(s)
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("%q is not a file URI: want file:///absolute/path", s)
		}
		path := filepath.FromSlash(u.Path)
		return &FileRef{URI: "file://" + u.EscapedPath(), Local: path}, nil
	case "s3", "gs", "azblob":
		bucket, _, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("%q names no bucket", s)
		}
		return &FileRef{URI: s}, nil
	}
	return nil, fmt.Errorf("unsupported URI scheme %q in %q: use a local path or file://, s3://, gs:// or azblob://", scheme, s)
}

// LocalURI returns the file:// URI of an absolute local path.
func LocalURI(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// TypeConstraint reads a type expression as HCL's typeexpr does, with two
// more keywords: file and dir.
func TypeConstraint(expr hcl.Expression) (cty.Type, hcl.Diagnostics) {
	switch hcl.ExprAsKeyword(expr) {
	case "file":
		return FileType, nil
	case "dir":
		return DirType, nil
	}
	// Collections and objects of files: check the arguments here, then
	// let typeexpr build the type from a copy with placeholders.
	if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && len(call.Args) == 1 {
		var wrap func(cty.Type) cty.Type
		switch call.Name {
		case "list":
			wrap = cty.List
		case "set":
			wrap = cty.Set
		case "map":
			wrap = cty.Map
		}
		if wrap != nil {
			et, diags := TypeConstraint(call.Args[0])
			if diags.HasErrors() {
				return cty.DynamicPseudoType, diags
			}
			return wrap(et), diags
		}
		if call.Name == "object" {
			if obj, ok := call.Args[0].(*hclsyntax.ObjectConsExpr); ok {
				return objectConstraint(obj)
			}
		}
		if call.Name == "tuple" {
			if tup, ok := call.Args[0].(*hclsyntax.TupleConsExpr); ok {
				ets := make([]cty.Type, len(tup.Exprs))
				var diags hcl.Diagnostics
				for i, e := range tup.Exprs {
					var d hcl.Diagnostics
					ets[i], d = TypeConstraint(e)
					diags = append(diags, d...)
				}
				if diags.HasErrors() {
					return cty.DynamicPseudoType, diags
				}
				return cty.Tuple(ets), diags
			}
		}
	}
	ty, diags := typeexpr.TypeConstraint(expr)
	for _, d := range diags {
		if d.Severity == hcl.DiagError && !strings.Contains(d.Detail, "file") {
			d.Detail += " goflyte also has the types file and dir."
		}
	}
	return ty, diags
}

func objectConstraint(obj *hclsyntax.ObjectConsExpr) (cty.Type, hcl.Diagnostics) {
	atys := map[string]cty.Type{}
	var diags hcl.Diagnostics
	for _, item := range obj.Items {
		name := hcl.ExprAsKeyword(item.KeyExpr)
		if name == "" {
			// Leave odd keys to typeexpr's own error.
			return typeexpr.TypeConstraint(obj)
		}
		ty, d := TypeConstraint(item.ValueExpr)
		diags = append(diags, d...)
		atys[name] = ty
	}
	if diags.HasErrors() {
		return cty.DynamicPseudoType, diags
	}
	return cty.Object(atys), diags
}

// TypeString renders a type the way users write it, file and dir
// included.
func TypeString(ty cty.Type) string {
	switch {
	case ty == FileType:
		return "file"
	case ty == DirType:
		return "dir"
	case !HasFiles(ty):
		return typeexpr.TypeString(ty)
	case ty.IsListType():
		return "list(" + TypeString(ty.ElementType()) + ")"
	case ty.IsSetType():
		return "set(" + TypeString(ty.ElementType()) + ")"
	case ty.IsMapType():
		return "map(" + TypeString(ty.ElementType()) + ")"
	case ty.IsObjectType():
		atys := ty.AttributeTypes()
		names := make([]string, 0, len(atys))
		for n := range atys {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + "=" + TypeString(atys[n])
		}
		return "object({" + strings.Join(parts, ",") + "})"
	case ty.IsTupleType():
		ets := ty.TupleElementTypes()
		parts := make([]string, len(ets))
		for i, et := range ets {
			parts[i] = TypeString(et)
		}
		return "tuple([" + strings.Join(parts, ",") + "])"
	}
	return typeexpr.TypeString(ty)
}
