package datastore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// Kinds of failure that callers may branch on with [errors.Is]. Every error
// that this package returns is an [*Error]; its Kind is one of these or nil.
var (
	// ErrInvalidKey means a key broke the rules documented on [Store.PutFile].
	ErrInvalidKey = errors.New("invalid key")
	// ErrNotFound means the object (or local file) does not exist.
	ErrNotFound = errors.New("no such object")
	// ErrNoBucket means the bucket or container does not exist.
	ErrNoBucket = errors.New("no such bucket")
	// ErrPermission means the store refused the credentials: a wrong secret
	// key, an unknown access key, or a policy that forbids the operation.
	ErrPermission = errors.New("permission denied")
	// ErrNoCredentials means no credentials could be found for the store.
	ErrNoCredentials = errors.New("no credentials")
	// ErrUnreachable means the store could not be reached: a wrong endpoint,
	// a closed port, or a network failure that outlasted the retries.
	ErrUnreachable = errors.New("store unreachable")
)

// Error is the error type of every failed operation. Its message names the
// operation and the URI and gives a hint for the common kinds; it never
// contains a secret from [Options] or the provider's environment variables.
type Error struct {
	Op   string // "open", "put", "fetch", "list", "read", "delete"
	URI  string // the store, object or prefix the operation was about
	Kind error  // ErrNotFound, ErrNoBucket, ... or nil
	Err  error  // the cause; may be nil

	// text is Err's message with secrets redacted and attempts noted.
	text string
}

var hints = map[error]string{
	ErrPermission:    "permission denied (check the access key, the secret key and the bucket's policy)",
	ErrNoCredentials: "no credentials (set them in flyte.hcl or in the provider's environment variables)",
	ErrUnreachable:   "cannot reach the store (check the endpoint and the network)",
	ErrInvalidKey:    "invalid key",
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrNotFound:
		return e.Op + ": no such object " + e.URI
	case ErrNoBucket:
		return e.Op + ": no such bucket " + e.URI
	}
	s := e.Op + " " + e.URI
	if h := hints[e.Kind]; h != "" {
		s += ": " + h
	}
	if e.text != "" {
		s += ": " + e.text
	}
	return s
}

// Unwrap returns Kind and Err, so that errors.Is(err, ErrNotFound) and
// errors.As on a driver's error type both work.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// newError wraps cause for op on uri, classifying it and redacting secrets.
func newError(op, uri string, cause error, secrets []string) *Error {
	var pe *Error
	if errors.As(cause, &pe) {
		return pe
	}
	kind, _ := classify(cause)
	return &Error{Op: op, URI: uri, Kind: kind, Err: cause, text: redact(cause.Error(), secrets)}
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 { // a one-letter "secret" would shred the message
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// classify sorts a driver or file system error into a Kind, and reports
// whether trying again may help. It looks at gocloud's portable code first,
// then at the SDKs' own error types, because s3blob maps signature errors,
// throttling and 5xx answers to gcerrors.Unknown.
func classify(err error) (kind error, transient bool) {
	if err == nil {
		return nil, false
	}
	for _, k := range []error{ErrNoCredentials, ErrPermission, ErrNoBucket, ErrNotFound, ErrInvalidKey, ErrUnreachable} {
		if errors.Is(err, k) {
			return k, false
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, false
	}

	// AWS.
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return ErrNoBucket, false
		case "NoSuchKey", "NotFound":
			return ErrNotFound, false
		case "AccessDenied", "Forbidden", "SignatureDoesNotMatch", "InvalidAccessKeyId",
			"InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed",
			"XAdminUserNotFound": // versitygw, for an unknown access key
			return ErrPermission, false
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
			"RequestTimeTooSkewed", "Throttling", "ThrottlingException":
			return nil, true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		if ok, t, k := classifyStatus(re.HTTPStatusCode()); ok {
			return k, t
		}
	}

	// Azure.
	var are *azcore.ResponseError
	if errors.As(err, &are) {
		switch bloberror.Code(are.ErrorCode) {
		case bloberror.ContainerNotFound, bloberror.ContainerBeingDeleted:
			return ErrNoBucket, false
		case bloberror.BlobNotFound:
			return ErrNotFound, false
		case bloberror.AuthenticationFailed, bloberror.AuthorizationFailure,
			bloberror.AuthorizationPermissionMismatch, bloberror.InsufficientAccountPermissions:
			return ErrPermission, false
		}
		if ok, t, k := classifyStatus(are.StatusCode); ok {
			return k, t
		}
	}
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		return ErrPermission, false
	}

	// Google Cloud Storage. A listing in a missing bucket says so; a read
	// from one is a bare 404 that the storage client reports as a missing
	// object, so Fetch of one object cannot tell the two apart.
	if errors.Is(err, storage.ErrBucketNotExist) {
		return ErrNoBucket, false
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		if ok, t, k := classifyStatus(ge.Code); ok {
			return k, t
		}
	}

	// Local files (file:// and fileblob).
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound, false
	}
	if errors.Is(err, fs.ErrPermission) {
		return ErrPermission, false
	}

	// The network. A name that does not resolve will not start resolving;
	// a refused or reset connection or a timeout may go away.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ErrUnreachable, dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return ErrUnreachable, true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, true
	}

	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return ErrNotFound, false
	case gcerrors.PermissionDenied:
		return ErrPermission, false
	case gcerrors.Internal, gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded:
		// DeadlineExceeded from the caller's context was ruled out above.
		return nil, true
	}
	return nil, false
}

// classifyStatus sorts an HTTP status; ok is false for statuses that say
// nothing useful.
func classifyStatus(code int) (ok, transient bool, kind error) {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return true, false, ErrPermission
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return true, true, nil
	}
	return false, false, nil
}

// kindError marks a cause with a Kind while keeping the cause's message.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
