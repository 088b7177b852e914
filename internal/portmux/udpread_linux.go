//go:build linux

package portmux

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader reads the socket with recvmmsg, made raw (without telling
// the scheduler) since the socket is non-blocking: Go's own system call
// path wakes the runtime's monitor thread whenever the process was idle,
// a thread switch per wake-up that costs as much as the datagrams it
// brings. It waits for the socket in Go's netpoller.
type batchReader struct {
	raw    syscall.RawConn
	bufs   [][]byte // bufs[i] receives datagram i
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	names  [][unix.SizeofSockaddrInet6]byte
	n      int                   // datagrams the last read took
	errno  syscall.Errno         // the last recvmmsg's error
	readFn func(fd uintptr) bool // one closure for every read
}

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

func newBatchReader(conn *net.UDPConn, batch, size int) (*batchReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{
		raw: raw, bufs: make([][]byte, batch), hdrs: make([]mmsghdr, batch),
		iovs: make([]unix.Iovec, batch), names: make([][unix.SizeofSockaddrInet6]byte, batch),
	}
	for i := range batch {
		r.bufs[i] = make([]byte, size)
		r.iovs[i] = unix.Iovec{Base: &r.bufs[i][0]}
		r.iovs[i].SetLen(size)
		h := &r.hdrs[i].hdr
		h.Name, h.Iov = &r.names[i][0], &r.iovs[i]
		h.SetIovlen(1)
	}
	r.readFn = r.recvmmsg
	return r, nil
}

func (r *batchReader) recvmmsg(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
	}
	n, _, errno := syscall.RawSyscall6(unix.SYS_RECVMMSG, fd,
		uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if errno == unix.EAGAIN {
		return false
	}
	r.n, r.errno = int(n), errno
	return true
}

// read waits for datagrams and returns how many it took.
func (r *batchReader) read() (int, error) {
	if err := r.raw.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

// datagram returns datagram i of the last read and its source; ok is
// false for a source that is not IPv4 or IPv6.
func (r *batchReader) datagram(i int) (b []byte, from netip.AddrPort, ok bool) {
	name := r.names[i][:r.hdrs[i].hdr.Namelen]
	b = r.bufs[i][:r.hdrs[i].n]
	if len(name) < 2 {
		return nil, netip.AddrPort{}, false
	}
	switch binary.NativeEndian.Uint16(name) {
	case unix.AF_INET:
		if len(name) >= unix.SizeofSockaddrInet4 {
			return b, netip.AddrPortFrom(netip.AddrFrom4([4]byte(name[4:8])), binary.BigEndian.Uint16(name[2:4])), true
		}
	case unix.AF_INET6:
		if len(name) >= unix.SizeofSockaddrInet6 {
			return b, netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), binary.BigEndian.Uint16(name[2:4])), true
		}
	}
	return nil, netip.AddrPort{}, false
}
