package turn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
)

const testSecret = "correct horse battery staple"

// fakeClock is a settable clock.
type fakeClock struct{ unix atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.Unix(c.unix.Load(), 0) }

// fixture is a TURN server on 127.0.0.1 (UDP and TCP) with one "media"
// UDP socket and TCP listener standing for parley's own media address.
type fixture struct {
	srv      *Server
	udpAddr  *net.UDPAddr // TURN over UDP
	tcpAddr  *net.TCPAddr // TURN over TCP
	media    *net.UDPConn // parley's own media socket, allowed as a peer
	mediaTCP net.Listener // parley's own ICE-TCP listener, allowed as a peer
	clock    *fakeClock
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	media, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	mediaTCP, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{}
	clock.unix.Store(time.Now().Unix())
	cfg := Config{
		PacketConns: []net.PacketConn{udp},
		Listeners:   []net.Listener{tcp},
		Secret:      testSecret,
		RelayIP:     netip.MustParseAddr("127.0.0.1"),
		OwnMediaAddrs: []netip.AddrPort{
			media.LocalAddr().(*net.UDPAddr).AddrPort(),
			mediaTCP.Addr().(*net.TCPAddr).AddrPort(),
		},
		Clock:  clock.now,
		Logger: slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		media.Close()
		mediaTCP.Close()
	})
	return &fixture{
		srv: srv, udpAddr: udp.LocalAddr().(*net.UDPAddr), tcpAddr: tcp.Addr().(*net.TCPAddr),
		media: media, mediaTCP: mediaTCP, clock: clock,
	}
}

func (f *fixture) credential(t *testing.T, user string, ttl time.Duration) Credential {
	t.Helper()
	c, err := f.srv.Credentials(user, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client returns a pion TURN client of the fixture's server over UDP or TCP.
func (f *fixture) client(t *testing.T, overTCP bool, cred Credential) *pionturn.Client {
	t.Helper()
	return dialTURN(t, overTCP, f.udpAddr.String(), f.tcpAddr.String(), cred)
}

func dialTURN(t *testing.T, overTCP bool, udpServer, tcpServer string, cred Credential) *pionturn.Client {
	t.Helper()
	var conn net.PacketConn
	server := udpServer
	if overTCP {
		server = tcpServer
		c, err := net.Dial("tcp4", tcpServer)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	cl, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Conn:           conn,
		Username:       cred.Username,
		Password:       cred.Password,
		RTO:            200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); conn.Close() })
	return cl
}

// readWithin reads one datagram or fails after d.
func readWithin(t *testing.T, c net.PacketConn, d time.Duration) ([]byte, net.Addr) {
	t.Helper()
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read on %v: %v", c.LocalAddr(), err)
	}
	return buf[:n], from
}

