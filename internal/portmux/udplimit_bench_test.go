package portmux

import (
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"
)

// BenchmarkFloodDatagram is the read loop's cost for one datagram of a
// flood beyond its source's rate: classified, limited, dropped.
func BenchmarkFloodDatagram(b *testing.B) {
	f := newUDPFixture(&testing.T{}, nil)
	pkt := stunMsg(&testing.T{}, stun.BindingRequest, stun.Fingerprint)
	from := netip.MustParseAddrPort("127.0.0.9:4000")
	b.ReportAllocs()
	for b.Loop() {
		f.mux.handle(pkt, from)
	}
}
