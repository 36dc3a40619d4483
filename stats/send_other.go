//go:build !unix

package stats

import "net"

// writer writes a datagram with net's Write, which on these systems
// returns as soon as the datagram is handed to the kernel.
type writer struct{ conn *net.UDPConn }

func newWriter(conn *net.UDPConn) (writer, error) { return writer{conn}, nil }

func (w writer) write(b []byte) error {
	_, err := w.conn.Write(b)
	return err
}