// exchange sends one datagram each way between a relayed conn and a peer.
func exchange(t *testing.T, relay net.PacketConn, peer *net.UDPConn) {
	t.Helper()
	if _, err := relay.WriteTo([]byte("to peer"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got, from := readWithin(t, peer, 5*time.Second)
	if string(got) != "to peer" {
		t.Fatalf("peer got %q", got)
	}
	// The peer sees the relayed address (RelayPublicIP is RelayIP here).
	if from.String() != relay.LocalAddr().String() {
		t.Fatalf("peer got it from %v, relayed address is %v", from, relay.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("to client"), from); err != nil {
		t.Fatal(err)
	}
	got, from = readWithin(t, relay, 5*time.Second)
	if string(got) != "to client" || from.String() != peer.LocalAddr().String() {
		t.Fatalf("client got %q from %v", got, from)
	}
}

func TestAllocateAndRelay(t *testing.T) {
	f := newFixture(t, nil)
	for _, overTCP := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "tcp"}[overTCP]
		t.Run(name, func(t *testing.T) {
			cl := f.client(t, overTCP, f.credential(t, "alice@example.test", time.Hour))
			relay, err := cl.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			exchange(t, relay, f.media)
		})
	}
	if st := f.srv.Stats(); st.AllocationsCreated != 2 {
		t.Fatalf("stats %+v, want 2 allocations created", st)
	}
}

func TestSTUNBindingNeedsNoCredentials(t *testing.T) {
	f := newFixture(t, nil)
	cl := f.client(t, false, Credential{})
	mapped, err := cl.SendBindingRequest()
	if err != nil {
		t.Fatal(err)
	}
	if ua, ok := mapped.(*net.UDPAddr); !ok || !ua.IP.Equal(net.IPv4(127, 0, 0, 1)) || ua.Port == 0 {
		t.Fatalf("mapped address %v", mapped)
	}
}

func TestRelayPolicy(t *testing.T) {
	f := newFixture(t, nil)
	cl := f.client(t, false, f.credential(t, "alice", time.Hour))
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	for _, peer := range []string{"10.0.0.1:9", "192.168.1.1:9", "169.254.1.1:9", "224.0.0.1:9", "0.0.0.0:9", "127.0.0.2:9"} {
		if err := cl.CreatePermission(net.UDPAddrFromAddrPort(netip.MustParseAddrPort(peer))); err == nil {
			t.Errorf("permission to %s granted", peer)
		}
	}
	if got := f.srv.Stats().Refused["peer_forbidden"]; got != 6 {
		t.Errorf("peer_forbidden = %d, want 6", got)
	}

	// 127.0.0.1 is parley's media address, so the permission stands, but
	// only parley's own port receives anything.
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := relay.WriteTo([]byte("to another port"), other.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	exchange(t, relay, f.media) // also orders: the packet above was handled first
	other.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := other.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("a restricted address other than parley's got %d bytes", n)
	}
	if got := f.srv.Stats().Refused["peer_packet_forbidden"]; got != 1 {
		t.Errorf("peer_packet_forbidden = %d, want 1", got)
	}
	// And what that port sends towards the relay never reaches the client.
	if _, err := other.WriteTo([]byte("from another port"), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	exchange(t, relay, f.media)
	if got := f.srv.Stats().Refused["peer_packet_forbidden"]; got != 2 {
		t.Errorf("peer_packet_forbidden = %d, want 2", got)
	}
}

func TestPublicPeersAreAllowedAndPrefixesOpen(t *testing.T) {
	p := newPeerPolicy(
		[]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:443"), netip.MustParseAddrPort("[::ffff:10.1.1.1]:443")},
		[]netip.Prefix{netip.MustParsePrefix("192.168.5.7/24")},
	)
	cases := []struct {
		addr     string
		ip, port bool // allowedIP, allowedAddrPort
	}{
		{"8.8.8.8:53", true, true},
		{"[2001:db8::1]:53", true, true},
		{"127.0.0.1:443", true, true},
		{"127.0.0.1:444", true, false},
		{"[::ffff:127.0.0.1]:443", true, true},
		{"10.1.1.1:443", true, true},
		{"10.1.1.2:443", false, false},
		{"192.168.5.200:1", true, true},
		{"192.168.6.1:1", false, false},
		{"172.16.0.1:1", false, false},
		{"100.64.0.1:1", false, false},
		{"100.128.0.1:1", true, true},
		{"255.255.255.255:1", false, false},
		{"0.1.2.3:1", false, false},
		{"[::1]:443", false, false},
		{"[::]:1", false, false},
		{"[fe80::1]:1", false, false},
		{"[fd00::1]:1", false, false},
		{"[ff02::1]:1", false, false},
		{"239.1.1.1:1", false, false},
	}
	for _, c := range cases {
		ap := netip.MustParseAddrPort(c.addr)
		if got := p.allowedIP(ap.Addr()); got != c.ip {
			t.Errorf("allowedIP(%v) = %v", ap.Addr(), got)
		}
		if got := p.allowedAddrPort(ap); got != c.port {
			t.Errorf("allowedAddrPort(%v) = %v", ap, got)
		}
	}
	if p.allowedAddr(&net.IPAddr{IP: net.IPv4(8, 8, 8, 8)}) {
		t.Error("a non-UDP, non-TCP address was allowed")
	}
}

func TestCredentialsRefused(t *testing.T) {
	f := newFixture(t, nil)
	good := f.credential(t, "alice", time.Hour)
	expired := f.credential(t, "alice", -time.Second)
	forged := good
	forged.Password = restPassword("another secret", good.Username)
	tampered := good // a later expiry with the old password
	tampered.Username = "9" + good.Username
	cases := []struct {
		name   string
		cred   Credential
		reason string
	}{
		{"expired", expired, "auth_expired"},
		{"forged", forged, "auth_bad_password"},
		{"tampered", tampered, "auth_bad_password"},
		{"no expiry", Credential{Username: "alice", Password: restPassword(testSecret, "alice")}, "auth_malformed"},
		{"signed expiry", Credential{Username: "+99999999999:alice", Password: restPassword(testSecret, "+99999999999:alice")}, "auth_malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.srv.Stats().Refused[c.reason]
			for _, overTCP := range []bool{false, true} {
				cl := f.client(t, overTCP, c.cred)
				if relay, err := cl.Allocate(); err == nil {
					relay.Close()
					t.Fatalf("allocated with %s credentials (tcp=%v)", c.name, overTCP)
				}
			}
			if got := f.srv.Stats().Refused[c.reason]; got < before+2 {
				t.Fatalf("%s: %d, want at least %d", c.reason, got, before+2)
			}
		})
	}
	if st := f.srv.Stats(); st.AllocationsCreated != 0 {
		t.Fatalf("allocations were created: %+v", st)
	}
}

func TestCredentialExpiresOnTheServerClock(t *testing.T) {
	f := newFixture(t, nil)
	cred := f.credential(t, "alice", 10*time.Second)
	f.clock.unix.Add(11)
	cl := f.client(t, false, cred)
	if relay, err := cl.Allocate(); err == nil {
		relay.Close()
		t.Fatal("allocated after the credential expired on the server's clock")
	}
	f.clock.unix.Add(-11)
	cl = f.client(t, false, cred)
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatalf("allocate before expiry: %v", err)
	}
	relay.Close()
}

