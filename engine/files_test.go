package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

func TestParseFileTypes(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want cty.Type
	}{
		{"file", config.FileType},
		{"dir", config.DirType},
		{"list(file)", cty.List(config.FileType)},
		{"map(dir)", cty.Map(config.DirType)},
		{"set(file)", cty.Set(config.FileType)},
		{"object({report=file, n=number, parts=list(dir)})", cty.Object(map[string]cty.Type{"report": config.FileType, "n": cty.Number, "parts": cty.List(config.DirType)})},
		{"tuple([file, string])", cty.Tuple([]cty.Type{config.FileType, cty.String})},
		{"list(string)", cty.List(cty.String)},
	} {
		got, err := ParseType(tc.expr)
		if err != nil || !got.Equals(tc.want) {
			t.Errorf("ParseType(%q) = %#v, %v; want %#v", tc.expr, got, err, tc.want)
			continue
		}
		back, err := ParseType(TypeString(got))
		if err != nil || !back.Equals(got) {
			t.Errorf("TypeString(%q) = %q does not parse back: %v", tc.expr, TypeString(got), err)
		}
	}
	if _, err := ParseType("list(fil)"); err == nil || !strings.Contains(err.Error(), "file and dir") {
		t.Errorf("ParseType(list(fil)) = %v, want an error that mentions file and dir", err)
	}
}

func TestFileJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a b.txt")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := ParseInputValue(path, config.FileType)
	if err != nil {
		t.Fatal(err)
	}
	uri := config.LocalURI(path)
	if got, _ := ToJSON(v); string(got) != `"`+uri+`"` {
		t.Errorf("ToJSON = %s, want the URI %s", got, uri)
	}
	if got, _ := toPluginJSON(v); string(got) != `"`+path+`"` {
		t.Errorf("toPluginJSON = %s, want the path", got)
	}
	// A URI decodes back to the same file, with its local path.
	back, err := FromJSON([]byte(`"`+uri+`"`), config.FileType)
	if err != nil {
		t.Fatal(err)
	}
	if ref := back.EncapsulatedValue().(*config.FileRef); ref.Local != path || ref.URI != uri {
		t.Errorf("FromJSON(%s) = %+v", uri, ref)
	}
	// Lists of files too; a remote one has no local path yet.
	lv, err := FromJSON([]byte(`["s3://b/k/x.csv", null]`), cty.List(config.FileType))
	if err != nil {
		t.Fatal(err)
	}
	if ref := lv.Index(cty.NumberIntVal(0)).EncapsulatedValue().(*config.FileRef); ref.URI != "s3://b/k/x.csv" || ref.Local != "" {
		t.Errorf("remote file = %+v", ref)
	}
	// A file converts to a string (its path) and a string to a file.
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.AsString() != path {
		t.Errorf("file as string = %#v, %v", s, err)
	}
	f, err := convert.Convert(cty.StringVal("gs://bucket/o"), config.FileType)
	if err != nil || f.EncapsulatedValue().(*config.FileRef).URI != "gs://bucket/o" {
		t.Errorf("string as file = %#v, %v", f, err)
	}
	for _, bad := range []string{"", "ftp://host/x", "s3:///nobucket", "file://host/x"} {
		if _, err := ParseInputValue(bad, config.FileType); err == nil {
			t.Errorf("ParseInputValue(%q, file) succeeded", bad)
		}
	}
	if _, err := ParseInputValue(filepath.Join(dir, "missing"), config.FileType); err == nil {
		t.Error("a missing local file was accepted")
	}
	if _, err := ParseInputValue(path, config.DirType); err == nil {
		t.Error("a file was accepted as a dir")
	}
}

