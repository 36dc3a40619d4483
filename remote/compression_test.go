package remote_test

import (
	"io"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // the compressor counted below

	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

// countingGzip is gRPC's gzip compressor, counting the messages it
// compresses and decompresses in this test binary (the client's calls
// and the answers a server sends back compressed).
type countingGzip struct {
	encoding.Compressor
	compressed, decompressed atomic.Int64
}

func (c *countingGzip) Compress(w io.Writer) (io.WriteCloser, error) {
	c.compressed.Add(1)
	return c.Compressor.Compress(w)
}

func (c *countingGzip) Decompress(r io.Reader) (io.Reader, error) {
	c.decompressed.Add(1)
	return c.Compressor.Decompress(r)
}

var gzipCount = &countingGzip{Compressor: encoding.GetCompressor("gzip")}

func init() {
	// gRPC's registry is meant to be written at init time only.
	encoding.RegisterCompressor(gzipCount)
}

// TestDialCompression: platform.compression "none" (the default) sends
// and receives plain messages, "gzip" compresses them, on a real server.
func TestDialCompression(t *testing.T) {
	srv := remotetest.Shared(t)
	for _, tc := range []struct {
		compression string
		want        bool // gzip used
	}{
		{"", false},
		{"none", false},
		{"gzip", true},
	} {
		t.Run("compression="+tc.compression, func(t *testing.T) {
			before := gzipCount.compressed.Load() + gzipCount.decompressed.Load()
			c := dial(t, remote.Options{URL: srv.Addr, Insecure: true, Namespace: srv.Namespace, Compression: tc.compression})
			describe(t, c)
			used := gzipCount.compressed.Load()+gzipCount.decompressed.Load() > before
			if used != tc.want {
				t.Errorf("gzip used = %v, want %v (compressed %d, decompressed %d messages in all)",
					used, tc.want, gzipCount.compressed.Load(), gzipCount.decompressed.Load())
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		dialErr(t, remote.Options{URL: srv.Addr, Insecure: true, Compression: "zstd"}, "platform.compression")
	})
}
