package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goflyte/goflyte/engine/config"
)

// DefaultDialTimeout bounds [Dial] when [Options.DialTimeout] is zero.
const DefaultDialTimeout = 10 * time.Second

// Options says how to reach the Temporal frontend. [OptionsFromConfig]
// fills it from the platform block; the zero value of each field is its
// default.
type Options struct {
	// URL is the frontend's host:port (platform.url). A leading "dns:///"
	// is removed.
	URL string
	// Namespace is the Temporal namespace (platform.namespace, default
	// "default"). Dial checks that it exists.
	Namespace string
	// TaskQueue is the task queue prefix (platform.task_queue, default
	// "goflyte"). Dial does not use it; workers and runs do.
	TaskQueue string
	// Insecure turns TLS off (platform.insecure): plaintext gRPC.
	Insecure bool
	// InsecureSkipVerify accepts any server certificate
	// (platform.insecure_skip_verify).
	InsecureSkipVerify bool
	// CACertFile is a PEM file of CAs trusted besides the system's
	// (platform.ca_cert_file_path).
	CACertFile string
	// HTTPProxyURL is an http:// proxy the connection tunnels through with
	// CONNECT (platform.http_proxy_url); its user:password, if any, is
	// sent as Basic proxy authorization.
	HTTPProxyURL string
	// Compression is the gRPC compression of every call
	// (platform.compression): "" or "none" sends and asks for plain
	// messages; "gzip" compresses them, as the Temporal SDK does by
	// default. On a local or LAN server gzip only costs CPU, in the
	// client and the server, for every poll, task and answer (measured:
	// cmd/goflyte-bench/BENCH.md, branch rfan4).
	Compression string

	// Token, if set, gives the bearer token sent as "authorization" with
	// every call. A call refused for its token (PermissionDenied "Request
	// unauthorized." or Unauthenticated) is retried once after
	// Token.Invalidate.
	Token TokenSource
	// ProxyToken, if set, gives the bearer token sent as
	// "proxy-authorization" with every call (an authenticating proxy in
	// front of the frontend, Flytekit's proxy_command).
	ProxyToken TokenSource

	// DialTimeout bounds connecting, the health check and the namespace
	// check (default [DefaultDialTimeout]).
	DialTimeout time.Duration
	// Logger receives the Temporal SDK's logs; nil discards them. An
	// hclog.Logger fits.
	Logger sdklog.Logger
}

// OptionsFromConfig returns the options the platform block describes.
// Credentials are not part of it: set Token and ProxyToken from the
// credentials block.
func OptionsFromConfig(p config.Platform) Options {
	return Options{
		URL:                p.URL,
		Namespace:          p.Namespace,
		TaskQueue:          p.TaskQueue,
		Insecure:           p.Insecure,
		InsecureSkipVerify: p.InsecureSkipVerify,
		CACertFile:         p.CACertFilePath,
		HTTPProxyURL:       p.HTTPProxyURL,
		Compression:        p.Compression,
	}
}

// DialError is a connection to the frontend that could not be made. Err is
// the cause; Setting names the setting most likely to be wrong and Hint
// says what to try. It never holds a token or a proxy password.
type DialError struct {
	Addr    string // the frontend, host:port
	Setting string // "platform.url", "platform.insecure", "credentials", ...
	Hint    string
	Err     error
	// Refused is set when the service refused the call's credentials: the
	// token sent (expired, altered, signed by another issuer, for another
	// audience, without a permission on the namespace), or none where one
	// is required. goflyte exits 2 then: the configuration must change.
	Refused bool
}

