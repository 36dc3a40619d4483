package plugin

import (
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
)

// TestProvider serves p over a real gRPC connection inside this process and
// returns the host side, exactly as the engine sees a launched plugin. The
// connection is closed when t ends. It is for tests of plugins and of code
// that calls them (sdk/sdktest is built on it).
func TestProvider(t testing.TB, p Provider) Provider {
	t.Helper()
	client, _ := goplugin.TestPluginGRPCConn(t, false, goplugin.PluginSet{pluginKey: &grpcPlugin{impl: p}})
	// Closing the client sends go-plugin's Shutdown RPC, which stops the
	// server; stopping it here as well would race with that.
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginKey)
	if err != nil {
		t.Fatalf("dispense plugin: %v", err)
	}
	return raw.(Provider)
}
