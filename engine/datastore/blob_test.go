package datastore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
)

// The remote code path, with buckets that need no server: fileblob for a
// bucket on disk, memblob for keys no file system would hold.

func TestBlobPutAndFetch(t *testing.T) {
	ctx := context.Background()
	b, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := parseLocation("s3://bkt/prefix")
	s := &Store{loc: loc, bucket: b}
	defer s.Close()

	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), []byte("A"), 0o600)
	os.MkdirAll(filepath.Join(src, "d"), 0o700)
	os.WriteFile(filepath.Join(src, "d", "b"), []byte("B"), 0o600)
	uri, err := s.PutDir(ctx, "out", src)
	if err != nil {
		t.Fatal(err)
	}
	if uri != "s3://bkt/prefix/out" {
		t.Errorf("uri = %q", uri)
	}
	dloc, _ := parseLocation(uri)
	dst := filepath.Join(t.TempDir(), "got")
	if err := fetchBlob(ctx, b, dloc, dst, true, &Options{}); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"a": "A", "d/b": "B"} {
		if got, _ := os.ReadFile(filepath.Join(dst, rel)); string(got) != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}

	missing, _ := parseLocation("s3://bkt/prefix/out/zzz")
	err = fetchBlob(ctx, b, missing, filepath.Join(t.TempDir(), "z"), false, &Options{})
	if !errors.Is(err, ErrNotFound) || err.Error() != "fetch: no such object s3://bkt/prefix/out/zzz" {
		t.Errorf("missing object: %v", err)
	}
}

func TestFetchDirRejectsEscapingKeys(t *testing.T) {
	ctx := context.Background()
	for _, key := range []string{"p/../../evil", "p//x", "p/./x", `p/..\evil`} {
		t.Run(key, func(t *testing.T) {
			b := memblob.OpenBucket(nil)
			defer b.Close()
			if err := b.WriteAll(ctx, "p/fine", []byte("ok"), nil); err != nil {
				t.Fatal(err)
			}
			if err := b.WriteAll(ctx, key, []byte("evil"), nil); err != nil {
				t.Fatal(err)
			}
			loc, _ := parseLocation("s3://bkt/p")
			root := t.TempDir()
			err := fetchBlob(ctx, b, loc, filepath.Join(root, "dst"), true, &Options{})
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("fetch of %q = %v, want ErrInvalidKey", key, err)
			}
			if _, err := os.Stat(filepath.Join(root, "evil")); err == nil {
				t.Error("the escaping object was written outside dst")
			}
		})
	}
}

func TestFetchDirSkipsDirectoryMarkers(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	b.WriteAll(ctx, "p/sub/", nil, nil)
	b.WriteAll(ctx, "p/sub/x", []byte("x"), nil)
	loc, _ := parseLocation("s3://bkt/p")
	dst := t.TempDir()
	if err := fetchBlob(ctx, b, loc, dst, true, &Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "sub", "x")); string(got) != "x" {
		t.Errorf("sub/x = %q", got)
	}
}

func TestRetry(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name     string
		retries  int
		errs     []error // returned by successive attempts; nil after the list
		attempts int
		wantErr  bool
	}{
		{"success", 3, nil, 1, false},
		{"transient then success", 3, []error{refused, refused}, 3, false},
		{"transient exhausted", 2, []error{refused, refused, refused, refused}, 3, true},
		{"no retries", 0, []error{refused}, 1, true},
		{"not found is final", 3, []error{ErrNotFound}, 1, true},
		{"permission is final", 3, []error{fmt.Errorf("x: %w", ErrPermission)}, 1, true},
		{"unknown is final", 3, []error{errors.New("bad request")}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := retry(context.Background(), &Options{Retries: tc.retries, Backoff: time.Microsecond}, "test", func() error {
				n++
				if n <= len(tc.errs) {
					return tc.errs[n-1]
				}
				return nil
			})
			if n != tc.attempts || (err != nil) != tc.wantErr {
				t.Errorf("attempts = %d, err = %v; want %d attempts, error %v", n, err, tc.attempts, tc.wantErr)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := retry(ctx, &Options{Retries: 5, Backoff: time.Hour}, "test", func() error {
		n++
		cancel()
		return refused
	})
	if n != 1 || err == nil {
		t.Errorf("cancelled retry: %d attempts, %v", n, err)
	}
}

func TestErrorRedactsSecrets(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	err := newError("put", "s3://b/k", fmt.Errorf("signature for %s failed", secret), []string{secret})
	if got := err.Error(); got != "put s3://b/k: signature for [redacted] failed" {
		t.Errorf("Error() = %q", got)
	}
}
