//go:build linux

package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relayPoller reads every UDP relay socket of a server from one goroutine
// through one epoll set, where Go's netpoller would park a goroutine per
// socket: a wake-up then serves every socket that became ready meanwhile,
// instead of one goroutine switch (and often a thread wake-up) per
// datagram, and what one sweep relays to clients leaves in one sendmmsg
// per TURN socket. The relay sockets are not in Go's netpoller; the epoll
// set's own descriptor is, so that the goroutine parks like any other
// when every socket is idle (a goroutine blocked in epoll_wait would hold
// a thread and look busy to the scheduler, which then preempts it).
type relayPoller struct {
	epfd  int       // the epoll set; read-only
	file  *os.File  // epfd in Go's netpoller; Close ends the loop
	stats *counters // shared with the Server
	done  chan struct{}

	mu      sync.Mutex
	sockets map[int32]*relaySocket // registered sockets by fd; guarded by mu
	stopped bool                   // epfd is closed or closing; guarded by mu

	events []unix.EpollEvent // owned by the loop
	rx     *rxBatch          // owned by the loop
	tx     []*txBatch        // one per TURN conn seen; owned by the loop

	flushing *txBatch              // the batch flush is sending; owned by the loop
	sent     int                   // datagrams of flushing already sent; owned by the loop
	sendFn   func(fd uintptr) bool // p.sendBatch, one closure for every flush
}

// sweepBatch bounds the datagrams one wake-up reads from all sockets;
// perSocketBatch bounds one socket's share, so that a busy peer does not
// delay the others by more than that. Level-triggered epoll reports again
// whatever is left.
const (
	sweepBatch     = 64
	perSocketBatch = 16
)

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// rxBatch is what one sweep reads into. bufs[i] keeps 4 bytes in front
// of what recvmmsg writes, for the ChannelData header.
type rxBatch struct {
	hdrs  [sweepBatch]mmsghdr
	iovs  [sweepBatch]unix.Iovec
	names [sweepBatch][unix.SizeofSockaddrInet6]byte
	bufs  [sweepBatch][]byte
}

// txBatch is ChannelData waiting for the end of a sweep to leave on one
// TURN conn, in one sendmmsg: hdrs[:n] point into the rx buffers.
type txBatch struct {
	turn  *fastConn
	hdrs  [sweepBatch]mmsghdr
	iovs  [sweepBatch]unix.Iovec
	names [sweepBatch][unix.SizeofSockaddrInet6]byte
	n     int
}

// clientsOut is how the poller writes to a TURN conn's clients: through
// its raw conn (sendmmsg), when it has one.
type clientsOut struct {
	raw    syscall.RawConn // nil: one WriteTo per datagram
	family int             // the socket's: unix.AF_INET or unix.AF_INET6
}

func newClientsOut(conn net.PacketConn) clientsOut {
	sc, ok := conn.(syscall.Conn)
	la, ok2 := conn.LocalAddr().(*net.UDPAddr)
	if !ok || !ok2 {
		return clientsOut{}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return clientsOut{}
	}
	family := unix.AF_INET6
	if la.IP.To4() != nil {
		family = unix.AF_INET
	}
	return clientsOut{raw: raw, family: family}
}

func newRelayPoller(stats *counters) (*relayPoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	p := &relayPoller{
		epfd: epfd, file: os.NewFile(uintptr(epfd), "turn-relay-epoll"), stats: stats,
		done: make(chan struct{}), sockets: make(map[int32]*relaySocket),
		events: make([]unix.EpollEvent, sweepBatch), rx: &rxBatch{},
	}
	for i := range p.rx.hdrs {
		p.rx.bufs[i] = make([]byte, 4+relayMTU+1)
		p.rx.iovs[i] = unix.Iovec{Base: &p.rx.bufs[i][4]}
		p.rx.iovs[i].SetLen(relayMTU + 1)
		h := &p.rx.hdrs[i].hdr
		h.Name = &p.rx.names[i][0]
		h.Iov = &p.rx.iovs[i]
		h.SetIovlen(1)
	}
	p.sendFn = p.sendBatch
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		return nil, err
	}
	go p.run(rc)
	return p, nil
}

