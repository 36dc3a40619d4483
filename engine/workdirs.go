package engine

import (
	"context"
	"os"
	"sync"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// workdirs creates the tasks' working directories ahead of the scheduler,
// in the order the tasks can run, so that the cost of each mkdir (hundreds
// of microseconds on a busy ext4 disk) overlaps with the tasks running
// before it instead of adding to every task's latency. A task whose
// directory is not made yet waits for it. Directories made for tasks that
// never ran (after a failure or cancellation) are removed by close.
//
// A task whose plugin makes its working directory itself when the task
// first uses it (plugin.Schema.LazyWorkingDirectory; Node.lazyWorkdir)
// gets none made here: a new inode costs hundreds of microseconds on this
// kind of disk, most of a short task's step (BENCH.md, third round), and
// most tasks never write a file.
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
// order, leaving out the nodes whose plugin makes its own (lazyWorkdir).
func startWorkdirs(run *sandbox.Run, order []*Node, prefix string) *workdirs {
	eager := make([]*Node, 0, len(order))
	for _, n := range order {
		if !n.lazyWorkdir() {
			eager = append(eager, n)
		}
	}
	order = eager
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

// get returns the working directory of an attempt of node and whether it
// exists: the one made ahead for the first attempt, else a new one, or,
// when lazy (the plugin makes it itself), only its path, not made.
func (w *workdirs) get(ctx context.Context, node string, attempt int, lazy bool) (dir string, made bool, err error) {
	wd, ok := w.nodes[node]
	if !ok || attempt > 1 {
		if lazy {
			dir, err = w.run.TaskDirPath(w.prefix+node, attempt)
			return dir, false, err
		}
		dir, err = w.run.TaskDir(w.prefix+node, attempt)
		return dir, err == nil, err
	}
	select {
	case <-wd.ready:
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	wd.mu.Lock()
	wd.used = true
	wd.mu.Unlock()
	return wd.dir, wd.err == nil, wd.err
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

// lazyWorkdir reports whether n's working directories are left to its
// plugin to make, when its task first uses one: the plugin said it can
// (as compiled; the running plugin's schema decides each call), and the
// engine writes nothing into them itself (a task's decks go there).
func (n *Node) lazyWorkdir() bool { return n.pluginLazyDir && !n.EnableDeck }

// lazyDirMade reports whether the working directory dir, left to the
// plugin to make, exists after the call: as the plugin's answer says
// (plugin.ExecuteResult.Workdir), or, from a plugin that does not say,
// as a stat finds (10-40 µs a call on this kind of disk, a tenth of the
// engine's CPU in a chain of short tasks; BENCH.md, session 9).
func lazyDirMade(res *plugin.ExecuteResult, dir string) bool {
	if res != nil {
		switch res.Workdir {
		case plugin.WorkdirMade:
			return true
		case plugin.WorkdirNotMade:
			return false
		}
	}
	return dirExists(dir)
}

// dirExists reports whether dir is a directory (a stat: about a
// microsecond, against hundreds for the mkdir it spares).
func dirExists(dir string) bool {
	fi, err := os.Lstat(dir)
	return err == nil && fi.IsDir()
}
