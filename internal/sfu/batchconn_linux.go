package sfu

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendBatchLen is the most datagrams one sendmmsg carries; a fuller queue
// is sent at once and starts over.
const sendBatchLen = 64

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sendBatch is datagrams copied for one sendmmsg.
type sendBatch struct {
	n     int
	hdrs  [sendBatchLen]mmsghdr
	iovs  [sendBatchLen]unix.Iovec
	names [sendBatchLen][unix.SizeofSockaddrInet6]byte
	bufs  [sendBatchLen][receiveMTU + 64]byte // an SRTP packet: RTP, auth tag
}

// sendQueue is the datagrams queued during fan-outs, and the socket they
// leave by.
type sendQueue struct {
	raw    syscall.RawConn // the socket, for sendmmsg; read-only
	family int             // the socket's: unix.AF_INET or unix.AF_INET6; read-only

	mu      sync.Mutex // guards queued
	queued  *sendBatch // filled by add
	flushMu sync.Mutex // held while a batch is sent, so that batches leave in order
	sending *sendBatch // the batch being sent; swapped with queued under both locks
	sent    int        // datagrams of sending already sent; guarded by flushMu
	sendFn  func(fd uintptr) bool
}

// newSendQueue returns nil if conn offers no raw socket to sendmmsg on.
func newSendQueue(conn net.PacketConn) *sendQueue {
	sc, ok := conn.(syscall.Conn)
	la, ok2 := conn.LocalAddr().(*net.UDPAddr)
	if !ok || !ok2 {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	family := unix.AF_INET6
	if la.IP.To4() != nil {
		family = unix.AF_INET
	}
	q := &sendQueue{raw: raw, family: family, queued: new(sendBatch), sending: new(sendBatch)}
	q.sendFn = q.sendSome
	return q
}

// add copies b into the queue, bound for to. It reports false (nothing
// queued) if b is too large or to is not of the socket's family.
func (q *sendQueue) add(b []byte, to *net.UDPAddr) bool {
	if len(b) > receiveMTU+64 {
		return false
	}
	for {
		q.mu.Lock()
		sb := q.queued
		if sb.n < sendBatchLen {
			i := sb.n
			nameLen := putSockaddr(&sb.names[i], to, q.family)
			if nameLen == 0 {
				q.mu.Unlock()
				return false
			}
			n := copy(sb.bufs[i][:], b)
			sb.iovs[i] = unix.Iovec{Base: &sb.bufs[i][0]}
			sb.iovs[i].SetLen(n)
			sb.hdrs[i] = mmsghdr{hdr: unix.Msghdr{Name: &sb.names[i][0], Namelen: uint32(nameLen), Iov: &sb.iovs[i]}}
			sb.hdrs[i].hdr.SetIovlen(1)
			sb.n++
			q.mu.Unlock()
			return true
		}
		q.mu.Unlock()
		q.flush() // full: send it, then queue b in the next one
	}
}

// flush sends everything queued so far.
func (q *sendQueue) flush() {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	if q.queued.n == 0 {
		q.mu.Unlock()
		return
	}
	q.queued, q.sending = q.sending, q.queued
	q.mu.Unlock()
	for q.sent = 0; q.sent < q.sending.n; {
		if err := q.raw.Write(q.sendFn); err != nil { // the socket is closed
			break
		}
	}
	q.sending.n = 0
}

// sendSome sends what is left of q.sending; it reports false when the
// socket takes nothing more for now, for raw.Write to wait. The call is
// made raw: it never blocks (MSG_DONTWAIT), and Go's usual system call
// path would wake the runtime's monitor thread (see the TURN relay's notes
// in docs/BENCHMARKS.md).
func (q *sendQueue) sendSome(fd uintptr) bool {
	sb := q.sending
	r, _, errno := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd,
		uintptr(unsafe.Pointer(&sb.hdrs[q.sent])), uintptr(sb.n-q.sent), unix.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == unix.EAGAIN:
		return false
	case errno != 0:
		// The first one failed (say, an ICMP error from an earlier
		// datagram to that address): drop it, go on with the rest, as a
		// lost UDP datagram.
		q.sent++
	default:
		q.sent += int(r)
	}
	return true
}

// putSockaddr writes to as a struct sockaddr of family into sa and returns
// its length, or 0 if to cannot be reached in that family.
func putSockaddr(sa *[unix.SizeofSockaddrInet6]byte, to *net.UDPAddr, family int) int {
	*sa = [unix.SizeofSockaddrInet6]byte{}
	binary.NativeEndian.PutUint16(sa[0:], uint16(family))
	binary.BigEndian.PutUint16(sa[2:], uint16(to.Port))
	if family == unix.AF_INET {
		ip4 := to.IP.To4()
		if ip4 == nil {
			return 0
		}
		copy(sa[4:8], ip4)
		return unix.SizeofSockaddrInet4
	}
	ip16 := to.IP.To16() // a v4 address becomes v4-mapped
	if ip16 == nil {
		return 0
	}
	copy(sa[8:24], ip16)
	return unix.SizeofSockaddrInet6
}
