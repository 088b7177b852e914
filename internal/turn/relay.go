package turn

import (
	"context"
	"net"
	"net/netip"
	"strconv"

	"github.com/pion/transport/v4/reuseport"
	pionturn "github.com/pion/turn/v5"
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
	return &policyPacketConn{PacketConn: conn, policy: g.policy, stats: g.stats}, relayed, nil
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
// refuses, both ways, and counts it.
type policyPacketConn struct {
	net.PacketConn
	policy *peerPolicy // read-only
	stats  *counters   // shared with the Server
}

func (c *policyPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.policy.allowedAddr(addr) {
		c.stats.refuse(refusedPeerPacket)
		return len(p), nil // as if lost on the way, like any UDP packet
	}
	return c.PacketConn.WriteTo(p, addr)
}

func (c *policyPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.policy.allowedAddr(addr) {
			return n, addr, err
		}
		c.stats.refuse(refusedPeerPacket)
	}
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
