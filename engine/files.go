package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
)

// Files and directories.
//
// A file or dir value is a config.FileRef: a URI and, when the data is on
// this machine, a local path. Plugins see local paths only: before a call
// the engine fetches remote inputs into the run's inputs/ directory (once
// per URI and run), and after it moves what the task returned from its
// working directory into the run's data store, by hard link when it can.
// The data store is <run>/data unless a raw output data prefix puts it in
// a bucket; a remote store is the only copy, and tasks downstream fetch
// from it.

// Storage keeps the files and directories tasks return, and fetches
// remote ones: engine/datastore implements it over local directories and
// buckets (S3, GCS, Azure). It is an interface so that the engine itself
// links no cloud SDK; the CLI sets Engine.Storage.
type Storage interface {
	// Open opens the data store at prefix: a local directory, or a bucket
	// URI such as s3://bucket/prefix.
	Open(ctx context.Context, prefix string) (Store, error)
	// Fetch downloads the file (or, with dir, the directory) at uri into
	// dst.
	Fetch(ctx context.Context, uri, dst string, dir bool) error
}

// Store is one run's data store. Keys are relative slash paths.
type Store interface {
	// PutFile stores the file src under key and returns its URI.
	PutFile(ctx context.Context, key, src string) (uri string, err error)
	// PutDir stores the regular files below src under key and returns
	// the URI of key.
	PutDir(ctx context.Context, key, src string) (uri string, err error)
	// Local returns the store's directory when it is local.
	Local() (dir string, ok bool)
	Close() error
}

// PutBytes stores data under key in st, as st.PutFile stores a file: it
// writes data to a temporary file, removed when done.
func PutBytes(ctx context.Context, st Store, key string, data []byte) (uri string, err error) {
	f, err := os.CreateTemp("", "goflyte-put-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return st.PutFile(ctx, key, f.Name())
}

var errNoStorage = errors.New("the engine has no data store for files (Engine.Storage is not set)")

// fileIO is a run's data store and the remote files it fetched.
type fileIO struct {
	x *execution
	// uri is prefixURI, set when the run starts.
	uri string

	storeOnce sync.Once
	store     Store
	storeErr  error

	mu      sync.Mutex
	fetched map[string]*fetch // by URI
}

type fetch struct {
	done  chan struct{}
	local string
	err   error
}

// prefix is where the run's data store is: a local directory or a bucket
// URI.
func (f *fileIO) prefix() string {
	x := f.x
	if p := x.engine.Config.Local.RawOutputDataPrefix; p != "" {
		return strings.TrimRight(p, "/") + "/" + x.run.Name
	}
	return filepath.Join(x.run.Dir, "data")
}

// prefixURI is prefix as a URI, what tasks see as their
// RawOutputPrefix.
func (f *fileIO) prefixURI() string {
	p := f.prefix()
	if strings.Contains(p, "://") {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return config.LocalURI(abs)
}

// dataStore opens the run's data store when it is first needed: a run
// whose tasks return no files makes no directory and no connection.
func (f *fileIO) dataStore(ctx context.Context) (Store, error) {
	f.storeOnce.Do(func() {
		storage := f.x.engine.Storage
		if storage == nil {
			f.storeErr = errNoStorage
			return
		}
		// The store is the run's, not the asking task's: a task stopped
		// while it opens must not leave the run without one.
		f.store, f.storeErr = storage.Open(context.WithoutCancel(ctx), f.prefix())
		if f.storeErr != nil {
			// A Storage may return a typed nil with its error (a nil
			// *T in the interface): never keep it, close would call it.
			f.store = nil
			f.storeErr = fmt.Errorf("open the data store: %w", f.storeErr)
		}
	})
	return f.store, f.storeErr
}

func (f *fileIO) close() {
	if f.store != nil {
		_ = f.store.Close()
	}
}

// resolveInput makes a file given by path (an input on the command line,
// a literal in the workflow) absolute, relative to the working directory
// goflyte runs in.
func resolveInput(v cty.Value) (cty.Value, error) {
	return cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		ref, ok := fileRef(v)
		if !ok || ref.URI != "" {
			return v, nil
		}
		abs, err := filepath.Abs(ref.Local)
		if err != nil {
			return v, err
		}
		return cty.CapsuleVal(v.Type(), &config.FileRef{URI: config.LocalURI(abs), Local: abs}), nil
	})
}

