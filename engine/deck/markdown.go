package deck

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// md renders Markdown with GitHub's tables, strikethrough and task lists.
// Raw HTML is left out (goldmark's default, never WithUnsafe), dangerous
// link URLs are dropped, and images that are not data: URIs become their
// alt text, so that Markdown cannot load anything.
var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(localImages{}, 1000))),
)

func markdown(src string) string {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return "<pre>" + strings.ReplaceAll(strings.ReplaceAll(src, "&", "&amp;"), "<", "&lt;") + "</pre>"
	}
	return buf.String()
}

// localImages replaces images whose destination is not a data:image/ URI
// with their alt text in brackets.
type localImages struct{}

func (localImages) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	src := reader.Source()
	var external []*ast.Image
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if img, ok := n.(*ast.Image); ok && entering && !bytes.HasPrefix(bytes.ToLower(img.Destination), []byte("data:image/")) {
			external = append(external, img)
		}
		return ast.WalkContinue, nil
	})
	for _, img := range external {
		alt := altText(img, src)
		img.Parent().ReplaceChild(img.Parent(), img, ast.NewString([]byte("[image: "+alt+"]")))
	}
}

func altText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
		case *ast.String:
			b.Write(t.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}
