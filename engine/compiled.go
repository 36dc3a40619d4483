package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// The compiled-workflow cache: a workflow file's compiled [Graph], kept in
// <sandbox>/compiled/ so that running the same file again skips parsing,
// decoding and compiling it (issue 17: for a file of 10,000 task blocks
// those were about 1 s of CPU, most of a fully cached re-run).
//
// An entry is keyed by [CompiledKey]: the file's path as given (it names
// the file in every range), its bytes, the name of the workflow asked
// for, and the identity of the goflyte binary itself (device, inode,
// size, times), so that another build never reads an entry written by
// this one. The entry lists the plugins the workflow uses with the
// digest of each one's schema; a hit also needs every one of them to
// describe itself (through the plugin schema cache, so without starting
// it) with the same digest. Anything else is a miss, and the file is
// loaded and compiled as usual.
//
// What is kept is the graph without its expressions: each expression is
// kept as its source range and parsed again from the file's bytes on a
// hit (small expressions, so none of the whole file's token slices). A
// graph is kept only if it compiled without any diagnostic (warnings
// included: a hit has none to show), has no branches, sub-workflow
// calls or failure handler, and every type in it can be written down;
// and only after the entry, decoded again, gave a graph equal to the
// compiled one (reflect.DeepEqual), so that a hit is exactly what
// compiling gives or there is no entry at all. Entries are written
// atomically and carry a checksum; a damaged entry is a miss with a
// warning in the log.

const (
	compiledDirName    = "compiled"
	compiledFileHeader = "goflyte compiled workflow 2\n" // 2: compiledcodec.go, not gob
	// maxCompiledFiles bounds the entries kept: each edit of a workflow
	// makes a new one, and an entry of 10,000 tasks is about 1 MB.
	maxCompiledFiles = 32
)

// exeIdentity is the identity of the running goflyte binary, "" when the
// system does not give one (then nothing is cached).
var exeIdentity = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	id, ok := statID(exe)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %d %d %d %d %d", exe, id.Dev, id.Ino, id.Size, id.Mtime, id.Ctime)
})

// CompiledKey is the key of the compiled-workflow cache entry for the
// workflow named name ("": the file's only one) in the file at path
// (as given) with the bytes src; "" when there is no cache.
func CompiledKey(path string, src []byte, name string) string {
	exe := exeIdentity()
	if exe == "" {
		return ""
	}
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	field(compiledFileHeader)
	field(exe)
	field(path)
	field(name)
	field(strconv.Itoa(len(src)))
	h.Write(src)
	return hex.EncodeToString(h.Sum(nil))
}

// compiledEntry is what an entry holds. Ranges are within File.
type compiledEntry struct {
	Name, File, FileDigest string
	// Plugins are the digests of the schemas of the plugins the graph
	// uses, by plugin name (see schemaDigest).
	Plugins map[string]string
	Inputs  []compiledInput
	Nodes   []compiledNode
	Outputs []compiledOutput
}

type compiledInput struct {
	Name, TypeExpr, Description string
	Type                        []byte // ctyjson type
	Default                     []byte // ctyjson value; nil: required
	DeclRange                   compiledRange
}

type compiledNode struct {
	Name, Plugin, Task string
	Inputs             []compiledTaskInput
	Deps               []string
	DeclRange          compiledRange
	Digest             string
	Retries            int
	Backoff, Timeout   time.Duration
	ForEach            *compiledForEach
	Cache              *CachePolicy
	Secrets            []plugin.SecretRequest
	EnableDeck         bool
	DeckFields         []string
	Source             string
}

type compiledTaskInput struct {
	Name            string
	NameRange, Expr compiledRange
}

type compiledForEach struct {
	Expr               compiledRange
	MaxParallel        int
	MinSuccessRatio    float64
	Map, Known         bool
	KeyType, ValueType []byte // ctyjson types
}

type compiledOutput struct {
	Name, Description string
	Expr              compiledRange
	Type              []byte // ctyjson type
}

// compiledRange is an hcl.Range without its file name.
type compiledRange struct {
	StartLine, StartColumn, StartByte int
	EndLine, EndColumn, EndByte       int
}

func toCompiledRange(r hcl.Range) compiledRange {
	return compiledRange{r.Start.Line, r.Start.Column, r.Start.Byte, r.End.Line, r.End.Column, r.End.Byte}
}

func (r compiledRange) in(file string) hcl.Range {
	return hcl.Range{Filename: file,
		Start: hcl.Pos{Line: r.StartLine, Column: r.StartColumn, Byte: r.StartByte},
		End:   hcl.Pos{Line: r.EndLine, Column: r.EndColumn, Byte: r.EndByte}}
}

