package plugin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"sync"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/goflyte/goflyte/plugin/pluginpb"
)

// hostServer serves a Host to a plugin process (engine side).
type hostServer struct {
	pluginpb.UnimplementedHostServer
	host Host
}

func (s *hostServer) RunTask(ctx context.Context, req *pluginpb.RunTaskRequest) (*pluginpb.RunTaskResponse, error) {
	out, err := s.host.RunTask(ctx, req.GetParentCallId(), req.GetTask(), req.GetInputs())
	if err != nil {
		var te *TaskError
		if !errors.As(err, &te) {
			te = &TaskError{Message: err.Error()}
		}
		return &pluginpb.RunTaskResponse{Error: taskErrorToProto(te)}, nil
	}
	return &pluginpb.RunTaskResponse{Outputs: out}, nil
}

// serveHost starts serving host on a new broker connection and returns
// its id: once per call of an eager task (see grpcClient). done ends the
// call; the server stops with it.
//
// This is go-plugin's GRPCBroker.AcceptAndServe without its log line: a
// plugin closed right after launch (a run that fails on its inputs) makes
// Accept fail with "broker closed", which AcceptAndServe printed to the
// user's terminal through the standard logger.
func serveHost(done context.Context, broker *goplugin.GRPCBroker, host Host, tlsConfig *tls.Config) uint32 {
	id := broker.NextId()
	go func() {
		ln, err := broker.Accept(id)
		if err != nil {
			// The plugin is gone, or its eager tasks' dial fails and
			// reports it from their side.
			return
		}
		defer ln.Close()
		opts := serverOptions()
		if tlsConfig != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
		}
		s := grpc.NewServer(opts...)
		pluginpb.RegisterHostServer(s, &hostServer{host: host})
		stop := context.AfterFunc(done, s.Stop)
		defer stop()
		_ = s.Serve(ln)
	}()
	return id
}

// hostClient is the plugin side of Host: the connection of one call,
// dialled when the call starts (connect) and shared by the task's
// concurrent children.
type hostClient struct {
	broker *goplugin.GRPCBroker
	id     uint32
	once   sync.Once
	conn   *grpc.ClientConn
	client pluginpb.HostClient
	err    error
}

// connect dials the host, once; an error is returned by RunTask.
func (h *hostClient) connect() {
	h.once.Do(func() {
		conn, err := h.broker.DialWithOptions(h.id, dialOptions()...)
		if err != nil {
			h.err = err
			return
		}
		h.conn, h.client = conn, pluginpb.NewHostClient(conn)
	})
}

func (h *hostClient) close() {
	h.connect() // waits for a dial in progress
	if h.conn != nil {
		_ = h.conn.Close()
	}
}

func (h *hostClient) RunTask(ctx context.Context, parent, task string, inputs json.RawMessage) (json.RawMessage, error) {
	h.connect()
	if h.err != nil {
		return nil, h.err
	}
	resp, err := h.client.RunTask(ctx, &pluginpb.RunTaskRequest{ParentCallId: parent, Task: task, Inputs: inputs})
	if err != nil {
		return nil, err
	}
	if e := resp.GetError(); e != nil {
		return nil, taskErrorFromProto(e)
	}
	return resp.GetOutputs(), nil
}
