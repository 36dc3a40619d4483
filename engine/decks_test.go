package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/deck"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// deckProvider is a plugin whose task "report" sends a deck, when asked,
// and fails when its input says so.
type deckProvider struct{}

func (deckProvider) Describe(context.Context) (*plugin.Schema, error) {
	return &plugin.Schema{Name: "decks", Version: "2.0.0", Tasks: []plugin.TaskSchema{
		{Name: "report", Inputs: []plugin.Field{field("s", "string")}, Outputs: []plugin.Field{field("s", "string")}},
	}}, nil
}

func (deckProvider) Execute(_ context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	res := &plugin.ExecuteResult{Outputs: req.Inputs}
	if req.Params.EnableDeck {
		res.Decks = []plugin.Deck{{Name: "Report of " + req.Params.Node, Blocks: []plugin.DeckBlock{
			{Markdown: "input was " + string(req.Inputs)},
			{Table: &plugin.DeckTable{Header: []string{"k"}, Rows: [][]string{{"s3cret-value"}}}},
		}}}
	}
	if strings.Contains(string(req.Inputs), "fail") {
		return res, &plugin.TaskError{Message: "failed with s3cret-value"}
	}
	return res, nil
}

const deckWorkflow = `
workflow "decks" {
  task "a" {
    uses        = "decks.report"
    inputs      = { s = "hello" }
    enable_deck = true
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = task.a.s }
  }
  task "c" {
    uses        = "decks.report"
    inputs      = { s = "fail ${task.b.s}" }
    enable_deck = true
    deck_fields = ["Input", "Timeline"]
  }
  task "off" {
    uses   = "decks.report"
    inputs = { s = "x" }
  }
}`

func TestDecks(t *testing.T) {
	e, _ := newTestEngine(t)
	e.Plugins.Register("decks", deckProvider{})
	e.redactor.add([]byte("s3cret-value"))
	res := mustRun(t, e, deckWorkflow, nil, RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if want := filepath.Join(res.RunDir, "deck.html"); res.Deck != want {
		t.Errorf("run deck %q, want %q", res.Deck, want)
	}
	got := map[string]string{}
	for _, tr := range res.Tasks {
		got[tr.Node] = tr.Deck
	}
	want := map[string]string{
		"a":   filepath.Join(res.RunDir, "tasks", "a", "deck.html"),
		"b":   "",
		"c":   filepath.Join(res.RunDir, "tasks", "c", "deck.html"),
		"off": "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task decks (-want +got):\n%s", diff)
	}

	read := func(path string) string {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", path, fi.Mode())
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), "s3cret") {
			t.Errorf("%s holds the secret", path)
		}
		return string(data)
	}
	a := read(want["a"])
	for _, s := range []string{"Report of a", "<td>***</td>", "task &#34;a&#34; {", "<td>2.0.0</td>", `href="../../deck.html"`, "&#34;s&#34;: &#34;hello&#34;"} {
		if !strings.Contains(a, s) {
			t.Errorf("deck of a lacks %q", s)
		}
	}
	c := read(want["c"])
	for _, s := range []string{"Report of c", "failed with ***", "<h2>Input</h2>", "<h2>Timeline</h2>"} {
		if !strings.Contains(c, s) {
			t.Errorf("deck of c lacks %q", s)
		}
	}
	if strings.Contains(c, "<h2>Source Code</h2>") || strings.Contains(c, "<h2>Output</h2>") {
		t.Error("deck of c shows decks its deck_fields left out")
	}
	index := read(res.Deck)
	for _, s := range []string{`href="tasks/a/deck.html">a</a>`, `href="tasks/c/deck.html">c</a>`, "<td>b</td>", "<td>off</td>"} {
		if !strings.Contains(index, s) {
			t.Errorf("index lacks %q", s)
		}
	}

	rec, err := sandbox.Sandbox{Root: e.Config.SDK.LocalSandbox}.LoadRecord(filepath.Base(res.RunDir))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Deck != "deck.html" {
		t.Errorf("record deck %q", rec.Deck)
	}
	recorded := map[string]string{}
	for _, tr := range rec.Tasks {
		recorded[tr.Name] = tr.Deck
	}
	if diff := cmp.Diff(map[string]string{"a": "tasks/a/deck.html", "b": "", "c": "tasks/c/deck.html", "off": ""}, recorded); diff != "" {
		t.Errorf("recorded decks (-want +got):\n%s", diff)
	}
}

func TestNoDecks(t *testing.T) {
	e, _ := newTestEngine(t)
	e.Plugins.Register("decks", deckProvider{})
	res := mustRun(t, e, strings.ReplaceAll(deckWorkflow, "enable_deck = true", ""), nil, RunOptions{})
	if res.Deck != "" {
		t.Errorf("run deck %q without enable_deck", res.Deck)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "deck.html")); !os.IsNotExist(err) {
		t.Errorf("deck.html written: %v", err)
	}
}

func TestDeckFieldNames(t *testing.T) {
	// The names a workflow writes are the names the renderer knows.
	want := []string{deck.SourceCode, deck.Dependencies, deck.Timeline, deck.Input, deck.Output}
	if diff := cmp.Diff(want, config.DeckFieldNames); diff != "" {
		t.Error(diff)
	}
}

func TestDeckCacheHit(t *testing.T) {
	// A cache hit did not run: it has no deck (as in Flytekit), but the
	// index still lists it.
	e, _ := newTestEngine(t)
	src := `workflow "w" {
  task "m" {
    uses        = "fake.memo"
    inputs      = { s = "x" }
    cache       = true
    enable_deck = true
  }
}`
	first := mustRun(t, e, src, nil, RunOptions{})
	second := mustRun(t, e, src, nil, RunOptions{})
	if first.Tasks[0].Deck == "" || first.Deck == "" {
		t.Errorf("first run: task deck %q, run deck %q", first.Tasks[0].Deck, first.Deck)
	}
	if second.Tasks[0].Cache != CacheHit || second.Tasks[0].Deck != "" {
		t.Errorf("second run: cache %q, deck %q", second.Tasks[0].Cache, second.Tasks[0].Deck)
	}
	if second.Deck == "" {
		t.Error("second run has no index")
	}
}