func TestSafePath(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	other := filepath.Join(root, "other")
	for _, d := range []string{work, other, filepath.Join(work, "sub")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(work, "ok.txt"))
	write(filepath.Join(other, "secret.txt"))
	mustLink := func(target, link string) {
		if err := os.Symlink(target, link); err != nil {
			t.Skip("no symlinks:", err)
		}
	}
	mustLink(filepath.Join(other, "secret.txt"), filepath.Join(work, "out.txt"))
	mustLink("ok.txt", filepath.Join(work, "in.txt"))
	mustLink(other, filepath.Join(work, "sub", "escape"))
	roots := []string{work}
	for _, tc := range []struct {
		path  string
		isDir bool
		want  string // "" for ok
	}{
		{filepath.Join(work, "ok.txt"), false, ""},
		{filepath.Join(work, "in.txt"), false, ""}, // a link that stays inside
		{filepath.Join(work, "..", "other", "secret.txt"), false, "outside"},
		{filepath.Join(other, "secret.txt"), false, "outside"},
		{filepath.Join(work, "out.txt"), false, "outside"},
		{filepath.Join(work, "nope"), false, "does not exist"},
		{work, false, "not a regular file"},
		{filepath.Join(work, "ok.txt"), true, "not a directory"},
		{filepath.Join(work, "sub"), true, "symbolic link out"},
		{work + "-x", true, "does not exist"},
	} {
		_, err := safePath(tc.path, roots, tc.isDir)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("safePath(%s) = %v, want ok", tc.path, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("safePath(%s, dir=%v) = %v, want an error with %q", tc.path, tc.isDir, err, tc.want)
		}
	}
	// A sibling whose name starts like the root is not inside it.
	if inAny(work+"x/f", roots) {
		t.Error("inAny accepted a sibling with the root as a prefix")
	}
}

func TestContentHashes(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a/x", "1")
	write("a/y/z", "2")
	write("b/y/z", "2")
	write("b/x", "1")
	write("c/x", "1")
	write("c/y/w", "2") // same contents, another name
	var h hashes
	sum := func(rel string) string {
		s, err := h.sum(filepath.Join(dir, rel), true)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if sum("a") != sum("b") {
		t.Error("equal trees hash differently")
	}
	if sum("a") == sum("c") {
		t.Error("trees with different names hash the same")
	}
	f1, _ := h.sum(filepath.Join(dir, "a/x"), false)
	write("a/x", "changed")
	f2, _ := h.sum(filepath.Join(dir, "a/x"), false)
	if f1 == f2 {
		t.Error("a changed file kept its memoized hash")
	}
}

func TestFetchName(t *testing.T) {
	for uri, base := range map[string]string{
		"s3://bucket/dir/data.csv": "data.csv",
		"s3://bucket/dir/":         "dir",
		"s3://bucket":              "bucket",
		"gs://bucket/a/..":         "data",
		"azblob://c/x\\..\\y":      "data",
	} {
		got := fetchName(uri)
		if filepath.Base(got) != base || filepath.Dir(got) == "." || strings.Contains(got, "..") {
			t.Errorf("fetchName(%q) = %q, want <hash>/%s", uri, got, base)
		}
	}
	if fetchName("s3://b/x") == fetchName("s3://b/y/x") {
		t.Error("two URIs with one base name share a directory")
	}
}

// fakeStorage fetches by writing the URI into dst, counting calls, and
// waits for release when block is set.
type fakeStorage struct {
	mu      sync.Mutex
	fetches int
	block   chan struct{}
}

func (s *fakeStorage) Open(context.Context, string) (Store, error) {
	return nil, errors.New("fakeStorage: no store")
}

func (s *fakeStorage) Fetch(ctx context.Context, uri, dst string, _ bool) error {
	s.mu.Lock()
	s.fetches++
	block := s.block
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return fmt.Errorf("fetch %s: %w", uri, ctx.Err())
		}
	}
	return os.WriteFile(dst, []byte(uri), 0o600)
}

func TestFetchOncePerRun(t *testing.T) {
	st := &fakeStorage{block: make(chan struct{})}
	x := &execution{engine: &Engine{Storage: st}, run: &sandbox.Run{Dir: t.TempDir()}}
	f := &fileIO{x: x}
	const uri = "s3://b/data.csv"

	// A fetch stopped by its task's context is not the answer for others.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.fetch(ctx, uri, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fetch: %v", err)
	}

	// Many tasks at once: one download, one path for all.
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = f.fetch(context.Background(), uri, false)
		}()
	}
	time.Sleep(10 * time.Millisecond) // let them queue behind the first
	close(st.block)
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("fetch %d = %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	if data, err := os.ReadFile(paths[0]); err != nil || string(data) != uri {
		t.Errorf("fetched file: %q, %v", data, err)
	}
	if st.fetches != 2 { // the cancelled one, then one for all eight
		t.Errorf("Storage.Fetch called %d times, want 2", st.fetches)
	}
}

// TestFileSets keeps files given as paths apart in sets and distinct(),
// before and after they are resolved.
func TestFileSets(t *testing.T) {
	v, err := convert.Convert(cty.ListVal([]cty.Value{cty.StringVal("a.txt"), cty.StringVal("b.txt"), cty.StringVal("a.txt")}), cty.Set(config.FileType))
	if err != nil {
		t.Fatal(err)
	}
	if n := v.LengthInt(); n != 2 {
		t.Errorf("set of a.txt, b.txt, a.txt has %d elements, want 2", n)
	}
	r, err := resolveInput(v)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.LengthInt(); n != 2 {
		t.Errorf("resolved set has %d elements, want 2", n)
	}
}