// schemaDigest is the hex SHA-256 of a plugin's schema: compiling
// depends on nothing else of a plugin.
func schemaDigest(s *plugin.Schema) (string, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// compiledStore is the compiled-workflow cache of the engine's sandbox;
// nil without a sandbox.
func (e *Engine) compiledStore() *schemaStore {
	if e.Config == nil || e.Config.SDK.LocalSandbox == "" {
		return nil
	}
	return &schemaStore{dir: filepath.Join(e.Config.SDK.LocalSandbox, compiledDirName), now: time.Now}
}

// CachedGraph returns the graph kept under key for the file whose bytes
// are src, if there is one and every plugin it uses still has the same
// schema; ok is false otherwise (the caller loads and compiles the file,
// then calls [Engine.KeepGraph]). A damaged entry is a miss, logged as a
// warning.
func (e *Engine) CachedGraph(ctx context.Context, key string, src []byte) (_ *Graph, ok bool) {
	s := e.compiledStore()
	if s == nil || key == "" {
		return nil, false
	}
	path := filepath.Join(s.dir, key)
	data, ok := readChecked(path, compiledFileHeader)
	if !ok {
		if _, err := os.Stat(path); err == nil {
			e.Logger.Warn("ignoring a damaged compiled-workflow cache entry", "path", path)
		}
		return nil, false
	}
	ent, err := decodeCompiledEntry(data)
	if err != nil {
		e.Logger.Warn("ignoring a damaged compiled-workflow cache entry", "path", path, "error", err)
		return nil, false
	}
	schemas := make(map[string]*plugin.Schema, len(ent.Plugins))
	for name, digest := range ent.Plugins {
		schema, err := e.Plugins.Schema(ctx, name)
		if err != nil {
			return nil, false // compiling says what is wrong
		}
		if d, err := schemaDigest(schema); err != nil || d != digest {
			return nil, false
		}
		schemas[name] = schema
	}
	g, err := ent.graph(src, schemas)
	if err != nil {
		e.Logger.Warn("ignoring a damaged compiled-workflow cache entry", "path", path, "error", err)
		return nil, false
	}
	e.Logger.Debug("workflow from the compiled-workflow cache", "file", ent.File, "workflow", ent.Name)
	return g, true
}

// KeepGraph keeps g, compiled without any diagnostic from the file whose
// bytes are src, under key, if it can be kept exactly (see above). It is
// a shortcut only: a graph that cannot be kept is not, and a failure to
// write is logged at debug level.
func (e *Engine) KeepGraph(ctx context.Context, key string, src []byte, g *Graph) {
	s := e.compiledStore()
	if s == nil || key == "" || g == nil {
		return
	}
	if err := e.keepGraph(ctx, s, key, src, g); err != nil {
		e.Logger.Debug("the compiled workflow is not kept", "workflow", g.Name, "reason", err)
	}
}

func (e *Engine) keepGraph(ctx context.Context, s *schemaStore, key string, src []byte, g *Graph) error {
	ent, err := newCompiledEntry(g)
	if err != nil {
		return err
	}
	schemas := map[string]*plugin.Schema{}
	for _, n := range g.Nodes {
		if _, done := schemas[n.Plugin]; done {
			continue
		}
		schema, err := e.Plugins.Schema(ctx, n.Plugin)
		if err != nil {
			return err
		}
		if ent.Plugins[n.Plugin], err = schemaDigest(schema); err != nil {
			return err
		}
		schemas[n.Plugin] = schema
	}
	data := encodeCompiledEntry(ent)
	// Decode what would be kept and compare: a hit must be exactly what
	// compiling gave.
	back, err := decodeCompiledEntry(data)
	if err != nil {
		return err
	}
	again, err := back.graph(src, schemas)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(again, g) {
		return errors.New("the graph does not read back the same")
	}
	if err := s.write(key, compiledFileHeader, data); err != nil {
		return err
	}
	s.trimTo(maxCompiledFiles)
	e.Logger.Debug("kept the compiled workflow", "file", g.File, "workflow", g.Name)
	return nil
}

// newCompiledEntry writes g down, or says why it cannot be kept.
func newCompiledEntry(g *Graph) (*compiledEntry, error) {
	if g.File == "" || g.OnFailure != nil || g.Mode != plugin.ModeLocalWorkflowExecution {
		return nil, errors.New("not a plain workflow file")
	}
	ent := &compiledEntry{Name: g.Name, File: g.File, FileDigest: g.FileDigest, Plugins: map[string]string{}}
	var err error
	typ := func(ty cty.Type) []byte {
		if err != nil {
			return nil
		}
		var data []byte
		data, err = ctyjson.MarshalType(ty)
		return data
	}
	rng := func(r hcl.Range) compiledRange {
		if r.Filename != g.File && err == nil {
			err = fmt.Errorf("a range in %q", r.Filename)
		}
		return toCompiledRange(r)
	}
	exprRange := func(x hcl.Expression) compiledRange {
		if _, ok := x.(hclsyntax.Expression); !ok && err == nil {
			err = fmt.Errorf("an expression of type %T", x)
			return compiledRange{}
		}
		return rng(x.Range())
	}
	for _, in := range g.Inputs {
		ci := compiledInput{Name: in.Name, TypeExpr: in.TypeExpr, Description: in.Description, Type: typ(in.Type), DeclRange: rng(in.DeclRange)}
		if in.Default != cty.NilVal && err == nil {
			ci.Default, err = ctyjson.Marshal(in.Default, in.Type)
		}
		ent.Inputs = append(ent.Inputs, ci)
	}
	for _, n := range g.Nodes {
		if n.Kind != KindTask || n.Sub != nil || n.Arm != nil || n.Branch != nil || n.Schema == nil {
			return nil, fmt.Errorf("node %q is not a plain task", n.Name)
		}
		cn := compiledNode{Name: n.Name, Plugin: n.Plugin, Task: n.Task, Deps: n.Deps, DeclRange: rng(n.DeclRange), Digest: n.Digest,
			Retries: n.Retries, Backoff: n.Backoff, Timeout: n.Timeout, Cache: n.Cache, Secrets: n.Secrets,
			EnableDeck: n.EnableDeck, DeckFields: n.DeckFields, Source: n.Source}
		for _, in := range n.Inputs {
			cn.Inputs = append(cn.Inputs, compiledTaskInput{Name: in.Name, NameRange: rng(in.NameRange), Expr: exprRange(in.Expr)})
		}
		if fe := n.ForEach; fe != nil {
			cn.ForEach = &compiledForEach{Expr: exprRange(fe.Expr), MaxParallel: fe.MaxParallel, MinSuccessRatio: fe.MinSuccessRatio,
				Map: fe.Map, Known: fe.Known, KeyType: typ(fe.KeyType), ValueType: typ(fe.ValueType)}
		}
		ent.Nodes = append(ent.Nodes, cn)
	}
	for _, o := range g.Outputs {
		if o.Expr == nil {
			return nil, fmt.Errorf("output %q has no expression", o.Name)
		}
		ent.Outputs = append(ent.Outputs, compiledOutput{Name: o.Name, Description: o.Description, Expr: exprRange(o.Expr), Type: typ(o.Type)})
	}
	if err != nil {
		return nil, err
	}
	return ent, nil
}

// graph rebuilds the graph from the entry, the file's bytes and the
// plugins' schemas.
func (ent *compiledEntry) graph(src []byte, schemas map[string]*plugin.Schema) (*Graph, error) {
	file := ent.File
	var err error
	typ := func(data []byte) cty.Type {
		if err != nil {
			return cty.NilType
		}
		var ty cty.Type
		ty, err = ctyjson.UnmarshalType(data)
		return ty
	}
	g := &Graph{Name: ent.Name, File: file, FileDigest: ent.FileDigest, Mode: plugin.ModeLocalWorkflowExecution, nodes: make(map[string]*Node, len(ent.Nodes))}
	for _, ci := range ent.Inputs {
		in := &config.WorkflowInput{Name: ci.Name, TypeExpr: ci.TypeExpr, Description: ci.Description, Type: typ(ci.Type), DeclRange: ci.DeclRange.in(file)}
		if ci.Default != nil && err == nil {
			in.Default, err = ctyjson.Unmarshal(ci.Default, in.Type)
		}
		g.Inputs = append(g.Inputs, in)
	}
	// The expressions, parsed again from their source, in parallel.
	type exprAt struct {
		r   compiledRange
		dst *hcl.Expression
	}
	var exprs []exprAt
	nodes := make([]Node, len(ent.Nodes))
	// The types of each plugin task's fields, parsed once.
	type fieldTypesOf struct{ in, out map[string]cty.Type }
	types := map[*plugin.TaskSchema]fieldTypesOf{}
	for i := range ent.Nodes {
		cn := &ent.Nodes[i]
		n := &nodes[i]
		*n = Node{Name: cn.Name, Plugin: cn.Plugin, Task: cn.Task, Deps: cn.Deps, DeclRange: cn.DeclRange.in(file), Digest: cn.Digest,
			Retries: cn.Retries, Backoff: cn.Backoff, Timeout: cn.Timeout, Cache: cn.Cache, Secrets: cn.Secrets,
			EnableDeck: cn.EnableDeck, DeckFields: cn.DeckFields, Source: cn.Source}
		if n.Cache != nil && n.Cache.Ignore == nil {
			n.Cache.Ignore = map[string]bool{} // the entry leaves an empty map out
		}
		schema := schemas[n.Plugin]
		if schema == nil {
			return nil, fmt.Errorf("no schema for plugin %q", n.Plugin)
		}
		ts, ok := schema.Task(n.Task)
		if !ok {
			return nil, fmt.Errorf("plugin %q has no task %q", n.Plugin, n.Task)
		}
		n.Schema, n.PluginVersion = ts, schema.Version
		n.pluginLazyDir = schema.LazyWorkingDirectory
		ft, ok := types[ts]
		if !ok {
			var d, d2 hcl.Diagnostics
			ft.in, d = fieldTypes(ts.Inputs, n, hcl.Range{})
			ft.out, d2 = fieldTypes(ts.Outputs, n, hcl.Range{})
			if d = append(d, d2...); d.HasErrors() {
				return nil, d
			}
			types[ts] = ft
		}
		// The nodes of one plugin task share its type maps, as a for_each's
		// instances share their node's: nothing changes them once compiled
		// (20,000 copies were 6.5 MB of a cached re-run of 10,000 tasks).
		n.InputTypes, n.OutputTypes = ft.in, ft.out
		if len(cn.Inputs) > 0 {
			inputs := make([]config.TaskInput, len(cn.Inputs))
			n.Inputs = make([]*config.TaskInput, len(cn.Inputs))
			for j, ci := range cn.Inputs {
				inputs[j] = config.TaskInput{Name: ci.Name, NameRange: ci.NameRange.in(file)}
				n.Inputs[j] = &inputs[j]
				exprs = append(exprs, exprAt{ci.Expr, &inputs[j].Expr})
			}
		}
		if cf := cn.ForEach; cf != nil {
			n.ForEach = &ForEach{MaxParallel: cf.MaxParallel, MinSuccessRatio: cf.MinSuccessRatio, Map: cf.Map, Known: cf.Known,
				KeyType: typ(cf.KeyType), ValueType: typ(cf.ValueType)}
			exprs = append(exprs, exprAt{cf.Expr, &n.ForEach.Expr})
		}
		g.Nodes = append(g.Nodes, n)
		g.nodes[n.Name] = n
	}
	for _, co := range ent.Outputs {
		o := &Output{Name: co.Name, Description: co.Description, Type: typ(co.Type)}
		exprs = append(exprs, exprAt{co.Expr, &o.Expr})
		g.Outputs = append(g.Outputs, o)
	}
	if err != nil {
		return nil, err
	}
	if err := parseExprs(src, file, len(exprs), func(i int) (compiledRange, *hcl.Expression) { return exprs[i].r, exprs[i].dst }); err != nil {
		return nil, err
	}
	return g, nil
}

// parseExprs parses the n expressions that at gives (a range of src, and
// where the expression goes), in parallel.
func parseExprs(src []byte, file string, n int, at func(i int) (compiledRange, *hcl.Expression)) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), n/256))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				r, dst := at(i)
				if r.StartByte < 0 || r.StartByte > r.EndByte || r.EndByte > len(src) {
					errs[w] = fmt.Errorf("an expression at bytes %d-%d of %d", r.StartByte, r.EndByte, len(src))
					return
				}
				rng := r.in(file)
				if x, ok := plainString(src[r.StartByte:r.EndByte], rng); ok {
					*dst = x
					continue
				}
				x, diags := hclsyntax.ParseExpression(src[r.StartByte:r.EndByte], file, rng.Start)
				if diags.HasErrors() {
					errs[w] = diags
					return
				}
				*dst = x
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// plainString returns what hclsyntax.ParseExpression gives for b at rng
// when b is a quoted string of printable ASCII characters without escapes
// or template sequences (the most common input: "w1"), without lexing
// it; ok is false for anything else. KeepGraph's check that a kept graph
// reads back equal covers this shortcut too.
func plainString(b []byte, rng hcl.Range) (_ hcl.Expression, ok bool) {
	if len(b) < 3 || b[0] != '"' || b[len(b)-1] != '"' || rng.Start.Line != rng.End.Line || rng.End.Byte-rng.Start.Byte != len(b) {
		return nil, false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '$' || c == '%' {
			return nil, false
		}
	}
	inner := rng
	inner.Start.Column++
	inner.Start.Byte++
	inner.End.Column--
	inner.End.Byte--
	return &hclsyntax.TemplateExpr{
		Parts:    []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.StringVal(string(b[1 : len(b)-1])), SrcRange: inner}},
		SrcRange: rng,
	}, true
}
