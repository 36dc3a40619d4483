package plugin

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"sync"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goflyte/goflyte/plugin/pluginpb"
)

// MaxMessageSize bounds one gRPC message in either direction. gRPC's default
// of 4 MiB is too small for tasks that pass large lists or maps; 256 MiB is
// deliberate headroom, not a promise: pass files for anything larger.
const MaxMessageSize = 256 << 20

// windowSize is the static HTTP/2 flow-control window of the plugin
// connections, per stream and per connection, on both sides. A static
// window turns gRPC's bandwidth estimation off: on a dynamic window it
// answers the first data of every call with a PING and a WINDOW_UPDATE,
// and the peer acknowledges the PING, so a small call cost two more
// writes and two more reads, with a wake-up of the other process for
// each, than its request and response. 16 MiB is the most the estimator
// grows a window to, so large messages flow as before.
const windowSize = 16 << 20

// streamWorkers is how many goroutines of a plugin's gRPC server (and of
// the host an eager task calls) are kept to run calls. Without them gRPC
// starts a goroutine per call, whose stack grows by copying on every call
// (runtime.morestack: 11% of a plugin process's CPU in a remote fan-out);
// a kept goroutine has grown its stack once. go-plugin's long streams
// (the broker, stdio) hold one each for the plugin's life; calls beyond
// the free ones get a goroutine of their own, as before.
const streamWorkers = 8

// serverOptions are the gRPC server options of the connections between
// the engine and a plugin (Serve, and the host an eager task calls):
// message size limits, static windows and kept call goroutines.
func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(windowSize), grpc.InitialConnWindowSize(windowSize),
		grpc.NumStreamWorkers(streamWorkers),
	}
}

// dialOptions are serverOptions' client side (Launch, and an eager task's
// dial of the host).
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithInitialWindowSize(windowSize), grpc.WithInitialConnWindowSize(windowSize),
	}
}

// grpcPlugin is the go-plugin glue for a Provider. On the plugin side it
// registers impl as the gRPC service; on the host side it returns a
// Provider backed by a gRPC client.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl Provider
	host Host        // host side: served to the plugin for eager tasks
	tls  *tls.Config // host side: the launch's TLS configuration, if any
	// marks is where the plugin side writes log marks (logmark.go); nil
	// means the process's stderr. Tests change it.
	marks io.Writer
	// noMarks makes the plugin side ignore log marks, as a plugin built
	// before them does (tests).
	noMarks bool
}

var _ goplugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(broker *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, &grpcServer{impl: p.impl, broker: broker, marks: p.marks, noMarks: p.noMarks})
	return nil
}

func (p *grpcPlugin) GRPCClient(ctx context.Context, broker *goplugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	c := &grpcClient{client: pluginpb.NewPluginClient(conn)}
	if p.host != nil && broker != nil {
		c.done, c.broker, c.host, c.tls = ctx, broker, p.host, p.tls
	}
	return c, nil
}

// grpcClient is the host side: it implements Provider over a connection.
//
// The Host is served to each call of an eager task on a broker
// connection of its own (serveHost), not once per process: go-plugin's
// broker forgets a connection's address when the plugin does not dial it
// within 5 s, so a connection made at launch is lost to a plugin that
// lives longer than that before its first eager task (a worker's plugins,
// kept running; a local run whose eager task starts late).
type grpcClient struct {
	client pluginpb.PluginClient
	// done ends with the plugin process; broker, host and tls serve the
	// Host (nil host: none).
	done   context.Context
	broker *goplugin.GRPCBroker
	host   Host
	tls    *tls.Config
	// eager are the plugin's eager tasks, from its Describe (nil before).
	eagerMu sync.Mutex
	eager   map[string]bool
}

