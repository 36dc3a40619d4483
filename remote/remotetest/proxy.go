package remotetest

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ConnectProxy is a real HTTP CONNECT proxy on 127.0.0.1 that tunnels
// TCP (platform.http_proxy_url) and counts what went through it.
type ConnectProxy struct {
	// URL is "http://user:pass@127.0.0.1:PORT" (no userinfo when open).
	URL string
	// Tunnels counts the tunnels opened, Bytes the bytes that went through
	// them (counted as each tunnel closes), Refusals the CONNECTs refused
	// for their Proxy-Authorization.
	Tunnels, Bytes, Refusals atomic.Int64

	srv     *httptest.Server
	wg      sync.WaitGroup
	mu      sync.Mutex
	targets map[string]int
}

// NewConnectProxy starts a proxy, stopped when the test ends. With user
// and pass set it wants them as Basic Proxy-Authorization and answers 407
// otherwise.
func NewConnectProxy(t testing.TB, user, pass string) *ConnectProxy {
	t.Helper()
	p := &ConnectProxy{targets: map[string]int{}}
	want := ""
	if user != "" {
		want = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if want != "" && r.Header.Get("Proxy-Authorization") != want {
			p.Refusals.Add(1)
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		upstream, err := net.DialTimeout("tcp", r.Host, 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			upstream.Close()
			http.Error(w, "no hijacking", http.StatusInternalServerError)
			return
		}
		client, buf, err := hj.Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		p.Tunnels.Add(1)
		p.mu.Lock()
		p.targets[r.Host]++
		p.mu.Unlock()
		_, _ = client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			n, _ := io.Copy(upstream, buf) // buf holds anything read past the request
			p.Bytes.Add(n)
			upstream.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer p.wg.Done()
			n, _ := io.Copy(client, upstream)
			p.Bytes.Add(n)
			client.Close()
		}()
	}))
	t.Cleanup(p.Close)
	p.URL = p.srv.URL
	if user != "" {
		p.URL = "http://" + user + ":" + pass + "@" + p.srv.Listener.Addr().String()
	}
	return p
}

// Targets returns how many tunnels were opened to each host:port.
func (p *ConnectProxy) Targets() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.targets))
	for k, v := range p.targets {
		out[k] = v
	}
	return out
}

// Close stops the proxy: it stops listening and drops its clients'
// connections (their tunnels break). Closing twice is harmless.
func (p *ConnectProxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}