// add registers s; the loop reads it from now on.
func (p *relayPoller) add(s *relaySocket) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return net.ErrClosed
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.sockets[int32(s.fd)] = s
	return nil
}

// remove unregisters s; once it returns the loop no longer reads s.fd.
func (p *relayPoller) remove(s *relaySocket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sockets[int32(s.fd)] != s {
		return
	}
	delete(p.sockets, int32(s.fd))
	if !p.stopped {
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	}
}

// close ends the loop and waits for it.
func (p *relayPoller) close() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.file.Close() // waits for a sweep in progress
	<-p.done
}

// run sweeps the ready sockets until the epoll set is closed; between
// sweeps it waits in Go's netpoller for the set to become readable.
func (p *relayPoller) run(rc syscall.RawConn) {
	defer close(p.done)
	sweepFn := p.sweepReady // one closure for every read
	for {
		if err := rc.Read(sweepFn); err != nil {
			return // closed
		}
	}
}

// The poller's system calls never block (non-blocking sockets, epoll with
// a zero timeout), so they are made raw, without telling the scheduler:
// Go's own path wakes the runtime's monitor thread whenever the process
// was idle, a thread switch per wake-up that costs as much as the
// datagrams it brings.

// sweepReady relays what the ready sockets hold; it reports false when
// none is ready, for the caller to wait.
func (p *relayPoller) sweepReady(epfd uintptr) bool {
	n, _, errno := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, epfd,
		uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
	if n == 0 || errno != 0 {
		return false // nothing ready (or EINTR): wait
	}
	p.sweep(p.events[:n])
	return true
}

// sweep reads the ready sockets and relays what they held.
func (p *relayPoller) sweep(events []unix.EpollEvent) {
	used := 0
	p.mu.Lock()
	for _, ev := range events {
		if s := p.sockets[ev.Fd]; s != nil && used < sweepBatch {
			used += p.read(s, used)
		}
	}
	p.mu.Unlock()
	p.flush()
}

// read takes what s holds into rx from slot first on, and queues what goes
// to clients; it returns the slots it used. p.mu is held, so s.fd is open.
func (p *relayPoller) read(s *relaySocket, first int) int {
	hdrs := p.rx.hdrs[first:min(first+perSocketBatch, sweepBatch)]
	for i := range hdrs {
		hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
	}
	r, _, errno := syscall.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd),
		uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		// EAGAIN: nothing after all. Anything else (an ICMP error from an
		// earlier datagram) concerns one peer; the next wake-up reads on.
		return 0
	}
	n := int(r)
	for i := first; i < first+n; i++ {
		from, ok := parseSockaddr(p.rx.names[i][:p.rx.hdrs[i].hdr.Namelen])
		if !ok {
			continue
		}
		size := int(p.rx.hdrs[i].n)
		if ch := s.fromPeer(p.rx.bufs[i], size, from); ch != nil {
			p.queue(ch, p.rx.bufs[i][:4+size])
		}
	}
	return n
}

// queue adds ChannelData for ch's client to the sweep's batch.
func (p *relayPoller) queue(ch *channel, b []byte) {
	if ch.turn.out.raw == nil {
		if _, err := ch.turn.WriteTo(b, ch.client); err != nil {
			p.stats.drop(dropSendToClient)
		}
		return
	}
	var tb *txBatch
	for _, t := range p.tx {
		if t.turn == ch.turn {
			tb = t
		}
	}
	if tb == nil {
		tb = &txBatch{turn: ch.turn}
		p.tx = append(p.tx, tb)
	}
	k := tb.n
	salen := putSockaddr(&tb.names[k], ch.toClient, ch.turn.out.family)
	if salen == 0 {
		p.stats.drop(dropSendToClient)
		return
	}
	tb.iovs[k] = unix.Iovec{Base: &b[0]}
	tb.iovs[k].SetLen(len(b))
	h := &tb.hdrs[k].hdr
	h.Name, h.Namelen, h.Iov = &tb.names[k][0], uint32(salen), &tb.iovs[k]
	h.SetIovlen(1)
	tb.n++
}

