//go:build unix

package stats

import (
	"net"
	"syscall"
)

// writer writes a datagram with one non-blocking write(2): if the socket
// cannot take it at once, it is dropped rather than waited for (net's
// Write would park the goroutine until the socket is writable).
type writer struct{ raw syscall.RawConn }

func newWriter(conn *net.UDPConn) (writer, error) {
	raw, err := conn.SyscallConn()
	return writer{raw}, err
}

func (w writer) write(b []byte) error {
	var werr error
	err := w.raw.Write(func(fd uintptr) bool {
		_, werr = syscall.Write(int(fd), b)
		return true // done either way: never wait for the socket
	})
	if err != nil {
		return err
	}
	return werr
}
