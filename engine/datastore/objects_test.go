package datastore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
)

// checkObjects lists, reads and deletes objects of the store at prefix,
// as every store must.
func checkObjects(t *testing.T, prefix string, opts datastore.Options) {
	t.Helper()
	ctx := context.Background()
	s, err := datastore.Open(ctx, prefix, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), "alpha")
	writeFile(t, filepath.Join(src, "b"), "be")
	before := time.Now().Add(-time.Minute)
	for _, key := range []string{"ab/one", "ab/two", "cd/three"} {
		file := filepath.Join(src, "a")
		if key == "ab/two" {
			file = filepath.Join(src, "b")
		}
		if _, err := s.PutFile(ctx, key, file); err != nil {
			t.Fatal(err)
		}
	}
	list := func(p string) map[string]int64 {
		got := map[string]int64{}
		err := s.List(ctx, p, func(key string, size int64, mod time.Time) error {
			if mod.Before(before) {
				t.Errorf("%s: modification time %v is before the put", key, mod)
			}
			got[key] = size
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if diff := cmp.Diff(map[string]int64{"ab/one": 5, "ab/two": 2, "cd/three": 5}, list("")); diff != "" {
		t.Errorf("List(\"\") (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"ab/one": 5, "ab/two": 2}, list("ab/")); diff != "" {
		t.Errorf("List(ab/) (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	if err := s.List(ctx, "", func(string, int64, time.Time) error { return stop }); err != stop {
		t.Errorf("List returned %v, want fn's error as it is", err)
	}
	if data, err := s.Read(ctx, "ab/two"); err != nil || string(data) != "be" {
		t.Errorf("Read(ab/two) = %q, %v", data, err)
	}
	if err := s.Delete(ctx, "ab/two"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, "ab/two"); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("Read of a deleted object: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "ab/two"); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("Delete of a deleted object: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "../x"); !errors.Is(err, datastore.ErrInvalidKey) {
		t.Errorf("Delete(../x): %v, want ErrInvalidKey", err)
	}
	if diff := cmp.Diff(map[string]int64{"ab/one": 5, "cd/three": 5}, list("")); diff != "" {
		t.Errorf("after Delete (-want +got):\n%s", diff)
	}
	if got := list("zz/"); len(got) != 0 {
		t.Errorf("List(zz/) = %v", got)
	}
}

func TestLocalObjects(t *testing.T) {
	checkObjects(t, filepath.Join(t.TempDir(), "store"), datastore.Options{})
}

func TestS3Objects(t *testing.T) {
	isolateAWS(t)
	srv := s3test.Start(t)
	srv.CreateBucket("runs")
	checkObjects(t, "s3://runs/project/cache", s3Options(srv))
}
