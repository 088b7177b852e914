package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// fastPath relays ChannelData of UDP clients without the TURN library's
// per-packet work (parsing, logging arguments, allocations, a goroutine
// per relay socket). The library keeps everything else, and its channel
// events keep this table in step: a channel is relayed here exactly while
// the library has it bound, which is also its own rule (it relays a bound
// channel's data without looking at permissions). A channel whose peer the
// relay policy refuses stays on the library's path, whose relay socket
// drops and counts each of its packets. Clients over TCP or TLS keep the
// library's path.
//
// The tables are copy-on-write: packets look channels up without a lock,
// channel events (rare) replace a table under mu.
type fastPath struct {
	stats *counters // shared with the Server

	byClient atomic.Pointer[map[clientChannel]*channel] // replaced under mu, never modified
	byPeer   atomic.Pointer[map[relayPeer]*channel]     // replaced under mu, never modified

	mu     sync.Mutex
	relays map[uint16]*relaySocket // open UDP relay sockets by port; guarded by mu
	conns  map[string]*fastConn    // TURN packet conns by local address; guarded by mu
}

// clientChannel names a channel as a client's ChannelData does, on one
// of the server's packet conns.
type clientChannel struct {
	conn   *fastConn
	client netip.AddrPort // unmapped
	number uint16
}

// relayPeer names a channel as a peer's datagram to a relay does.
type relayPeer struct {
	relayPort uint16
	peer      netip.AddrPort // unmapped
}

// channel is one channel binding of a UDP client; immutable.
type channel struct {
	number   uint16
	client   *net.UDPAddr   // where the client is
	toClient netip.AddrPort // client, unmapped
	peer     netip.AddrPort // the bound peer, unmapped
	relay    *relaySocket   // the allocation's relay socket
	turn     *fastConn      // the TURN socket the client talks to
}

func newFastPath(stats *counters) *fastPath {
	f := &fastPath{
		stats:  stats,
		relays: make(map[uint16]*relaySocket),
		conns:  make(map[string]*fastConn),
	}
	f.byClient.Store(&map[clientChannel]*channel{})
	f.byPeer.Store(&map[relayPeer]*channel{})
	return f
}

// wrap returns conn as the TURN library should see it. Two conns on one
// local address could not be told apart in the library's events, so the
// second one keeps the slow path.
func (f *fastPath) wrap(conn net.PacketConn) net.PacketConn {
	fc := &fastConn{PacketConn: conn, fast: f, out: newClientsOut(conn)}
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

func (f *fastPath) addRelay(r *relaySocket) {
	f.mu.Lock()
	f.relays[r.port] = r
	f.mu.Unlock()
}

func (f *fastPath) removeRelay(r *relaySocket) {
	f.mu.Lock()
	if f.relays[r.port] == r {
		delete(f.relays, r.port)
	}
	f.mu.Unlock()
}

// channelAddrs converts a channel event's addresses; ok is false for a
// TCP or TLS client or a TCP allocation.
func channelAddrs(src, relayAddr, peer net.Addr) (client *net.UDPAddr, relayPort uint16, peerAP netip.AddrPort, ok bool) {
	client, ok1 := src.(*net.UDPAddr)
	peerUDP, ok2 := peer.(*net.UDPAddr)
	relayUDP, ok3 := relayAddr.(*net.UDPAddr)
	if !ok1 || !ok2 || !ok3 {
		return nil, 0, netip.AddrPort{}, false
	}
	return client, uint16(relayUDP.Port), unmapped(peerUDP.AddrPort()), true
}

// channelCreated is the library's OnChannelCreated.
func (f *fastPath) channelCreated(src, dst, relayAddr, peer net.Addr, number uint16) {
	client, relayPort, peerAP, ok := channelAddrs(src, relayAddr, peer)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	turn, relay := f.conns[dst.String()], f.relays[relayPort]
	if turn == nil || relay == nil || !relay.policy.allowedAddrPort(peerAP) {
		return
	}
	ch := &channel{number: number, client: client, toClient: unmapped(client.AddrPort()), peer: peerAP, relay: relay, turn: turn}
	byClient, byPeer := f.copyTables()
	byClient[clientChannel{turn, unmapped(client.AddrPort()), number}] = ch
	byPeer[relayPeer{relayPort, peerAP}] = ch
	f.byClient.Store(&byClient)
	f.byPeer.Store(&byPeer)
}

// channelDeleted is the library's OnChannelDeleted.
func (f *fastPath) channelDeleted(src, dst, relayAddr, peer net.Addr, number uint16) {
	client, relayPort, peerAP, ok := channelAddrs(src, relayAddr, peer)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	byClient, byPeer := f.copyTables()
	if turn := f.conns[dst.String()]; turn != nil {
		delete(byClient, clientChannel{turn, unmapped(client.AddrPort()), number})
	}
	delete(byPeer, relayPeer{relayPort, peerAP})
	f.byClient.Store(&byClient)
	f.byPeer.Store(&byPeer)
}

// copyTables returns copies of the channel tables to modify; f.mu held.
func (f *fastPath) copyTables() (map[clientChannel]*channel, map[relayPeer]*channel) {
	oldClient, oldPeer := *f.byClient.Load(), *f.byPeer.Load()
	byClient := make(map[clientChannel]*channel, len(oldClient)+1)
	for k, v := range oldClient {
		byClient[k] = v
	}
	byPeer := make(map[relayPeer]*channel, len(oldPeer)+1)
	for k, v := range oldPeer {
		byPeer[k] = v
	}
	return byClient, byPeer
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// toPeer relays a client's ChannelData that arrived on conn if its
// channel is bound here; it reports whether it took the datagram.
func (f *fastPath) toPeer(conn *fastConn, b []byte, from netip.AddrPort) bool {
	if len(b) < 4 || b[0]&0xc0 != 0x40 {
		return false
	}
	length := int(binary.BigEndian.Uint16(b[2:4]))
	if 4+length > len(b) {
		return false
	}
	ch := (*f.byClient.Load())[clientChannel{conn, unmapped(from), binary.BigEndian.Uint16(b[0:2])}]
	if ch == nil {
		return false
	}
	f.stats.toPeer.Add(1)
	f.stats.bytes.Add(uint64(length))
	if err := ch.relay.sendTo(b[4:4+length], ch.peer); err != nil {
		f.stats.drop(dropSendToPeer)
	}
	return true
}

// channelFrom returns the channel bound to peer (unmapped) on a relay, if
// any.
func (f *fastPath) channelFrom(relayPort uint16, peer netip.AddrPort) *channel {
	return (*f.byPeer.Load())[relayPeer{relayPort, peer}]
}

// fastConn is a TURN packet conn as the library sees it: ChannelData on
// a channel the fast path knows never reaches the library.
type fastConn struct {
	net.PacketConn
	fast *fastPath  // read-only
	out  clientsOut // how the relay poller writes to clients; read-only
}

func (c *fastConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		ua, ok := addr.(*net.UDPAddr)
		if err != nil || !ok || !c.fast.toPeer(c, p[:n], ua.AddrPort()) {
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
func (s *Server) ChannelDataRelay(conn net.PacketConn) func(b []byte, from netip.AddrPort) bool {
	s.fast.mu.Lock()
	fc := s.fast.conns[conn.LocalAddr().String()]
	s.fast.mu.Unlock()
	if fc == nil || fc.PacketConn != conn {
		return nil
	}
	return func(b []byte, from netip.AddrPort) bool { return s.fast.toPeer(fc, b, from) }
}