// flush sends what the sweep queued; the rx buffers it points into are
// reused only by the next sweep.
func (p *relayPoller) flush() {
	for _, tb := range p.tx {
		p.flushing, p.sent = tb, 0
		for p.sent < tb.n {
			if err := tb.turn.out.raw.Write(p.sendFn); err != nil { // the TURN conn is closed
				p.stats.dropped[dropSendToClient].Add(uint64(tb.n - p.sent))
				break
			}
		}
		tb.n = 0
	}
	p.flushing = nil
}

// sendBatch sends what is left of p.flushing; it reports false when the
// socket takes nothing more for now, for the caller to wait.
func (p *relayPoller) sendBatch(fd uintptr) bool {
	tb := p.flushing
	r, _, errno := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd,
		uintptr(unsafe.Pointer(&tb.hdrs[p.sent])), uintptr(tb.n-p.sent), unix.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == unix.EAGAIN:
		return false
	case errno != 0:
		// The first one failed (an ICMP error from an earlier datagram):
		// drop it, go on with the rest.
		p.stats.drop(dropSendToClient)
		p.sent++
	default:
		p.sent += int(r)
	}
	return true
}

// parseSockaddr reads a struct sockaddr_in or sockaddr_in6.
func parseSockaddr(b []byte) (netip.AddrPort, bool) {
	if len(b) < 2 {
		return netip.AddrPort{}, false
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), true
	case unix.AF_INET6:
		if len(b) < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:4])), true
	}
	return netip.AddrPort{}, false
}

// putSockaddr writes to as a struct sockaddr of family into sa and returns
// its length, or 0 if to cannot be reached in that family.
func putSockaddr(sa *[unix.SizeofSockaddrInet6]byte, to netip.AddrPort, family int) int {
	binary.NativeEndian.PutUint16(sa[0:], uint16(family))
	binary.BigEndian.PutUint16(sa[2:], to.Port())
	ip := to.Addr()
	if family == unix.AF_INET {
		if !ip.Unmap().Is4() {
			return 0
		}
		a := ip.Unmap().As4()
		copy(sa[4:8], a[:])
		return unix.SizeofSockaddrInet4
	}
	if ip.Is4() {
		ip = netip.AddrFrom16(ip.As16()) // v4-mapped
	}
	a := ip.As16()
	copy(sa[8:24], a[:])
	return unix.SizeofSockaddrInet6
}

// relayFD is a relay socket's file descriptor, outside Go's netpoller:
// the poller reads it, senders write to it directly.
type relayFD struct {
	fdMu   sync.RWMutex // held for reading to send, for writing to close
	fd     int          // open until closed is set; read-only
	closed bool         // guarded by fdMu
	family int          // unix.AF_INET or unix.AF_INET6; read-only
}

// open opens a non-blocking UDP socket bound to bind.
func (r *relayFD) open(bind netip.AddrPort) (netip.AddrPort, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if bind.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(bind.Port()), Addr: bind.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(bind.Port()), Addr: bind.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return netip.AddrPort{}, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return netip.AddrPort{}, os.NewSyscallError("bind", err)
	}
	got, err := unix.Getsockname(fd)
	var local netip.AddrPort
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		local = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		local = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	if err != nil || !local.IsValid() {
		unix.Close(fd)
		return netip.AddrPort{}, os.NewSyscallError("getsockname", err)
	}
	r.fd, r.family = fd, family
	return local, nil
}

// sendTo sends b to to, without blocking: a full socket buffer drops it,
// as the network would.
func (s *relaySocket) sendTo(b []byte, to netip.AddrPort) error {
	var sa [unix.SizeofSockaddrInet6]byte
	salen := putSockaddr(&sa, to, s.family)
	if salen == 0 {
		return syscall.EAFNOSUPPORT
	}
	var data unsafe.Pointer
	if len(b) > 0 {
		data = unsafe.Pointer(&b[0])
	}
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.closed {
		return net.ErrClosed
	}
	_, _, errno := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(data), uintptr(len(b)),
		0, uintptr(unsafe.Pointer(&sa[0])), uintptr(salen))
	if errno != 0 {
		return errno
	}
	return nil
}

// closeFD unregisters the socket from the poller and closes it, once no
// send is in progress.
func (s *relaySocket) closeFD() error {
	s.fdMu.Lock()
	defer s.fdMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.poller.remove(s)
	return os.NewSyscallError("close", unix.Close(s.fd))
}
