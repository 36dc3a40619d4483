package datastore_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/goflyte/goflyte/engine/datastore"
)

// gcsOptions matches the fake server: Google Cloud Storage needs no
// options here, since STORAGE_EMULATOR_HOST does without credentials.
func gcsOptions() datastore.Options {
	return datastore.Options{Retries: 2, Backoff: time.Millisecond}
}

// useGCSEmulator points gs:// stores at the emulator at rawURL through
// STORAGE_EMULATOR_HOST, which gcsblob wants as host:port. It also points
// Application Default Credentials at a missing file: with the emulator
// set, none may be looked up, so a lookup would fail the test.
func useGCSEmulator(t *testing.T, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
}

// newFakeGCS returns fake-gcs-server with the bucket "runs". gcsblob
// talks plain HTTP to an emulator and reads objects through the XML API
// path-style (GET /bucket/object), which the fake routes only for requests
// to its PublicHost; its match ignores the port.
func newFakeGCS(t *testing.T, noListener bool) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		Port:       0, // any free port
		PublicHost: "127.0.0.1",
		NoListener: noListener,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "runs"})
	return srv
}

// startGCS starts fake-gcs-server in-process and points gs:// at it.
func startGCS(t *testing.T) {
	t.Helper()
	useGCSEmulator(t, newFakeGCS(t, false).URL())
}

func TestGCSRoundTrip(t *testing.T) {
	startGCS(t)
	ctx := context.Background()
	opts := gcsOptions()
	uri := checkRoundTrip(t, "gs://runs/project", 18<<20, opts) // 18 MiB: a resumable upload in two chunks

	// anonymous=true is what the emulator implies anyway.
	dst := filepath.Join(t.TempDir(), "one.txt")
	if err := datastore.Fetch(ctx, uri+"?anonymous=true", dst, false, opts); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "1" {
		t.Errorf("fetched %q from %s?anonymous=true", b, uri)
	}
}

func TestGCSMissing(t *testing.T) {
	startGCS(t)
	ctx := context.Background()
	opts := gcsOptions()

	open := func(uri string) error {
		s, err := datastore.Open(ctx, uri, opts)
		if err == nil {
			s.Close()
		}
		return err
	}
	fetch := func(dir bool) func(string) error {
		return func(uri string) error {
			return datastore.Fetch(ctx, uri, filepath.Join(t.TempDir(), "x"), dir, opts)
		}
	}
	for _, tc := range []struct {
		name     string
		op       func(uri string) error
		uri      string
		wantKind error
		wantText string
	}{
		{"object", fetch(false), "gs://runs/no/such/object", datastore.ErrNotFound, "fetch: no such object gs://runs/no/such/object"},
		{"bucket on open", open, "gs://nobucket/p", datastore.ErrNoBucket, "open: no such bucket gs://nobucket/p"},
		{"bucket on fetch dir", fetch(true), "gs://nobucket/k", datastore.ErrNoBucket, "fetch: no such bucket gs://nobucket/k"},
		// A read from a missing bucket is a bare 404, which the storage
		// client reports as a missing object, as it does against GCS.
		{"bucket on fetch", fetch(false), "gs://nobucket/k", datastore.ErrNotFound, "fetch: no such object gs://nobucket/k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op(tc.uri)
			if !errors.Is(err, tc.wantKind) {
				t.Fatalf("got %v, want %v", err, tc.wantKind)
			}
			var e *datastore.Error
			if !errors.As(err, &e) || e.URI != tc.uri {
				t.Errorf("error = %#v, want an *Error for %s", err, tc.uri)
			}
			if err.Error() != tc.wantText {
				t.Errorf("error = %q, want %q", err, tc.wantText)
			}
		})
	}
}

func TestGCSUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name     string
		host     string
		wantKind error
	}{
		{"closed port", closed, datastore.ErrUnreachable},
		// gcsblob would prepend "http://" to a URL; Open says so instead.
		{"URL instead of host:port", "http://" + closed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STORAGE_EMULATOR_HOST", tc.host)
			// Left alone, the storage client retries a refused
			// connection until the context ends.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := datastore.Open(ctx, "gs://runs/p", gcsOptions())
			var e *datastore.Error
			if !errors.As(err, &e) || e.Kind != tc.wantKind || e.Op != "open" || e.URI != "gs://runs/p" {
				t.Fatalf("Open = %#v, want an *Error with Kind %v", err, tc.wantKind)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v: the storage client's own retries are not off", d)
			}
		})
	}
}

// TestGCSRetries checks that Options.Retries counts every attempt: the
// storage client, left alone, would retry a 503 itself.
func TestGCSRetries(t *testing.T) {
	fake := newFakeGCS(t, true)
	var failures atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failures.Add(-1) >= 0 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fake.HTTPHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	useGCSEmulator(t, srv.URL)

	for _, tc := range []struct {
		name     string
		retries  int
		failures int32
		wantErr  bool
	}{
		{"no retries, one 503", 0, 1, true},
		{"two retries, two 503s", 2, 2, false},
		{"two retries, three 503s", 2, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failures.Store(tc.failures)
			opts := gcsOptions()
			opts.Retries = tc.retries
			s, err := datastore.Open(context.Background(), "gs://runs/p", opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				s.Close()
			}
			if n := failures.Load(); n > 0 {
				t.Errorf("%d 503s left unanswered", n)
			}
		})
	}
}