// hostFor serves the Host for one call of task and returns its broker id
// (0: none) and what stops serving it when the call ends. Before Describe
// every task may be eager.
func (c *grpcClient) hostFor(task string) (uint32, func()) {
	if c.host == nil {
		return 0, func() {}
	}
	c.eagerMu.Lock()
	known, eager := c.eager != nil, c.eager[task]
	c.eagerMu.Unlock()
	if known && !eager {
		return 0, func() {}
	}
	ctx, cancel := context.WithCancel(c.done)
	return serveHost(ctx, c.broker, c.host, c.tls), cancel
}

var _ Provider = (*grpcClient)(nil)

func (c *grpcClient) Describe(ctx context.Context) (*Schema, error) {
	resp, err := c.client.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return nil, err
	}
	s := schemaFromProto(resp)
	eager := map[string]bool{}
	for _, t := range s.Tasks {
		if t.Kind == KindEager {
			eager[t.Name] = true
		}
	}
	c.eagerMu.Lock()
	c.eager = eager
	c.eagerMu.Unlock()
	return s, nil
}

func (c *grpcClient) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	res, _, err := c.executeMarked(ctx, req, "")
	return res, err
}

// executeMarked is Execute with a log mark for the plugin to write
// (logmark.go; "" for none); it reports whether the plugin says it wrote
// it.
func (c *grpcClient) executeMarked(ctx context.Context, req *ExecuteRequest, mark string) (*ExecuteResult, bool, error) {
	hostID, stopHost := c.hostFor(req.Task)
	defer stopHost()
	preq := &pluginpb.ExecuteRequest{
		Task:         req.Task,
		Inputs:       req.Inputs,
		Params:       paramsToProto(req.Params),
		CallId:       req.CallID,
		HostBrokerId: hostID,
		LogMark:      mark,
	}
	for _, s := range req.Secrets {
		preq.Secrets = append(preq.Secrets, &pluginpb.Secret{Group: s.Group, Version: s.Version, Key: s.Key, Value: s.Value})
	}
	resp, err := c.client.Execute(ctx, preq, grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize))
	if err != nil {
		return nil, false, err
	}
	res := &ExecuteResult{
		Decks:   decksFromProto(resp.GetDecks()),
		Metrics: metricsFromProto(resp.GetMetrics()),
		Workdir: workdirFromProto(resp.WorkingDirectoryMade),
	}
	if e := resp.GetError(); e != nil {
		return res, resp.GetLogMarked(), taskErrorFromProto(e)
	}
	res.Outputs, res.Workflow = resp.GetOutputs(), resp.GetWorkflow()
	return res, resp.GetLogMarked(), nil
}

// Running implements Tracker.
func (c *grpcClient) Running(ctx context.Context, callID string) (bool, error) {
	resp, err := c.client.Running(ctx, &pluginpb.RunningRequest{CallId: callID})
	if err != nil {
		return false, err
	}
	return resp.GetRunning(), nil
}

// grpcServer is the plugin side: it serves a Provider, and keeps track of
// the calls still running in it for Running.
type grpcServer struct {
	pluginpb.UnimplementedPluginServer
	impl    Provider
	running sync.Map // call id -> struct{}
	broker  *goplugin.GRPCBroker
	marks   io.Writer // where log marks go; nil: the process's stderr
	noMarks bool      // ignore log marks (tests: a plugin from before them)
}

func (s *grpcServer) Running(_ context.Context, req *pluginpb.RunningRequest) (*pluginpb.RunningResponse, error) {
	_, ok := s.running.Load(req.GetCallId())
	return &pluginpb.RunningResponse{Running: ok}, nil
}

func (s *grpcServer) Describe(ctx context.Context, _ *pluginpb.DescribeRequest) (*pluginpb.DescribeResponse, error) {
	schema, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, err
	}
	return schemaToProto(schema), nil
}

