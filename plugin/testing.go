package plugin

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/goflyte/goflyte/plugin/pluginpb"
)

// TestProvider serves p over a real gRPC connection on a unix socket inside
// this process and returns the host side, with the message size limits and
// the cancellation behaviour of a launched plugin's [Client]: a call whose
// context ends returns the context's error. The server and connection are
// closed when t ends. It is for tests of plugins and of code that calls
// them (sdk/sdktest is built on it); a [ProcessError] needs a real process.
func TestProvider(t testing.TB, p Provider) Provider {
	t.Helper()
	// A short directory: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "goflyte-plugin-")
	if err != nil {
		t.Fatalf("plugin.TestProvider: %v", err)
	}
	path := filepath.Join(dir, "plugin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("plugin.TestProvider: %v", err)
	}
	server := grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
	pluginpb.RegisterPluginServer(server, &grpcServer{impl: p})
	go func() { _ = server.Serve(ln) }()
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	)
	if err != nil {
		t.Fatalf("plugin.TestProvider: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
		_ = os.RemoveAll(dir)
	})
	return testClient{&grpcClient{client: pluginpb.NewPluginClient(conn)}}
}

// testClient gives the in-process connection a Client's error behaviour.
type testClient struct{ Provider }

func (c testClient) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	res, err := c.Provider.Execute(ctx, req)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res, err
}
