package plugin

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/goflyte/goflyte/plugin/pluginpb"
)

// plainDescribe calls Describe on c's socket without TLS, as any other
// process of the user could.
func plainDescribe(t *testing.T, c *Client) error {
	t.Helper()
	addr := c.gp.ReattachConfig().Addr
	conn, err := grpc.NewClient("unix://"+addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pluginpb.NewPluginClient(conn).Describe(ctx, &pluginpb.DescribeRequest{})
	return err
}

func TestLaunchTLS(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "serve", LaunchOptions{TLS: true})
	in := json.RawMessage(`{"x":[1,"two"]}`)
	res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: in})
	if err != nil || string(res.Outputs) != string(in) {
		t.Fatalf("Execute over TLS = %v, %v; want the echo", res, err)
	}
	if err := plainDescribe(t, c); err == nil {
		t.Error("a client without the launch's certificate called the TLS plugin")
	}

	// The same call reaches a plugin launched without TLS: the check above
	// can fail.
	plain := mustLaunchHelper(t, "serve", LaunchOptions{})
	if err := plainDescribe(t, plain); err != nil {
		t.Errorf("plain client to a plain plugin: %v", err)
	}
}

func TestServerTLSFromEnv(t *testing.T) {
	env, _, err := tlsLaunch()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	cfg, err := serverTLS()
	if err != nil || cfg == nil || len(cfg.Certificates) != 1 || cfg.ClientCAs == nil {
		t.Fatalf("serverTLS = %v, %v; want a config with one certificate and the client's", cfg, err)
	}
	t.Setenv(TLSKeyEnv, "not a key")
	if _, err := serverTLS(); err == nil {
		t.Error("serverTLS with a broken key: want an error")
	}
}

func BenchmarkTLSLaunchCerts(b *testing.B) {
	for b.Loop() {
		if _, _, err := tlsLaunch(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLaunchTLSSharedEnv launches plugins concurrently from one Env slice
// with room to spare, as the engine does: each must get its own
// certificates, not another launch's.
func TestLaunchTLSSharedEnv(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("launches plugin processes; skipped with -short")
	}
	env := make([]string, 0, len(os.Environ())+16)
	env = append(env, os.Environ()...)
	env = append(env, helperEnv+"=serve", fastRaceExit())
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Launch(context.Background(), os.Args[0], LaunchOptions{
				Name: "fake", Args: []string{"-test.run=^TestHelperProcess$"}, Env: env, TLS: true,
			})
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			_, errs[i] = c.Describe(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("launch %d: %v", i, err)
		}
	}
}
