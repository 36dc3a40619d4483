package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// fakeProvider is a hand-written Provider whose behaviour each test sets
// through its func fields.
type fakeProvider struct {
	describe func(ctx context.Context) (*Schema, error)
	execute  func(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error)
}

func (f *fakeProvider) Describe(ctx context.Context) (*Schema, error) {
	if f.describe == nil {
		return nil, errors.New("fakeProvider: Describe not set")
	}
	return f.describe(ctx)
}

func (f *fakeProvider) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	if f.execute == nil {
		return nil, errors.New("fakeProvider: Execute not set")
	}
	return f.execute(ctx, req)
}

// connector serves a Provider in this process and returns the host side.
type connector struct {
	name    string
	connect func(t *testing.T, p Provider) Provider
}

// connectors are the two in-process ways to reach a Provider over gRPC:
// the exported TestProvider, and this package's adapters (grpcPlugin,
// grpcServer, grpcClient) over a gRPC connection with the message size
// limits that Serve and Launch set.
func connectors() []connector {
	return []connector{
		{name: "TestProvider", connect: func(t *testing.T, p Provider) Provider { return TestProvider(t, p) }},
		{name: "grpc", connect: serveInProcess},
	}
}

// serveInProcess serves p with grpcPlugin over an in-memory gRPC
// connection, with the server options of Serve and the dial options of
// Launch, and returns the host side. Everything is closed when t ends.
func serveInProcess(t *testing.T, p Provider) Provider {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(serverOptions()...)
	if err := (&grpcPlugin{impl: p}).GRPCServer(nil, srv); err != nil {
		t.Fatalf("register server: %v", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufconn", append(dialOptions(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-served
	})
	raw, err := (&grpcPlugin{}).GRPCClient(context.Background(), nil, conn)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return raw.(Provider)
}

func TestDescribeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		schema *Schema
	}{
		{name: "full", schema: &Schema{
			Name:    "text",
			Version: "v1.2.3-rc.1+meta",
			Tasks: []TaskSchema{
				{
					Name: "split",
					Doc:  "Split s at every sep.\n\nSecond paragraph: ünïcødé ✓.",
					Kind: KindPlain,
					Inputs: []Field{
						{Name: "s", Type: "string", Doc: "The string to split."},
						{Name: "sep", Type: "string", Doc: "Separator.", Optional: true},
						{Name: "opts", Type: "object({limit=number,trim=bool})", Optional: true},
					},
					Outputs: []Field{
						{Name: "parts", Type: "list(string)", Doc: "The parts."},
						{Name: "counts", Type: "map(number)"},
					},
					Secrets: []SecretRequest{
						{Group: "github", Version: "v2", Key: "token"},
						{Group: "aws", Key: "access_key"},
						{Key: "plain"},
					},
				},
				{
					Name:    "fanout",
					Kind:    KindDynamic,
					Inputs:  []Field{{Name: "items", Type: "set(any)"}},
					Outputs: []Field{{Name: "results", Type: "list(any)"}},
				},
				{
					Name:    "agent",
					Doc:     "Calls other tasks.",
					Kind:    KindEager,
					Inputs:  []Field{{Name: "goal", Type: "string"}},
					Outputs: []Field{{Name: "done", Type: "bool", Optional: true}},
				},
			},
		}},
		{name: "task without fields", schema: &Schema{
			Name:    "noop",
			Version: "devel",
			Tasks:   []TaskSchema{{Name: "noop"}},
		}},
		{name: "no tasks", schema: &Schema{Name: "empty"}},
		{name: "unknown kind", schema: &Schema{
			Name:  "future",
			Tasks: []TaskSchema{{Name: "t", Kind: Kind(9)}},
		}},
	}
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					p := c.connect(t, &fakeProvider{
						describe: func(context.Context) (*Schema, error) { return tc.schema, nil },
					})
					got, err := p.Describe(context.Background())
					if err != nil {
						t.Fatalf("Describe: %v", err)
					}
					// The wire does not tell a nil field list from an
					// empty one.
					if diff := cmp.Diff(tc.schema, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("Describe mismatch (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

func TestExecuteRoundTrip(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name    string
		req     *ExecuteRequest
		outputs json.RawMessage
	}{
		{
			name: "all params",
			req: &ExecuteRequest{
				Task:   "split",
				Inputs: json.RawMessage(`{"s":"a,b,c","sep":",","n":[1,2.5,null],"o":{"ü":true}}`),
				Params: Params{
					ExecutionID:       "flytesnacks:development:f3a1b2c4",
					ExecutionDate:     time.Date(2026, 3, 29, 1, 59, 59, 123456789, cest),
					WorkingDirectory:  "/tmp/goflyte/run-1/split/1",
					Mode:              ModeLocalWorkflowExecution,
					TaskID:            "text.split",
					Node:              "split_words",
					Attempt:           3,
					LogLevel:          "debug",
					CheckpointDir:     "/tmp/goflyte/run-1/checkpoints/split.3",
					PrevCheckpointDir: "/tmp/goflyte/run-1/checkpoints/split.2",
					EnableDeck:        true,
					TmpDir:            "/tmp/goflyte/run-1/tmp",
					RawOutputPrefix:   "s3://bucket/runs/run-1",
					StatsD:            &StatsD{Host: "127.0.0.1", Port: 8125, DisableTags: true, Prefix: "goflyte."},
				},
				Secrets: []Secret{
					{SecretRequest: SecretRequest{Group: "github", Version: "v2", Key: "token"}, Value: []byte("ghp_s3cr3t")},
					{SecretRequest: SecretRequest{Key: "binary"}, Value: []byte{0, 0xff, '\n', 0xc3, 0x28, ' '}},
					{SecretRequest: SecretRequest{Key: "empty"}},
				},
			},
			outputs: json.RawMessage(`{"parts":["a","b","c"]}`),
		},
		{
			name: "zero params",
			req: &ExecuteRequest{
				Task:   "noop",
				Inputs: json.RawMessage(`{}`),
			},
			outputs: json.RawMessage(`{}`),
		},
		{
			name: "unknown mode and pre-epoch date",
			req: &ExecuteRequest{
				Task:   "t",
				Inputs: json.RawMessage(`{"x":1}`),
				Params: Params{
					ExecutionDate: time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC),
					Mode:          Mode(99),
					Attempt:       1,
				},
			},
			outputs: json.RawMessage(`{"y":2}`),
		},
	}
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					gotReq := make(chan *ExecuteRequest, 1)
					p := c.connect(t, &fakeProvider{
						execute: func(_ context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
							gotReq <- req
							return &ExecuteResult{Outputs: tc.outputs}, nil
						},
					})
					res, err := p.Execute(context.Background(), tc.req)
					if err != nil {
						t.Fatalf("Execute: %v", err)
					}
					got := <-gotReq

					// cmp compares times with Time.Equal; the location is
					// checked on its own below.
					// Secret's Format hides values; compare them as plain bytes.
					if diff := cmp.Diff(tc.req, got, cmpopts.EquateEmpty(), cmp.Transformer("secretValue", func(s Secret) struct {
						Req   SecretRequest
						Value []byte
					} {
						return struct {
							Req   SecretRequest
							Value []byte
						}{s.SecretRequest, s.Value}
					})); diff != "" {
						t.Errorf("request seen by the plugin mismatch (-want +got):\n%s", diff)
					}
					gotDate, wantDate := got.Params.ExecutionDate, tc.req.Params.ExecutionDate
					if wantDate.IsZero() {
						if !gotDate.IsZero() {
							t.Errorf("ExecutionDate = %v, want the zero time", gotDate)
						}
					} else {
						if gotDate.Location() != time.UTC {
							t.Errorf("ExecutionDate location = %v, want UTC", gotDate.Location())
						}
						if gotDate != wantDate.UTC() {
							t.Errorf("ExecutionDate = %v, want %v", gotDate, wantDate.UTC())
						}
					}
					if diff := cmp.Diff(tc.outputs, res.Outputs); diff != "" {
						t.Errorf("outputs mismatch (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

var (
	failDecks   = []Deck{{Name: "why", Blocks: []DeckBlock{{Markdown: "# it failed"}}}}
	failMetrics = []Metric{{Name: "tries", Kind: Counter, Value: 1, Count: 1}}
)

// TestExecuteReport sends decks and metrics of every kind back to the host.
func TestExecuteReport(t *testing.T) {
	want := &ExecuteResult{
		Outputs: json.RawMessage(`{}`),
		Decks: []Deck{
			{Name: "summary", Blocks: []DeckBlock{
				{Markdown: "# Title\n\n*some* text"},
				{HTML: "<p>raw <b>html</b></p>"},
				{Table: &DeckTable{Header: []string{"a", "b"}, Rows: [][]string{{"1", "2"}, {"", "ü<"}}}},
				{Table: &DeckTable{Rows: [][]string{}}},
				{Image: &DeckImage{MIMEType: "image/png", Data: []byte{0x89, 'P', 'N', 'G', 0}, Alt: "a plot"}},
			}},
			{Name: "empty"},
		},
		Metrics: []Metric{
			{Name: "rows", Kind: Counter, Tags: map[string]string{"table": "users"}, Value: 42, Count: 3},
			{Name: "queue", Kind: Gauge, Value: -1.5, Count: 2},
			{Name: "fetch", Kind: Timer, Value: 30.5, Count: 2, Min: 10, Max: 20.5},
		},
	}
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			p := c.connect(t, &fakeProvider{
				execute: func(context.Context, *ExecuteRequest) (*ExecuteResult, error) { return want, nil },
			})
			got, err := p.Execute(context.Background(), &ExecuteRequest{Task: "t", Inputs: json.RawMessage(`{}`)})
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetricKindText(t *testing.T) {
	for _, k := range []MetricKind{Counter, Gauge, Timer} {
		text, _ := k.MarshalText()
		var back MetricKind
		if err := back.UnmarshalText(text); err != nil || back != k {
			t.Errorf("%v: round trip gave %v, %v", k, back, err)
		}
	}
	var k MetricKind
	if err := k.UnmarshalText([]byte("histogram")); err == nil {
		t.Error("UnmarshalText(histogram) succeeded")
	}
}

func TestExecuteTaskError(t *testing.T) {
	taskErr := &TaskError{
		Message:   "cannot split",
		Retryable: true,
		Diagnostics: []Diagnostic{
			{Severity: SeverityError, Summary: "empty separator", Detail: "sep must not be empty", Attribute: "sep"},
			{Severity: SeverityWarning, Summary: "long input", Attribute: "s"},
			{Summary: "no attribute"},
		},
	}
	tests := []struct {
		name string
		err  error // returned by the plugin's Execute
		want *TaskError
	}{
		{name: "task error", err: taskErr, want: taskErr},
		{
			name: "diagnostics only",
			err:  &TaskError{Diagnostics: []Diagnostic{{Summary: "bad", Attribute: "x"}}},
			want: &TaskError{Diagnostics: []Diagnostic{{Summary: "bad", Attribute: "x"}}},
		},
		// Only the *TaskError crosses the wire; what wraps it does not.
		{name: "wrapped task error", err: fmt.Errorf("split: %w", taskErr), want: taskErr},
		{name: "plain error", err: errors.New("something broke"), want: &TaskError{Message: "something broke"}},
		{
			name: "wrapped plain error",
			err:  fmt.Errorf("open input: %w", errors.New("no such file")),
			want: &TaskError{Message: "open input: no such file"},
		},
	}
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					p := c.connect(t, &fakeProvider{
						execute: func(context.Context, *ExecuteRequest) (*ExecuteResult, error) {
							return &ExecuteResult{Outputs: json.RawMessage(`{"ignored":true}`), Workflow: "ignored", Decks: failDecks, Metrics: failMetrics}, tc.err
						},
					})
					res, err := p.Execute(context.Background(), &ExecuteRequest{Task: "t", Inputs: json.RawMessage(`{}`)})
					// A failed task's decks and metrics still count; its
					// outputs do not.
					if res == nil {
						t.Fatal("Execute returned no result with its task error")
					}
					if len(res.Outputs) != 0 || res.Workflow != "" {
						t.Errorf("result of a failed task = %q, %q; want no outputs and no workflow", res.Outputs, res.Workflow)
					}
					if diff := cmp.Diff(failDecks, res.Decks); diff != "" {
						t.Errorf("decks of a failed task (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff(failMetrics, res.Metrics); diff != "" {
						t.Errorf("metrics of a failed task (-want +got):\n%s", diff)
					}
					var got *TaskError
					if !errors.As(err, &got) {
						t.Fatalf("Execute error = %#v, want a *TaskError", err)
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("TaskError mismatch (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// bigJSON returns a JSON object of about n bytes.
func bigJSON(n int) json.RawMessage {
	var b bytes.Buffer
	b.Grow(n + 64)
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"i":%d,"s":"%s"}`, i, "goflyte-large-payload-0123456789")
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestExecuteLargeMessages(t *testing.T) {
	const size = 10 << 20 // well above gRPC's 4 MiB default
	big := bigJSON(size)
	if !json.Valid(big) || len(big) < size {
		t.Fatalf("bigJSON: %d bytes, valid=%v", len(big), json.Valid(big))
	}
	small := json.RawMessage(`{"ok":true}`)
	tests := []struct {
		name    string
		inputs  json.RawMessage
		outputs json.RawMessage
	}{
		{name: "large inputs", inputs: big, outputs: small},
		{name: "large outputs", inputs: small, outputs: big},
		{name: "large both ways", inputs: big, outputs: big},
	}
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					p := c.connect(t, &fakeProvider{
						execute: func(_ context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
							if !bytes.Equal(req.Inputs, tc.inputs) {
								return nil, fmt.Errorf("plugin got %d bytes of inputs, want %d", len(req.Inputs), len(tc.inputs))
							}
							return &ExecuteResult{Outputs: tc.outputs}, nil
						},
					})
					res, err := p.Execute(context.Background(), &ExecuteRequest{Task: "t", Inputs: tc.inputs})
					if err != nil {
						t.Fatalf("Execute: %v", err)
					}
					if !bytes.Equal(res.Outputs, tc.outputs) {
						t.Errorf("got %d bytes of outputs, want %d", len(res.Outputs), len(tc.outputs))
					}
				})
			}
		})
	}
}

// TestExecuteContext checks that the end of the host's context reaches the
// plugin. Over gRPC the host sees a gRPC status with the matching code,
// not the context's error itself: errors.Is(err, context.Canceled) is
// false here. (Client turns it into the context's error; see
// TestLaunchCancel.)
//
// The plugin holds its answer until the host's call has returned, so the
// test sees what the host does on its own; for what happens when the
// plugin answers first, see TestExecuteDeadlineIsNotATaskError.
func TestExecuteContext(t *testing.T) {
	tests := []struct {
		name     string
		ctx      func(started <-chan struct{}) (context.Context, context.CancelFunc)
		wantCode codes.Code
		// wantPlugin are the values of ctx.Err() the plugin may see.
		wantPlugin []error
		// wantDeadline says whether the plugin's context has a deadline.
		wantDeadline bool
	}{
		{
			name: "cancel",
			ctx: func(started <-chan struct{}) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					<-started
					cancel()
				}()
				return ctx, cancel
			},
			wantCode:   codes.Canceled,
			wantPlugin: []error{context.Canceled},
		},
		{
			name: "deadline",
			ctx: func(<-chan struct{}) (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			wantCode: codes.DeadlineExceeded,
			// gRPC sends the deadline along, so the plugin's context has
			// it too. Whether the plugin's own timer fires first or the
			// host's cancellation arrives first is a race.
			wantPlugin:   []error{context.DeadlineExceeded, context.Canceled},
			wantDeadline: true,
		},
	}
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					started := make(chan struct{})
					release := make(chan struct{})
					pluginErr := make(chan error, 1)
					pluginDeadline := make(chan bool, 1)
					p := c.connect(t, &fakeProvider{
						execute: func(ctx context.Context, _ *ExecuteRequest) (*ExecuteResult, error) {
							_, ok := ctx.Deadline()
							pluginDeadline <- ok
							close(started)
							select {
							case <-ctx.Done():
								pluginErr <- ctx.Err()
							case <-time.After(10 * time.Second):
								pluginErr <- errors.New("context never ended")
							}
							<-release
							return nil, ctx.Err()
						},
					})
					ctx, cancel := tc.ctx(started)
					defer cancel()
					res, err := p.Execute(ctx, &ExecuteRequest{Task: "block", Inputs: json.RawMessage(`{}`)})
					close(release)
					if err == nil {
						t.Fatalf("Execute = %+v, nil; want an error", res)
					}
					// The raw connection reports a gRPC status; TestProvider, like
					// Client, returns the context's own error.
					if got := status.Code(err); got != tc.wantCode && !errors.Is(err, ctx.Err()) {
						t.Errorf("error %v: status code %v, want %v or the context's error", err, got, tc.wantCode)
					}
					var te *TaskError
					if errors.As(err, &te) {
						t.Errorf("Execute error is a *TaskError %+v; want a transport error", te)
					}
					var got error
					select {
					case got = <-pluginErr:
					case <-time.After(20 * time.Second):
						select {
						case <-started:
							t.Fatal("the plugin's context never ended")
						default:
						}
						// On a loaded machine the deadline can pass before
						// the call reaches the plugin, which then never
						// runs: the host's error is all there is to check.
						if !tc.wantDeadline {
							t.Fatal("the call never reached the plugin")
						}
						t.Log("the deadline passed before the call reached the plugin")
						return
					}
					if !slices.ContainsFunc(tc.wantPlugin, func(want error) bool { return errors.Is(got, want) }) {
						t.Errorf("plugin's ctx.Err() = %v, want one of %v", got, tc.wantPlugin)
					}
					if got := <-pluginDeadline; got != tc.wantDeadline {
						t.Errorf("plugin's context has a deadline: %v, want %v", got, tc.wantDeadline)
					}
				})
			}
		})
	}
}

// TestExecuteDeadlineIsNotATaskError: a task that returns ctx.Err() when
// the host's deadline passes must not look like a task that ran and failed.
// The deadline travels with the call, so the plugin's timer can fire before
// the host's; grpcServer.Execute then sends ctx.Err() back as a TaskError
// ("context deadline exceeded"), which can reach the host before its own
// timer ends the call. Under -race this happened in about a third of calls
// before grpcServer.Execute learned to report a context error as such.
func TestExecuteDeadlineIsNotATaskError(t *testing.T) {
	p := serveInProcess(t, &fakeProvider{
		execute: func(ctx context.Context, _ *ExecuteRequest) (*ExecuteResult, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := p.Execute(ctx, &ExecuteRequest{Task: "t", Inputs: json.RawMessage(`{}`)})
		cancel()
		var te *TaskError
		if errors.As(err, &te) {
			t.Fatalf("call %d: Execute error is a *TaskError %+v; want a DeadlineExceeded status", i, te)
		}
		if got := status.Code(err); got != codes.DeadlineExceeded {
			t.Fatalf("call %d: status code of %v = %v, want %v", i, err, got, codes.DeadlineExceeded)
		}
	}
}

// TestDescribeError checks that a failing Describe reaches the host as a
// gRPC error carrying the plugin's message.
func TestDescribeError(t *testing.T) {
	for _, c := range connectors() {
		t.Run(c.name, func(t *testing.T) {
			p := c.connect(t, &fakeProvider{
				describe: func(context.Context) (*Schema, error) { return nil, errors.New("no schema today") },
			})
			s, err := p.Describe(context.Background())
			if err == nil {
				t.Fatalf("Describe = %+v, nil; want an error", s)
			}
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("Describe error %v is not a gRPC status", err)
			}
			if st.Code() != codes.Unknown || st.Message() != "no schema today" {
				t.Errorf("Describe status = %v %q, want %v %q", st.Code(), st.Message(), codes.Unknown, "no schema today")
			}
		})
	}
}

// TestRunningTracksCallsAfterCancellation: a cancelled call returns to the
// host at once, while the task goes on in the plugin; Running says so
// until the task returns.
func TestRunningTracksCallsAfterCancellation(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	p := serveInProcess(t, &fakeProvider{
		execute: func(ctx context.Context, _ *ExecuteRequest) (*ExecuteResult, error) {
			close(started)
			<-release // ignores ctx, as a misbehaving task does
			return &ExecuteResult{Outputs: json.RawMessage(`{}`)}, nil
		},
	})
	tracker, ok := p.(Tracker)
	if !ok {
		t.Fatalf("%T does not implement Tracker", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Execute(ctx, &ExecuteRequest{Task: "t", Inputs: json.RawMessage(`{}`), CallID: "call-1"})
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a cancelled call returned no error")
	}
	if running, err := tracker.Running(context.Background(), "call-1"); err != nil || !running {
		t.Fatalf("Running after cancellation = %v, %v; want true: the task has not returned", running, err)
	}
	if running, _ := tracker.Running(context.Background(), "other"); running {
		t.Error("an unknown call is running")
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		running, err := tracker.Running(context.Background(), "call-1")
		if err != nil {
			t.Fatal(err)
		}
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call still runs after its task returned")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
