package engine

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/goflyte/goflyte/plugin"
)

// The encoding of a compiled-workflow cache entry (compiled.go): fields
// in a fixed order, integers as varints, strings and byte slices with
// their length first, a presence byte before each pointer. It replaced
// encoding/gob, whose decoding took about 19 ms of a cached re-run of
// 10,000 task blocks, before the run could start (BENCH.md, session 13).
//
// Empty slices and maps decode as nil, as gob's did. A field added to one
// of these types must be added here too: TestCompiledCodecFields fails
// until it is, and keepGraph would refuse every graph that uses it (the
// graph would not read back the same). Changing the encoding means a new
// compiledFileHeader, which is part of every entry's key.

type entryEncoder struct{ b []byte }

func (e *entryEncoder) uint(v uint64)       { e.b = binary.AppendUvarint(e.b, v) }
func (e *entryEncoder) int(v int64)         { e.b = binary.AppendVarint(e.b, v) }
func (e *entryEncoder) dur(d time.Duration) { e.int(int64(d)) }
func (e *entryEncoder) float(f float64) {
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f))
}
func (e *entryEncoder) str(s string)         { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *entryEncoder) bytes(p []byte)       { e.uint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *entryEncoder) present(ok bool) bool { e.bool(ok); return ok }

func (e *entryEncoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *entryEncoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *entryEncoder) rng(r compiledRange) {
	for _, v := range [...]int{r.StartLine, r.StartColumn, r.StartByte, r.EndLine, r.EndColumn, r.EndByte} {
		e.int(int64(v))
	}
}

// encodeCompiledEntry returns ent encoded.
func encodeCompiledEntry(ent *compiledEntry) []byte {
	e := &entryEncoder{b: make([]byte, 0, 64+len(ent.Nodes)*128)}
	e.str(ent.Name)
	e.str(ent.File)
	e.str(ent.FileDigest)
	names := slices.Sorted(maps.Keys(ent.Plugins))
	e.uint(uint64(len(names)))
	for _, k := range names {
		e.str(k)
		e.str(ent.Plugins[k])
	}
	e.uint(uint64(len(ent.Inputs)))
	for _, in := range ent.Inputs {
		e.str(in.Name)
		e.str(in.TypeExpr)
		e.str(in.Description)
		e.bytes(in.Type)
		if e.present(in.Default != nil) {
			e.bytes(in.Default)
		}
		e.rng(in.DeclRange)
	}
	e.uint(uint64(len(ent.Nodes)))
	for i := range ent.Nodes {
		n := &ent.Nodes[i]
		e.str(n.Name)
		e.str(n.Plugin)
		e.str(n.Task)
		e.uint(uint64(len(n.Inputs)))
		for _, in := range n.Inputs {
			e.str(in.Name)
			e.rng(in.NameRange)
			e.rng(in.Expr)
		}
		e.strs(n.Deps)
		e.rng(n.DeclRange)
		e.str(n.Digest)
		e.int(int64(n.Retries))
		e.dur(n.Backoff)
		e.dur(n.Timeout)
		if fe := n.ForEach; e.present(fe != nil) {
			e.rng(fe.Expr)
			e.int(int64(fe.MaxParallel))
			e.float(fe.MinSuccessRatio)
			e.bool(fe.Map)
			e.bool(fe.Known)
			e.bytes(fe.KeyType)
			e.bytes(fe.ValueType)
		}
		if c := n.Cache; e.present(c != nil) {
			e.str(c.Version)
			ignored := make([]string, 0, len(c.Ignore))
			for k, v := range c.Ignore {
				if v {
					ignored = append(ignored, k)
				}
			}
			slices.Sort(ignored)
			e.strs(ignored)
		}
		e.uint(uint64(len(n.Secrets)))
		for _, s := range n.Secrets {
			e.str(s.Group)
			e.str(s.Version)
			e.str(s.Key)
		}
		e.bool(n.EnableDeck)
		e.strs(n.DeckFields)
		e.str(n.Source)
	}
	e.uint(uint64(len(ent.Outputs)))
	for _, o := range ent.Outputs {
		e.str(o.Name)
		e.str(o.Description)
		e.rng(o.Expr)
		e.bytes(o.Type)
	}
	return e.b
}

var errCompiledEntry = errors.New("a damaged compiled-workflow entry")

type entryDecoder struct {
	b   []byte
	err error
	// names keeps one copy of each short string that many nodes repeat
	// (plugin, task and input names, cache versions).
	names map[string]string
}

