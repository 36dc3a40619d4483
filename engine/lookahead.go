package engine

import (
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/stats"
)

// lookahead looks the instances of a cached for_each up in the cache
// ahead of the plan, with a few workers, so that the driver can feed a
// hit to the plan from its loop, without a goroutine and two channel
// hand-offs per instance: a fully cached re-run of 10,000 instances made
// 10,000 round trips through the scheduler (issue 17). It only reads the
// cache: what a hit means for the run (the task run's fields, metrics,
// the task log) happens in take, on the driver's loop, when the plan
// starts the instance. An instance that misses, or that the workers did
// not reach, runs as before (and looks itself up again).
type lookahead struct {
	x *execution
	// look looks item i up (an instance, or a root task of rootAhead).
	look func(i int) aheadSlot

	mu     sync.Mutex
	cond   *sync.Cond
	slots  []aheadSlot
	exited bool // every worker has returned

	next   atomic.Int64 // the next item a worker looks up
	misses atomic.Int64 // consecutive misses: many mean a first run
	stop   chan struct{}
	done   sync.WaitGroup
}

type aheadSlot struct {
	looked bool
	hit    bool
	key    cache.Key
	outs   map[string]cty.Value
	raw    json.RawMessage
	// args are a root task's inputs as the worker evaluated them (nil
	// for an instance, whose Call has them): the plan takes them instead
	// of evaluating the inputs again (Plan.argsAhead).
	args *taskArgs
	// stats, for a hit, are the task's metrics with the hit counted,
	// made by the worker (hitStats) instead of on the driver's loop.
	stats *stats.Recorder
}

// aheadMisses is how many misses in a row make the workers stop: the
// for_each is running for the first time, and each instance will look
// itself up anyway.
const aheadMisses = 32

// startLookahead starts looking up n's instances, unless the cache is
// not used for them (then it returns nil). workers is at most the
// for_each's parallelism.
func (x *execution) startLookahead(n *Node, calls []*Call, workers int) *lookahead {
	e := x.engine
	if len(calls) == 0 || n.Sub != nil || !e.cacheUsed(n) || e.Config.Local.CacheOverwrite {
		return nil
	}
	return x.newLookahead(len(calls), workers, func(i int) aheadSlot {
		c := calls[i]
		var s aheadSlot
		if c.args.files == nil { // file inputs are fetched and hashed by execute
			n := c.Node
			s.key = cacheKey(n, c.args.digests)
			s.outs, s.raw, s.hit, _ = e.cacheLookup(n, s.key, c.args.digests, false)
			// No hitStats: instances count into their node's recorder.
		}
		return s
	})
}

// newLookahead starts workers (at most workers, the CPU count and count)
// that look items 0 to count-1 up with look, in order.
func (x *execution) newLookahead(count, workers int, look func(i int) aheadSlot) *lookahead {
	workers = max(1, min(workers, runtime.GOMAXPROCS(0), count))
	la := &lookahead{x: x, look: look, slots: make([]aheadSlot, count), stop: make(chan struct{})}
	la.cond = sync.NewCond(&la.mu)
	var running atomic.Int64
	running.Store(int64(workers))
	for range workers {
		la.done.Go(func() {
			defer func() {
				if running.Add(-1) == 0 {
					la.mu.Lock()
					la.exited = true
					la.cond.Broadcast()
					la.mu.Unlock()
				}
			}()
			la.work()
		})
	}
	return la
}

func (la *lookahead) work() {
	for {
		select {
		case <-la.stop:
			return
		default:
		}
		if la.misses.Load() >= aheadMisses {
			return
		}
		i := int(la.next.Add(1) - 1)
		if i >= len(la.slots) {
			return
		}
		s := la.look(i)
		if s.hit {
			la.misses.Store(0)
		} else {
			la.misses.Add(1)
		}
		s.looked = true
		la.mu.Lock()
		la.slots[i] = s
		la.cond.Broadcast()
		la.mu.Unlock()
	}
}

// wait returns item i's slot once it was looked up, or an empty one if
// the workers stopped before it.
func (la *lookahead) wait(i int) aheadSlot {
	la.mu.Lock()
	defer la.mu.Unlock()
	return la.waitLocked(i)
}

func (la *lookahead) waitLocked(i int) aheadSlot {
	for !la.slots[i].looked && !la.exited {
		la.cond.Wait()
	}
	return la.slots[i]
}

// claim is wait, and empties the slot: its outputs now belong to the
// plan.
func (la *lookahead) claim(i int) aheadSlot {
	la.mu.Lock()
	defer la.mu.Unlock()
	s := la.waitLocked(i)
	la.slots[i] = aheadSlot{looked: true}
	return s
}

