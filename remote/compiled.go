package remote

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine"
)

// The interpreter compiles its run's sources in every workflow
// execution: when a run starts, in each batch child of a big for_each,
// after a continue-as-new, and whenever the worker replays the workflow
// (its sticky cache evicted it, another worker took it over). That was
// 0.15-0.2 ms a task of a 100-task fan-out on the worker (the HCL
// parse; BENCH.md, the third and fourth fan-out rounds). A worker keeps
// the graphs it compiled, by the digest of everything compiling reads
// (compileKey), and its workflows share them:
//
//   - Determinism holds: compiling is a pure function of that input
//     (compileRun), so a kept graph is the one the workflow would
//     compile itself, in any worker and at any replay.
//   - Sharing is safe: an engine.Graph is immutable once compiled. The
//     plan (engine.Plan) and the driver keep their state apart, keyed by
//     node name; nothing writes a compiled graph's nodes
//     (TestCompiledGraphsAreNotMutated compares a kept graph after
//     runs with a fresh compile, field by field).
//
// Only graphs that compiled without any diagnostic are kept (an invalid
// run fails at once and needs its parser's files for the message), at
// most compiledMax of them and compiledMaxBytes of their sources; the
// oldest goes first.
var compiled = &graphCache{}

const (
	compiledMax      = 64
	compiledMaxBytes = 16 << 20
)

type graphCache struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]*compiledEntry
	order [][sha256.Size]byte // oldest first
	bytes int
}

type compiledEntry struct {
	g     *engine.Graph
	bytes int
}

// compileRunCached is compileRun through the worker's cache of compiled
// graphs (see compiled).
func compileRunCached(in RunInput) (*engine.Graph, hcl.Diagnostics, map[string]*hcl.File) {
	key, size, ok := compileKey(in)
	if !ok {
		return compileRun(in)
	}
	if g := compiled.get(key); g != nil {
		return g, nil, nil
	}
	g, diags, files := compileRun(in)
	if g != nil && len(diags) == 0 {
		compiled.put(key, g, size)
	}
	return g, diags, files
}

// compileKey is the SHA-256 of what compileRun reads of in: the task or
// the main file and workflow, every source by path, and the schemas of
// the plugins (not their binaries' digests: the graph does not hold
// them). ok is false when a schema does not encode (then nothing is
// kept). size is the sources' bytes.
func compileKey(in RunInput) (key [sha256.Size]byte, size int, ok bool) {
	h := sha256.New()
	field := func(h hash.Hash, s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(h, "goflyte compileRun 1")
	field(h, in.Task)
	field(h, in.Main)
	field(h, in.Workflow)
	paths := make([]string, 0, len(in.Sources))
	for p := range in.Sources {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		field(h, p)
		field(h, in.Sources[p])
		size += len(p) + len(in.Sources[p])
	}
	names := make([]string, 0, len(in.Plugins))
	for name := range in.Plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := json.Marshal(in.Plugins[name].Schema)
		if err != nil {
			return key, 0, false
		}
		field(h, name)
		field(h, string(data))
	}
	h.Sum(key[:0])
	return key, size, true
}

func (c *graphCache) get(key [sha256.Size]byte) *engine.Graph {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil {
		return e.g
	}
	return nil
}

func (c *graphCache) put(key [sha256.Size]byte, g *engine.Graph, size int) {
	if size > compiledMaxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[sha256.Size]byte]*compiledEntry{}
	}
	if _, ok := c.m[key]; ok {
		return // a concurrent workflow compiled it too: the same graph
	}
	for len(c.order) > 0 && (len(c.order) >= compiledMax || c.bytes+size > compiledMaxBytes) {
		old := c.order[0]
		c.order = c.order[1:]
		c.bytes -= c.m[old].bytes
		delete(c.m, old)
	}
	c.m[key] = &compiledEntry{g: g, bytes: size}
	c.order = append(c.order, key)
	c.bytes += size
}