func (s *grpcServer) Execute(ctx context.Context, req *pluginpb.ExecuteRequest) (*pluginpb.ExecuteResponse, error) {
	r := &ExecuteRequest{
		Task:   req.GetTask(),
		Inputs: req.GetInputs(),
		Params: paramsFromProto(req.GetParams()),
		CallID: req.GetCallId(),
	}
	if id := req.GetHostBrokerId(); id != 0 && s.broker != nil {
		// The call's own connection to the Host: dialled now, while the
		// broker still has its address (it forgets it after 5 s), and
		// closed when the call ends.
		h := &hostClient{broker: s.broker, id: id}
		h.connect()
		defer h.close()
		r.Host = h
	}
	if r.CallID != "" {
		s.running.Store(r.CallID, struct{}{})
		defer s.running.Delete(r.CallID)
	}
	for _, ps := range req.GetSecrets() {
		r.Secrets = append(r.Secrets, Secret{
			SecretRequest: SecretRequest{Group: ps.GetGroup(), Version: ps.GetVersion(), Key: ps.GetKey()},
			Value:         ps.GetValue(),
		})
	}
	written := processStderr.writes()
	res, err := s.impl.Execute(ctx, r)
	if ctx.Err() != nil {
		// The call was cancelled or timed out: that is the host's doing,
		// not a task failure, whatever the task returned.
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	// Behind every line the call logged, before the answer; none when
	// nothing at all was written to stderr during the call (logmark.go).
	marked := false
	if id := req.GetLogMark(); id != "" && !s.noMarks && processStderr.writes() != written {
		w := s.marks
		if w == nil {
			w = rawStderr
		}
		marked = writeLogMark(w, id)
	}
	if err != nil {
		var te *TaskError
		if !errors.As(err, &te) {
			te = &TaskError{Message: err.Error()}
		}
		resp := &pluginpb.ExecuteResponse{Error: taskErrorToProto(te), LogMarked: marked}
		if res != nil {
			resp.Decks, resp.Metrics = decksToProto(res.Decks), metricsToProto(res.Metrics)
			resp.WorkingDirectoryMade = workdirToProto(res.Workdir)
		}
		return resp, nil
	}
	return &pluginpb.ExecuteResponse{
		Outputs:              res.Outputs,
		Workflow:             res.Workflow,
		Decks:                decksToProto(res.Decks),
		Metrics:              metricsToProto(res.Metrics),
		LogMarked:            marked,
		WorkingDirectoryMade: workdirToProto(res.Workdir),
	}, nil
}

// workdirToProto is the answer's working_directory_made: unset for
// WorkdirUnreported.
func workdirToProto(w WorkdirReport) *bool {
	switch w {
	case WorkdirMade:
		return proto.Bool(true)
	case WorkdirNotMade:
		return proto.Bool(false)
	}
	return nil
}

func workdirFromProto(made *bool) WorkdirReport {
	switch {
	case made == nil:
		return WorkdirUnreported
	case *made:
		return WorkdirMade
	}
	return WorkdirNotMade
}

func schemaToProto(s *Schema) *pluginpb.DescribeResponse {
	resp := &pluginpb.DescribeResponse{Name: s.Name, Version: s.Version, LazyWorkingDirectory: s.LazyWorkingDirectory}
	for _, t := range s.Tasks {
		resp.Tasks = append(resp.Tasks, &pluginpb.TaskSchema{
			Name:         t.Name,
			Doc:          t.Doc,
			Kind:         pluginpb.TaskKind(t.Kind),
			Inputs:       fieldsToProto(t.Inputs),
			Outputs:      fieldsToProto(t.Outputs),
			Secrets:      secretRequestsToProto(t.Secrets),
			Cacheable:    t.Cacheable,
			CacheVersion: t.CacheVersion,
		})
	}
	return resp
}

func secretRequestsToProto(rs []SecretRequest) []*pluginpb.SecretRequest {
	var out []*pluginpb.SecretRequest
	for _, r := range rs {
		out = append(out, &pluginpb.SecretRequest{Group: r.Group, Version: r.Version, Key: r.Key})
	}
	return out
}

func schemaFromProto(resp *pluginpb.DescribeResponse) *Schema {
	s := &Schema{Name: resp.GetName(), Version: resp.GetVersion(), LazyWorkingDirectory: resp.GetLazyWorkingDirectory()}
	for _, t := range resp.GetTasks() {
		s.Tasks = append(s.Tasks, TaskSchema{
			Name:         t.GetName(),
			Doc:          t.GetDoc(),
			Kind:         Kind(t.GetKind()),
			Inputs:       fieldsFromProto(t.GetInputs()),
			Outputs:      fieldsFromProto(t.GetOutputs()),
			Secrets:      secretRequestsFromProto(t.GetSecrets()),
			Cacheable:    t.GetCacheable(),
			CacheVersion: t.GetCacheVersion(),
		})
	}
	return s
}

func fieldsToProto(fs []Field) []*pluginpb.Field {
	out := make([]*pluginpb.Field, len(fs))
	for i, f := range fs {
		out[i] = &pluginpb.Field{Name: f.Name, Type: f.Type, Doc: f.Doc, Optional: f.Optional}
	}
	return out
}

func fieldsFromProto(fs []*pluginpb.Field) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{Name: f.GetName(), Type: f.GetType(), Doc: f.GetDoc(), Optional: f.GetOptional()}
	}
	return out
}

