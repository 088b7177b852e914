package turn

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"parley.dev/parley/internal/turn/turntest"
)

// udpSocket opens a UDP socket on 127.0.0.1, closed when the test ends.
func udpSocket(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// allocate opens an allocation for user on the fixture's UDP port with
// the minimal client, which binds channels exactly when asked.
func (f *fixture) allocate(t testing.TB, user string) *turntest.Allocation {
	t.Helper()
	cred, err := f.srv.Credentials(user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, err := turntest.Allocate(udpSocket(t), f.udpAddr, cred.Username, cred.Password)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bindChannel(t testing.TB, a *turntest.Allocation, peer *net.UDPConn, number uint16) {
	t.Helper()
	if err := a.BindChannel(peer.LocalAddr().(*net.UDPAddr), number); err != nil {
		t.Fatal(err)
	}
}

// readDatagram reads one datagram of any size or fails after 5 s.
func readDatagram(t testing.TB, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read on %v: %v", c.LocalAddr(), err)
	}
	return buf[:n], from
}

// readChannelData reads one datagram on a client socket and parses it
// as ChannelData.
func readChannelData(t testing.TB, c *net.UDPConn) (uint16, []byte) {
	t.Helper()
	got, _ := readDatagram(t, c)
	number, payload, ok := turntest.ParseChannelData(got)
	if !ok {
		t.Fatalf("client got %.16x (%d bytes), not ChannelData", got, len(got))
	}
	return number, payload
}

// expectNothing fails if c receives a datagram within a short while.
func expectNothing(t *testing.T, c *net.UDPConn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, from, err := c.ReadFrom(make([]byte, 2048)); err == nil {
		t.Fatalf("%s: got %d bytes from %v", what, n, from)
	}
}

// TestChannelsRelayedInBatchesKeepTheirClients: several allocations whose
// peers send at once (so that one sweep of the relay poller reads several
// sockets and sends to several clients in one sendmmsg) each deliver to
// their own client, on their own channel, intact and in order, at every
// size from empty to the relay's largest; and back again.
func TestChannelsRelayedInBatchesKeepTheirClients(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.AllowedPeerPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	const flows, perFlow = 6, 24
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server counters: %+v", f.srv.Stats())
		}
	})
	allocs := make([]*turntest.Allocation, flows)
	peers := make([]*net.UDPConn, flows)
	for i := range flows {
		allocs[i], peers[i] = f.allocate(t, fmt.Sprintf("user%d", i)), udpSocket(t)
		bindChannel(t, allocs[i], peers[i], uint16(0x4000+i))
	}
	payload := func(flow, seq int) []byte {
		size := []int{0, 1, 200, relayMTU}[seq%4]
		b := bytes.Repeat([]byte{byte(flow)}, size)
		if size > 0 {
			b[0] = byte(seq)
		}
		return b
	}
	var wg sync.WaitGroup
	for i := range flows {
		wg.Go(func() {
			for seq := range perFlow {
				peers[i].WriteTo(payload(i, seq), allocs[i].Relayed)
			}
		})
	}
	wg.Wait()
	for i := range flows {
		for seq := range perFlow {
			number, got := readChannelData(t, allocs[i].Conn)
			if number != uint16(0x4000+i) || !bytes.Equal(got, payload(i, seq)) {
				t.Fatalf("client %d, datagram %d: channel %#x, %d bytes %.8x", i, seq, number, len(got), got)
			}
		}
	}
	// Back, one flow at a time: the fixture's TURN socket has the default
	// receive buffer, and the library's reader is slow under -race.
	for i := range flows {
		for seq := range perFlow {
			allocs[i].Conn.WriteTo(turntest.ChannelData(uint16(0x4000+i), payload(i, seq)), f.udpAddr)
		}
		for seq := range perFlow {
			got, from := readDatagram(t, peers[i])
			if !bytes.Equal(got, payload(i, seq)) || from != allocs[i].Relayed.AddrPort() {
				t.Fatalf("peer %d, datagram %d: %d bytes %.8x from %v", i, seq, len(got), got, from)
			}
		}
	}
	st := f.srv.Stats()
	if st.ChannelToClient != flows*perFlow || st.ChannelToPeer != flows*perFlow {
		t.Fatalf("fast path counters %+v, want %d each way", st, flows*perFlow)
	}
}

