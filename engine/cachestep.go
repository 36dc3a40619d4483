package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/cache"
)

// Cache outcomes of a task, in TaskRun.Cache and the run record.
const (
	CacheHit       = "hit"       // outputs came from the cache; the task did not run
	CacheMiss      = "miss"      // no entry: the task ran and its outputs were stored
	CacheOverwrite = "overwrite" // the task ran and replaced any entry (cache_overwrite)
)

// cacheKeyVersion changes when the way keys are computed changes, so old
// entries stop matching instead of being misread.
const cacheKeyVersion = "goflyte-cache-key/1"

// cacheKey is the key of one execution of n: its plugin and task names, its
// cache version and the digest of each input it does not ignore, sorted by
// name. Nothing machine-specific and no secret goes in.
//
// It is cache.Sum of those parts, framed in a buffer on the stack: a fully
// cached re-run computes a key per task, and a part slice and a []byte per
// part were a tenth of its allocations (issue 17).
func cacheKey(n *Node, digests map[string]string) cache.Key {
	var nameBuf [8]string
	names := nameBuf[:0]
	for name := range digests {
		if !n.Cache.Ignore[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var buf [512]byte
	b := cache.AppendPart(buf[:0], cacheKeyVersion)
	b = cache.AppendPart(b, n.Plugin)
	b = cache.AppendPart(b, n.Task)
	b = cache.AppendPart(b, n.Cache.Version)
	for _, name := range names {
		b = cache.AppendPart(b, name)
		b = cache.AppendPart(b, digests[name])
	}
	return cache.SumParts(b)
}

// keyedDigests returns the digests of the inputs that are part of n's key.
func keyedDigests(n *Node, digests map[string]string) map[string]string {
	out := make(map[string]string, len(digests))
	for name, d := range digests {
		if !n.Cache.Ignore[name] {
			out[name] = d
		}
	}
	return out
}

// cacheUsed reports whether n's results are looked up and stored in this
// run: the node is cacheable and the cache is enabled.
func (e *Engine) cacheUsed(n *Node) bool {
	return n.Cache != nil && e.Config.Local.CacheEnabled
}

// openCache opens the cache on first use.
func (e *Engine) openCache() (*cache.Cache, error) {
	e.cacheOnce.Do(func() {
		e.cache, e.cacheErr = cache.Open(e.Config.CachePath())
	})
	return e.cache, e.cacheErr
}

// cacheLookup returns n's cached outputs for key, if there are any. A
// corrupt entry is a miss, reported once. With explain, a miss comes with
// the reason.
func (e *Engine) cacheLookup(n *Node, key cache.Key, digests map[string]string, explain bool) (map[string]cty.Value, json.RawMessage, bool, string) {
	c, err := e.openCache()
	if err != nil {
		e.warnOnce("cache-open", "local cache unavailable; running without it", "dir", e.Config.CachePath(), "error", err)
		return nil, nil, false, "the cache could not be opened"
	}
	raw, err := c.GetOutputs(key)
	if err == nil {
		outs, derr := decodeOutputs(n, raw)
		if derr == nil && hasFileOutputs(n) {
			// The entry's files live in the run that made them: gone
			// with it, the entry is a miss.
			if gone := missingFile(outs); gone != "" {
				return nil, nil, false, fmt.Sprintf("the cached result's file %s is gone", gone)
			}
		}
		if derr == nil {
			return outs, raw, true, ""
		}
		err = derr // an entry that no longer fits the task's outputs: a miss
	}
	var ce *cache.CorruptError
	if errors.As(err, &ce) {
		e.warnOnce("corrupt-"+key.String(), "corrupt cache entry treated as a miss", "task", n.TaskID(), "key", key.String(), "reason", ce.Reason)
	}
	if !explain {
		return nil, nil, false, ""
	}
	return nil, nil, false, e.missReason(c, n, digests)
}

// missReason says why n missed: no entry for the task at all, a changed
// cache version, or which inputs changed since the latest entry.
func (e *Engine) missReason(c *cache.Cache, n *Node, digests map[string]string) string {
	_, latest, err := c.Latest(n.TaskID())
	if err != nil {
		return "no entry for this task"
	}
	if latest.Version != n.Cache.Version {
		return fmt.Sprintf("cache version changed (%q, was %q)", n.Cache.Version, latest.Version)
	}
	now := keyedDigests(n, digests)
	var changed []string
	for name, d := range now {
		switch old, ok := latest.Inputs[name]; {
		case !ok:
			changed = append(changed, name+" (added)")
		case old != d:
			changed = append(changed, name)
		}
	}
	for name := range latest.Inputs {
		if _, ok := now[name]; !ok {
			changed = append(changed, name+" (removed)")
		}
	}
	sort.Strings(changed)
	if len(changed) == 0 {
		return "no entry for these inputs (they match an older entry that is gone)"
	}
	word := "input"
	if len(changed) > 1 {
		word = "inputs"
	}
	return fmt.Sprintf("%s changed since the latest entry: %s", word, strings.Join(changed, ", "))
}

// cachePut stores n's outputs under key, recording run (the name of the
// run that produced them) in the entry. A failure to store is logged,
// not fatal: the task itself succeeded.
func (e *Engine) cachePut(n *Node, key cache.Key, digests map[string]string, outputs json.RawMessage, run string) {
	c, err := e.openCache()
	if err != nil {
		return // reported by the lookup
	}
	err = c.Put(key, &cache.Entry{
		Task:    n.TaskID(),
		Version: n.Cache.Version,
		Inputs:  keyedDigests(n, digests),
		Outputs: outputs,
		Created: time.Now().UTC(),
		Run:     run,
	})
	if err != nil {
		e.warnOnce("put-"+n.TaskID(), "could not store a result in the cache", "task", n.TaskID(), "error", err)
	}
}

// warnOnce logs a warning the first time it is called with id.
func (e *Engine) warnOnce(id, msg string, args ...any) {
	if _, seen := e.warned.LoadOrStore(id, true); !seen {
		e.Logger.Warn(msg, args...)
	}
}