func paramsToProto(p Params) *pluginpb.ExecutionParameters {
	pp := &pluginpb.ExecutionParameters{
		ExecutionId:       p.ExecutionID,
		WorkingDirectory:  p.WorkingDirectory,
		Mode:              pluginpb.Mode(p.Mode),
		TaskId:            p.TaskID,
		Node:              p.Node,
		Attempt:           int32(p.Attempt),
		LogLevel:          p.LogLevel,
		CheckpointDir:     p.CheckpointDir,
		PrevCheckpointDir: p.PrevCheckpointDir,
		EnableDeck:        p.EnableDeck,
		TmpDir:            p.TmpDir,
		RawOutputPrefix:   p.RawOutputPrefix,

		MakeWorkingDirectory: p.MakeWorkingDirectory,
	}
	if !p.ExecutionDate.IsZero() {
		pp.ExecutionDate = timestamppb.New(p.ExecutionDate)
	}
	if s := p.StatsD; s != nil {
		pp.Statsd = &pluginpb.StatsD{Host: s.Host, Port: int32(s.Port), DisableTags: s.DisableTags, Prefix: s.Prefix}
	}
	return pp
}

func paramsFromProto(pp *pluginpb.ExecutionParameters) Params {
	p := Params{
		ExecutionID:       pp.GetExecutionId(),
		WorkingDirectory:  pp.GetWorkingDirectory(),
		Mode:              Mode(pp.GetMode()),
		TaskID:            pp.GetTaskId(),
		Node:              pp.GetNode(),
		Attempt:           int(pp.GetAttempt()),
		LogLevel:          pp.GetLogLevel(),
		CheckpointDir:     pp.GetCheckpointDir(),
		PrevCheckpointDir: pp.GetPrevCheckpointDir(),
		EnableDeck:        pp.GetEnableDeck(),
		TmpDir:            pp.GetTmpDir(),
		RawOutputPrefix:   pp.GetRawOutputPrefix(),

		MakeWorkingDirectory: pp.GetMakeWorkingDirectory(),
	}
	if pp.GetExecutionDate() != nil {
		p.ExecutionDate = pp.GetExecutionDate().AsTime()
	}
	if s := pp.GetStatsd(); s != nil {
		p.StatsD = &StatsD{Host: s.GetHost(), Port: int(s.GetPort()), DisableTags: s.GetDisableTags(), Prefix: s.GetPrefix()}
	}
	return p
}

func taskErrorToProto(e *TaskError) *pluginpb.TaskError {
	pe := &pluginpb.TaskError{Message: e.Message, Retryable: e.Retryable}
	for _, d := range e.Diagnostics {
		pe.Diagnostics = append(pe.Diagnostics, &pluginpb.Diagnostic{
			Severity:  pluginpb.Diagnostic_Severity(d.Severity),
			Summary:   d.Summary,
			Detail:    d.Detail,
			Attribute: d.Attribute,
		})
	}
	return pe
}

