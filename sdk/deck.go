package sdk

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/plugin"
)

// MIME types of deck images.
const (
	MIMEPNG = "image/png"
	MIMESVG = "image/svg+xml"
)

// A Deck is a named page of a task's report, Flytekit's Deck: blocks of
// Markdown, HTML, tables and images, shown in the order they were added.
// Get one with [ExecutionParams.Deck].
//
// The engine renders a task's decks, with the default ones chosen by the
// task block's deck_fields, into one HTML file in the task's working
// directory, but only for a task whose block says enable_deck = true.
// Without it the methods still work and their content is dropped (a
// warning is logged once per execution), so a task needs no checks.
//
// The engine escapes everything: Markdown is rendered without raw HTML, and
// an HTML block is shown in a sandboxed frame where its scripts cannot
// reach the rest of the report.
//
// A Deck is safe for concurrent use by the task's goroutines. Blocks added
// after the task returned are not sent.
type Deck struct {
	name string
	set  *deckSet
	// blocks are guarded by set.mu.
	blocks []plugin.DeckBlock
}

// Name returns the deck's name.
func (d *Deck) Name() string { return d.name }

// Markdown adds a block of Markdown (CommonMark with GitHub tables).
func (d *Deck) Markdown(text string) {
	d.add(plugin.DeckBlock{Markdown: text})
}

// HTML adds a block of HTML, shown in a sandboxed frame of its own.
func (d *Deck) HTML(html string) {
	d.add(plugin.DeckBlock{HTML: html})
}

// Table adds a table. Each cell is formatted with fmt's %v; rows may be
// shorter or longer than the header.
func (d *Deck) Table(header []string, rows [][]any) {
	t := &plugin.DeckTable{Header: append([]string(nil), header...), Rows: make([][]string, len(rows))}
	for i, row := range rows {
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = fmt.Sprintf("%v", c)
		}
		t.Rows[i] = cells
	}
	d.add(plugin.DeckBlock{Table: t})
}

// Image adds an image of type [MIMEPNG] or [MIMESVG], with alt as its
// text alternative. It returns an error, and adds nothing, for another
// type or for data that is not of the type it claims.
func (d *Deck) Image(mimeType string, data []byte, alt string) error {
	switch mimeType {
	case MIMEPNG:
		if !bytes.HasPrefix(data, pngMagic) {
			return fmt.Errorf("sdk: deck %q: image is not a PNG (it does not start with the PNG signature)", d.name)
		}
	case MIMESVG:
		head := data[:min(len(data), 4096)]
		if !bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
			return fmt.Errorf("sdk: deck %q: image is not an SVG (no <svg element near its start)", d.name)
		}
	default:
		return fmt.Errorf("sdk: deck %q: image type %q is not supported; use %q or %q", d.name, mimeType, MIMEPNG, MIMESVG)
	}
	d.add(plugin.DeckBlock{Image: &plugin.DeckImage{MIMEType: mimeType, Data: bytes.Clone(data), Alt: alt}})
	return nil
}

// PNG adds a PNG image; see [Deck.Image].
func (d *Deck) PNG(data []byte, alt string) error { return d.Image(MIMEPNG, data, alt) }

// SVG adds an SVG image; see [Deck.Image].
func (d *Deck) SVG(data []byte, alt string) error { return d.Image(MIMESVG, data, alt) }

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func (d *Deck) add(b plugin.DeckBlock) {
	d.set.mu.Lock()
	defer d.set.mu.Unlock()
	if d.set.enabled {
		d.blocks = append(d.blocks, b)
	}
}

// DefaultDeck is Deck("default"), Flytekit's current_context().default_deck.
func (p *ExecutionParams) DefaultDeck() *Deck { return p.Deck("default") }

// Deck returns the deck of that name, creating it on first use; decks are
// shown in the order they were created. See [Deck] for when decks are
// rendered.
func (p *ExecutionParams) Deck(name string) *Deck {
	s := p.decks
	if s == nil {
		// ExecutionParams made by hand, as in a test: decks go nowhere.
		s = &deckSet{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled && !s.warned && s.logger != nil {
		s.warned = true
		s.logger.Warn(fmt.Sprintf("Attempted to add to deck %q in task %q, but decks will not be generated because enable_deck is false; set enable_deck = true on the task block", name, s.task))
	}
	for _, d := range s.decks {
		if d.name == name {
			return d
		}
	}
	d := &Deck{name: name, set: s}
	s.decks = append(s.decks, d)
	return d
}

// deckSet holds the decks of one execution.
type deckSet struct {
	mu      sync.Mutex
	enabled bool
	decks   []*Deck
	// logger, when set, gets the warning that decks are off; task names
	// the task in it.
	logger hclog.Logger
	task   string
	warned bool
}

// result returns the decks made so far, nil when decks are off.
func (s *deckSet) result() []plugin.Deck {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled || len(s.decks) == 0 {
		return nil
	}
	out := make([]plugin.Deck, len(s.decks))
	for i, d := range s.decks {
		out[i] = plugin.Deck{Name: d.name, Blocks: append([]plugin.DeckBlock(nil), d.blocks...)}
	}
	return out
}

// withDecks returns res with the execution's decks added (a new result
// holding only them when res is nil), or res itself when there are none.
func (s *deckSet) withDecks(res *plugin.ExecuteResult) *plugin.ExecuteResult {
	decks := s.result()
	if len(decks) == 0 {
		return res
	}
	if res == nil {
		res = &plugin.ExecuteResult{}
	}
	res.Decks = append(res.Decks, decks...)
	return res
}
