package turn

import (
	"net"
	"net/netip"
	"slices"
)

// peerPolicy decides which peers an allocation may talk to. By default a
// relay may not reach loopback, private, link-local, multicast, broadcast,
// unspecified, "this network" or shared (CGNAT) addresses: a TURN server
// inside a network must not become a way into it. parley's own media
// addresses are the exception, matched on address and port, since relayed
// clients reach the SFU through them; operator-listed prefixes are allowed
// whole.
type peerPolicy struct {
	own   []netip.AddrPort // exact exceptions (address unmapped); read-only
	allow []netip.Prefix   // whole-prefix exceptions (masked); read-only
}

func newPeerPolicy(own []netip.AddrPort, allow []netip.Prefix) *peerPolicy {
	p := &peerPolicy{}
	for _, ap := range own {
		p.own = append(p.own, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	for _, pf := range allow {
		p.allow = append(p.allow, pf.Masked())
	}
	return p
}

// restricted reports whether ip is in a range relays refuse by default.
func restricted(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() {
		return true
	}
	if ip.Is4() {
		b := ip.As4()
		switch {
		case b[0] == 0: // 0.0.0.0/8, "this network"
			return true
		case b[0] == 100 && b[1]&0xc0 == 64: // 100.64.0.0/10, shared address space
			return true
		case b == [4]byte{255, 255, 255, 255}:
			return true
		}
	}
	return false
}

// allowedIP decides a permission (CreatePermission, ChannelBind, Connect
// before its port is known): restricted addresses pass only when an
// exception covers them; own media addresses are then checked per packet.
func (p *peerPolicy) allowedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !restricted(ip) || p.inAllowedPrefix(ip) {
		return true
	}
	return slices.ContainsFunc(p.own, func(ap netip.AddrPort) bool { return ap.Addr() == ip })
}

// allowedAddrPort decides one relayed packet or TCP connection.
func (p *peerPolicy) allowedAddrPort(ap netip.AddrPort) bool {
	ip := ap.Addr().Unmap()
	if !restricted(ip) || p.inAllowedPrefix(ip) {
		return true
	}
	ap = netip.AddrPortFrom(ip, ap.Port())
	return slices.Contains(p.own, ap)
}

// allowedAddr is allowedAddrPort for a net.Addr; anything but a UDP or TCP
// address is refused.
func (p *peerPolicy) allowedAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.UDPAddr:
		return p.allowedAddrPort(a.AddrPort())
	case *net.TCPAddr:
		return p.allowedAddrPort(a.AddrPort())
	}
	return false
}

func (p *peerPolicy) inAllowedPrefix(ip netip.Addr) bool {
	for _, pf := range p.allow {
		if pf.Contains(ip) {
			return true
		}
	}
	return false
}

// ipFromNet converts a net.IP; an invalid one becomes the zero Addr, which
// every check refuses.
func ipFromNet(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
