package turn

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"

	"github.com/pion/transport/v4/reuseport"
	pionturn "github.com/pion/turn/v5"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// relayGenerator opens the relay sockets of allocations on bindIP and
// reports them to clients at publicIP. Every socket it returns enforces the
// peer policy on each packet or connection, since TURN permissions only
// name an address and parley's own media exception names a port too.
type relayGenerator struct {
	bindIP   netip.Addr  // read-only
	publicIP netip.Addr  // read-only
	policy   *peerPolicy // read-only
	stats    *counters   // shared with the Server
	fast     *fastPath   // shared with the Server
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
	conn, err := net.ListenUDP(c.Network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(g.bindIP, uint16(c.RequestedPort))))
	if err != nil {
		g.stats.refuse(refusedRelay)
		return nil, nil, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	relayed := &net.UDPAddr{IP: g.publicIP.AsSlice(), Port: port}
	pc := newPolicyPacketConn(conn, g)
	g.fast.addRelay(pc)
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

// policyPacketConn is a UDP relay socket that drops what the peer policy
// refuses, both ways, and counts it. What a peer sends on a bound channel
// goes to the client from here, as ChannelData; the rest goes up to the
// library (Data indications, or nothing without a permission).
type policyPacketConn struct {
	*net.UDPConn
	port   uint16      // local port; read-only
	policy *peerPolicy // read-only
	stats  *counters   // shared with the Server
	fast   *fastPath   // shared with the Server
	batch  relayBatch  // owned by the reader
}

// relayBatch is what one read took from a relay socket: several datagrams
// at once (recvmmsg) when a peer sends faster than they are relayed. Each
// buffer keeps 4 bytes in front for the ChannelData header.
type relayBatch struct {
	reader batchReader
	msgs   []ipv4.Message // msgs[i] reads into bufs[i][4:]
	bufs   [][]byte
	next   int // first datagram of msgs[:n] not handled yet
	n      int
}

// batchReader is ipv4.PacketConn or ipv6.PacketConn.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// relayReadBatch bounds the datagrams one read of a relay socket takes.
const relayReadBatch = 8

func newPolicyPacketConn(conn *net.UDPConn, g *relayGenerator) *policyPacketConn {
	c := &policyPacketConn{UDPConn: conn, port: uint16(conn.LocalAddr().(*net.UDPAddr).Port), policy: g.policy, stats: g.stats, fast: g.fast}
	if g.bindIP.Is4() {
		c.batch.reader = ipv4.NewPacketConn(conn)
	} else {
		c.batch.reader = ipv6.NewPacketConn(conn)
	}
	c.batch.msgs = make([]ipv4.Message, relayReadBatch)
	c.batch.bufs = make([][]byte, relayReadBatch)
	for i := range c.batch.msgs {
		c.batch.bufs[i] = make([]byte, 4+relayMTU+1)
		c.batch.msgs[i].Buffers = [][]byte{c.batch.bufs[i][4:]}
	}
	return c
}

// relayMTU is the largest datagram a relay takes from a peer, as the TURN
// library's own relay buffer.
const relayMTU = 1600

// WriteTo hides the embedded conn's method set beyond net.PacketConn:
// the library only ever writes through here.
func (c *policyPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.policy.allowedAddr(addr) {
		c.stats.refuse(refusedPeerPacket)
		return len(p), nil // as if lost on the way, like any UDP packet
	}
	return c.UDPConn.WriteTo(p, addr)
}

// ReadFrom returns the next datagram the library must handle itself,
// relaying channel data on the way.
func (c *policyPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	b := &c.batch
	for {
		if b.next == b.n {
			n, err := b.reader.ReadBatch(b.msgs, 0)
			if err != nil {
				return 0, nil, err
			}
			b.next, b.n = 0, n
		}
		msg, buf := &b.msgs[b.next], b.bufs[b.next]
		b.next++
		from, ok := msg.Addr.(*net.UDPAddr)
		if !ok || msg.N > relayMTU {
			continue
		}
		ap := from.AddrPort()
		if !c.policy.allowedAddrPort(ap) {
			c.stats.refuse(refusedPeerPacket)
			continue
		}
		if ch := c.fast.channelFrom(c.port, ap); ch != nil {
			binary.BigEndian.PutUint16(buf[0:], ch.number)
			binary.BigEndian.PutUint16(buf[2:], uint16(msg.N))
			c.stats.toClient.Add(1)
			ch.turn.WriteTo(buf[:4+msg.N], ch.client)
			continue
		}
		return copy(p, buf[4:4+msg.N]), from, nil
	}
}

func (c *policyPacketConn) Close() error {
	c.fast.removeRelay(c)
	return c.UDPConn.Close()
}

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