func TestQuotaPerUser(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxAllocationsPerUser = 2 })
	alice := f.credential(t, "alice", time.Hour)
	var relays []net.PacketConn
	for i := 0; i < 2; i++ {
		relay, err := f.client(t, i == 1, alice).Allocate()
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		relays = append(relays, relay)
	}
	if relay, err := f.client(t, false, alice).Allocate(); err == nil {
		relay.Close()
		t.Fatal("a third allocation for alice was granted")
	}
	if got := f.srv.Stats().Refused["quota_user"]; got != 1 {
		t.Fatalf("quota_user = %d, want 1", got)
	}
	// Another user is not affected; alice gets a slot back once she frees one.
	bob, err := f.client(t, false, f.credential(t, "bob", time.Hour)).Allocate()
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	defer bob.Close()
	relays[0].Close() // deallocates (Refresh with LIFETIME 0)
	waitFor(t, "alice's allocation to go", func() bool { return f.srv.Stats().Allocations == 2 })
	relay, err := f.client(t, false, alice).Allocate()
	if err != nil {
		t.Fatalf("alice after freeing one: %v", err)
	}
	relay.Close()
	relays[1].Close()
}

func TestQuotaTotal(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxAllocations = 1 })
	relay, err := f.client(t, false, f.credential(t, "alice", time.Hour)).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	if r, err := f.client(t, false, f.credential(t, "bob", time.Hour)).Allocate(); err == nil {
		r.Close()
		t.Fatal("allocation beyond MaxAllocations granted")
	}
	if got := f.srv.Stats().Refused["quota_total"]; got != 1 {
		t.Fatalf("quota_total = %d, want 1", got)
	}
}

