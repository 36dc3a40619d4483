package plugin

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/goflyte/goflyte/plugin/jsonlog"
)

// Handshake is checked by both sides before anything else is said. The
// magic cookie only stops a user from running a plugin binary by hand by
// mistake; it is not security. Bump ProtocolVersion on any change to the
// protocol that an older peer cannot ignore.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GOFLYTE_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "8c1f4a9e7d2b6053e1a4c7f09b3d5e28",
}

// BinaryPrefix starts the file name of every plugin binary:
// goflyte-plugin-<name>.
const BinaryPrefix = "goflyte-plugin-"

// LogLevelEnv is the environment variable through which the engine tells a
// plugin which hclog level to log at.
const LogLevelEnv = "GOFLYTE_LOG_LEVEL"

// pluginKey names our one plugin type in go-plugin's plugin set.
const pluginKey = "provider"

// NameFromPath returns the plugin name of a binary path: the file name
// without BinaryPrefix (and without ".exe"), or "" if it is not a plugin.
func NameFromPath(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".exe")
	if !strings.HasPrefix(base, BinaryPrefix) {
		return ""
	}
	return strings.TrimPrefix(base, BinaryPrefix)
}

// ServeOptions configures Serve.
type ServeOptions struct {
	// Logger is the plugin's logger. go-plugin sends its JSON lines to the
	// host, which forwards them into the engine's log. Nil means a JSON
	// logger on stderr at the level the host asked for.
	Logger hclog.Logger
}

// Serve serves p to the goflyte engine over gRPC. It blocks until the host
// ends the plugin process. Run by hand, outside the engine, it prints a
// short explanation and exits with status 1.
func Serve(p Provider, opts ServeOptions) {
	if opts.Logger == nil {
		opts.Logger = NewPluginLogger("")
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{pluginKey: &grpcPlugin{impl: p}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, serverOptions()...)
			return grpc.NewServer(opts...)
		},
		Logger:      opts.Logger,
		TLSProvider: serverTLS,
	})
}

// NewPluginLogger returns the logger a plugin process should use: JSON on
// stderr (which go-plugin forwards to the host) at the level the host set
// in LogLevelEnv.
func NewPluginLogger(name string) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	return jsonlog.New(jsonlog.Options{Name: name, Level: level, Output: processStderr})
}

// processStderr is the process's real standard error, kept before
// go-plugin's Serve points os.Stderr at a pipe: go-plugin's host reads the
// real one for log lines and the stderr tail. It counts the writes made
// through it: a call during which there were none needs no log mark
// (logmark.go).
var processStderr = &countedWriter{w: os.Stderr}

// rawStderr is the same, uncounted: log marks are written there.
var rawStderr io.Writer = os.Stderr

// ProcessStderr returns the plugin process's real standard error (not
// os.Stderr, which go-plugin's Serve replaces with a pipe of its own).
// The host reads it for the plugin's JSON log lines and for the tail it
// shows when the plugin dies. Log through it, as [NewPluginLogger]'s
// loggers and the sdk's do: a call returns to the host once the host has
// logged every line written through it during the call; lines written to
// the real stderr in other ways may be logged after the call has
// returned, and miss the task's stored log.
func ProcessStderr() io.Writer { return processStderr }

// countedWriter counts the writes made through it.
type countedWriter struct {
	w io.Writer
	n atomic.Uint64
}

func (c *countedWriter) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.w.Write(p)
}

// writes is how many writes have been made through c.
func (c *countedWriter) writes() uint64 { return c.n.Load() }
