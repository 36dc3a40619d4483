package engine

import (
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/cache"
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
	x     *execution
	calls []*Call

	mu     sync.Mutex
	cond   *sync.Cond
	slots  []aheadSlot
	exited bool // every worker has returned

	next   atomic.Int64 // the next instance a worker looks up
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
	workers = max(1, min(workers, runtime.GOMAXPROCS(0), len(calls)))
	la := &lookahead{x: x, calls: calls, slots: make([]aheadSlot, len(calls)), stop: make(chan struct{})}
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
		if i >= len(la.calls) {
			return
		}
		c := la.calls[i]
		var s aheadSlot
		if c.args.files == nil { // file inputs are fetched and hashed by execute
			n := c.Node
			s.key = cacheKey(n, c.args.digests)
			s.outs, s.raw, s.hit, _ = la.x.engine.cacheLookup(n, s.key, c.args.digests, false)
		}
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

// take returns the outputs of instance c if the cache has them, waiting
// for its lookup, and fills itr as execute would for a hit. It reports
// false when c must run (a miss, or not looked up).
func (la *lookahead) take(c *Call, itr *TaskRun) (map[string]cty.Value, bool) {
	i := c.Index
	la.mu.Lock()
	for !la.slots[i].looked && !la.exited {
		la.cond.Wait()
	}
	s := la.slots[i]
	la.slots[i] = aheadSlot{looked: true} // the instance's outputs now belong to the plan
	la.mu.Unlock()
	if !s.hit {
		return nil, false
	}
	itr.CacheKey, itr.Cache, itr.OutputsJSON = s.key.String(), CacheHit, s.raw
	la.x.taskStats(c.Node, itr).Incr(MetricCacheHits)
	return s.outs, true
}

// close stops the workers and waits for them.
func (la *lookahead) close() {
	close(la.stop)
	la.done.Wait()
}
