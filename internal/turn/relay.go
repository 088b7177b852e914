package turn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pion/transport/v4/reuseport"
	pionturn "github.com/pion/turn/v5"
)

// relayGenerator opens the relay sockets of allocations on bindIP and
// reports them to clients at publicIP. Every socket it returns enforces the
// peer policy on each packet or connection, since TURN permissions only
// name an address and parley's own media exception names a port too.
type relayGenerator struct {
	bindIP   netip.Addr   // read-only
	publicIP netip.Addr   // read-only
	policy   *peerPolicy  // read-only
	stats    *counters    // shared with the Server
	fast     *fastPath    // shared with the Server
	poller   *relayPoller // shared with the Server
}

var _ pionturn.RelayAddressGenerator = (*relayGenerator)(nil)

func (g *relayGenerator) Validate() error { return nil }

// network checks that the requested family ("udp4", "tcp6"...) is the
// family of bindIP: parley relays in one family.
func (g *relayGenerator) network(requested string) bool {
	want := "4"
	if g.bindIP.Is6() {
		want = "6"
	}
	return requested[len(requested)-1:] == want
}

func (g *relayGenerator) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if !g.network(c.Network) {
		g.stats.refuse(refusedRelay)
		return nil, nil, wrapf(ErrConfig, "no %s relay address", c.Network)
	}
	pc, err := g.openRelay(c.RequestedPort)
	if err != nil {
		g.stats.refuse(refusedRelay)
		return nil, nil, err
	}
	relayed := &net.UDPAddr{IP: g.publicIP.AsSlice(), Port: int(pc.port)}
	return pc, relayed, nil
}

func (g *relayGenerator) AllocateListener(c pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	if !g.network(c.Network) {
		g.stats.refuse(refusedRelay)
		return nil, nil, wrapf(ErrConfig, "no %s relay address", c.Network)
	}
	// Connect requests dial out from the same port (RFC 6062 §5.2).
	lc := net.ListenConfig{Control: reuseport.Control}
	addr := net.JoinHostPort(g.bindIP.String(), strconv.Itoa(c.RequestedPort))
	ln, err := lc.Listen(context.Background(), c.Network, addr)
	if err != nil {
		g.stats.refuse(refusedRelay)
		return nil, nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	relayed := &net.TCPAddr{IP: g.publicIP.AsSlice(), Port: port}
	return &policyListener{Listener: ln, policy: g.policy, stats: g.stats}, relayed, nil
}

func (g *relayGenerator) AllocateConn(c pionturn.AllocateConnConfig) (net.Conn, error) {
	if !g.policy.allowedAddr(c.RemoteAddr) {
		g.stats.refuse(refusedPeer)
		return nil, wrapf(ErrPeerForbidden, "%v", c.RemoteAddr)
	}
	// The library passes the advertised relay address; bind the local one.
	local, ok := c.LocalAddr.(*net.TCPAddr)
	if !ok {
		return nil, wrapf(ErrConfig, "relay address %v is not TCP", c.LocalAddr)
	}
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: g.bindIP.AsSlice(), Port: local.Port},
		Control:   reuseport.Control,
	}
	return d.Dial(c.Network, c.RemoteAddr.String())
}

// relaySocket is an allocation's UDP relay socket. The server's
// relayPoller reads it: what a peer sends on a bound channel goes to the
// client from there, as ChannelData, and the rest waits here for the
// library (Data indications, or nothing without a permission). Both ways
// it drops what the peer policy refuses, and counts it.
type relaySocket struct {
	relayFD                      // the socket; platform-specific
	port    uint16               // local port; read-only
	local   *net.UDPAddr         // local address; read-only
	policy  *peerPolicy          // read-only
	stats   *counters            // shared with the Server
	fast    *fastPath            // shared with the Server
	poller  *relayPoller         // shared with the Server
	library chan libraryDatagram // datagrams for the library; bounded, filled by the poller
	done    chan struct{}        // closed by Close

	closeOnce sync.Once
}

// libraryDatagram is a datagram from a peer on no channel of the fast
// path, for the library to relay as a Data indication if it may.
type libraryDatagram struct {
	data []byte
	from *net.UDPAddr
}

