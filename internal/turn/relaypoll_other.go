//go:build !linux

package turn

import (
	"net"
	"net/netip"
)

// relayPoller, outside Linux, reads each relay socket from a goroutine of
// its own through Go's netpoller, and sends ChannelData one datagram at a
// time.
type relayPoller struct{}

func newRelayPoller(*counters) (*relayPoller, error) { return &relayPoller{}, nil }

func (p *relayPoller) close() {}

// add starts reading s.
func (p *relayPoller) add(s *relaySocket) error {
	go func() {
		buf := make([]byte, 4+relayMTU+1)
		for {
			n, from, err := s.conn.ReadFromUDPAddrPort(buf[4:])
			if err != nil {
				return // closed
			}
			if ch := s.fromPeer(buf, n, from); ch != nil {
				if _, err := ch.turn.WriteTo(buf[:4+n], ch.client); err != nil {
					s.stats.drop(dropSendToClient)
				}
			}
		}
	}()
	return nil
}

// clientsOut is nothing here: ChannelData leaves one WriteTo at a time.
type clientsOut struct{}

func newClientsOut(net.PacketConn) clientsOut { return clientsOut{} }

// relayFD is a relay socket's conn.
type relayFD struct {
	conn *net.UDPConn // set by open; read-only
}

func (r *relayFD) open(bind netip.AddrPort) (netip.AddrPort, error) {
	network := "udp4"
	if bind.Addr().Is6() {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(bind))
	if err != nil {
		return netip.AddrPort{}, err
	}
	r.conn = conn
	return conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

func (s *relaySocket) sendTo(b []byte, to netip.AddrPort) error {
	_, err := s.conn.WriteToUDPAddrPort(b, to)
	return err
}

func (s *relaySocket) closeFD() error { return s.conn.Close() }
