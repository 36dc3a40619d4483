package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Default decks a task with enable_deck = true shows beside its own, as
// named in deck_fields (Flytekit's DeckField values).
const (
	DeckSourceCode   = "Source Code"
	DeckDependencies = "Dependencies"
	DeckTimeline     = "Timeline"
	DeckInput        = "Input"
	DeckOutput       = "Output"
)

// DeckFieldNames are the valid deck_fields, in the order decks are shown;
// they are also the default.
var DeckFieldNames = []string{DeckSourceCode, DeckDependencies, DeckTimeline, DeckInput, DeckOutput}

// decodeTaskDeck decodes enable_deck and deck_fields. deck_fields is
// checked whether or not decks are on, so that a typo shows at once; it has
// effect only with enable_deck = true.
func decodeTaskDeck(t *Task, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if attr, ok := content.Attributes["enable_deck"]; ok {
		diags = append(diags, decodeBool(attr, &t.EnableDeck)...)
	}
	fields := DeckFieldNames
	if attr, ok := content.Attributes["deck_fields"]; ok {
		fields = nil
		exprs, d := hcl.ExprList(attr.Expr)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid deck_fields",
				Detail:   fmt.Sprintf("deck_fields must be a list of deck names, for example [%q, %q].", DeckInput, DeckOutput),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		seen := map[string]bool{}
		for _, e := range exprs {
			v, vd := e.Value(nil)
			if vd.HasErrors() || v.Type() != cty.String || v.IsNull() || !v.IsKnown() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid deck_fields",
					Detail:   "Each element of deck_fields must be a deck name as a string: " + quoteAll(DeckFieldNames) + ".",
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			name := v.AsString()
			if !isDeckField(name) {
				detail := fmt.Sprintf("%q is not a valid deck field. Use one of %s.", name, quoteAll(DeckFieldNames))
				if s := suggestFold(name, DeckFieldNames); s != "" {
					detail = fmt.Sprintf("%q is not a valid deck field. Did you mean %q? Valid names are %s.", name, s, quoteAll(DeckFieldNames))
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown deck field",
					Detail:   detail,
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			if !seen[name] {
				seen[name] = true
				fields = append(fields, name)
			}
		}
	}
	if t.EnableDeck {
		t.DeckFields = append([]string(nil), fields...)
	}
	return diags
}

func isDeckField(name string) bool {
	for _, f := range DeckFieldNames {
		if f == name {
			return true
		}
	}
	return false
}

// quoteAll returns names quoted and joined with commas.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// sourceText returns the source text in rng, "" if rng is outside src,
// without the indentation its lines share.
func sourceText(src []byte, rng hcl.Range) string {
	start, end := rng.Start.Byte, rng.End.Byte
	if start < 0 || end > len(src) || start > end {
		return ""
	}
	// The block starts after its indentation: put that back, then remove
	// what all lines share.
	lineStart := start
	for lineStart > 0 && (src[lineStart-1] == ' ' || src[lineStart-1] == '\t') {
		lineStart--
	}
	lines := strings.Split(string(src[lineStart:end]), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}
