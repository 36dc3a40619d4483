package datastore_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tree returns path -> content for every regular file under dir, and
// path + "/" for every empty directory.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if entries, _ := os.ReadDir(path); len(entries) == 0 && rel != "." {
				got[rel+"/"] = ""
			}
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func openLocal(t *testing.T) (*datastore.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := datastore.Open(context.Background(), dir, datastore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestLocalOpen(t *testing.T) {
	s, dir := openLocal(t)
	got, ok := s.Local()
	if !ok || got != dir {
		t.Errorf("Local() = %q, %v; want %q, true", got, ok, dir)
	}
	if want := "file://" + filepath.ToSlash(dir); s.URI() != want {
		t.Errorf("URI() = %q, want %q", s.URI(), want)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("store dir mode = %o, want 700", perm)
	}

	// The same directory as a file:// URI.
	s2, err := datastore.Open(context.Background(), s.URI(), datastore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := s2.Local(); d != dir {
		t.Errorf("file URI opened %q, want %q", d, dir)
	}
}

func TestLocalPutFile(t *testing.T) {
	ctx := context.Background()
	for _, move := range []bool{false, true} {
		name := "link or copy"
		if move {
			name = "move"
		}
		t.Run(name, func(t *testing.T) {
			s, dir := openLocal(t)
			src := filepath.Join(t.TempDir(), "out.txt")
			writeFile(t, src, "hello")
			put := s.PutFile
			if move {
				put = s.PutFileMove
			}
			uri, err := put(ctx, "run-1/task/out.txt", src)
			if err != nil {
				t.Fatal(err)
			}
			stored := filepath.Join(dir, "run-1", "task", "out.txt")
			if want := "file://" + filepath.ToSlash(stored); uri != want {
				t.Errorf("uri = %q, want %q", uri, want)
			}
			b, err := os.ReadFile(stored)
			if err != nil || string(b) != "hello" {
				t.Fatalf("stored file = %q, %v", b, err)
			}
			fi, _ := os.Stat(stored)
			if perm := fi.Mode().Perm(); perm != 0o400 {
				t.Errorf("stored file mode = %o, want 400 (owner-only, read-only)", perm)
			}
			if !move {
				// Hard-linked: the task's own file is the stored one, and
				// must be owner-only too.
				if si, err := os.Stat(src); err != nil || si.Mode().Perm() != 0o400 {
					t.Errorf("src after put: %v, %v; want mode 400", si.Mode(), err)
				}
			}
			di, _ := os.Stat(filepath.Dir(stored))
			if perm := di.Mode().Perm(); perm != 0o700 {
				t.Errorf("key dir mode = %o, want 700", perm)
			}
			if _, err := os.Stat(src); move != errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after put (move=%v), stat src: %v", move, err)
			}
			if diff := cmp.Diff(map[string]string{"run-1/task/out.txt": "hello"}, tree(t, dir)); diff != "" {
				t.Errorf("store holds more than the file (temp files left?) (-want +got):\n%s", diff)
			}

			// Putting the key again replaces it whole.
			src2 := filepath.Join(t.TempDir(), "out2.txt")
			writeFile(t, src2, "again")
			if _, err := put(ctx, "run-1/task/out.txt", src2); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(stored); string(b) != "again" {
				t.Errorf("after second put: %q", b)
			}
		})
	}
}

func TestLocalPutFileErrors(t *testing.T) {
	ctx := context.Background()
	s, dir := openLocal(t)
	src := filepath.Join(t.TempDir(), "f")
	writeFile(t, src, "x")
	for _, key := range []string{"", "/abs", "../up", "a/../../up", `a\b`, "a\x00b", "a//b", "a/"} {
		_, err := s.PutFile(ctx, key, src)
		if !errors.Is(err, datastore.ErrInvalidKey) {
			t.Errorf("PutFile(%q) = %v, want ErrInvalidKey", key, err)
		}
		var e *datastore.Error
		if !errors.As(err, &e) || e.Op != "put" {
			t.Errorf("PutFile(%q) error %#v is not a put *Error", key, err)
		}
	}
	if _, err := s.PutFile(ctx, "k", filepath.Join(t.TempDir(), "missing")); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("PutFile of a missing src = %v, want ErrNotFound", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFile(ctx, "k", link); err == nil {
		t.Error("PutFile of a symlink succeeded, want error")
	}
	if _, err := s.PutFile(ctx, "k", filepath.Dir(src)); err == nil {
		t.Error("PutFile of a directory succeeded, want error")
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("failed puts left %v", got)
	}
}

func TestLocalPutDirAndFetch(t *testing.T) {
	ctx := context.Background()
	s, _ := openLocal(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a.txt"), "A")
	writeFile(t, filepath.Join(src, "sub", "b.txt"), "B")
	writeFile(t, filepath.Join(src, "sub", "deeper", "c.attrs"), "C")
	if err := os.MkdirAll(filepath.Join(src, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "outside")
	if err := os.Symlink(secret, filepath.Join(src, "sneaky")); err != nil {
		t.Fatal(err)
	}
	uri, err := s.PutDir(ctx, "run-1/task/outdir", src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.txt": "A", "sub/b.txt": "B", "sub/deeper/c.attrs": "C", "empty/": ""}

	dst := filepath.Join(t.TempDir(), "fetched")
	if err := datastore.Fetch(ctx, uri, dst, true, datastore.Options{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, tree(t, dst)); diff != "" {
		t.Errorf("fetched dir (-want +got):\n%s", diff)
	}
	fi, _ := os.Stat(filepath.Join(dst, "sub", "b.txt"))
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("fetched file mode = %o, want 600 (the task may change its inputs)", perm)
	}

	// One file, by URI and by plain path.
	one := filepath.Join(t.TempDir(), "x", "b.txt")
	if err := datastore.Fetch(ctx, uri+"/sub/b.txt", one, false, datastore.Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(one); string(b) != "B" {
		t.Errorf("fetched file = %q", b)
	}
	dir, _ := s.Local()
	if err := datastore.Fetch(ctx, filepath.Join(dir, "run-1/task/outdir/a.txt"), one, false, datastore.Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(one); string(b) != "A" {
		t.Errorf("fetched file over the old one = %q", b)
	}
}

func TestLocalFetchErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openLocal(t)
	missing := s.URI() + "/no/such/file"
	err := datastore.Fetch(ctx, missing, filepath.Join(t.TempDir(), "f"), false, datastore.Options{})
	if !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("Fetch missing = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name %s", err, missing)
	}
	if err := datastore.Fetch(ctx, missing, t.TempDir(), true, datastore.Options{}); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("Fetch missing dir = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"ftp://x/y", "file://host/x"} {
		if err := datastore.Fetch(ctx, bad, t.TempDir(), true, datastore.Options{}); err == nil {
			t.Errorf("Fetch(%q) succeeded", bad)
		}
	}
}

func TestLocalConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	s, dir := openLocal(t)
	srcDir := t.TempDir()
	errs := make(chan error, 16)
	for i := range 16 {
		src := filepath.Join(srcDir, string(rune('a'+i)))
		writeFile(t, src, strings.Repeat(string(rune('a'+i)), 1000))
		go func() {
			_, err := s.PutFile(ctx, "same/key", src)
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got := tree(t, dir)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 1 || keys[0] != "same/key" {
		t.Fatalf("store holds %v, want only same/key", keys)
	}
	v := got["same/key"]
	if len(v) != 1000 || strings.Count(v, v[:1]) != 1000 {
		t.Errorf("same/key is a mix of writers")
	}
}