// take returns the outputs of instance c if the cache has them, waiting
// for its lookup, and fills itr as execute would for a hit. It reports
// false when c must run (a miss, or not looked up).
func (la *lookahead) take(c *Call, itr *TaskRun) (map[string]cty.Value, bool) {
	s := la.claim(c.Index)
	if !s.hit {
		return nil, false
	}
	la.hit(c.Node, itr, s)
	return s.outs, true
}

// hit fills tr for a cache hit found ahead, as execute does for one.
func (la *lookahead) hit(n *Node, tr *TaskRun, s aheadSlot) {
	tr.CacheKey, tr.Cache, tr.OutputsJSON = s.key.String(), CacheHit, s.raw
	if s.stats != nil && tr.stats == nil {
		tr.stats = s.stats
		return
	}
	la.x.taskStats(n, tr).Incr(MetricCacheHits)
}

// hitStats returns, for a hit, node n's new metrics with the hit counted,
// as hit would make them: a worker makes them, so that the driver's loop,
// which takes the hits one by one, does not (a recorder and its first
// series were a third of its time in a cached run of 10,000 tasks, issue
// 17). Not with a statsd client: a recorder sends each sample as it is
// recorded, and a hit the plan never takes (a failed run stops starting
// tasks) must not be sent.
func (x *execution) hitStats(n *Node, hit bool) *stats.Recorder {
	if !hit || x.engine.statsd != nil {
		return nil
	}
	r := x.newTaskStats(n)
	r.Incr(MetricCacheHits)
	return r
}

// close stops the workers and waits for them.
func (la *lookahead) close() {
	close(la.stop)
	la.done.Wait()
}

// rootAhead looks up, ahead of the plan, the cached tasks that depend on
// nothing (no other task, no for_each, no branch, no sub-workflow): a
// workflow of 10,000 cached task blocks (issue 17 goal 3) otherwise made
// a goroutine and two channel hand-offs per task, the plan giving out at
// most the parallelism (the CPU count) at a time. Its workers evaluate a
// task's inputs (they depend only on the run's inputs), compute its key
// and read its entry; the plan takes the evaluated inputs
// (Plan.argsAhead) and the driver a hit (take) without a goroutine. The
// lookups of for_each instances (lookahead above) work the same way.
type rootAhead struct {
	la    *lookahead
	index map[*Node]int
}

// rootsAhead turns rootAhead on; tests compare runs with it off, and
// count the hits it gave (rootAheadHits).
var (
	rootsAhead    = true
	rootAheadHits atomic.Int64
)

// startRootAhead starts looking up the cached root tasks of the plan's
// graph, or returns nil if it has none.
func (x *execution) startRootAhead(p *Plan) *rootAhead {
	e := x.engine
	if !rootsAhead || !e.Config.Local.CacheEnabled || e.Config.Local.CacheOverwrite {
		return nil
	}
	var nodes []*Node
	for _, n := range x.graph.Nodes {
		if n.Kind != KindTask || n.ForEach != nil || n.Sub != nil || n.Arm != nil || len(n.Deps) > 0 || !e.cacheUsed(n) {
			continue
		}
		if tr := x.tasks[n.Name]; tr == nil || tr.Resumed {
			continue // kept from the resumed run: it does not start
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return nil
	}
	ra := &rootAhead{index: make(map[*Node]int, len(nodes))}
	for i, n := range nodes {
		ra.index[n] = i
	}
	ctx := p.rootCtx
	ra.la = x.newLookahead(len(nodes), x.opts.Parallelism, func(i int) aheadSlot {
		n := nodes[i]
		args, err := evalInputsIn(ctx, n)
		if err != nil {
			return aheadSlot{} // the plan evaluates them again and fails the task
		}
		s := aheadSlot{args: args}
		if args.files == nil { // file inputs are fetched and hashed by execute
			s.key = cacheKey(n, args.digests)
			s.outs, s.raw, s.hit, _ = e.cacheLookup(n, s.key, args.digests, false)
			s.stats = x.hitStats(n, s.hit)
		}
		return s
	})
	return ra
}

// args returns root task n's inputs as a worker evaluated them, waiting
// for it, or nil (not a root task of ra, not reached, or its inputs did
// not evaluate): the plan then evaluates them.
func (ra *rootAhead) args(n *Node) *taskArgs {
	i, ok := ra.index[n]
	if !ok {
		return nil
	}
	return ra.la.wait(i).args
}

// take returns the outputs of c, a root task's call, if the workers found
// them in the cache for c's inputs, and fills tr as execute would for the
// hit; false means c must run (and looks itself up again).
func (ra *rootAhead) take(c *Call, tr *TaskRun) (map[string]cty.Value, bool) {
	i, ok := ra.index[c.Node]
	if !ok {
		return nil, false
	}
	s := ra.la.claim(i)
	if !s.hit || s.args != c.args {
		return nil, false
	}
	rootAheadHits.Add(1)
	ra.la.hit(c.Node, tr, s)
	return s.outs, true
}

// close stops the workers and waits for them.
func (ra *rootAhead) close() { ra.la.close() }
