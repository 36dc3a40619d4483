package plugin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LaunchOptions configures Launch.
type LaunchOptions struct {
	// Name is the plugin's name; "" means NameFromPath(path).
	Name string
	// Args are passed to the binary (tests use them to re-exec themselves).
	Args []string
	// Env is the plugin process's environment; nil means the engine's own.
	Env []string
	// Logger receives the plugin's log lines; nil discards them.
	Logger hclog.Logger
	// LogLevel is the level the plugin should log at ("debug", "info", ...).
	LogLevel string
	// StartTimeout bounds the handshake; 0 means 10 seconds.
	StartTimeout time.Duration
	// Host, if set, is served to the plugin (once per process) for its
	// eager tasks to run other tasks through.
	Host Host
	// Redact, if set, is applied to every log line and stderr line of the
	// plugin before it is logged or kept: the engine uses it to replace
	// secret values with "***".
	Redact func(string) string
	// TLS turns on mutual TLS for the connection, with certificates made
	// for this launch (see TLSCertEnv). The plugin must be built with this
	// package's Serve (the sdk's is).
	TLS bool
}

// maxSocketPath is the longest path of a unix socket that every system
// takes (sun_path holds 104 bytes on macOS and the BSDs, 108 on Linux,
// with the terminating NUL), and socketName the longest name go-plugin
// gives a plugin's socket in its directory ("plugin" and the random
// digits of os.CreateTemp).
const (
	maxSocketPath = 103
	socketName    = len("/plugin") + 10
)

// Client is a running plugin process. It implements Provider; calls may be
// made from many goroutines at once. Close ends the process.
type Client struct {
	name   string
	path   string
	cmd    *exec.Cmd
	gp     *goplugin.Client
	impl   Provider
	stderr *tailBuffer
	marks  *logMarks    // takes the log marks out of stderr (logmark.go)
	logger hclog.Logger // named after the plugin
	// sockets is the directory the plugin makes its unix sockets in,
	// removed once the process has ended: a plugin that crashes or is
	// killed leaves its socket behind.
	sockets string
}

var _ Provider = (*Client)(nil)

// Launch starts the plugin binary at path and completes the go-plugin
// handshake. The caller must Close the client. A binary that is not a
// goflyte plugin, speaks another protocol version or does not answer within
// the start timeout is an error that says so and carries its stderr tail.
func Launch(ctx context.Context, path string, opts LaunchOptions) (*Client, error) {
	if opts.Name == "" {
		opts.Name = NameFromPath(path)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	cmd := exec.Command(path, opts.Args...)
	// Clip, so that the appends below copy: opts.Env is shared by
	// concurrent launches, each adding its own TLS material.
	cmd.Env = slices.Clip(opts.Env)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	if opts.LogLevel != "" {
		cmd.Env = append(cmd.Env, LogLevelEnv+"="+opts.LogLevel)
	}
	setProcAttr(cmd)
	var tlsConfig *tls.Config
	if opts.TLS {
		env, cfg, err := tlsLaunch()
		if err != nil {
			return nil, &ProcessError{Plugin: opts.Name, Path: path, Starting: true, Err: fmt.Errorf("make TLS certificates: %w", err)}
		}
		cmd.Env, tlsConfig = append(cmd.Env, env...), cfg
	}

	sockets, err := os.MkdirTemp("", "goflyte-plugin-")
	if err != nil {
		return nil, &ProcessError{Plugin: opts.Name, Path: path, Starting: true, Err: fmt.Errorf("make a directory for its socket: %w", err)}
	}
	if len(sockets)+socketName > maxSocketPath {
		// A long TMPDIR: the socket's path would be too long for the
		// system. The plugin makes it in TMPDIR itself, as go-plugin does.
		_ = os.Remove(sockets)
		sockets = ""
	} else {
		cmd.Env = append(cmd.Env, goplugin.EnvUnixSocketDir+"="+sockets)
	}

	c := &Client{name: opts.Name, path: path, cmd: cmd, stderr: newTailBuffer(64 << 10), sockets: sockets}
	c.stderr.redact = opts.Redact
	logger := hostLogger{Logger: opts.Logger.Named(opts.Name), redact: opts.Redact, stderrName: filepath.Base(cmd.Path)}
	c.logger = logger
	c.marks = newLogMarks(c.stderr, newStderrLog(logger))
	c.gp = goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{pluginKey: &grpcPlugin{host: opts.Host, tls: tlsConfig}},
		Cmd:             cmd,
		// cmd.Env is the whole environment: without this, go-plugin
		// appends the host's os.Environ() to it, and with it the secrets
		// the engine filtered out. go-plugin still adds what it needs
		// itself: the magic cookie and the PLUGIN_* variables.
		SkipHostEnv:      true,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		// go-plugin's own lines (the process started, exited); its stderr
		// reader gets an Off logger from it and so leaves each line to
		// Stderr (stderrlog.go).
		Logger: c.logger,
		// Each line the plugin writes to its real stderr: the log marks
		// are taken out there, the other lines kept in the tail and logged.
		Stderr: c.marks,
		// While serving, go-plugin points the plugin's os.Stdout and
		// os.Stderr at a gRPC stream; keep what arrives there too, so that a
		// plain fmt.Fprintln(os.Stderr, ...) in a task shows in the tail.
		SyncStdout:      c.stderr,
		SyncStderr:      c.stderr,
		StartTimeout:    opts.StartTimeout,
		TLSConfig:       tlsConfig,
		GRPCDialOptions: dialOptions(),
	})
	if err := ctx.Err(); err != nil {
		c.Close()
		return nil, err
	}
	rpc, err := c.gp.Client()
	if err != nil {
		c.Close()
		return nil, c.startError(err)
	}
	raw, err := rpc.Dispense(pluginKey)
	if err != nil {
		c.Close()
		return nil, c.startError(err)
	}
	c.impl = raw.(Provider)
	return c, nil
}