// libraryQueueLen bounds a relay's datagrams waiting for the library:
// Data indications are for the few packets before a channel is bound.
const libraryQueueLen = 64

// relayMTU is the largest datagram a relay takes from a peer, as the TURN
// library's own relay buffer.
const relayMTU = 1600

func (g *relayGenerator) openRelay(port int) (*relaySocket, error) {
	s := &relaySocket{
		policy: g.policy, stats: g.stats, fast: g.fast, poller: g.poller,
		library: make(chan libraryDatagram, libraryQueueLen), done: make(chan struct{}),
	}
	local, err := s.open(netip.AddrPortFrom(g.bindIP, uint16(port)))
	if err != nil {
		return nil, err
	}
	s.port, s.local = local.Port(), net.UDPAddrFromAddrPort(local)
	g.fast.addRelay(s)
	if err := g.poller.add(s); err != nil {
		g.fast.removeRelay(s)
		s.closeFD()
		return nil, err
	}
	return s, nil
}

// fromPeer handles a datagram a peer sent to the relay, read into
// buf[4:4+n] (buf keeps 4 bytes in front for the ChannelData header).
// On a bound channel it fills in the header and returns the channel to
// send buf[:4+n] on; otherwise it hands the datagram to the library or
// drops it, and returns nil.
func (s *relaySocket) fromPeer(buf []byte, n int, from netip.AddrPort) *channel {
	if n > relayMTU {
		return nil // truncated
	}
	from = unmapped(from)
	if ch := s.fast.channelFrom(s.port, from); ch != nil {
		// The policy allowed this exact peer when the channel was bound.
		binary.BigEndian.PutUint16(buf[0:], ch.number)
		binary.BigEndian.PutUint16(buf[2:], uint16(n))
		s.stats.toClient.Add(1)
		s.stats.bytes.Add(uint64(n))
		return ch
	}
	if !s.policy.allowedAddrPort(from) {
		s.stats.refuse(refusedPeerPacket)
		return nil
	}
	d := libraryDatagram{data: append([]byte(nil), buf[4:4+n]...), from: net.UDPAddrFromAddrPort(from)}
	select {
	case s.library <- d:
	default:
		s.stats.drop(dropLibraryQueueFull)
	}
	return nil
}

// ReadFrom returns the next datagram the library must handle itself.
func (s *relaySocket) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case d := <-s.library:
		return copy(p, d.data), d.from, nil
	case <-s.done:
		return 0, nil, &net.OpError{Op: "read", Net: "udp", Addr: s.local, Err: net.ErrClosed}
	}
}

// WriteTo sends what the library relays to a peer (Send indications,
// ChannelData of clients over TCP).
func (s *relaySocket) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !s.policy.allowedAddr(addr) {
		s.stats.refuse(refusedPeerPacket)
		return len(p), nil // as if lost on the way, like any UDP packet
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: s.local, Err: net.UnknownNetworkError(addr.Network())}
	}
	if err := s.sendTo(p, unmapped(ua.AddrPort())); err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: s.local, Err: err}
	}
	return len(p), nil
}

func (s *relaySocket) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.fast.removeRelay(s)
		close(s.done)
		err = s.closeFD()
	})
	return err
}

func (s *relaySocket) LocalAddr() net.Addr { return s.local }

// Deadlines are not supported: the library sets none on relay sockets.
func (s *relaySocket) SetDeadline(time.Time) error      { return errNoDeadlines }
func (s *relaySocket) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (s *relaySocket) SetWriteDeadline(time.Time) error { return errNoDeadlines }

var errNoDeadlines = fmt.Errorf("turn: relay socket deadlines: %w", errors.ErrUnsupported)

// policyListener is a TCP relay listener that refuses connections from
// peers the policy refuses.
type policyListener struct {
	net.Listener
	policy *peerPolicy // read-only
	stats  *counters   // shared with the Server
}

func (l *policyListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		// A peer's source port is ephemeral, so parley's own address
		// (matched with its port) never excuses a restricted one here.
		if ra, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
			ip := ipFromNet(ra.IP)
			if !restricted(ip) || l.policy.inAllowedPrefix(ip) {
				return conn, nil
			}
		}
		l.stats.refuse(refusedPeerPacket)
		conn.Close()
	}
}
