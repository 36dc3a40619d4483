package engine

import (
	"context"
	"os"
	"sync"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// workdirs creates the tasks' working directories ahead of the scheduler,
// in the order the tasks can run, so that the cost of each mkdir (hundreds
// of microseconds on a busy ext4 disk) overlaps with the tasks running
// before it instead of adding to every task's latency. A task whose
// directory is not made yet waits for it. Directories made for tasks that
// never ran (after a failure or cancellation) are removed by close.
type workdirs struct {
	run *sandbox.Run
	// prefix starts the directory names of a sub-workflow's tasks.
	prefix string
	nodes  map[string]*workdir
	stop   chan struct{}
	done   chan struct{}
}

type workdir struct {
	ready chan struct{}
	dir   string
	err   error

	mu   sync.Mutex
	used bool
}

// startWorkdirs starts making one first-attempt directory per node, in
// order.
func startWorkdirs(run *sandbox.Run, order []*Node, prefix string) *workdirs {
	w := &workdirs{run: run, prefix: prefix, nodes: make(map[string]*workdir, len(order)), stop: make(chan struct{}), done: make(chan struct{})}
	for _, n := range order {
		w.nodes[n.Name] = &workdir{ready: make(chan struct{})}
	}
	go func() {
		defer close(w.done)
		for _, n := range order {
			wd := w.nodes[n.Name]
			select {
			case <-w.stop:
				wd.err = context.Canceled
			default:
				wd.dir, wd.err = run.TaskDir(prefix+n.Name, 1)
			}
			close(wd.ready)
		}
	}()
	return w
}

// get returns the working directory of an attempt of node: the one made
// ahead for the first attempt, a new one for a later attempt.
func (w *workdirs) get(ctx context.Context, node string, attempt int) (string, error) {
	wd, ok := w.nodes[node]
	if !ok || attempt > 1 {
		return w.run.TaskDir(w.prefix+node, attempt)
	}
	select {
	case <-wd.ready:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	wd.mu.Lock()
	wd.used = true
	wd.mu.Unlock()
	return wd.dir, wd.err
}

// close stops making directories and removes those no task used.
func (w *workdirs) close() {
	close(w.stop)
	<-w.done
	for _, wd := range w.nodes {
		wd.mu.Lock()
		unused := !wd.used && wd.err == nil && wd.dir != ""
		wd.mu.Unlock()
		if unused {
			_ = os.Remove(wd.dir) // empty: nothing ran in it
		}
	}
}

// runOrder returns the nodes in an order they can run in: every node after
// the nodes it depends on, and otherwise in declaration order.
func runOrder(g *Graph) []*Node {
	waiting := make(map[string]int, len(g.Nodes))
	dependents := map[string][]*Node{}
	var queue []*Node
	for _, n := range g.Nodes {
		waiting[n.Name] = len(n.Deps)
		for _, d := range n.Deps {
			dependents[d] = append(dependents[d], n)
		}
		if len(n.Deps) == 0 {
			queue = append(queue, n)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		order = append(order, n)
		for _, d := range dependents[n.Name] {
			if waiting[d.Name]--; waiting[d.Name] == 0 {
				queue = append(queue, d)
			}
		}
	}
	return order
}
