package remote

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// parseProxyURL checks platform.http_proxy_url: an http:// URL with a host
// and an optional user:password for Basic proxy authentication.
func parseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url's errors quote the whole URL, password included.
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%s is not an http://host:port proxy URL", u.Redacted())
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	return u, nil
}

// dialer makes the TCP connections to the frontend, directly or through an
// HTTP CONNECT proxy (its dial is used only when http_proxy_url is set).
// It remembers the last failure of a dial and of a call, so that a Dial
// that times out (the SDK retries an unavailable server until the
// deadline, then reports only the deadline) can say why.
type dialer struct {
	proxy *url.URL     // nil: connect directly
	creds *credentials // nil: no tokens

	mu       sync.Mutex
	lastDial error
	lastCall error
}

func (d *dialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := d.connect(ctx, addr)
	d.mu.Lock()
	d.lastDial = err
	d.mu.Unlock()
	return conn, err
}

// record is an interceptor inside the SDK's retries: it sees each attempt.
func (d *dialer) record(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		d.mu.Lock()
		d.lastCall = err
		d.mu.Unlock()
	}
	return err
}

// lastErrors returns the error of the most recent dial (nil if it worked)
// and of the most recent failed call.
func (d *dialer) lastErrors() (dial, call error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastDial, d.lastCall
}

func (d *dialer) connect(ctx context.Context, addr string) (net.Conn, error) {
	var nd net.Dialer
	if d.proxy == nil {
		return nd.DialContext(ctx, "tcp", addr)
	}
	conn, err := nd.DialContext(ctx, "tcp", d.proxy.Host)
	if err != nil {
		return nil, &proxyError{proxy: d.proxy.Redacted(), err: err}
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: http.Header{"User-Agent": {"goflyte"}},
	}
	if u := d.proxy.User; u != nil {
		pass, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass)))
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, &proxyError{proxy: d.proxy.Redacted(), err: fmt.Errorf("send CONNECT %s: %w", addr, err)}
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, &proxyError{proxy: d.proxy.Redacted(), err: fmt.Errorf("read the answer to CONNECT %s: %w", addr, err)}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, &proxyError{proxy: d.proxy.Redacted(), status: resp.Status, err: fmt.Errorf("CONNECT %s: %s", addr, resp.Status)}
	}
	if stop(); ctx.Err() != nil {
		conn.Close()
		return nil, ctx.Err()
	}
	_ = conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		// The server spoke first and the reader holds its first bytes.
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// proxyError is a failure to reach the frontend through the proxy.
type proxyError struct {
	proxy  string // redacted URL
	status string // the proxy's HTTP status, when it answered
	err    error
}

func (e *proxyError) Error() string { return fmt.Sprintf("proxy %s: %v", e.proxy, e.err) }
func (e *proxyError) Unwrap() error { return e.err }

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
