package app

import (
	"net"

	"golang.org/x/sys/unix"
)

// forceReadBuffer asks for n bytes of receive buffer on c beyond the
// kernel's rmem_max, which a process with CAP_NET_ADMIN may do
// (SO_RCVBUFFORCE). It fails harmlessly otherwise; the buffer stays as
// SetReadBuffer left it.
func forceReadBuffer(c *net.UDPConn, n int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
}
