package config

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// MaxNesting is how deeply brackets, braces, parentheses and template
// interpolations may nest in a workflow file, a configuration file or an
// --input value. hcl/v2's parser recurses once or more per level, and
// about 100,000 levels of "[[[...]]]" (a 200 KB file) overflow the Go
// stack: a fatal error that no recover can catch. Real files nest a few
// levels deep; 1,000 leaves room for generated ones.
const MaxNesting = 1000

// CheckNesting scans HCL native syntax for nesting deeper than
// [MaxNesting], without parsing it, so that such source is refused with a
// diagnostic before the parser sees it. It counts "(", "[", "{", "${" and
// "%{" outside comments, and inside quoted strings and heredocs only
// within their interpolations, following hclsyntax's scanner: escapes
// ("\"", "$${", "%%{"), heredoc markers and the braces that end an
// interpolation are treated as the scanner treats them. It never
// under-counts source that parses; for source that does not, it may
// over-count.
//
// The diagnostic, if any, points at the bracket that crosses the limit.
// Its cost is one pass over the bytes.
func CheckNesting(src []byte, filename string) hcl.Diagnostics {
	if off := hclNestingOffset(src, MaxNesting); off >= 0 {
		return hcl.Diagnostics{nestingDiag(src, filename, off, "brackets, braces, parentheses or template interpolations")}
	}
	return nil
}

// CheckJSONNesting is [CheckNesting] for JSON: it counts "[" and "{"
// outside strings.
func CheckJSONNesting(src []byte, filename string) hcl.Diagnostics {
	if off := jsonNestingOffset(src, MaxNesting); off >= 0 {
		return hcl.Diagnostics{nestingDiag(src, filename, off, "arrays or objects")}
	}
	return nil
}

func nestingDiag(src []byte, filename string, off int, what string) *hcl.Diagnostic {
	start := posAt(src, off)
	end := start
	_, size := utf8.DecodeRune(src[off:])
	end.Byte += size
	end.Column++
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail: fmt.Sprintf("Here %s nest more than %d levels deep, which goflyte refuses: parsing it could exhaust the stack. "+
			"Flatten the value, for example by splitting it into several inputs, locals or tasks.", what, MaxNesting),
		Subject: &hcl.Range{Filename: filename, Start: start, End: end},
	}
}

// posAt returns the position of the byte at off: line, column (in
// characters) and byte, as hcl counts them.
func posAt(src []byte, off int) hcl.Pos {
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
	return hcl.Pos{Line: line, Column: 1 + utf8.RuneCount(src[lineStart:off]), Byte: off}
}