func (d *entryDecoder) fail() {
	if d.err == nil {
		d.err = errCompiledEntry
	}
	d.b = nil
}

func (d *entryDecoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) dur() time.Duration { return time.Duration(d.int()) }

// count reads a length: at most the bytes left, since every element
// takes at least one, so that a damaged entry allocates nothing large.
func (d *entryDecoder) count() int {
	v := d.uint()
	if v > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *entryDecoder) raw() []byte {
	n := d.count()
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *entryDecoder) str() string { return string(d.raw()) }

// name is str for the strings that repeat from node to node.
func (d *entryDecoder) name() string {
	p := d.raw()
	if s, ok := d.names[string(p)]; ok {
		return s
	}
	s := string(p)
	d.names[s] = s
	return s
}

// bytes copies a byte slice out (nil when empty, as gob gave).
func (d *entryDecoder) bytes() []byte {
	p := d.raw()
	if len(p) == 0 {
		return nil
	}
	return slices.Clone(p)
}

func (d *entryDecoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return math.Float64frombits(v)
}

func (d *entryDecoder) bool() bool {
	if len(d.b) < 1 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *entryDecoder) strs(name bool) []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		if name {
			ss[i] = d.name()
		} else {
			ss[i] = d.str()
		}
	}
	return ss
}

func (d *entryDecoder) rng() compiledRange {
	return compiledRange{int(d.int()), int(d.int()), int(d.int()), int(d.int()), int(d.int()), int(d.int())}
}

// decodeCompiledEntry decodes what encodeCompiledEntry wrote; anything
// else is an error.
func decodeCompiledEntry(data []byte) (*compiledEntry, error) {
	d := &entryDecoder{b: data, names: map[string]string{}}
	ent := &compiledEntry{Name: d.str(), File: d.str(), FileDigest: d.str()}
	if n := d.count(); n > 0 {
		ent.Plugins = make(map[string]string, n)
		for range n {
			k := d.str()
			ent.Plugins[k] = d.str()
		}
	}
	if n := d.count(); n > 0 {
		ent.Inputs = make([]compiledInput, n)
		for i := range ent.Inputs {
			in := &ent.Inputs[i]
			in.Name, in.TypeExpr, in.Description = d.str(), d.str(), d.str()
			in.Type = d.bytes()
			if d.bool() {
				in.Default = d.bytes()
			}
			in.DeclRange = d.rng()
		}
	}
	if n := d.count(); n > 0 {
		ent.Nodes = make([]compiledNode, n)
		for i := range ent.Nodes {
			if d.err != nil {
				return nil, d.err
			}
			n := &ent.Nodes[i]
			n.Name, n.Plugin, n.Task = d.str(), d.name(), d.name()
			if k := d.count(); k > 0 {
				n.Inputs = make([]compiledTaskInput, k)
				for j := range n.Inputs {
					n.Inputs[j] = compiledTaskInput{Name: d.name(), NameRange: d.rng(), Expr: d.rng()}
				}
			}
			n.Deps = d.strs(false)
			n.DeclRange = d.rng()
			n.Digest = d.str()
			n.Retries = int(d.int())
			n.Backoff, n.Timeout = d.dur(), d.dur()
			if d.bool() {
				n.ForEach = &compiledForEach{Expr: d.rng(), MaxParallel: int(d.int()), MinSuccessRatio: d.float(), Map: d.bool(), Known: d.bool(),
					KeyType: d.bytes(), ValueType: d.bytes()}
			}
			if d.bool() {
				n.Cache = &CachePolicy{Version: d.name()}
				if ignored := d.strs(true); len(ignored) > 0 {
					n.Cache.Ignore = make(map[string]bool, len(ignored))
					for _, k := range ignored {
						n.Cache.Ignore[k] = true
					}
				}
			}
			if k := d.count(); k > 0 {
				n.Secrets = make([]plugin.SecretRequest, k)
				for j := range n.Secrets {
					n.Secrets[j] = plugin.SecretRequest{Group: d.name(), Version: d.name(), Key: d.name()}
				}
			}
			n.EnableDeck = d.bool()
			n.DeckFields = d.strs(true)
			n.Source = d.str()
		}
	}
	if n := d.count(); n > 0 {
		ent.Outputs = make([]compiledOutput, n)
		for i := range ent.Outputs {
			o := &ent.Outputs[i]
			o.Name, o.Description, o.Expr, o.Type = d.str(), d.str(), d.rng(), d.bytes()
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return ent, nil
}