// fileRef returns the FileRef of a known, non-null file or dir value.
func fileRef(v cty.Value) (*config.FileRef, bool) {
	if !config.IsFileType(v.Type()) || !v.IsKnown() || v.IsNull() {
		return nil, false
	}
	return v.EncapsulatedValue().(*config.FileRef), true
}

// localize returns v with a local path for every file and dir in it,
// fetching remote ones; a local one must exist and be of its kind.
func (f *fileIO) localize(ctx context.Context, v cty.Value) (cty.Value, error) {
	return cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		ref, ok := fileRef(v)
		if !ok {
			return v, nil
		}
		isDir := v.Type() == config.DirType
		if ref.Local != "" {
			if err := checkKind(ref.Local, isDir); err != nil {
				return v, err
			}
			return v, nil
		}
		local, err := f.fetch(ctx, ref.URI, isDir)
		if err != nil {
			return v, err
		}
		return cty.CapsuleVal(v.Type(), &config.FileRef{URI: ref.URI, Local: local}), nil
	})
}

func checkKind(path string, isDir bool) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return err
	case isDir && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	case !isDir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// fetch downloads a remote file or dir into the run's inputs/ directory,
// once per run however many tasks read it.
func (f *fileIO) fetch(ctx context.Context, uri string, isDir bool) (string, error) {
	for {
		f.mu.Lock()
		if f.fetched == nil {
			f.fetched = map[string]*fetch{}
		}
		ft, ok := f.fetched[uri]
		if !ok {
			ft = &fetch{done: make(chan struct{})}
			f.fetched[uri] = ft
		}
		f.mu.Unlock()
		if !ok {
			return f.download(ctx, ft, uri, isDir)
		}
		select {
		case <-ft.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if ft.err != nil && isContextErr(ft.err) {
			continue // the task that fetched it was stopped, not this one: try again
		}
		return ft.local, ft.err
	}
}

// download fetches uri for ft, which fetch made and others wait on. A
// fetch stopped by its task's context is forgotten, so that the next task
// to ask tries again.
func (f *fileIO) download(ctx context.Context, ft *fetch, uri string, isDir bool) (string, error) {
	defer close(ft.done)
	dst := filepath.Join(f.x.run.Dir, "inputs", fetchName(uri))
	switch {
	case f.x.engine.Storage == nil:
		ft.err = errNoStorage
	default:
		if ft.err = os.MkdirAll(filepath.Dir(dst), 0o700); ft.err == nil {
			ft.err = f.x.engine.Storage.Fetch(ctx, uri, dst, isDir)
		}
	}
	if ft.err != nil {
		if isContextErr(ft.err) {
			f.mu.Lock()
			delete(f.fetched, uri)
			f.mu.Unlock()
		}
		return "", ft.err
	}
	ft.local = dst
	return dst, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetchName is where a remote file or dir is fetched to, below the
// run's inputs/ directory: a directory per URI, named by its hash, holding
// the object under its own base name (or "data" when it has none that is
// safe).
func fetchName(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	base := path.Base(strings.TrimRight(uri, "/"))
	if base == "." || base == ".." || base == "/" || strings.ContainsAny(base, `:\`) {
		base = "data"
	}
	return hex.EncodeToString(sum[:8]) + string(filepath.Separator) + base
}

// storeOutputs moves the files and dirs a task returned into the data
// store and returns the outputs with their URIs. A returned path is
// relative to the task's working directory, or absolute; either way it
// must lie (symbolic links resolved) in the working directory or the
// run's tmp directory: a task cannot hand over a file from elsewhere. A
// returned URI is taken as it is: the task stored the data itself.
func (f *fileIO) storeOutputs(ctx context.Context, node string, attempt int, workDir string, outs map[string]cty.Value) (map[string]cty.Value, error) {
	var roots []string
	for _, r := range []string{workDir, f.x.run.TmpDir()} {
		if real, err := filepath.EvalSymlinks(r); err == nil {
			roots = append(roots, real)
		}
	}
	stored := make(map[string]cty.Value, len(outs))
	for name, v := range outs {
		if !config.HasFiles(v.Type()) {
			stored[name] = v
			continue
		}
		i := 0
		nv, err := cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
			ref, ok := fileRef(v)
			if !ok {
				return v, nil
			}
			if ref.URI != "" && !strings.HasPrefix(ref.URI, "file://") {
				return v, nil
			}
			i++
			p := ref.Local
			if !filepath.IsAbs(p) {
				p = filepath.Join(workDir, p)
			}
			isDir := v.Type() == config.DirType
			real, err := safePath(p, roots, isDir)
			if err != nil {
				return v, err
			}
			key := attemptKey(node, attempt) + "/" + name + "/"
			if !config.IsFileType(outs[name].Type()) {
				key += strconv.Itoa(i) + "/" // one of many: a directory each
			}
			base := filepath.Base(filepath.Clean(p)) // the name the task gave
			if base == "." || base == ".." || base == string(filepath.Separator) {
				base = filepath.Base(real)
			}
			key += base
			return f.put(ctx, v.Type(), key, real, isDir)
		})
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		stored[name] = nv
	}
	return stored, nil
}

func (f *fileIO) put(ctx context.Context, ty cty.Type, key, src string, isDir bool) (cty.Value, error) {
	store, err := f.dataStore(ctx)
	if err != nil {
		return cty.NilVal, err
	}
	var uri string
	if isDir {
		uri, err = store.PutDir(ctx, key, src)
	} else {
		uri, err = store.PutFile(ctx, key, src)
	}
	if err != nil {
		return cty.NilVal, err
	}
	ref := &config.FileRef{URI: uri}
	if dir, ok := store.Local(); ok {
		ref.Local = filepath.Join(dir, filepath.FromSlash(key))
	}
	return cty.CapsuleVal(ty, ref), nil
}

// attemptKey names an attempt's outputs in the data store.
func attemptKey(node string, attempt int) string {
	if attempt > 1 {
		return node + "." + strconv.Itoa(attempt)
	}
	return node
}

// safePath resolves p's symbolic links and checks that it lies in one of
// roots and is a file (or a directory, for a dir) whose own links, if it
// is a directory, stay in those roots too.
func safePath(p string, roots []string, isDir bool) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("the task returned %s, which does not exist", p)
	}
	if err != nil {
		return "", err
	}
	if !inAny(real, roots) {
		return "", fmt.Errorf("the task returned %s, which is outside its working directory: return files the task wrote there (or in a RandomLocalDir)", p)
	}
	if err := checkKind(real, isDir); err != nil {
		return "", fmt.Errorf("the task returned %s: %w", p, err)
	}
	if !isDir {
		return real, nil
	}
	err = filepath.WalkDir(real, func(q string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, err := filepath.EvalSymlinks(q)
		if err != nil || !inAny(target, roots) {
			return fmt.Errorf("the directory the task returned holds %s, a symbolic link out of its working directory", q)
		}
		return nil
	})
	return real, err
}

func inAny(p string, roots []string) bool {
	for _, r := range roots {
		if rel, err := filepath.Rel(r, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// contentDigest returns the hex SHA-256 of v's canonical JSON with every
// file and dir replaced by a digest of its contents, so that a cache key
// follows the data, not where it is.
func (f *fileIO) contentDigest(ctx context.Context, v cty.Value) (string, error) {
	hv, err := cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		ref, ok := fileRef(v)
		if !ok {
			return v, nil
		}
		if ref.Local == "" {
			return v, fmt.Errorf("%s has no local copy", ref.URI)
		}
		sum, err := f.x.engine.hashes.sum(ref.Local, v.Type() == config.DirType)
		if err != nil {
			return v, err
		}
		return cty.StringVal(v.Type().FriendlyName() + ":sha256:" + sum), nil
	})
	if err != nil {
		return "", err
	}
	data, err := ToJSON(hv)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// hashes memoizes content hashes by path, size and modification time:
// files in the data store are read-only, so one hash serves every task
// that reads them.
type hashes struct {
	mu sync.Mutex
	m  map[string]hashEntry
}

type hashEntry struct {
	size  int64
	mtime time.Time
	sum   string
}

func (h *hashes) sum(p string, isDir bool) (string, error) {
	if isDir {
		return h.dirSum(p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	e, ok := h.m[p]
	h.mu.Unlock()
	if ok && e.size == fi.Size() && e.mtime.Equal(fi.ModTime()) {
		return e.sum, nil
	}
	sum, err := fileSum(p)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	if h.m == nil {
		h.m = map[string]hashEntry{}
	}
	h.m[p] = hashEntry{size: fi.Size(), mtime: fi.ModTime(), sum: sum}
	h.mu.Unlock()
	return sum, nil
}

// dirSum hashes a directory's tree: each regular file's slash path and
// content hash, in order of path. Empty directories do not count (a
// bucket has none).
func (h *hashes) dirSum(root string) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // as the data store skips them
		}
		sum, err := h.sum(p, false)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		lines = append(lines, filepath.ToSlash(rel)+"\x00"+sum+"\n")
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(lines)
	s := sha256.New()
	for _, l := range lines {
		io.WriteString(s, l)
	}
	return hex.EncodeToString(s.Sum(nil)), nil
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(s, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(s.Sum(nil)), nil
}

// localFiles fetches the remote files among args' inputs and returns args
// with the JSON a plugin gets (local paths) and, for a cached task, the
// digests of the files' contents in place of their URIs'.
func (x *execution) localFiles(ctx context.Context, args *taskArgs, cached bool) (*taskArgs, error) {
	out := *args
	if cached {
		out.digests = maps.Clone(args.digests)
	}
	local := maps.Clone(args.encoded)
	for name, v := range args.files {
		lv, err := x.files.localize(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		if local[name], err = toPluginJSON(lv); err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		if cached {
			if out.digests[name], err = x.files.contentDigest(ctx, lv); err != nil {
				return nil, fmt.Errorf("input %q: %w", name, err)
			}
		}
	}
	out.json = objectJSON(local)
	return &out, nil
}

// objectJSON writes the JSON object of encoded members, keys in order
// (membersJSON's bytes).
func objectJSON(members map[string][]byte) json.RawMessage {
	ms := make([]member, 0, len(members))
	for _, name := range slices.Sorted(maps.Keys(members)) {
		ms = append(ms, member{name, members[name]})
	}
	return membersJSON(ms)
}

// hasFileOutputs reports whether any of n's outputs may hold files.
func hasFileOutputs(n *Node) bool {
	for _, ty := range n.OutputTypes {
		if config.HasFiles(ty) {
			return true
		}
	}
	return false
}

// missingFile returns the first local file or dir of outs that no longer
// exists (a cached result whose run directory was removed), or "".
func missingFile(outs map[string]cty.Value) string {
	var missing string
	for _, v := range outs {
		_, _ = cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
			if ref, ok := fileRef(v); ok && ref.Local != "" && missing == "" {
				if _, err := os.Stat(ref.Local); err != nil {
					missing = ref.Local
				}
			}
			return v, nil
		})
	}
	return missing
}