func TestTCPAllocation(t *testing.T) {
	f := newFixture(t, nil)
	cl := f.client(t, true, f.credential(t, "alice", time.Hour))
	alloc, err := cl.AllocateTCP()
	if err != nil {
		t.Fatalf("allocate TCP: %v", err)
	}
	defer alloc.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := f.mediaTCP.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	conn, err := alloc.Dial("tcp4", f.mediaTCP.Addr().String())
	if err != nil {
		t.Fatalf("connect to parley's own TCP address: %v", err)
	}
	defer conn.Close()
	var peer net.Conn
	select {
	case peer = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the peer saw no connection")
	}
	defer peer.Close()
	if _, err := conn.Write([]byte("hello over tcp")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("hello over tcp"))
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, buf); err != nil || !bytes.Equal(buf, []byte("hello over tcp")) {
		t.Fatalf("peer read %q, %v", buf, err)
	}

	// Another port on the same loopback address is refused.
	other, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if c, err := alloc.Dial("tcp4", other.Addr().String()); err == nil {
		c.Close()
		t.Fatal("connected to a loopback port other than parley's")
	}
	if got := f.srv.Stats().Refused["peer_forbidden"]; got != 1 {
		t.Fatalf("peer_forbidden = %d, want 1", got)
	}
}

func TestConfigErrors(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	ip := netip.MustParseAddr("127.0.0.1")
	for name, cfg := range map[string]Config{
		"no conns":     {Secret: "s", RelayIP: ip},
		"no secret":    {PacketConns: []net.PacketConn{udp}, RelayIP: ip},
		"no relay ip":  {PacketConns: []net.PacketConn{udp}, Secret: "s"},
		"mixed family": {PacketConns: []net.PacketConn{udp}, Secret: "s", RelayIP: ip, RelayPublicIP: netip.MustParseAddr("2001:db8::1")},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChannelFastPath: once the client has bound a channel, datagrams
// both ways take the fast path, arrive intact and in order, and the
// channel leaves the fast path with its allocation.
func TestChannelFastPath(t *testing.T) {
	f := newFixture(t, nil)
	cl := f.client(t, false, f.credential(t, "alice", time.Hour))
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	// The client binds a channel in the background after its first send;
	// send until its ChannelData reaches the peer through the fast path.
	exchange(t, relay, f.media)
	waitFor(t, "ChannelData on the fast path", func() bool {
		relay.WriteTo([]byte("probe"), f.media.LocalAddr())
		readWithin(t, f.media, 5*time.Second)
		return f.srv.Stats().ChannelToPeer > 0
	})
	for i := range 50 {
		msg := fmt.Sprintf("to peer %d", i)
		if _, err := relay.WriteTo([]byte(msg), f.media.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if got, _ := readWithin(t, f.media, 5*time.Second); string(got) != msg {
			t.Fatalf("peer got %q, want %q", got, msg)
		}
		msg = fmt.Sprintf("to client %d", i)
		if _, err := f.media.WriteTo([]byte(msg), relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if got, from := readWithin(t, relay, 5*time.Second); string(got) != msg || from.String() != f.media.LocalAddr().String() {
			t.Fatalf("client got %q from %v, want %q", got, from, msg)
		}
	}
	if st := f.srv.Stats(); st.ChannelToPeer < 50 || st.ChannelToClient < 50 {
		t.Fatalf("fast path counters %+v", st)
	}
	relay.Close()
	waitFor(t, "the channel to leave the fast path", func() bool {
		f.srv.fast.mu.Lock()
		defer f.srv.fast.mu.Unlock()
		return len(*f.srv.fast.byClient.Load()) == 0 && len(*f.srv.fast.byPeer.Load()) == 0 && len(f.srv.fast.relays) == 0
	})
}
