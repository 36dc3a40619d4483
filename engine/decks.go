package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/engine/deck"
	"github.com/goflyte/goflyte/plugin"
)

// Decks (Flytekit's task reports): a task whose block says
// enable_deck = true gets Params.EnableDeck, and the decks it sends back,
// with the default decks its deck_fields choose, are rendered when the run
// ends into deck.html in its last attempt's working directory; the run's
// deck.html indexes them with a timeline of all tasks. A task that did not
// run (a cache hit, a resumed or skipped task) has no deck. Everything
// rendered passes through the redactor.

// deckCalls collects the plugin calls of tasks with decks enabled. It is
// safe for concurrent use.
type deckCalls struct {
	mu    sync.Mutex
	calls []deckCall
}

// deckCall is one call of a task with decks enabled.
type deckCall struct {
	key        string // the node's name with its sub-workflow prefix
	attempt    int
	dir        string
	start, end time.Time
	inputs     json.RawMessage
	decks      []plugin.Deck
	err        string
}

// add records a call of n if its decks are enabled. res may hold decks
// when err is a task failure too.
func (c *deckCalls) add(n *Node, prefix string, attempt int, dir string, start time.Time, args *taskArgs, res *plugin.ExecuteResult, err error) {
	if c == nil || !n.EnableDeck {
		return
	}
	call := deckCall{key: prefix + n.Name, attempt: attempt, dir: dir, start: start, end: time.Now(), inputs: args.json}
	if res != nil {
		call.decks = res.Decks
	}
	if err != nil {
		call.err = err.Error()
		var te *plugin.TaskError
		if errors.As(err, &te) {
			call.err = te.Message
		}
	}
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
}

// of returns the calls that belong to the node named name (its own, its
// for_each instances', the tasks of the sub-workflow it calls), in the
// order they started.
func (c *deckCalls) of(name string) []deckCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []deckCall
	for _, call := range c.calls {
		if call.key == name || strings.HasPrefix(call.key, name+"@") || strings.HasPrefix(call.key, name+"+") {
			out = append(out, call)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// renderDecks writes the deck pages of the run's tasks and its index,
// if any task has decks enabled, and sets Deck in the results. Failures
// are warnings: decks never fail a run.
func (x *execution) renderDecks() {
	nodes := x.recordedNodes()
	enabled := false
	for _, n := range nodes {
		enabled = enabled || n.EnableDeck || len(x.decks.of(n.Name)) > 0
	}
	if !enabled {
		return
	}
	e := x.engine
	index := filepath.Join(x.run.Dir, deck.FileName)
	run := &deck.Run{ID: x.res.ExecutionID, Workflow: x.graph.Name, Status: string(x.res.Status), Start: x.res.Start, End: x.res.End}
	if x.res.Err != nil {
		run.Error = x.res.Err.Error()
	}
	for _, n := range nodes {
		tr := x.tasks[n.Name]
		if calls := x.decks.of(n.Name); len(calls) > 0 {
			if err := x.renderTaskDeck(n, tr, calls, index); err != nil {
				e.warnOnce("deck-"+n.Name, "could not write the task's deck", "task", n.Name, "error", e.Redact(err.Error()))
			}
		}
		rt := deck.RunTask{Name: n.Name, TaskID: n.TaskID(), Status: string(tr.Status), Start: tr.Start, End: tr.End, Cache: tr.Cache}
		if tr.Deck != "" {
			rt.Deck = filepath.ToSlash(x.relRunPath(tr.Deck))
		}
		run.Tasks = append(run.Tasks, rt)
	}
	var buf bytes.Buffer
	err := deck.RenderIndex(&buf, run, e.Redact)
	if err == nil {
		err = deck.WriteFile(index, buf.Bytes())
	}
	if err != nil {
		e.warnOnce("deck-index", "could not write the run's deck", "error", e.Redact(err.Error()))
		return
	}
	x.res.Deck = index
	e.Logger.Info("run deck written", "path", index)
}

func (x *execution) renderTaskDeck(n *Node, tr *TaskRun, calls []deckCall, index string) error {
	last := calls[len(calls)-1]
	dir := tr.WorkDir
	if dir == "" {
		dir = last.dir
	}
	if dir == "" {
		return errors.New("the task has no working directory")
	}
	t := &deck.Task{
		Name: n.Name, TaskID: n.TaskID(), Status: string(tr.Status),
		Fields: n.DeckFields, Source: n.Source,
		Plugin: n.Plugin, PluginVersion: n.PluginVersion,
		Outputs: tr.OutputsJSON,
	}
	if n.Sub != nil {
		t.Plugin = n.TaskID()
	}
	if path, ok := x.engine.Plugins.Path(n.Plugin); ok {
		t.PluginPath = path
	}
	for _, d := range n.Deps {
		if x.graph.Node(d) == nil || x.graph.Node(d).Kind != KindDecision {
			t.Upstream = append(t.Upstream, d)
		}
	}
	if tr.Err != nil {
		var te *TaskError
		if errors.As(tr.Err, &te) {
			t.Error = te.Err.Error()
		} else {
			t.Error = tr.Err.Error()
		}
	}
	// The own decks of each call's last attempt, named after the instance
	// or sub-task when there are several; the inputs likewise.
	lastOf := map[string]deckCall{}
	var keys []string
	for _, c := range calls {
		if _, ok := lastOf[c.key]; !ok {
			keys = append(keys, c.key)
		}
		lastOf[c.key] = c
		label := strconv.Itoa(c.attempt)
		if c.key != n.Name {
			label = strings.TrimPrefix(c.key, n.Name) + " attempt " + label
		}
		t.Attempts = append(t.Attempts, deck.Attempt{Label: label, Start: c.start, End: c.end, Error: c.err})
	}
	inputs := map[string]json.RawMessage{}
	for _, k := range keys {
		c := lastOf[k]
		for _, d := range c.decks {
			name := d.Name
			if k != n.Name {
				name = strings.TrimPrefix(k, n.Name) + ": " + name
			}
			t.Decks = append(t.Decks, deckOf(name, d))
		}
		inputs[strings.TrimPrefix(k, n.Name)] = c.inputs
	}
	if in, ok := inputs[""]; ok && len(keys) == 1 {
		t.Inputs = in
	} else if data, err := json.Marshal(inputs); err == nil {
		t.Inputs = data
	}
	path := filepath.Join(dir, deck.FileName)
	if rel, err := filepath.Rel(dir, index); err == nil {
		t.RunDeck = filepath.ToSlash(rel)
	}
	var buf bytes.Buffer
	if err := deck.RenderTask(&buf, t, x.engine.Redact); err != nil {
		return err
	}
	if err := deck.WriteFile(path, buf.Bytes()); err != nil {
		return err
	}
	tr.Deck = path
	return nil
}

// deckOf converts a plugin's deck for rendering.
func deckOf(name string, d plugin.Deck) deck.Deck {
	out := deck.Deck{Name: name}
	for _, b := range d.Blocks {
		block := deck.Block{Markdown: b.Markdown, HTML: b.HTML}
		if b.Table != nil {
			block.Table = &deck.Table{Header: b.Table.Header, Rows: b.Table.Rows}
		}
		if b.Image != nil {
			block.Image = &deck.Image{MIMEType: b.Image.MIMEType, Data: b.Image.Data, Alt: b.Image.Alt}
		}
		out.Blocks = append(out.Blocks, block)
	}
	return out
}

// relRunPath returns path relative to the run's directory, slash-separated;
// "" for "".
func (x *execution) relRunPath(path string) string {
	if path == "" {
		return ""
	}
	rel, err := filepath.Rel(x.run.Dir, path)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}