func taskErrorFromProto(pe *pluginpb.TaskError) *TaskError {
	e := &TaskError{Message: pe.GetMessage(), Retryable: pe.GetRetryable()}
	for _, d := range pe.GetDiagnostics() {
		e.Diagnostics = append(e.Diagnostics, Diagnostic{
			Severity:  Severity(d.GetSeverity()),
			Summary:   d.GetSummary(),
			Detail:    d.GetDetail(),
			Attribute: d.GetAttribute(),
		})
	}
	return e
}

func secretRequestsFromProto(rs []*pluginpb.SecretRequest) []SecretRequest {
	var out []SecretRequest
	for _, r := range rs {
		out = append(out, SecretRequest{Group: r.GetGroup(), Version: r.GetVersion(), Key: r.GetKey()})
	}
	return out
}

func decksToProto(ds []Deck) []*pluginpb.Deck {
	var out []*pluginpb.Deck
	for _, d := range ds {
		pd := &pluginpb.Deck{Name: d.Name}
		for _, b := range d.Blocks {
			pb := &pluginpb.DeckBlock{}
			switch {
			case b.Table != nil:
				t := &pluginpb.DeckTable{Header: b.Table.Header}
				for _, r := range b.Table.Rows {
					t.Rows = append(t.Rows, &pluginpb.DeckRow{Cells: r})
				}
				pb.Content = &pluginpb.DeckBlock_Table{Table: t}
			case b.Image != nil:
				pb.Content = &pluginpb.DeckBlock_Image{Image: &pluginpb.DeckImage{MimeType: b.Image.MIMEType, Data: b.Image.Data, Alt: b.Image.Alt}}
			case b.HTML != "":
				pb.Content = &pluginpb.DeckBlock_Html{Html: b.HTML}
			default:
				pb.Content = &pluginpb.DeckBlock_Markdown{Markdown: b.Markdown}
			}
			pd.Blocks = append(pd.Blocks, pb)
		}
		out = append(out, pd)
	}
	return out
}

func decksFromProto(pds []*pluginpb.Deck) []Deck {
	var out []Deck
	for _, pd := range pds {
		d := Deck{Name: pd.GetName()}
		for _, pb := range pd.GetBlocks() {
			var b DeckBlock
			switch c := pb.GetContent().(type) {
			case *pluginpb.DeckBlock_Markdown:
				b.Markdown = c.Markdown
			case *pluginpb.DeckBlock_Html:
				b.HTML = c.Html
			case *pluginpb.DeckBlock_Table:
				t := &DeckTable{Header: c.Table.GetHeader(), Rows: [][]string{}}
				for _, r := range c.Table.GetRows() {
					t.Rows = append(t.Rows, r.GetCells())
				}
				b.Table = t
			case *pluginpb.DeckBlock_Image:
				b.Image = &DeckImage{MIMEType: c.Image.GetMimeType(), Data: c.Image.GetData(), Alt: c.Image.GetAlt()}
			default:
				continue // a block kind from a newer plugin
			}
			d.Blocks = append(d.Blocks, b)
		}
		out = append(out, d)
	}
	return out
}

func metricsToProto(ms []Metric) []*pluginpb.Metric {
	var out []*pluginpb.Metric
	for _, m := range ms {
		out = append(out, &pluginpb.Metric{
			Name: m.Name, Kind: pluginpb.Metric_Kind(m.Kind), Tags: m.Tags,
			Value: m.Value, Count: m.Count, Min: m.Min, Max: m.Max,
		})
	}
	return out
}

func metricsFromProto(pms []*pluginpb.Metric) []Metric {
	var out []Metric
	for _, pm := range pms {
		out = append(out, Metric{
			Name: pm.GetName(), Kind: MetricKind(pm.GetKind()), Tags: pm.GetTags(),
			Value: pm.GetValue(), Count: pm.GetCount(), Min: pm.GetMin(), Max: pm.GetMax(),
		})
	}
	return out
}