// jsonNestingOffset returns the offset of the "[" or "{" that opens level
// limit+1, or -1.
func jsonNestingOffset(src []byte, limit int) int {
	depth := 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth++; depth > limit {
				return i
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// Scanner modes, as in hclsyntax's scan_tokens.rl.
const (
	modeMain    = iota // expressions and blocks
	modeQuoted         // a quoted template: "..."
	modeHeredoc        // a heredoc template: <<EOT ... EOT
)

type scanMode struct {
	kind   int
	marker []byte // heredoc: the closing marker
	sol    bool   // heredoc: at the start of a line
}

// hclNestingOffset returns the offset of the opening bracket or
// interpolation that makes level limit+1, or -1. Modes change exactly as
// in hclsyntax's scanner (its braces counter and retBraces stack decide
// where an interpolation ends); depth is counted on a stack of open
// brackets, where a closing one pops only its own kind, so that
// unbalanced input can only raise the count.
func hclNestingOffset(src []byte, limit int) int {
	return scanHCL(src, limit, nil)
}

// topBlock is a top-level block (or bracketed top-level value) that
// scanHCL found: the offsets of its opening and closing braces, and cuts,
// the offsets just after each newline in its body at depth one, where one
// body item ends and the next may start (see parseChunked).
type topBlock struct {
	open, close int
	cuts        []int
}

// scanHCL is hclNestingOffset; with blocks set, it also appends the
// top-level blocks whose braces close to *blocks, with their cuts.
func scanHCL(src []byte, limit int, blocks *[]topBlock) int {
	modes := []scanMode{{kind: modeMain}}
	special := &mainSpecial
	if blocks != nil {
		special = &mainSpecialNL
	}
	var cur topBlock
	var open []byte // '(', '[', '{', '$' (an interpolation or directive)
	braces := 0
	var retBraces []int
	noBlockEnd := false // no "*/" after some "/*": stop looking
	n := len(src)
	push := func(b byte) bool {
		open = append(open, b)
		return len(open) > limit
	}
	// interp enters an interpolation or directive that starts at i.
	interp := func(i int) bool {
		if top := &modes[len(modes)-1]; top.kind == modeHeredoc {
			top.sol = false
		}
		braces++
		retBraces = append(retBraces, braces)
		modes = append(modes, scanMode{kind: modeMain})
		return push('$')
	}
	// closeBrace handles "}" (and "~}") in main mode.
	closeBrace := func() {
		if len(retBraces) > 0 && retBraces[len(retBraces)-1] == braces {
			braces--
			retBraces = retBraces[:len(retBraces)-1]
			modes = modes[:len(modes)-1]
			for len(open) > 0 {
				b := open[len(open)-1]
				open = open[:len(open)-1]
				if b == '$' {
					break
				}
			}
			return
		}
		braces--
		if len(open) > 0 && open[len(open)-1] == '{' {
			open = open[:len(open)-1]
		}
	}
	// template handles "$" or "%" at i in a template: it returns how many
	// bytes to skip and whether an interpolation starts.
	template := func(i int) (skip int, starts bool) {
		switch {
		case i+1 < n && src[i+1] == '{':
			return 2, true
		case i+2 < n && src[i+1] == src[i] && src[i+2] == '{':
			return 3, false // "$${" or "%%{": literal
		}
		return 1, false
	}
	for i := 0; i < n; {
		m := &modes[len(modes)-1]
		switch m.kind {
		case modeMain:
			for i < n && !special[src[i]] {
				i++
			}
			if i == n {
				break
			}
			switch c := src[i]; c {
			case '#':
				i = lineEnd(src, i)
			case '/':
				switch {
				case i+1 < n && src[i+1] == '/':
					i = lineEnd(src, i)
				case i+1 < n && src[i+1] == '*' && !noBlockEnd:
					if end := bytes.Index(src[i+2:], []byte("*/")); end >= 0 {
						i += 2 + end + 2
					} else {
						noBlockEnd = true // not a comment: "/" and "*" are tokens
						i++
					}
				default:
					i++
				}
			case '"':
				modes = append(modes, scanMode{kind: modeQuoted})
				i++
			case '<':
				if marker, next, ok := heredocStart(src, i); ok {
					modes = append(modes, scanMode{kind: modeHeredoc, marker: marker, sol: true})
					i = next
				} else {
					i++
				}
			case '{':
				braces++
				if blocks != nil && len(open) == 0 && len(modes) == 1 {
					cur = topBlock{open: i, close: -1}
				}
				if push('{') {
					return i
				}
				i++
			case '}':
				closeBrace()
				if blocks != nil && len(open) == 0 && len(modes) == 1 && cur.close == -1 {
					cur.close = i
					*blocks = append(*blocks, cur)
				}
				i++
			case '\n':
				if len(open) == 1 && open[0] == '{' && len(modes) == 1 {
					cur.cuts = append(cur.cuts, i+1)
				}
				i++
			case '~':
				if i+1 < n && src[i+1] == '}' {
					closeBrace()
					i += 2
				} else {
					i++
				}
			case '(', '[':
				if push(c) {
					return i
				}
				i++
			case ')', ']':
				want := byte('(')
				if c == ']' {
					want = '['
				}
				if len(open) > 0 && open[len(open)-1] == want {
					open = open[:len(open)-1]
				}
				i++
			default:
				i++
			}
		case modeQuoted:
			for i < n && !quotedSpecial[src[i]] {
				i++
			}
			if i == n {
				break
			}
			switch src[i] {
			case '"':
				modes = modes[:len(modes)-1]
				i++
			case '\\':
				if i+1 < n && src[i+1] != '\n' && src[i+1] != '\r' {
					i += 2
				} else {
					i++
				}
			case '$', '%':
				skip, starts := template(i)
				if starts && interp(i) {
					return i
				}
				i += skip
			default:
				i++
			}
		case modeHeredoc:
			if m.sol {
				m.sol = false
				end := bytes.IndexByte(src[i:], '\n')
				if end >= 0 {
					line := src[i : i+end]
					if bytes.Equal(bytes.TrimSpace(line), m.marker) {
						modes = modes[:len(modes)-1]
						i += end // the newline is main mode's
						continue
					}
				}
			}
			for i < n && !heredocSpecial[src[i]] {
				i++
			}
			if i == n {
				break
			}
			switch src[i] {
			case '\n':
				m.sol = true
				i++
			case '$', '%':
				skip, starts := template(i)
				if starts && interp(i) {
					return i
				}
				i += skip
			default:
				i++
			}
		}
	}
	return -1
}

// The bytes each mode of hclNestingOffset stops at; it skips the others
// in a tight loop.
var mainSpecial, mainSpecialNL, quotedSpecial, heredocSpecial [256]bool

func init() {
	for _, c := range []byte("#/\"<{}~()[]") {
		mainSpecial[c] = true
		mainSpecialNL[c] = true
	}
	mainSpecialNL['\n'] = true
	for _, c := range []byte("\"\\$%") {
		quotedSpecial[c] = true
	}
	for _, c := range []byte("\n$%") {
		heredocSpecial[c] = true
	}
}

// lineEnd returns the offset just past the newline that ends the line
// holding i, or len(src).
func lineEnd(src []byte, i int) int {
	if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(src)
}

// heredocStart reports whether a heredoc starts at i ("<<EOT" or "<<-EOT"
// and a newline), its marker, and the offset after the newline.
func heredocStart(src []byte, i int) (marker []byte, next int, ok bool) {
	if i+1 >= len(src) || src[i+1] != '<' {
		return nil, 0, false
	}
	j := i + 2
	if j < len(src) && src[j] == '-' {
		j++
	}
	start := j
	for j < len(src) {
		r, size := utf8.DecodeRune(src[j:])
		first := j == start
		if !(r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_ID_Start, r) ||
			!first && (r == '-' || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc, unicode.Other_ID_Continue))) {
			break
		}
		j += size
	}
	if j == start {
		return nil, 0, false
	}
	marker = src[start:j]
	if j < len(src) && src[j] == '\r' {
		j++
	}
	if j >= len(src) || src[j] != '\n' {
		return nil, 0, false
	}
	return marker, j + 1, true
}
