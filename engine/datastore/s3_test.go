package datastore_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
)

// isolateAWS clears the AWS environment, so that only Options supply
// credentials, and turns off the EC2 metadata lookup, so that a test
// without credentials sends nothing off this machine.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
	empty := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
}

func s3Options(srv *s3test.Server) datastore.Options {
	var o datastore.Options
	o.AWS.Endpoint = srv.Endpoint
	o.AWS.AccessKeyID = srv.AccessKey
	o.AWS.SecretAccessKey = srv.SecretKey
	o.Retries = 2
	o.Backoff = time.Millisecond
	return o
}

func TestS3RoundTrip(t *testing.T) {
	isolateAWS(t)
	srv := s3test.Start(t)
	srv.CreateBucket("runs")
	ctx := context.Background()
	opts := s3Options(srv)
	uri := checkRoundTrip(t, "s3://runs/project", 6<<20, opts) // 6 MiB: a multipart upload
	dst := filepath.Join(t.TempDir(), "one.txt")

	// The URI's query parameters can carry the endpoint instead of Options.
	viaQuery := opts
	viaQuery.AWS.Endpoint = ""
	q := uri + "?endpoint=" + srv.Endpoint + "&region=us-east-1&use_path_style=true"
	if err := datastore.Fetch(ctx, q, dst, false, viaQuery); err != nil {
		t.Fatalf("fetch with endpoint in the query: %v", err)
	}
}

func TestS3WrongSecret(t *testing.T) {
	isolateAWS(t)
	srv := s3test.Start(t)
	srv.CreateBucket("runs")
	ctx := context.Background()
	opts := s3Options(srv)
	opts.AWS.SecretAccessKey = "not-the-secret-" + srv.SecretKey[len(srv.SecretKey)-6:]

	_, err := datastore.Open(ctx, "s3://runs/p", opts)
	if !errors.Is(err, datastore.ErrPermission) {
		t.Fatalf("Open with a wrong secret = %v, want ErrPermission", err)
	}
	if strings.Contains(err.Error(), opts.AWS.SecretAccessKey) || strings.Contains(err.Error(), srv.SecretKey) {
		t.Errorf("error text contains the secret: %s", err)
	}
	if !strings.Contains(err.Error(), "s3://runs/p") {
		t.Errorf("error %q does not name the store", err)
	}

	err = datastore.Fetch(ctx, "s3://runs/p/k", filepath.Join(t.TempDir(), "k"), false, opts)
	if !errors.Is(err, datastore.ErrPermission) {
		t.Fatalf("Fetch with a wrong secret = %v, want ErrPermission", err)
	}
	if strings.Contains(err.Error(), opts.AWS.SecretAccessKey) {
		t.Errorf("error text contains the secret: %s", err)
	}

	opts.AWS.AccessKeyID = "nobody"
	if _, err := datastore.Open(ctx, "s3://runs/p", opts); !errors.Is(err, datastore.ErrPermission) {
		t.Errorf("Open with an unknown access key = %v, want ErrPermission", err)
	}
}