// TestFastPathKeepsTheRules: the fast path relays only what the library
// would: a bound channel's own client and peer, nothing from strangers,
// Data indications for a peer with a permission and no channel, and
// nothing to or from a restricted address the policy refuses although its
// permission stands.
func TestFastPathKeepsTheRules(t *testing.T) {
	f := newFixture(t, nil)
	alice, mallory := f.allocate(t, "alice"), f.allocate(t, "mallory")
	bindChannel(t, alice, f.media, 0x4000) // parley's own media: allowed
	bindChannel(t, mallory, f.media, 0x4000)
	// The strangers are on 127.0.0.1, parley's media address, but another
	// port: permissions (address only) stand, the policy refuses packets.
	stranger, other := udpSocket(t), udpSocket(t)
	if err := alice.CreatePermission(stranger.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	bindChannel(t, alice, other, 0x4001)
	refused := f.srv.Stats().Refused["peer_packet_forbidden"]

	// Mallory's channel 0x4000 is not Alice's: the peer sees it come from
	// Mallory's relay, and Alice's client hears nothing of it.
	mallory.Conn.WriteTo(turntest.ChannelData(0x4000, []byte("from mallory")), f.udpAddr)
	if got, from := readWithin(t, f.media, 5*time.Second); string(got) != "from mallory" || from.String() != mallory.Relayed.String() {
		t.Fatalf("peer got %q from %v", got, from)
	}
	// A stranger and a refused port send to Alice's relay; only the
	// bound peer's datagram reaches her, as ChannelData.
	stranger.WriteTo([]byte("from a stranger"), alice.Relayed)
	other.WriteTo([]byte("from a refused port"), alice.Relayed)
	f.media.WriteTo([]byte("from the peer"), alice.Relayed)
	if number, got := readChannelData(t, alice.Conn); number != 0x4000 || string(got) != "from the peer" {
		t.Fatalf("alice got %q on %#x", got, number)
	}
	expectNothing(t, alice.Conn, "alice after the bound peer")
	expectNothing(t, mallory.Conn, "mallory")
	// Alice's ChannelData on the refused port's channel goes nowhere.
	alice.Conn.WriteTo(turntest.ChannelData(0x4001, []byte("to a refused port")), f.udpAddr)
	expectNothing(t, other, "the refused port")
	if got := f.srv.Stats().Refused["peer_packet_forbidden"] - refused; got != 3 {
		t.Fatalf("peer_packet_forbidden grew by %d, want 3 (stranger, refused port both ways)", got)
	}

	// A peer with a permission and no channel gets the library's path: a
	// Data indication.
	public := f.allocate(t, "bob")
	if err := public.CreatePermission(f.media.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	f.media.WriteTo([]byte("as data"), public.Relayed)
	got, _ := readWithin(t, public.Conn, 5*time.Second)
	msg := &stun.Message{Raw: got}
	var data stun.RawAttribute
	if err := msg.Decode(); err != nil || msg.Type != stun.NewType(stun.MethodData, stun.ClassIndication) {
		t.Fatalf("bob got %x, want a Data indication (%v)", got, err)
	}
	if a, ok := msg.Attributes.Get(stun.AttrData); !ok || string(a.Value) != "as data" {
		t.Fatalf("Data indication carries %q", data.Value)
	}
}

// TestChannelRelayOverIPv6: a server relaying on ::1 reads its relay
// sockets and writes to peers in the IPv6 socket address format.
func TestChannelRelayOverIPv6(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		if err != nil {
			t.Fatalf("IPv6 loopback is needed: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	turnConn, client, peer := listen(), listen(), listen()
	srv, err := New(Config{
		PacketConns:         []net.PacketConn{turnConn},
		Secret:              testSecret,
		RelayIP:             netip.IPv6Loopback(),
		AllowedPeerPrefixes: []netip.Prefix{netip.MustParsePrefix("::1/128")},
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cred, err := srv.Credentials("alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, err := turntest.Allocate(client, turnConn.LocalAddr().(*net.UDPAddr), cred.Username, cred.Password)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Relayed.IP.Equal(net.IPv6loopback) {
		t.Fatalf("relayed address %v", a.Relayed)
	}
	bindChannel(t, a, peer, 0x4abc)
	peer.WriteTo([]byte("to client"), a.Relayed)
	if number, got := readChannelData(t, client); number != 0x4abc || string(got) != "to client" {
		t.Fatalf("client got %q on %#x", got, number)
	}
	client.WriteTo(turntest.ChannelData(0x4abc, []byte("to peer")), turnConn.LocalAddr())
	if got, from := readDatagram(t, peer); string(got) != "to peer" || from != a.Relayed.AddrPort() {
		t.Fatalf("peer got %q from %v", got, from)
	}
	if st := srv.Stats(); st.ChannelToClient != 1 || st.ChannelToPeer != 1 {
		t.Fatalf("fast path counters %+v", st)
	}
}
