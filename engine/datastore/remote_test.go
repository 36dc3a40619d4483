package datastore_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/datastore"
)

func newTestLogger(w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Debug})
}

// checkRoundTrip opens the bucket store at prefix (say "s3://runs/project")
// and checks what every remote store must do: put a file and a directory
// (with a file of big bytes) and fetch them back the same, and fetch an
// empty prefix as an empty directory. It returns the stored file's URI,
// whose contents are "1", for checks of a store's own.
func checkRoundTrip(t *testing.T, prefix string, big int, opts datastore.Options) (fileURI string) {
	t.Helper()
	ctx := context.Background()
	s, err := datastore.Open(ctx, prefix+"/", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.URI() != prefix {
		t.Errorf("URI() = %q, want %q", s.URI(), prefix)
	}
	if _, ok := s.Local(); ok {
		t.Errorf("Local() is true for %s", prefix)
	}

	src := t.TempDir()
	writeFile(t, filepath.Join(src, "one.txt"), "1")
	writeFile(t, filepath.Join(src, "sub", "two.bin"), strings.Repeat("\x00\xff", big/2))
	writeFile(t, filepath.Join(src, "sub", "deep", "three"), "")

	uri, err := s.PutFile(ctx, "run-1/task/one.txt", filepath.Join(src, "one.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := prefix + "/run-1/task/one.txt"; uri != want {
		t.Errorf("PutFile uri = %q, want %q", uri, want)
	}
	dst := filepath.Join(t.TempDir(), "one.txt")
	if err := datastore.Fetch(ctx, uri, dst, false, opts); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "1" {
		t.Errorf("fetched %q from %s", b, uri)
	}

	dirURI, err := s.PutDir(ctx, "run-1/task/out", src)
	if err != nil {
		t.Fatal(err)
	}
	if want := prefix + "/run-1/task/out"; dirURI != want {
		t.Errorf("PutDir uri = %q, want %q", dirURI, want)
	}
	got := filepath.Join(t.TempDir(), "out")
	if err := datastore.Fetch(ctx, dirURI, got, true, opts); err != nil {
		t.Fatal(err)
	}
	// The empty directory sub/deep survives only because it holds a file:
	// a remote store has no empty directories.
	if diff := cmp.Diff(tree(t, src), tree(t, got)); diff != "" {
		t.Errorf("fetched dir differs (-want +got):\n%s", diff)
	}

	empty := filepath.Join(t.TempDir(), "empty")
	if err := datastore.Fetch(ctx, prefix+"/nothing/here", empty, true, opts); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(empty); err != nil || !fi.IsDir() {
		t.Errorf("empty prefix: %v", err)
	}
	return uri
}