func (e *DialError) Error() string {
	addr := e.Addr
	if addr == "" {
		addr = "(no address)"
	}
	msg := fmt.Sprintf("connect to Temporal at %s: %v", addr, e.Err)
	if e.Setting != "" {
		msg += "; check " + e.Setting
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

func (e *DialError) Unwrap() error { return e.Err }

// TLSMode describes the transport security of options: "off"
// (insecure), "verified" (system CAs and CACertFile) or "unverified"
// (insecure_skip_verify).
func (o Options) TLSMode() string {
	switch {
	case o.Insecure:
		return "off"
	case o.InsecureSkipVerify:
		return "unverified"
	}
	return "verified"
}

func (o Options) withDefaults() Options {
	o.URL = strings.TrimPrefix(o.URL, "dns:///")
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.TaskQueue == "" {
		o.TaskQueue = "goflyte"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Logger == nil {
		o.Logger = nopLogger{}
	}
	return o
}

// clientOptions builds the SDK's options, and the dialer that remembers
// why the last connection attempt failed.
func (o Options) clientOptions() (client.Options, *dialer, error) {
	host, _, err := net.SplitHostPort(o.URL)
	if err != nil || host == "" {
		return client.Options{}, nil, &DialError{Addr: o.URL, Setting: "platform.url", Hint: `the Temporal frontend as host:port, e.g. "temporal.example.com:7233"`, Err: errors.New("not a host:port address")}
	}
	d := &dialer{}
	conn := client.ConnectionOptions{
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(d.record)},
	}
	switch o.Compression {
	case "", "none":
		conn.GrpcCompression = &client.GrpcCompressionNone{}
	case "gzip":
		conn.GrpcCompression = &client.GrpcCompressionGzip{}
	default:
		return client.Options{}, nil, &DialError{Addr: o.URL, Setting: "platform.compression", Hint: `"none" or "gzip"`, Err: fmt.Errorf("unknown compression %q", o.Compression)}
	}
	target := o.URL
	if o.HTTPProxyURL != "" {
		if d.proxy, err = parseProxyURL(o.HTTPProxyURL); err != nil {
			return client.Options{}, nil, &DialError{Addr: o.URL, Setting: "platform.http_proxy_url", Hint: `an HTTP proxy as "http://[user:password@]host:port"`, Err: err}
		}
		// The proxy resolves the name: CONNECT host:port, not an address
		// resolved here ("passthrough" hands the target to the dialer as
		// it is). Without http_proxy_url, gRPC's own dialing honours
		// HTTPS_PROXY and NO_PROXY.
		target = "passthrough:///" + o.URL
		conn.DialOptions = append(conn.DialOptions, grpc.WithContextDialer(d.dial))
	}
	if o.Token != nil || o.ProxyToken != nil {
		cr := &credentials{token: o.Token, proxy: o.ProxyToken}
		d.creds = cr
		conn.DialOptions = append(conn.DialOptions,
			grpc.WithChainUnaryInterceptor(cr.unary),
			grpc.WithChainStreamInterceptor(cr.stream))
	}
	if o.Insecure {
		conn.TLSDisabled = true
	} else {
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
		if o.CACertFile != "" {
			pool, err := caPool(o.CACertFile)
			if err != nil {
				return client.Options{}, nil, &DialError{Addr: o.URL, Setting: "platform.ca_cert_file_path", Hint: "a PEM file of the CA certificates that sign the server's certificate", Err: err}
			}
			tc.RootCAs = pool
		}
		conn.TLS = tc
	}
	return client.Options{
		HostPort:          target,
		Namespace:         o.Namespace,
		Logger:            o.Logger,
		ConnectionOptions: conn,
	}, d, nil
}

// caPool is the system's CAs plus those in file.
func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Dial connects to the Temporal frontend in o.URL, checks its health and
// that o.Namespace exists, all within o.DialTimeout, and returns a client
// for that namespace. The caller closes it. A failure is a [*DialError].
//
// With o.Token (or o.ProxyToken) set, the tokens are got first, bounded by
// ctx only (an interactive login may take longer than o.DialTimeout); a
// failure to get one is a *DialError naming credentials and wrapping the
// token source's error. The namespace check is an authorized call: a
// service that refuses the token, or wants one and got none, is a
// *DialError with Refused set, whose message names the settings to look
// at and describes the token's claims (never the token).
func Dial(ctx context.Context, o Options) (client.Client, error) {
	c, _, err := dial(ctx, o.withDefaults())
	return c, err
}

func dial(ctx context.Context, o Options) (client.Client, *workflowservice.GetSystemInfoResponse, error) {
	copts, d, err := o.clientOptions()
	if err != nil {
		return nil, nil, err
	}
	if de := d.creds.prefetch(ctx); de != nil {
		de.Addr = o.URL
		return nil, nil, de
	}
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	copts.ConnectionOptions.GetSystemInfoTimeout = o.DialTimeout
	c, err := client.DialContext(ctx, copts)
	if err != nil {
		return nil, nil, dialError(o, d, err)
	}
	info, err := c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	if err == nil {
		_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: o.Namespace})
	}
	if err != nil {
		c.Close()
		return nil, nil, dialError(o, d, err)
	}
	return c, info, nil
}

