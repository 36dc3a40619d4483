package remote_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// dial connects with o and fails the test on error.
func dial(t *testing.T, o remote.Options) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := remote.Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// dialErr dials with o, wants a *remote.DialError naming setting, and
// returns it.
func dialErr(t *testing.T, o remote.Options, setting string) *remote.DialError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := remote.Dial(ctx, o)
	if err == nil {
		c.Close()
		t.Fatalf("Dial(%+v) succeeded; want an error naming %s", o, setting)
	}
	var de *remote.DialError
	if !errors.As(err, &de) {
		t.Fatalf("Dial: error %T %v; want a *remote.DialError", err, err)
	}
	if de.Setting != setting {
		t.Errorf("Dial: setting %q, want %q (error: %v)", de.Setting, setting, err)
	}
	t.Logf("error as the user sees it: %v", err)
	return de
}

// describe calls a namespace API, which needs authorization when the
// server has an authorizer.
func describe(t *testing.T, c client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
}

func TestDialPlaintext(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	c := dial(t, remote.Options{URL: "dns:///" + srv.Addr, Insecure: true})
	describe(t, c)

	// The same server without insecure = true: TLS to a plaintext server.
	dialErr(t, remote.Options{URL: srv.Addr, DialTimeout: 3 * time.Second}, "platform.insecure")
}

func TestDialTLS(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	ca := newTestCA(t)
	srv := remotetest.Start(t, remotetest.Options{TLSCertFile: ca.CertFile, TLSKeyFile: ca.KeyFile})

	t.Run("ca_cert_file_path", func(t *testing.T) {
		describe(t, dial(t, remote.Options{URL: srv.Addr, CACertFile: ca.CAFile}))
	})
	t.Run("insecure_skip_verify", func(t *testing.T) {
		describe(t, dial(t, remote.Options{URL: srv.Addr, InsecureSkipVerify: true}))
	})
	t.Run("system CAs only", func(t *testing.T) {
		dialErr(t, remote.Options{URL: srv.Addr, DialTimeout: 3 * time.Second}, "platform.ca_cert_file_path")
	})
	t.Run("wrong CA", func(t *testing.T) {
		other := newTestCA(t)
		dialErr(t, remote.Options{URL: srv.Addr, CACertFile: other.CAFile, DialTimeout: 3 * time.Second}, "platform.ca_cert_file_path")
	})
	t.Run("not a PEM file", func(t *testing.T) {
		de := dialErr(t, remote.Options{URL: srv.Addr, CACertFile: ca.KeyFile}, "platform.ca_cert_file_path")
		if strings.Contains(de.Error(), "PRIVATE KEY") {
			t.Errorf("the error shows the file's content: %v", de)
		}
	})
	t.Run("plaintext to a TLS server", func(t *testing.T) {
		dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, DialTimeout: 3 * time.Second}, "platform.insecure")
	})
}

func TestDialUnreachable(t *testing.T) {
	de := dialErr(t, remote.Options{URL: freeAddr(t), Insecure: true, DialTimeout: 2 * time.Second}, "platform.url")
	if !strings.Contains(de.Err.Error(), "connection refused") {
		t.Errorf("the cause does not say why: %v", de.Err)
	}
}

func TestDialBadURL(t *testing.T) {
	for _, url := range []string{"", "temporal.example.com", "http://temporal.example.com:7233/x"} {
		t.Run(url, func(t *testing.T) {
			dialErr(t, remote.Options{URL: url}, "platform.url")
		})
	}
}

func TestDialUnknownNamespace(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{Namespaces: []string{"team-a"}})
	describe(t, dial(t, remote.Options{URL: srv.Addr, Insecure: true, Namespace: "team-a"}))
	de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, Namespace: "no-such-ns"}, "platform.namespace")
	var nf *serviceerror.NamespaceNotFound
	if !errors.As(de, &nf) {
		t.Errorf("want a serviceerror.NamespaceNotFound inside, got %T: %v", de.Err, de.Err)
	}
}

