package turn

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"parley.dev/parley/internal/portmux"
	"parley.dev/parley/internal/turn/turntest"
)

// BenchmarkChannelRelay relays 200-byte datagrams on 4 bound channels of
// UDP clients, in windows of 16 per flow, each way, with the server behind
// the one-port mux as parley runs it ("mux") or alone on its socket.
// Allocations per datagram (-benchmem) are the server's: the benchmark's
// own sockets use the allocation-free AddrPort calls.
//
//	go test -run - -bench ChannelRelay -benchmem ./internal/turn/
func BenchmarkChannelRelay(b *testing.B) {
	for _, viaMux := range []bool{true, false} {
		for _, toPeer := range []bool{true, false} {
			name := map[bool]string{true: "to-peer", false: "to-client"}[toPeer] +
				map[bool]string{true: "/mux", false: "/alone"}[viaMux]
			b.Run(name, func(b *testing.B) { benchmarkChannelRelay(b, viaMux, toPeer) })
		}
	}
}

// newMuxFixture is a server behind portmux's UDP mux, as internal/app
// wires them.
func newMuxFixture(b *testing.B) *fixture {
	conn := udpSocket(b)
	mux, err := portmux.NewUDP(portmux.UDPConfig{Conn: conn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{
		PacketConns:         []net.PacketConn{mux.TURN()},
		Secret:              testSecret,
		RelayIP:             netip.MustParseAddr("127.0.0.1"),
		AllowedPeerPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	mux.SetChannelDataHandler(srv.ChannelDataRelay(mux.TURN()))
	b.Cleanup(func() { srv.Close(); mux.Close() })
	return &fixture{srv: srv, udpAddr: conn.LocalAddr().(*net.UDPAddr)}
}

func benchmarkChannelRelay(b *testing.B, viaMux, toPeer bool) {
	const flows, window = 4, 16
	var f *fixture
	if viaMux {
		f = newMuxFixture(b)
	} else {
		f = newFixture(b, func(c *Config) {
			c.AllowedPeerPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
	}
	type flow struct {
		client, peer *net.UDPConn
		relayed      netip.AddrPort
		frame        []byte // ChannelData from the client
	}
	payload := make([]byte, 200)
	fs := make([]flow, flows)
	for i := range fs {
		a, peer := f.allocate(b, fmt.Sprintf("bench%d", i)), udpSocket(b)
		bindChannel(b, a, peer, uint16(0x4000+i))
		fs[i] = flow{client: a.Conn, peer: peer, relayed: a.Relayed.AddrPort(), frame: turntest.ChannelData(uint16(0x4000+i), payload)}
	}
	server := f.udpAddr.AddrPort()
	buf := make([]byte, 2048)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += flows * window {
		for i := range fs {
			for range window {
				if toPeer {
					fs[i].client.WriteToUDPAddrPort(fs[i].frame, server)
				} else {
					fs[i].peer.WriteToUDPAddrPort(payload, fs[i].relayed)
				}
			}
		}
		for i := range fs {
			rx := fs[i].client
			if toPeer {
				rx = fs[i].peer
			}
			rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			for range window {
				if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
					b.Fatalf("flow %d: %v (a datagram was lost)", i, err)
				}
			}
		}
	}
}
