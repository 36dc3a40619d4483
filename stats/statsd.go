package stats

import (
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/goflyte/goflyte/plugin"
)

// Client sends samples to a StatsD server over UDP, one datagram per
// sample, in the format described in the package documentation. It is
// safe for concurrent use; one Client (one socket) serves any number of
// Recorders.
type Client struct {
	conn        *net.UDPConn
	w           writer
	prefix      string // sanitized, with its trailing '.', or ""
	disableTags bool
	sent        atomic.Uint64
	dropped     atomic.Uint64
}

// Dial resolves the endpoint's host and returns a Client that sends to
// it. UDP has no handshake: Dial fails only when the host cannot be
// resolved or the port is out of range, never because nothing listens.
func Dial(endpoint plugin.StatsD) (*Client, error) {
	if endpoint.Host == "" {
		return nil, fmt.Errorf("statsd: no host")
	}
	if endpoint.Port <= 0 || endpoint.Port > 65535 {
		return nil, fmt.Errorf("statsd: port %d out of range 1 to 65535", endpoint.Port)
	}
	addr, err := net.ResolveUDPAddr("udp", net.JoinHostPort(endpoint.Host, strconv.Itoa(endpoint.Port)))
	if err != nil {
		return nil, fmt.Errorf("statsd: %w", err)
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("statsd: %w", err)
	}
	c := &Client{conn: conn, disableTags: endpoint.DisableTags}
	if endpoint.Prefix != "" {
		c.prefix = sanitizeName(endpoint.Prefix) + "."
	}
	if c.w, err = newWriter(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("statsd: %w", err)
	}
	return c, nil
}

// Addr returns the address samples go to.
func (c *Client) Addr() net.Addr { return c.conn.RemoteAddr() }

// Sent returns how many datagrams were sent.
func (c *Client) Sent() uint64 { return c.sent.Load() }

// Dropped returns how many datagrams were not sent: the socket's buffer
// was full, or the write failed (nothing listening is not a failure here
// on most systems, but may be reported by the next write).
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// Close closes the socket. Samples sent after Close are dropped.
func (c *Client) Close() error { return c.conn.Close() }

// send formats one sample and writes it. A nil Client sends nothing.
func (c *Client) send(kind plugin.MetricKind, name string, v float64, ts []tag) {
	if c == nil {
		return
	}
	var buf [256]byte
	b := buf[:0]
	if kind == plugin.Gauge && v < 0 {
		// "-5|g" would mean "lower by 5": set 0 first, in the same datagram.
		b = c.appendLine(b, kind, name, 0, ts)
		b = append(b, '\n')
	}
	b = c.appendLine(b, kind, name, v, ts)
	if err := c.w.write(b); err != nil {
		c.dropped.Add(1)
		return
	}
	c.sent.Add(1)
}

// appendLine appends "<prefix><name>[.__k=v…]:<value>|<type>".
func (c *Client) appendLine(b []byte, kind plugin.MetricKind, name string, v float64, ts []tag) []byte {
	b = append(b, c.prefix...)
	b = append(b, name...)
	if !c.disableTags {
		for _, t := range ts {
			b = append(b, ".__"...)
			b = append(b, t.k...)
			b = append(b, '=')
			b = append(b, t.v...)
		}
	}
	b = append(b, ':')
	switch kind {
	case plugin.Counter:
		b = strconv.AppendInt(b, int64(v), 10)
		return append(b, "|c"...)
	case plugin.Gauge:
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
		return append(b, "|g"...)
	default:
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
		return append(b, "|ms"...)
	}
}
