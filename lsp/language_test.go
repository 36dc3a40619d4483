package lsp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/config"
)

// TestKeywordsMatchLoader checks that every block and attribute the
// language server offers is one the workflow loader accepts where it is
// offered.
func TestKeywordsMatchLoader(t *testing.T) {
	// Each context wraps a body in the blocks that lead to it.
	wrap := map[string]string{
		"":         "%s\n",
		"workflow": "workflow \"w\" {\n%s\n}\n",
		"input":    "workflow \"w\" {\n input \"i\" {\n%s\n }\n}\n",
		"task":     "workflow \"w\" {\n task \"t\" {\n%s\n }\n}\n",
		"output":   "workflow \"w\" {\n output \"o\" {\n%s\n }\n}\n",
		"branch":   "workflow \"w\" {\n branch \"b\" {\n%s\n }\n}\n",
		"case":     "workflow \"w\" {\n branch \"b\" {\n  case {\n%s\n  }\n }\n}\n",
		"default":  "workflow \"w\" {\n branch \"b\" {\n  default {\n%s\n  }\n }\n}\n",
		"secret":   "workflow \"w\" {\n task \"t\" {\n  uses = \"a.b\"\n  secret {\n%s\n  }\n }\n}\n",
	}
	for blockType, kws := range keywords {
		for _, k := range kws {
			t.Run(blockType+"/"+k.name, func(t *testing.T) {
				body := k.name + ` = "x"`
				switch {
				case k.block && k.label != "":
					body = k.name + ` "n" {}`
				case k.block:
					body = k.name + ` {}`
				}
				src := fmt.Sprintf(wrap[blockType], body)
				_, diags := config.NewParser().LoadWorkflowSource([]byte(src), "k.hcl")
				for _, d := range diags {
					if strings.HasPrefix(d.Summary, "Unsupported") || strings.HasPrefix(d.Summary, "Extraneous label") || strings.HasPrefix(d.Summary, "Missing name") {
						t.Errorf("%s in a %q block: %s: %s\n%s", k.name, blockType, d.Summary, d.Detail, src)
					}
				}
			})
		}
	}
}

func TestOutlineCursor(t *testing.T) {
	tests := []struct {
		name, src string // | marks the cursor
		check     func(*cursor) string
	}{
		{"keyword position", "workflow \"w\" {\n  ta|\n}\n", func(c *cursor) string {
			if !c.stmtStart || c.block() == nil || c.block().typ != "workflow" {
				return "not at a statement start in the workflow"
			}
			return ""
		}},
		{"unterminated uses string", "workflow \"w\" {\n  task \"t\" {\n    uses = \"te|\n  }\n  task \"u\" {}\n}\n", func(c *cursor) string {
			if !c.inString || c.attr == nil || c.attr.name != "uses" || c.block().typ != "task" {
				return "not in the uses string of the task"
			}
			return ""
		}},
		{"inputs key", "workflow \"w\" {\n  task \"t\" {\n    uses = \"a.b\"\n    inputs = { a = 1, | }\n  }\n}\n", func(c *cursor) string {
			if c.obj == nil || !c.keyPos || c.obj.owner == nil || c.obj.owner.name != "inputs" || strings.Join(c.obj.keys, ",") != "a" {
				return "not at a key of inputs with key a written"
			}
			return ""
		}},
		{"inputs value", "workflow \"w\" {\n  task \"t\" {\n    inputs = { a = task.| }\n  }\n}\n", func(c *cursor) string {
			if c.obj == nil || c.keyPos || c.valueKey != "a" {
				return "not in the value of a"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := strings.Index(tc.src, "|")
			src := strings.Replace(tc.src, "|", "", 1)
			o := readOutline([]byte(src), "t.hcl", at)
			if o.cursor == nil {
				t.Fatal("no cursor")
			}
			if msg := tc.check(o.cursor); msg != "" {
				t.Errorf("%s: %+v", msg, *o.cursor)
			}
		})
	}
}

func TestTextPositions(t *testing.T) {
	tx := newText([]byte("ab\n😀é x\r\nend"))
	for _, tc := range []struct {
		off int
		pos Position
	}{
		{0, Position{0, 0}}, {2, Position{0, 2}}, {3, Position{1, 0}},
		{7, Position{1, 2}}, // after the emoji: two UTF-16 units
		{9, Position{1, 3}}, {11, Position{1, 5}}, {13, Position{2, 0}},
	} {
		if got := tx.position(tc.off); got != tc.pos {
			t.Errorf("position(%d) = %+v, want %+v", tc.off, got, tc.pos)
		}
		if got := tx.offset(tc.pos); got != tc.off {
			t.Errorf("offset(%+v) = %d, want %d", tc.pos, got, tc.off)
		}
	}
}