// Name returns the plugin's name.
func (c *Client) Name() string { return c.name }

// Path returns the plugin binary's path.
func (c *Client) Path() string { return c.path }

// Exited reports whether the plugin process has ended.
func (c *Client) Exited() bool { return c.gp.Exited() }

// StderrTail returns the last lines the plugin wrote to stderr.
func (c *Client) StderrTail() string { return c.stderr.Tail(20) }

// Close ends the plugin process (gracefully, then by force) and waits for it.
func (c *Client) Close() {
	c.gp.Kill()
	if c.sockets != "" {
		_ = os.RemoveAll(c.sockets)
	}
}

// Kill ends the plugin process and its process group at once, without
// waiting for calls to return: for a plugin that ignores cancellation.
// Calls in flight fail with a *ProcessError.
func (c *Client) Kill() {
	if c.cmd.Process != nil {
		killGroup(c.cmd.Process.Pid)
	}
	c.Close()
}

// Describe implements Provider.
func (c *Client) Describe(ctx context.Context) (*Schema, error) {
	s, err := c.impl.Describe(ctx)
	if err != nil {
		return nil, c.callError(ctx, err)
	}
	return s, nil
}

// Execute implements Provider. A task failure is a *TaskError; a plugin
// process that died during the call is a *ProcessError. With a failure the
// result may still be non-nil: a failed or panicking task's decks and
// metrics come back in it (see [ExecuteResult]).
//
// Execute returns once every line the plugin logged during the call has
// been given to the logger (LaunchOptions.Logger), if the plugin is one
// that says when that is (a log mark: logmark.go), for at most a couple
// of seconds after the answer.
func (c *Client) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	var res *ExecuteResult
	var err error
	if g, ok := c.impl.(*grpcClient); ok {
		mark := c.marks.expect()
		var marked bool
		res, marked, err = g.executeMarked(ctx, req, mark)
		c.waitLogs(ctx, mark, marked)
	} else {
		res, err = c.impl.Execute(ctx, req)
	}
	if err != nil {
		return res, c.callError(ctx, err)
	}
	return res, nil
}

// Running implements Tracker: whether the call is still running in the
// plugin process. A dead process runs nothing.
func (c *Client) Running(ctx context.Context, callID string) (bool, error) {
	if c.gp.Exited() {
		return false, nil
	}
	t, ok := c.impl.(Tracker)
	if !ok {
		return false, errors.New("plugin connection cannot track calls")
	}
	return t.Running(ctx, callID)
}

var _ Tracker = (*Client)(nil)

func (c *Client) callError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var te *TaskError
	if errors.As(err, &te) {
		return err
	}
	// The call failed in transport. If the process died, go-plugin notices
	// shortly after, once it has drained the process's stderr: wait a little
	// so that the error can show the last words (a panic trace, say). Only
	// an unreachable plugin is worth the wait.
	if status.Code(err) == codes.Unavailable {
		deadline := time.Now().Add(2 * time.Second)
		for !c.gp.Exited() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return &ProcessError{Plugin: c.name, Path: c.path, Exited: c.gp.Exited(), Stderr: c.StderrTail(), Err: err}
}

func (c *Client) startError(err error) error {
	return &ProcessError{Plugin: c.name, Path: c.path, Starting: true, Exited: c.gp.Exited(), Stderr: c.StderrTail(), Err: err}
}

// ProcessError is a plugin process that could not be started or reached,
// or that died during a call.
type ProcessError struct {
	Plugin   string
	Path     string
	Starting bool   // the failure happened during launch and handshake
	Exited   bool   // the process is gone
	Stderr   string // the last lines of its stderr
	Err      error
}

func (e *ProcessError) Error() string {
	var what string
	switch {
	case e.Starting:
		what = fmt.Sprintf("start plugin %q (%s)", e.Plugin, e.Path)
	case e.Exited:
		what = fmt.Sprintf("plugin %q exited unexpectedly", e.Plugin)
	default:
		what = fmt.Sprintf("call plugin %q", e.Plugin)
	}
	msg := fmt.Sprintf("%s: %v", what, e.Err)
	if e.Stderr != "" {
		msg += "\nplugin stderr (last lines):\n" + indent(e.Stderr, "  ")
	}
	return msg
}

func (e *ProcessError) Unwrap() error { return e.Err }
