// Package s3test runs a real S3-compatible server, versitygw, for tests.
//
// [Start] looks for the versitygw binary (pinned at v1.8.0 by the Makefile)
// in PATH, in $(go env GOPATH)/bin, and in the repository's .tools
// directory, where `make test` installs it. When it is missing the test is
// skipped, unless GOFLYTE_TEST_S3=1 (which `make test` sets): then a test
// that was asked to use S3 and cannot fails rather than skipping silently.
//
// The server checks request signatures, so a wrong secret key gets the 403
// that real S3 gives.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/goflyte/goflyte/internal/testserver"
)

// Version is the versitygw release the Makefile installs.
const Version = "v1.8.0"

// EnvRequire names the variable that turns a missing server into a failure.
const EnvRequire = "GOFLYTE_TEST_S3"

// Server is a running versitygw. Its fields are what a client needs.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string // "us-east-1"
	Dir       string // the directory holding the buckets

	t testing.TB // Start's; nil after Launch
}

// Start starts versitygw on a free loopback port with fresh credentials and
// an empty t.TempDir() as its storage, and stops it in t.Cleanup. It skips
// or fails t when the binary is missing (see the package comment).
func Start(t testing.TB) *Server {
	t.Helper()
	s, stop, err := Launch(t.TempDir())
	var nf *NotFoundError
	if errors.As(err, &nf) {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %v", EnvRequire, err)
		}
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(stop)
	s.t = t
	return s
}

// NotFoundError is Launch's error when the binary is nowhere to be found.
type NotFoundError struct{ Tried []string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("versitygw not found (looked in PATH and %v); run `make test`, or `go install github.com/versity/versitygw/cmd/versitygw@%s`", e.Tried, Version)
}

// Launch is Start outside a test (the benchmarks of cmd/goflyte-bench):
// versitygw with its buckets in dir, and the function that stops it. A
// missing binary is a *NotFoundError.
func Launch(dir string) (*Server, func(), error) {
	bin, tried := testserver.Find("versitygw")
	if bin == "" {
		return nil, nil, &NotFoundError{Tried: tried}
	}
	s := &Server{
		AccessKey: "goflyte-test-access",
		SecretKey: "goflyte-test-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Region:    "us-east-1",
		Dir:       dir,
	}
	var lastErr error
	for range 3 { // another process may take the port between probe and start
		stop, err := s.start(bin)
		if err == nil {
			return s, stop, nil
		}
		lastErr = err
	}
	return nil, nil, lastErr
}

func (s *Server) start(bin string) (func(), error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", addr, "--quiet", "posix", s.Dir)
	var out testserver.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("versitygw exited before it was ready (%v): %s", err, out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("versitygw not listening on %s after 15s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Endpoint = "http://" + addr
	return stop, nil
}

// CreateBucket creates a bucket, failing the test on error.
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	if err := s.NewBucket(context.Background(), name); err != nil {
		s.t.Fatal(err)
	}
}

// NewBucket creates a bucket.
func (s *Server) NewBucket(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// Client returns an S3 client for the server, with path-style addressing.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