// memStore is a Store that records the keys put into it.
type memStore struct {
	mu   sync.Mutex
	keys []string
}

func (s *memStore) put(key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
	return "mem://" + key, nil
}

func (s *memStore) PutFile(_ context.Context, key, _ string) (string, error) { return s.put(key) }
func (s *memStore) PutDir(_ context.Context, key, _ string) (string, error)  { return s.put(key) }
func (s *memStore) Local() (string, bool)                                    { return "", false }
func (s *memStore) Close() error                                             { return nil }

type memStorage struct{ store *memStore }

func (m memStorage) Open(context.Context, string) (Store, error) { return m.store, nil }
func (m memStorage) Fetch(context.Context, string, string, bool) error {
	return errors.New("memStorage: no fetch")
}

// TestStoreOutputKeys checks where returned files go in the data store:
// under the attempt, the output and the name the task gave (a symlink's,
// not its target's), numbered when an output holds several.
func TestStoreOutputKeys(t *testing.T) {
	runDir := t.TempDir()
	work := filepath.Join(runDir, "tasks", "t.2")
	if err := os.MkdirAll(filepath.Join(work, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data.bin", "a.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("data.bin", filepath.Join(work, "report.csv")); err != nil {
		t.Skip("no symlinks:", err)
	}
	store := &memStore{}
	x := &execution{engine: &Engine{Config: config.Defaults(), Storage: memStorage{store}}, run: &sandbox.Run{Dir: runDir}}
	f := &fileIO{x: x}
	file := func(p string) cty.Value { return cty.CapsuleVal(config.FileType, &config.FileRef{Local: p}) }
	outs := map[string]cty.Value{
		"report": file("report.csv"),
		"parts":  cty.ListVal([]cty.Value{file("a.txt"), file(filepath.Join(work, "b.txt"))}),
		"dir":    cty.CapsuleVal(config.DirType, &config.FileRef{Local: "sub"}),
		"n":      cty.NumberIntVal(3),
	}
	stored, err := f.storeOutputs(context.Background(), "t", 2, work, outs)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(store.keys)
	want := []string{"t.2/dir/sub", "t.2/parts/1/a.txt", "t.2/parts/2/b.txt", "t.2/report/report.csv"}
	if !slices.Equal(store.keys, want) {
		t.Errorf("keys = %q, want %q", store.keys, want)
	}
	if ref := stored["report"].EncapsulatedValue().(*config.FileRef); ref.URI != "mem://t.2/report/report.csv" || ref.Local != "" {
		t.Errorf("stored report = %+v", ref)
	}
	if !stored["n"].RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("a number output changed: %#v", stored["n"])
	}
}

// ptrStore is a Store whose methods need a non-nil receiver, like
// *datastore.Store's.
type ptrStore struct{ closed bool }

func (s *ptrStore) PutFile(context.Context, string, string) (string, error) { return "", nil }
func (s *ptrStore) PutDir(context.Context, string, string) (string, error)  { return "", nil }
func (s *ptrStore) Local() (string, bool)                                   { return "", false }
func (s *ptrStore) Close() error                                            { s.closed = true; return nil }

// typedNilStorage fails to open the way a careless adapter does: a nil
// *ptrStore in a non-nil Store, with the error.
type typedNilStorage struct{}

func (typedNilStorage) Open(context.Context, string) (Store, error) {
	var s *ptrStore
	return s, errors.New("bucket nosuchbucket does not exist")
}

func (typedNilStorage) Fetch(context.Context, string, string, bool) error {
	return errors.New("no fetch")
}

// TestDataStoreOpenFailure checks that a store that failed to open is
// reported, and that closing the run afterwards does not call the typed
// nil a Storage returned with its error (issue 12: a nil-pointer panic in
// datastore.(*Store).Close).
func TestDataStoreOpenFailure(t *testing.T) {
	x := &execution{engine: &Engine{Config: config.Defaults(), Storage: typedNilStorage{}}, run: &sandbox.Run{Dir: t.TempDir(), Name: "r"}}
	f := &fileIO{x: x}
	st, err := f.dataStore(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nosuchbucket") {
		t.Fatalf("dataStore() error = %v, want the open failure", err)
	}
	if st != nil {
		t.Errorf("dataStore() store = %#v, want nil with the error", st)
	}
	f.close() // must not panic
}
