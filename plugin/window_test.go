package plugin

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// recordConn keeps a copy of everything written to its connection.
type recordConn struct {
	net.Conn
	mu  *sync.Mutex
	out *bytes.Buffer
}

func (c recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// recordListener wraps the connections it accepts in recordConns.
type recordListener struct {
	net.Listener
	mu  *sync.Mutex
	out *bytes.Buffer
}

func (l recordListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return recordConn{Conn: c, mu: l.mu, out: l.out}, nil
}

// http2Pings counts the PING frames in data (a side's bytes of an HTTP/2
// connection, the client's starting with its preface) that are not
// acknowledgements.
func http2Pings(t *testing.T, data []byte) int {
	t.Helper()
	data = bytes.TrimPrefix(data, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	pings := 0
	for len(data) > 0 {
		if len(data) < 9 {
			t.Fatalf("a torn frame header: %d bytes", len(data))
		}
		n := int(data[0])<<16 | int(binary.BigEndian.Uint16(data[1:3]))
		typ, flags := data[3], data[4]
		if typ == 0x6 && flags&0x1 == 0 { // PING without ACK
			pings++
		}
		if len(data) < 9+n {
			t.Fatalf("a torn frame: %d of %d bytes", len(data)-9, n)
		}
		data = data[9+n:]
	}
	return pings
}

// TestStaticWindowsSendNoPings checks that the connections Serve and
// Launch set up make a call without the flow-control pings of gRPC's
// bandwidth estimation (a PING and a WINDOW_UPDATE answering the first
// data of every call, and the peer's PING ack: extra writes, reads and
// wake-ups on both sides of every small call). gRPC's defaults are
// measured alongside, to show that the count sees those pings.
func TestStaticWindowsSendNoPings(t *testing.T) {
	tests := []struct {
		name      string
		server    []grpc.ServerOption
		dial      []grpc.DialOption
		wantPings bool
	}{
		{name: "Serve and Launch", server: serverOptions(), dial: dialOptions()},
		{name: "gRPC defaults", wantPings: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var fromServer, fromClient bytes.Buffer
			lis := bufconn.Listen(1 << 20)
			srv := grpc.NewServer(tt.server...)
			p := &fakeProvider{execute: func(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
				return &ExecuteResult{Outputs: []byte(`{"text":"HELLO"}`)}, nil
			}}
			if err := (&grpcPlugin{impl: p}).GRPCServer(nil, srv); err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(recordListener{Listener: lis, mu: &mu, out: &fromServer}) }()
			conn, err := grpc.NewClient("passthrough:///bufconn", append(tt.dial,
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
					c, err := lis.DialContext(ctx)
					if err != nil {
						return nil, err
					}
					return recordConn{Conn: c, mu: &mu, out: &fromClient}, nil
				}),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
			)...)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := (&grpcPlugin{}).GRPCClient(context.Background(), nil, conn)
			if err != nil {
				t.Fatal(err)
			}
			client := raw.(Provider)
			for range 20 {
				res, err := client.Execute(context.Background(), &ExecuteRequest{Task: "upper", Inputs: []byte(`{"text":"hello"}`)})
				if err != nil {
					t.Fatal(err)
				}
				if string(res.Outputs) != `{"text":"HELLO"}` {
					t.Fatalf("outputs %s", res.Outputs)
				}
			}
			_ = conn.Close()
			srv.Stop()
			mu.Lock()
			defer mu.Unlock()
			pings := http2Pings(t, fromClient.Bytes()) + http2Pings(t, fromServer.Bytes())
			if got := pings > 0; got != tt.wantPings {
				t.Errorf("%d pings in 20 calls; want pings: %v", pings, tt.wantPings)
			}
		})
	}
}