func TestS3WrongEndpoint(t *testing.T) {
	isolateAWS(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	var opts datastore.Options
	opts.AWS.Endpoint = closed
	opts.AWS.AccessKeyID = "k"
	opts.AWS.SecretAccessKey = "s3cr3t-value"
	opts.Retries = 2
	opts.Backoff = time.Millisecond
	start := time.Now()
	_, err = datastore.Open(context.Background(), "s3://runs/p", opts)
	if !errors.Is(err, datastore.ErrUnreachable) {
		t.Fatalf("Open on a closed port = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("error %q does not say it retried", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the SDK's own retries are not off", d)
	}
	var e *datastore.Error
	if !errors.As(err, &e) || e.Op != "open" || e.URI != "s3://runs/p" {
		t.Errorf("error = %#v", err)
	}
}

func TestS3Missing(t *testing.T) {
	isolateAWS(t)
	srv := s3test.Start(t)
	srv.CreateBucket("runs")
	ctx := context.Background()
	opts := s3Options(srv)

	uri := "s3://runs/no/such/object"
	err := datastore.Fetch(ctx, uri, filepath.Join(t.TempDir(), "x"), false, opts)
	if !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("Fetch missing object = %v, want ErrNotFound", err)
	}
	if want := "fetch: no such object " + uri; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}

	if _, err := datastore.Open(ctx, "s3://nobucket/p", opts); !errors.Is(err, datastore.ErrNoBucket) {
		t.Errorf("Open missing bucket = %v, want ErrNoBucket", err)
	}
	err = datastore.Fetch(ctx, "s3://nobucket/k", filepath.Join(t.TempDir(), "x"), false, opts)
	if !errors.Is(err, datastore.ErrNoBucket) {
		t.Errorf("Fetch from a missing bucket = %v, want ErrNoBucket", err)
	}
	err = datastore.Fetch(ctx, "s3://nobucket/k", t.TempDir(), true, opts)
	if !errors.Is(err, datastore.ErrNoBucket) {
		t.Errorf("Fetch dir from a missing bucket = %v, want ErrNoBucket", err)
	}
}

func TestS3NoCredentials(t *testing.T) {
	isolateAWS(t)
	var opts datastore.Options
	opts.AWS.Endpoint = "http://127.0.0.1:1" // never reached
	_, err := datastore.Open(context.Background(), "s3://runs/p", opts)
	if !errors.Is(err, datastore.ErrNoCredentials) {
		t.Fatalf("Open without credentials = %v, want ErrNoCredentials", err)
	}
	opts.AWS.AccessKeyID = "only-the-id"
	if _, err := datastore.Open(context.Background(), "s3://runs/p", opts); !errors.Is(err, datastore.ErrNoCredentials) {
		t.Errorf("Open with half the credentials = %v, want ErrNoCredentials", err)
	}
}

func TestS3DebugLogRedacts(t *testing.T) {
	// EnableDebug logs requests; neither the secret nor a signature's
	// source may appear.
	isolateAWS(t)
	srv := s3test.Start(t)
	srv.CreateBucket("runs")
	var log strings.Builder
	opts := s3Options(srv)
	opts.AWS.EnableDebug = true
	opts.Logger = newTestLogger(&log)
	s, err := datastore.Open(context.Background(), "s3://runs/p", opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if log.Len() == 0 {
		t.Error("EnableDebug logged nothing")
	}
	if strings.Contains(log.String(), srv.SecretKey) {
		t.Error("debug log contains the secret key")
	}
}

// fakeIMDS is a real HTTP server on 127.0.0.1 standing in for the EC2
// metadata service of a machine with no instance role: it refuses the
// IMDSv2 token (so the SDK warns that it falls back to IMDSv1) and has no
// credentials. It returns what the variables of the SDK must be set to.
func fakeIMDS(t *testing.T) (endpoint string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestS3SDKWarningsGoToLogger checks that the AWS SDK's own warnings reach
// Options.Logger at debug level (and so not stderr at the default level):
// with no credentials anywhere the SDK asks the metadata service, which
// refuses IMDSv2, and warns "falling back to IMDSv1".
func TestS3SDKWarningsGoToLogger(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fakeIMDS(t))
	var log strings.Builder
	var opts datastore.Options
	opts.AWS.Endpoint = "http://127.0.0.1:1" // never reached
	opts.Logger = newTestLogger(&log)
	_, err := datastore.Open(context.Background(), "s3://runs/p", opts)
	if !errors.Is(err, datastore.ErrNoCredentials) {
		t.Fatalf("Open without credentials = %v, want ErrNoCredentials", err)
	}
	if !strings.Contains(log.String(), "[DEBUG] aws: falling back to IMDSv1") {
		t.Errorf("the SDK's IMDSv1 warning did not reach the logger at debug level; log:\n%s", log.String())
	}
	if strings.Contains(log.String(), "[WARN]") {
		t.Errorf("the SDK's lines must be debug, not warnings:\n%s", log.String())
	}
}
