package datastore

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"gocloud.dev/blob"
)

// Options configure access to remote stores. The fields mirror the aws, gcp
// and azure sections of flyte.hcl. The zero value uses each provider's
// default credential chain and does not retry.
type Options struct {
	AWS   AWSOptions
	Azure AzureOptions
	GCP   GCPOptions

	// Retries is the number of extra attempts after the first for a
	// transient failure (a refused connection, a 5xx answer, throttling).
	// Missing objects, refused credentials and bad requests are never
	// retried.
	Retries int
	// Backoff is the wait before the first retry; it doubles for each
	// further one. Zero means no wait.
	Backoff time.Duration
	// Logger receives retries, the AWS SDK's own warnings (such as "falling
	// back to IMDSv1") and, with AWS.EnableDebug, its request log, all at
	// debug level. Nil discards them: the SDK never writes to stderr.
	Logger hclog.Logger
}

// AWSOptions configure s3:// stores. Empty fields fall back to the AWS SDK's
// defaults: AWS_* environment variables and the shared config files.
type AWSOptions struct {
	// Endpoint is the base URL of an S3-compatible server, such as
	// "http://127.0.0.1:7070". Empty means AWS itself.
	Endpoint string
	// AccessKeyID and SecretAccessKey, when both set, are used instead of
	// the default credential chain.
	AccessKeyID     string
	SecretAccessKey string
	// AddressingStyle is "path" (https://host/bucket/key), "virtual"
	// (https://bucket.host/key), "auto" (the SDK decides), or "": path
	// style when Endpoint is set, since local S3 servers need it, else auto.
	AddressingStyle string
	// EnableDebug logs the SDK's requests, responses and retries to
	// Options.Logger at debug level.
	EnableDebug bool
	// Region defaults to AWS_REGION, then the shared config, then us-east-1.
	Region string
}

// AzureOptions configure azblob:// stores. With StorageAccountKey set, the
// account's shared key is used; with TenantID, ClientID and ClientSecret, a
// service principal; otherwise the azureblob driver's defaults
// (AZURE_STORAGE_* environment variables, then DefaultAzureCredential).
type AzureOptions struct {
	StorageAccountName string
	StorageAccountKey  string
	TenantID           string
	ClientID           string
	ClientSecret       string
}

// GCPOptions configure gs:// stores. Google Cloud Storage is reached with
// Application Default Credentials, or with none for "?anonymous=true" or
// when STORAGE_EMULATOR_HOST names an emulator; there is nothing to set yet.
type GCPOptions struct{}

func (o *Options) logger() hclog.Logger {
	if o.Logger == nil {
		return hclog.NewNullLogger()
	}
	return o.Logger
}

