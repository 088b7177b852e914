package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
)

// fastPath relays ChannelData of UDP clients without the TURN library's
// per-packet work (parsing, logging arguments, allocations). The library
// keeps everything else, and its channel events keep this table in step:
// a channel is relayed here exactly while the library has it bound, which
// is also its own rule (it relays a bound channel's data without looking
// at permissions). Clients over TCP or TLS keep the library's path.
type fastPath struct {
	stats *counters // shared with the Server

	mu       sync.RWMutex
	byClient map[clientChannel]*channel   // guarded by mu
	byPeer   map[relayPeer]*channel       // guarded by mu
	relays   map[uint16]*policyPacketConn // open UDP relay sockets by port; guarded by mu
	conns    map[string]*fastConn         // TURN packet conns by local address; guarded by mu
}

// clientChannel names a channel as a client's ChannelData does, on one
// of the server's packet conns.
type clientChannel struct {
	conn   *fastConn
	client netip.AddrPort
	number uint16
}

// relayPeer names a channel as a peer's datagram to a relay does.
type relayPeer struct {
	relayPort uint16
	peer      netip.AddrPort
}

// channel is one channel binding of a UDP client.
type channel struct {
	number uint16
	client *net.UDPAddr      // where the client is
	peer   *net.UDPAddr      // the bound peer
	relay  *policyPacketConn // the allocation's relay socket
	turn   *fastConn         // the TURN socket the client talks to
}

func newFastPath(stats *counters) *fastPath {
	return &fastPath{
		stats:    stats,
		byClient: make(map[clientChannel]*channel),
		byPeer:   make(map[relayPeer]*channel),
		relays:   make(map[uint16]*policyPacketConn),
		conns:    make(map[string]*fastConn),
	}
}

// wrap returns conn as the TURN library should see it. Two conns on one
// local address could not be told apart in the library's events, so the
// second one keeps the slow path.
func (f *fastPath) wrap(conn net.PacketConn) net.PacketConn {
	fc := &fastConn{PacketConn: conn, fast: f}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := conn.LocalAddr().String()
	if _, dup := f.conns[key]; dup {
		f.conns[key] = nil
		return conn
	}
	f.conns[key] = fc
	return fc
}

func (f *fastPath) addRelay(r *policyPacketConn) {
	f.mu.Lock()
	f.relays[r.port] = r
	f.mu.Unlock()
}

func (f *fastPath) removeRelay(r *policyPacketConn) {
	f.mu.Lock()
	if f.relays[r.port] == r {
		delete(f.relays, r.port)
	}
	f.mu.Unlock()
}

// channelCreated is the library's OnChannelCreated.
func (f *fastPath) channelCreated(src, dst, relayAddr, peer net.Addr, number uint16) {
	client, ok1 := src.(*net.UDPAddr)
	peerUDP, ok2 := peer.(*net.UDPAddr)
	relayUDP, ok3 := relayAddr.(*net.UDPAddr)
	if !ok1 || !ok2 || !ok3 {
		return // a TCP or TLS client, or a TCP allocation
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	turn, relay := f.conns[dst.String()], f.relays[uint16(relayUDP.Port)]
	if turn == nil || relay == nil {
		return
	}
	ch := &channel{number: number, client: client, peer: peerUDP, relay: relay, turn: turn}
	f.byClient[clientChannel{turn, client.AddrPort(), number}] = ch
	f.byPeer[relayPeer{relay.port, unmapped(peerUDP.AddrPort())}] = ch
}

// channelDeleted is the library's OnChannelDeleted.
func (f *fastPath) channelDeleted(src, dst, relayAddr, peer net.Addr, number uint16) {
	client, ok1 := src.(*net.UDPAddr)
	peerUDP, ok2 := peer.(*net.UDPAddr)
	relayUDP, ok3 := relayAddr.(*net.UDPAddr)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if turn := f.conns[dst.String()]; turn != nil {
		delete(f.byClient, clientChannel{turn, client.AddrPort(), number})
	}
	delete(f.byPeer, relayPeer{uint16(relayUDP.Port), unmapped(peerUDP.AddrPort())})
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// toPeer relays a client's ChannelData that arrived on conn if its
// channel is bound here; it reports whether it took the datagram.
func (f *fastPath) toPeer(conn *fastConn, b []byte, from net.Addr) bool {
	ua, ok := from.(*net.UDPAddr)
	if !ok || len(b) < 4 || b[0]&0xc0 != 0x40 {
		return false
	}
	length := int(binary.BigEndian.Uint16(b[2:4]))
	if 4+length > len(b) {
		return false
	}
	f.mu.RLock()
	ch := f.byClient[clientChannel{conn, ua.AddrPort(), binary.BigEndian.Uint16(b[0:2])}]
	f.mu.RUnlock()
	if ch == nil {
		return false
	}
	f.stats.toPeer.Add(1)
	ch.relay.WriteTo(b[4:4+length], ch.peer)
	return true
}

// channelFrom returns the channel bound to peer on a relay, if any.
func (f *fastPath) channelFrom(relayPort uint16, peer netip.AddrPort) *channel {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.byPeer[relayPeer{relayPort, unmapped(peer)}]
}

// fastConn is a TURN packet conn as the library sees it: ChannelData on
// a channel the fast path knows never reaches the library.
type fastConn struct {
	net.PacketConn
	fast *fastPath // read-only
}

func (c *fastConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || !c.fast.toPeer(c, p[:n], addr) {
			return n, addr, err
		}
	}
}

// ChannelDataRelay returns, for one of the server's PacketConns, a function
// that relays a client's ChannelData arriving on it at once, if its
// channel is bound: for a demultiplexer reading the socket itself, which
// can then spare the datagram a trip through the conn's queue. It reports
// whether it took the datagram, and never blocks longer than a UDP write.
// It returns nil for a conn the server does not serve.
func (s *Server) ChannelDataRelay(conn net.PacketConn) func(b []byte, from *net.UDPAddr) bool {
	s.fast.mu.RLock()
	fc := s.fast.conns[conn.LocalAddr().String()]
	s.fast.mu.RUnlock()
	if fc == nil || fc.PacketConn != conn {
		return nil
	}
	return func(b []byte, from *net.UDPAddr) bool { return s.fast.toPeer(fc, b, from) }
}
