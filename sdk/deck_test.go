package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// report makes a deck of every kind of block, then fails or panics as
// its input says.
func report(ctx context.Context, in nameIn) (greeting, error) {
	p := sdk.Params(ctx)
	d := p.Deck("Summary")
	d.Markdown("# Hello " + in.Name)
	d.Table([]string{"word", "count"}, [][]any{{"a", 1}, {"b", 2.5}})
	if err := d.PNG(tinyPNG, "a pixel"); err != nil {
		return greeting{}, err
	}
	p.Deck("Raw").HTML("<b>raw</b>")
	p.Deck("Summary").Markdown("more") // the same deck again
	switch in.Name {
	case "fail":
		return greeting{}, errors.New("failed on purpose")
	case "panic":
		panic("on purpose")
	}
	return greeting{Greeting: "hi"}, nil
}

func TestDecks(t *testing.T) {
	want := func(name string) []plugin.Deck {
		return []plugin.Deck{
			{Name: "Summary", Blocks: []plugin.DeckBlock{
				{Markdown: "# Hello " + name},
				{Table: &plugin.DeckTable{Header: []string{"word", "count"}, Rows: [][]string{{"a", "1"}, {"b", "2.5"}}}},
				{Image: &plugin.DeckImage{MIMEType: "image/png", Data: tinyPNG, Alt: "a pixel"}},
				{Markdown: "more"},
			}},
			{Name: "Raw", Blocks: []plugin.DeckBlock{{HTML: "<b>raw</b>"}}},
		}
	}
	for _, name := range []string{"ok", "fail", "panic"} {
		t.Run(name, func(t *testing.T) {
			res, err := sdktest.Run(t, sdk.Func(report), map[string]any{"name": name})
			var te *plugin.TaskError
			if name == "ok" && err != nil || name != "ok" && !errors.As(err, &te) {
				t.Fatalf("err = %v", err)
			}
			if diff := cmp.Diff(want(name), res.Decks); diff != "" {
				t.Errorf("decks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecksDisabled(t *testing.T) {
	var buf syncBuffer
	defer sdk.SetStderr(&buf)()
	res, err := sdktest.RunWithOptions(t, sdktest.Options{DisableDeck: true}, sdk.Func(report), map[string]any{"name": "fail"})
	if err == nil {
		t.Fatal("no error")
	}
	if res.Decks != nil {
		t.Errorf("decks sent while disabled: %v", res.Decks)
	}
	log := buf.String()
	if n := strings.Count(log, "decks will not be generated because enable_deck is false"); n != 1 {
		t.Errorf("want one warning, got %d in:\n%s", n, log)
	}
	if !strings.Contains(log, `deck \"Summary\"`) {
		t.Errorf("warning does not name the deck:\n%s", log)
	}
}

func TestDeckOutsideTask(t *testing.T) {
	// Called directly, as in a unit test: decks work and go nowhere.
	if _, err := report(context.Background(), nameIn{Name: "ok"}); err != nil {
		t.Fatal(err)
	}
	var p sdk.ExecutionParams
	p.Deck("x").Markdown("y")
}

func TestDeckConcurrent(t *testing.T) {
	task := sdk.Func(func(ctx context.Context, _ struct{}) (struct{}, error) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					sdk.Params(ctx).Deck(fmt.Sprintf("deck%d", i%4)).Markdown(fmt.Sprintf("g%d i%d", g, i))
				}
			})
		}
		wg.Wait()
		return struct{}{}, nil
	})
	res, err := sdktest.Run(t, task, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	blocks := 0
	for _, d := range res.Decks {
		names = append(names, d.Name)
		blocks += len(d.Blocks)
	}
	if len(names) != 4 || blocks != 8*50 {
		t.Errorf("decks %v with %d blocks, want 4 decks with 400", names, blocks)
	}
}

func TestDeckImage(t *testing.T) {
	var p sdk.ExecutionParams
	d := p.Deck("img")
	for _, tc := range []struct {
		mime string
		data string
		ok   bool
	}{
		{"image/png", string(tinyPNG), true},
		{"image/png", "<svg/>", false},
		{"image/svg+xml", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`, true},
		{"image/svg+xml", "GIF89a", false},
		{"image/gif", "GIF89a", false},
		{"text/html", "<svg/>", false},
	} {
		if err := d.Image(tc.mime, []byte(tc.data), ""); (err == nil) != tc.ok {
			t.Errorf("Image(%q, %q) = %v", tc.mime, tc.data, err)
		}
	}
	if err := d.SVG([]byte("<svg/>"), "x"); err != nil {
		t.Error(err)
	}
}

func TestDeckProviderResult(t *testing.T) {
	// A task that sets its own result decks keeps them, before the
	// sdk's.
	p := sdk.NewProvider("demo", "1", map[string]sdk.Task{"t": deckTask{}})
	res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "t", Inputs: []byte(`{}`), Params: plugin.Params{EnableDeck: true}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range res.Decks {
		names = append(names, d.Name)
	}
	if diff := cmp.Diff([]string{"own", "via params"}, names); diff != "" {
		t.Errorf("decks (-want +got):\n%s", diff)
	}
}

type deckTask struct{}

func (deckTask) Schema() plugin.TaskSchema { return plugin.TaskSchema{} }

func (deckTask) Execute(ctx context.Context, _ *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	sdk.Params(ctx).Deck("via params").Markdown("x")
	return &plugin.ExecuteResult{Outputs: []byte(`{}`), Decks: []plugin.Deck{{Name: "own"}}}, nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDefaultDeck(t *testing.T) {
	task := sdk.Func(func(ctx context.Context, _ struct{}) (struct{}, error) {
		sdk.Params(ctx).DefaultDeck().Markdown("one")
		sdk.Params(ctx).Deck("default").Markdown("two")
		return struct{}{}, nil
	})
	res, err := sdktest.Run(t, task, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []plugin.Deck{{Name: "default", Blocks: []plugin.DeckBlock{{Markdown: "one"}, {Markdown: "two"}}}}
	if diff := cmp.Diff(want, res.Decks); diff != "" {
		t.Errorf("decks (-want +got):\n%s", diff)
	}
}
