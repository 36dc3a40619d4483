package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/plugin/pluginpb"
)

// The raw gRPC baseline: the bench binary re-executes itself with roleEnv
// set to become a plain gRPC server (no go-plugin, no sdk) on a unix socket,
// whose Execute echoes the inputs back as outputs.

const (
	roleEnv     = "GOFLYTE_BENCH_ROLE"
	roleEcho    = "grpc-echo-server"
	socketEnv   = "GOFLYTE_BENCH_SOCKET"
	readyPrefix = "ready "
)

type echoServer struct {
	pluginpb.UnimplementedPluginServer
}

func (echoServer) Execute(_ context.Context, req *pluginpb.ExecuteRequest) (*pluginpb.ExecuteResponse, error) {
	return &pluginpb.ExecuteResponse{Outputs: req.GetInputs()}, nil
}

// serveEcho is the child process: it serves until its stdin closes (the
// parent ended it, or died).
func serveEcho() error {
	path := os.Getenv(socketEnv)
	if path == "" {
		return errors.New(socketEnv + " is not set")
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(plugin.MaxMessageSize), grpc.MaxSendMsgSize(plugin.MaxMessageSize))
	pluginpb.RegisterPluginServer(s, echoServer{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		s.Stop()
	}()
	fmt.Printf("%s%s\n", readyPrefix, path)
	return s.Serve(lis)
}

// startEcho starts the echo server process and returns a client connected
// to it. The process and the connection end at env.Close.
func startEcho(ctx context.Context, env *Env) (pluginpb.PluginClient, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := env.TempDir("echo-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "echo.sock")
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleEcho, socketEnv+"="+sock)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	waited := make(chan error, 1)
	env.Cleanup(func() {
		stdin.Close()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && !strings.HasPrefix(line, readyPrefix) {
			err = fmt.Errorf("unexpected first line %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
		waited <- cmd.Wait()
	}()
	select {
	case err := <-ready:
		if err != nil {
			return nil, fmt.Errorf("echo server did not start: %v", err)
		}
	case <-time.After(10 * time.Second):
		return nil, errors.New("echo server did not start within 10s")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	conn, err := grpc.NewClient("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() { conn.Close() })
	return pluginpb.NewPluginClient(conn), nil
}

// upperRequest is the request the engine sends for a one-task run of
// text.upper with input text=hello: the same task, inputs and execution
// parameters (with a working directory path shaped like the sandbox's).
func upperRequest(sandboxRoot string) *plugin.ExecuteRequest {
	now := time.Now()
	name := sandbox.NewRunName(now)
	return &plugin.ExecuteRequest{
		Task:   "upper",
		Inputs: []byte(`{"text":"hello"}`),
		Params: plugin.Params{
			ExecutionID:      "local:local:" + name,
			ExecutionDate:    now,
			WorkingDirectory: filepath.Join(sandboxRoot, "runs", name, "tasks", "upper"),
			Mode:             plugin.ModeLocalTaskExecution,
			TaskID:           "text.upper",
			Node:             "upper",
			Attempt:          1,
			LogLevel:         "warn",
		},
	}
}

// toProto converts a request as the plugin package's gRPC client does.
func toProto(req *plugin.ExecuteRequest) *pluginpb.ExecuteRequest {
	p := req.Params
	return &pluginpb.ExecuteRequest{
		Task:   req.Task,
		Inputs: req.Inputs,
		Params: &pluginpb.ExecutionParameters{
			ExecutionId:      p.ExecutionID,
			ExecutionDate:    timestamppb.New(p.ExecutionDate),
			WorkingDirectory: p.WorkingDirectory,
			Mode:             pluginpb.Mode(p.Mode),
			TaskId:           p.TaskID,
			Node:             p.Node,
			Attempt:          int32(p.Attempt),
			LogLevel:         p.LogLevel,
		},
	}
}