func TestDialThroughProxy(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	proxy := remotetest.NewConnectProxy(t, "alice", "proxy-secret-7f3a")

	c := dial(t, remote.Options{URL: srv.Addr, Insecure: true, HTTPProxyURL: proxy.URL})
	describe(t, c)
	if proxy.Tunnels.Load() == 0 {
		t.Fatal("the connection did not go through the proxy")
	}
	before := proxy.Bytes.Load()
	describe(t, c)
	c.Close()
	// The tunnel's byte counts land when it closes.
	deadline := time.Now().Add(10 * time.Second)
	for proxy.Bytes.Load() <= before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if proxy.Bytes.Load() <= before {
		t.Errorf("no traffic went through the proxy's tunnel (%d bytes)", proxy.Bytes.Load())
	}

	t.Run("wrong password", func(t *testing.T) {
		bad := strings.Replace(proxy.URL, "proxy-secret-7f3a", "wrong-secret-91c2", 1)
		de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, HTTPProxyURL: bad, DialTimeout: 3 * time.Second}, "platform.http_proxy_url")
		if strings.Contains(de.Error(), "wrong-secret-91c2") {
			t.Errorf("the error shows the proxy password: %v", de)
		}
		if proxy.Refusals.Load() == 0 {
			t.Error("the proxy was not asked")
		}
	})
	t.Run("no proxy there", func(t *testing.T) {
		de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, HTTPProxyURL: "http://bob:pw-55e1@" + freeAddr(t), DialTimeout: 2 * time.Second}, "platform.http_proxy_url")
		if strings.Contains(de.Error(), "pw-55e1") {
			t.Errorf("the error shows the proxy password: %v", de)
		}
	})
	t.Run("not http", func(t *testing.T) {
		dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, HTTPProxyURL: "socks5://127.0.0.1:1080"}, "platform.http_proxy_url")
	})
}

// countingToken is a TokenSource that gives bad first, then good after
// an Invalidate.
type countingToken struct {
	mu          sync.Mutex
	bad, good   string
	invalidated []string
	calls       int
}

func (c *countingToken) Token(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if len(c.invalidated) == 0 {
		return c.bad, nil
	}
	return c.good, nil
}

func (c *countingToken) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidated = append(c.invalidated, tok)
}

func TestDialJWTAuthorizer(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	iss := newJWTIssuer(t)
	srv := remotetest.Start(t, remotetest.Options{JWKSURL: iss.JWKSURL})
	good := iss.token(t, "alice", []string{"default:admin"}, time.Hour)

	t.Run("no token", func(t *testing.T) {
		de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true}, "credentials")
		var pd *serviceerror.PermissionDenied
		if !errors.As(de, &pd) {
			t.Errorf("want a PermissionDenied inside, got %T: %v", de.Err, de.Err)
		}
	})
	t.Run("valid token", func(t *testing.T) {
		describe(t, dial(t, remote.Options{URL: srv.Addr, Insecure: true, Token: remote.StaticToken(good)}))
	})
	t.Run("other namespace only", func(t *testing.T) {
		tok := iss.token(t, "bob", []string{"team-b:admin"}, time.Hour)
		de := dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, Token: remote.StaticToken(tok)}, "credentials")
		if strings.Contains(de.Error(), tok) {
			t.Error("the error shows the token")
		}
	})
	t.Run("expired token is renewed once", func(t *testing.T) {
		expired := iss.token(t, "alice", []string{"default:admin"}, -time.Minute)
		ts := &countingToken{bad: expired, good: good}
		describe(t, dial(t, remote.Options{URL: srv.Addr, Insecure: true, Token: ts}))
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if len(ts.invalidated) != 1 || ts.invalidated[0] != expired {
			t.Errorf("invalidated %d tokens, want exactly the expired one", len(ts.invalidated))
		}
	})
}

func TestCheck(t *testing.T) {
	// Its own Temporal server: it waits on the server more than it computes.
	t.Parallel()
	srv := remotetest.Start(t, remotetest.Options{})
	ctx := context.Background()
	st := remote.Check(ctx, remote.Options{URL: srv.Addr, Insecure: true})
	if !st.Reachable || st.Error != "" || st.TLS != "off" || st.Namespace != "default" || st.Server == "" {
		t.Errorf("Check on a healthy server: %+v", st)
	}
	st = remote.Check(ctx, remote.Options{URL: srv.Addr, Insecure: true, Namespace: "nope"})
	if st.Reachable || st.Setting != "platform.namespace" || st.Error == "" {
		t.Errorf("Check with an unknown namespace: %+v", st)
	}
}
