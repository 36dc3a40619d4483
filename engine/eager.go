package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// eagerHost is the plugin.Host the engine serves to plugins: it runs the
// tasks an eager task asks for, as children of that task's call, in mode
// EAGER_LOCAL_EXECUTION, with the cache (each child is a one-task graph,
// run like any other). Calls are keyed by the eager task's call id, which
// the engine registers for the duration of the call.
type eagerHost struct {
	mu    sync.Mutex
	calls map[string]*eagerCall
}

type eagerCall struct {
	x      *execution
	n      *Node
	prefix string
	seq    atomic.Int64

	mu       sync.Mutex
	children []string
}

var _ plugin.Host = (*eagerHost)(nil)

func (h *eagerHost) register(callID string, c *eagerCall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls == nil {
		h.calls = map[string]*eagerCall{}
	}
	h.calls[callID] = c
}

func (h *eagerHost) unregister(callID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.calls, callID)
}

// RunTask implements plugin.Host. The child gets the eager task's
// retries, retry backoff and timeout.
func (h *eagerHost) RunTask(ctx context.Context, parent, task string, inputs json.RawMessage) (json.RawMessage, error) {
	h.mu.Lock()
	c := h.calls[parent]
	h.mu.Unlock()
	if c == nil {
		return nil, &plugin.TaskError{Message: "Run is only for eager tasks while they run"}
	}
	x := c.x
	g, err := x.engine.TaskGraph(ctx, task)
	if err != nil {
		return nil, &plugin.TaskError{Message: err.Error()}
	}
	g.Mode = plugin.ModeEagerLocalExecution
	// A child has the eager task's retry policy and timeout,
	child := g.Nodes[0]
	child.Retries, child.Backoff, child.Timeout = c.n.Retries, c.n.Backoff, c.n.Timeout
	// and its decks: the calls show on the eager task's deck page.
	child.EnableDeck, child.DeckFields = c.n.EnableDeck, c.n.DeckFields
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(inputs, &raw); err != nil {
		return nil, &plugin.TaskError{Message: "inputs are not a JSON object: " + err.Error()}
	}
	values, err := g.ParseInputs(nil, raw)
	if err != nil {
		return nil, &plugin.TaskError{Message: err.Error()}
	}
	i := c.seq.Add(1)
	if x.checkPlugin != nil {
		// The driver's check of the child's plugin (a remote worker's:
		// the binary the run was validated against), before it runs.
		err = x.checkPlugin(ctx, child.Plugin)
	}
	var outs map[string]cty.Value
	if err == nil {
		outs, err = x.runGraph(ctx, g, values, fmt.Sprintf("%s%d+", c.prefix, i))
	}
	status := "succeeded"
	if err != nil {
		status = "failed: " + x.engine.Redact(err.Error())
	}
	c.mu.Lock()
	c.children = append(c.children, fmt.Sprintf("%d %s %s", i, task, status))
	c.mu.Unlock()
	if err != nil {
		var te *plugin.TaskError
		if errors.As(err, &te) {
			return nil, &plugin.TaskError{Message: x.engine.Redact(err.Error()), Retryable: te.Retryable}
		}
		return nil, &plugin.TaskError{Message: x.engine.Redact(err.Error())}
	}
	if len(outs) == 0 {
		return json.RawMessage("{}"), nil
	}
	v := cty.ObjectVal(outs)
	if config.HasFiles(v.Type()) {
		// The eager task reads files as any task does: at local paths.
		if v, err = x.files.localize(ctx, v); err != nil {
			return nil, &plugin.TaskError{Message: x.engine.Redact(err.Error())}
		}
		return toPluginJSON(v)
	}
	return ToJSON(v)
}

// eagerChildren keeps the children an eager task's call ran, for its
// TaskRun and record. It runs in the call's goroutine.
func (x *execution) eagerChildren(n *Node, c *eagerCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x.childMu.Lock()
	defer x.childMu.Unlock()
	if x.children == nil {
		x.children = map[string][]string{}
	}
	x.children[n.Name] = append(x.children[n.Name], c.children...)
}

// takeChildren returns the children recorded for a node.
func (x *execution) takeChildren(name string) []string {
	x.childMu.Lock()
	defer x.childMu.Unlock()
	return x.children[name]
}
