package remote

import "github.com/goflyte/goflyte/engine"

// CachedGraph returns the graph the worker's cache of compiled graphs
// keeps for in, nil for none.
func CachedGraph(in RunInput) *engine.Graph {
	key, _, ok := compileKey(in)
	if !ok {
		return nil
	}
	return compiled.get(key)
}

// CompileFresh compiles in without the cache.
func CompileFresh(in RunInput) *engine.Graph {
	g, _, _ := compileRun(in)
	return g
}

// ForgetCompiled empties the cache of compiled graphs.
func ForgetCompiled() {
	compiled.mu.Lock()
	defer compiled.mu.Unlock()
	compiled.m, compiled.order, compiled.bytes = nil, nil, 0
}

// ChangeAwaitReady is the change id of the loop's waiting by readiness.
const ChangeAwaitReady = changeAwaitReady