// secrets lists the values that must never appear in an error or a log.
func (o *Options) secrets() []string {
	var s []string
	for _, v := range []string{
		o.AWS.SecretAccessKey, o.Azure.StorageAccountKey, o.Azure.ClientSecret,
		os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"),
		os.Getenv("AZURE_STORAGE_KEY"), os.Getenv("AZURE_CLIENT_SECRET"),
	} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// Store is a run's data store: a local directory or a prefix in a bucket.
// A Store is safe for concurrent use; two writers of the same key race and
// one of them wins whole.
type Store struct {
	loc  location
	opts Options

	// bucket is nil for a local store.
	bucket *blob.Bucket
}

// Open opens the store at prefix: "s3://bucket/prefix", "gs://bucket/prefix",
// "azblob://container/prefix", "file:///abs/dir", or a local path. A local
// directory is created (mode 0o700) if missing. For a remote store, Open
// checks that the bucket exists and that the credentials are accepted, so
// that a wrong key or endpoint shows up before a run rather than after its
// first task; it fails with an [*Error] whose Kind is ErrNoBucket,
// ErrPermission, ErrNoCredentials or ErrUnreachable.
//
// Query parameters in an s3:// URI override opts as in gocloud.dev:
// region, endpoint, profile, use_path_style (or s3ForcePathStyle),
// disable_https and anonymous. azblob:// accepts domain, protocol, cdn,
// localemu and storage_account; gs:// accepts anonymous.
func Open(ctx context.Context, prefix string, opts Options) (*Store, error) {
	loc, err := parseLocation(prefix)
	if err != nil {
		return nil, &Error{Op: "open", URI: prefix, Err: err, text: redact(err.Error(), opts.secrets())}
	}
	s := &Store{loc: loc, opts: opts}
	if loc.scheme == "file" {
		if err := os.MkdirAll(loc.path, 0o700); err != nil {
			return nil, newError("open", loc.String(), err, nil)
		}
		return s, nil
	}
	b, err := openBucket(ctx, loc, &s.opts)
	if err != nil {
		return nil, newError("open", loc.String(), err, opts.secrets())
	}
	if err := checkBucket(ctx, b, &s.opts); err != nil {
		b.Close()
		return nil, newError("open", loc.String(), err, opts.secrets())
	}
	s.bucket = b
	return s, nil
}

// checkBucket fails unless the bucket exists and answers.
func checkBucket(ctx context.Context, b *blob.Bucket, opts *Options) error {
	return retry(ctx, opts, "check bucket", func() error {
		ok, err := b.IsAccessible(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNoBucket
		}
		return nil
	})
}

// URI returns the store's canonical prefix URI: "file:///abs/dir" for a
// local store, else scheme://bucket/prefix with any query parameters sorted.
func (s *Store) URI() string { return s.loc.String() }

// Local returns the store's directory when the store is local.
func (s *Store) Local() (dir string, ok bool) {
	if s.bucket != nil {
		return "", false
	}
	return s.loc.path, true
}

// PutFile stores the regular file src under key and returns the object's
// URI, which [Fetch] accepts.
//
// src must be a regular file, not a symbolic link.
//
// A key is a relative slash path such as "run-1/task/out.csv": it must not
// be empty, start with "/", contain a backslash, NUL or control character,
// or have an empty, "." or ".." segment. A bad key fails with an [*Error]
// whose Kind is [ErrInvalidKey].
//
// In a local store the stored file is owner-only and read-only (0o400) and appears
// atomically: it is written under a temporary name in its directory and
// renamed. When src is on the same file system, PutFile hard-links it
// rather than copying, so src then shares the stored file's read-only mode
// and must not be changed afterwards. Use [Store.PutFileMove] when src may be
// moved. In a remote store the object is uploaded through a
// [blob.Writer]; a failed upload is aborted, so no partial object is left.
func (s *Store) PutFile(ctx context.Context, key, src string) (uri string, err error) {
	return s.put(ctx, key, src, false)
}

// PutFileMove is [Store.PutFile] for a src that the store may take: a local
// store renames it into place when it can. A remote store uploads src and
// leaves it where it is.
func (s *Store) PutFileMove(ctx context.Context, key, src string) (uri string, err error) {
	return s.put(ctx, key, src, true)
}

func (s *Store) put(ctx context.Context, key, src string, move bool) (string, error) {
	if why := checkKey(key); why != "" {
		return "", s.invalidKey(key, why)
	}
	dst := s.loc.child(key)
	var err error
	if s.bucket == nil {
		err = putLocal(dst.path, src, move)
	} else {
		err = retry(ctx, &s.opts, "put", func() error { return upload(ctx, s.bucket, dst.key, src) })
	}
	if err != nil {
		return "", newError("put", dst.String(), err, s.opts.secrets())
	}
	return dst.String(), nil
}

// PutDir stores every regular file under the directory src as key/<rel>,
// with rel its slash path relative to src, and returns the URI of key,
// which [Fetch] accepts with dir set. Symbolic links and other special
// files are skipped, so a task cannot smuggle a file from outside src into
// the store. Empty directories are kept in a local store; a remote store
// has no directories, so they vanish there. Files are put as by
// [Store.PutFile], with the same hard-link caveat.
func (s *Store) PutDir(ctx context.Context, key, src string) (uri string, err error) {
	if why := checkKey(key); why != "" {
		return "", s.invalidKey(key, why)
	}
	dst := s.loc.child(key)
	err = walkFiles(src, func(rel, path string, isDir bool) error {
		if isDir {
			if s.bucket == nil {
				return os.MkdirAll(dst.child(rel).path, 0o700)
			}
			return nil
		}
		if s.bucket == nil {
			return putLocal(dst.child(rel).path, path, false)
		}
		return retry(ctx, &s.opts, "put", func() error { return upload(ctx, s.bucket, dst.child(rel).key, path) })
	})
	if err != nil {
		return "", newError("put", dst.String(), err, s.opts.secrets())
	}
	return dst.String(), nil
}

func (s *Store) invalidKey(key, why string) error {
	return &Error{Op: "put", URI: s.URI(), Kind: ErrInvalidKey, text: strconv.Quote(key) + ": " + why}
}

// Close releases the store's connections. It does not delete anything.
// Closing a nil *Store does nothing.
func (s *Store) Close() error {
	if s == nil || s.bucket == nil {
		return nil
	}
	return s.bucket.Close()
}

// Fetch downloads the object or directory at uri into dst. With dir false,
// uri names one object and dst is the file to write; with dir true, uri is
// a prefix and every object under it is written to dst/<rel>, creating
// directories (mode 0o700) as needed. Files appear atomically and are
// owner-writable (0o600), since the task receiving them may change them.
//
// uri is an s3://, gs://, azblob:// or file:// URI, or a local path, as
// returned by [Store.PutFile] and [Store.PutDir]. An object whose key would
// escape dst (a "..", empty or absolute segment) fails the fetch. An empty
// prefix fetches as an empty directory. A missing object fails with an
// [*Error] whose Kind is [ErrNotFound].
func Fetch(ctx context.Context, uri, dst string, dir bool, opts Options) error {
	loc, err := parseLocation(uri)
	if err != nil {
		return &Error{Op: "fetch", URI: uri, Err: err, text: redact(err.Error(), opts.secrets())}
	}
	if loc.scheme == "file" {
		if err := fetchLocal(loc.path, dst, dir); err != nil {
			return newError("fetch", loc.String(), err, nil)
		}
		return nil
	}
	b, err := openBucket(ctx, loc, &opts)
	if err != nil {
		return newError("fetch", loc.String(), err, opts.secrets())
	}
	defer b.Close()
	return fetchBlob(ctx, b, loc, dst, dir, &opts)
}

// fetchBlob is Fetch once the bucket is open.
func fetchBlob(ctx context.Context, b *blob.Bucket, loc location, dst string, dir bool, opts *Options) error {
	var err error
	if dir {
		err = downloadDir(ctx, b, loc, dst, opts)
	} else {
		err = retry(ctx, opts, "fetch", func() error { return download(ctx, b, loc.key, dst) })
	}
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return pe
		}
		return newError("fetch", loc.String(), err, opts.secrets())
	}
	return nil
}
