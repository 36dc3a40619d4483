package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTaskDeck(t *testing.T) {
	w := loadWorkflowSource(t, `workflow "w" {
  task "off" {
    uses = "p.t"
  }
  task "all" {
    uses        = "p.t"
    enable_deck = true
  }
  task "some" {
    uses        = "p.t"
    enable_deck = true
    deck_fields = ["Output", "Input", "Output"]
  }
  task "none" {
    uses        = "p.t"
    enable_deck = true
    deck_fields = []
  }
}`)
	for _, tc := range []struct {
		task   string
		on     bool
		fields []string
	}{
		{"off", false, nil},
		{"all", true, DeckFieldNames},
		{"some", true, []string{"Output", "Input"}},
		{"none", true, nil},
	} {
		task := w.Task(tc.task)
		if task.EnableDeck != tc.on {
			t.Errorf("%s: EnableDeck = %v", tc.task, task.EnableDeck)
		}
		if diff := cmp.Diff(tc.fields, task.DeckFields); diff != "" {
			t.Errorf("%s: DeckFields (-want +got):\n%s", tc.task, diff)
		}
	}
	if got := w.Task("off").Source; got != "" {
		t.Errorf("source kept for a task without decks: %q", got)
	}
	want := "task \"all\" {\n  uses        = \"p.t\"\n  enable_deck = true\n}"
	if got := w.Task("all").Source; got != want {
		t.Errorf("Source = %q, want %q", got, want)
	}
}

func TestDeckFieldsDiagnostics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wf.hcl")
	src := `workflow "w" {
  task "a" {
    uses        = "p.t"
    enable_deck = true
    deck_fields = ["input", "Graphs"]
  }
}`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags := NewParser().LoadWorkflowFile(path)
	if len(diags) != 2 {
		t.Fatalf("want 2 diagnostics, got %d: %v", len(diags), diags)
	}
	typo, unknown := diags[0], diags[1]
	if typo.Summary != "Unknown deck field" || !strings.Contains(typo.Detail, `Did you mean "Input"?`) {
		t.Errorf("typo: %s: %s", typo.Summary, typo.Detail)
	}
	if unknown.Subject == nil || unknown.Subject.Start.Line != 5 || unknown.Subject.Start.Column != 29 {
		t.Errorf("unknown: subject %v, want the element at 5:29", unknown.Subject)
	}
	for _, name := range DeckFieldNames {
		if !strings.Contains(unknown.Detail, `"`+name+`"`) {
			t.Errorf("detail does not list %q: %s", name, unknown.Detail)
		}
	}
}