// dialError explains err, a failed connection or first call, naming the
// setting to look at.
func dialError(o Options, d *dialer, err error) error {
	e := &DialError{Addr: o.URL, Err: err}
	lastDial, lastCall := d.lastErrors()
	if timedOut(err) {
		// The SDK retried until the deadline; the last attempt says why.
		switch {
		case lastDial != nil:
			e.Err = fmt.Errorf("no connection within %v: %w", o.DialTimeout, lastDial)
		case lastCall != nil && !timedOut(lastCall):
			e.Err = fmt.Errorf("no answer within %v: %w", o.DialTimeout, lastCall)
		}
	}
	msg := e.Err.Error()
	var nsErr *serviceerror.NamespaceNotFound
	var pErr *proxyError
	switch {
	case errors.As(e.Err, &nsErr):
		e.Setting, e.Hint = "platform.namespace", fmt.Sprintf("namespace %q does not exist on this server; register it (temporal operator namespace create --namespace %s) or set FLYTE_PLATFORM_NAMESPACE", o.Namespace, o.Namespace)
	case errors.As(e.Err, &pErr) || errors.As(lastDial, &pErr):
		// gRPC passes a dial error on as text: the dialer kept its type.
		e.Setting, e.Hint = "platform.http_proxy_url", "the proxy must accept CONNECT to "+o.URL
	case isRefused(e.Err):
		e.Refused = true
		e.Setting, e.Hint = refusalHint(o, e.Err, d.creds.lastRefused())
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		e.Setting, e.Hint = "platform.ca_cert_file_path", "the server's certificate is not signed by a trusted CA: set ca_cert_file_path to the CA's PEM file (or insecure_skip_verify = true for a test server)"
	case !o.Insecure && (strings.Contains(msg, "first record does not look like a TLS handshake") || strings.Contains(msg, "tls:") || strings.Contains(msg, "handshake")):
		e.Setting, e.Hint = "platform.insecure", "the TLS handshake failed; a plaintext server (a dev server) needs insecure = true"
	case o.Insecure && !strings.Contains(msg, "connection refused") && !strings.Contains(msg, "no such host") && !strings.Contains(msg, "i/o timeout"):
		e.Setting, e.Hint = "platform.insecure", "the server did not answer plaintext gRPC; if it wants TLS, set insecure = false"
	default:
		e.Setting, e.Hint = "platform.url", "is the Temporal frontend running and reachable at this address?"
	}
	return e
}

// refusalHint explains a refused call: the settings to look at, and what
// the refused token claims.
func refusalHint(o Options, err error, tok string) (setting, hint string) {
	_, byProxy := refused(err)
	if byProxy && o.ProxyToken != nil {
		return "credentials.proxy_command", "the service, or the proxy in front of it, refused the credentials (Unauthenticated): " +
			"check that credentials.proxy_command prints a token the proxy accepts, and, if the service checks tokens too, the credentials block"
	}
	if byProxy {
		// Temporal refuses a bad or missing token with PermissionDenied;
		// Unauthenticated comes from something in front of it, which has
		// no token of its own to check: the credentials block's token is
		// not the one to blame.
		return "credentials.proxy_command", "the call was refused as unauthenticated (Unauthenticated), which Temporal itself does not answer: " +
			"an authenticating proxy in front of the frontend wants a token of its own and none is configured; " +
			"set credentials.proxy_command to a command that prints the proxy's token"
	}
	if o.Token == nil {
		return "credentials", fmt.Sprintf("the server wants a token with a permission on namespace %q and none is configured: "+
			"set credentials.issuer and credentials.client_id in flyte.hcl, with a client secret (client_secret_location or client_secret_env_var) "+
			"or an auth_mode (Pkce, DeviceFlow, ExternalCommand with credentials.command); see \"Authentication\" in the README", o.Namespace)
	}
	what := "the token"
	if tok != "" {
		what = "the token (" + describeToken(tok, time.Now()) + ")"
	}
	return "credentials", fmt.Sprintf("the server refused %s; Temporal refuses a token it cannot verify (altered, or signed by an issuer whose keys it does not have), "+
		"an expired one, one for another audience, and one whose permissions claim grants nothing on namespace %q. "+
		"Check credentials.issuer (the server's JWKS must be its keys), credentials.audience, credentials.scopes and credentials.client_id; "+
		"goflyte logout then goflyte login gets a new token", what, o.Namespace)
}

// timedOut reports whether err is a deadline, from the context or gRPC.
func timedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.DeadlineExceeded {
		return true
	}
	var de *serviceerror.DeadlineExceeded
	return errors.As(err, &de)
}

func isRefused(err error) bool {
	r, _ := refused(err)
	if r {
		return true
	}
	var pd *serviceerror.PermissionDenied
	return errors.As(err, &pd)
}

// nopLogger discards the SDK's logs.
type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
