package portmux

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestUDPSyscallConn: the TURN side's raw conn writes from the shared
// socket, never reads, and is refused once the side is closed.
func TestUDPSyscallConn(t *testing.T) {
	f := newUDPFixture(t, nil)
	side := f.mux.TURN().(syscall.Conn)
	rc, err := side.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	to := &syscall.SockaddrInet4{Port: f.client.LocalAddr().(*net.UDPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	var sendErr error
	if err := rc.Write(func(fd uintptr) bool {
		sendErr = syscall.Sendto(int(fd), []byte("raw"), 0, to)
		return true
	}); err != nil || sendErr != nil {
		t.Fatalf("raw write: %v, %v", err, sendErr)
	}
	expectPacket(t, f.client, []byte("raw"), f.addr)
	if err := rc.Read(func(uintptr) bool { return true }); err == nil {
		t.Fatal("raw read allowed on the shared socket")
	}
	f.mux.TURN().Close()
	if _, err := side.SyscallConn(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("raw conn of a closed side: %v", err)
	}
}
