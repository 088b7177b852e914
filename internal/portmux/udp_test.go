package portmux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

type udpFixture struct {
	mux    *UDPMux
	addr   *net.UDPAddr
	client *net.UDPConn
}

func newUDPFixture(t *testing.T, mod func(*UDPConfig)) *udpFixture {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := UDPConfig{Conn: conn, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	m, err := NewUDP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		client.Close()
	})
	return &udpFixture{mux: m, addr: conn.LocalAddr().(*net.UDPAddr), client: client}
}

func (f *udpFixture) send(t *testing.T, b []byte) {
	t.Helper()
	if _, err := f.client.WriteTo(b, f.addr); err != nil {
		t.Fatal(err)
	}
}

// expectPacket reads one packet from side and compares it.
func expectPacket(t *testing.T, side net.PacketConn, want []byte, from net.Addr) {
	t.Helper()
	side.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 9000)
	n, addr, err := side.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("read %x, want %x", buf[:n], want)
	}
	if addr.String() != from.String() {
		t.Fatalf("from %v, want %v", addr, from)
	}
}

func TestUDPSplitsMediaAndTURN(t *testing.T) {
	f := newUDPFixture(t, nil)
	ice := stunMsg(t, stun.BindingRequest, stun.NewUsername("sfu:client"), stun.NewShortTermIntegrity("p"), stun.Fingerprint)
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	plain := stunMsg(t, stun.BindingRequest, stun.Fingerprint)
	rtp := append([]byte{0x80, 96}, make([]byte, 1200)...)
	big := append([]byte{0x80, 96}, make([]byte, 3000)...) // beyond the pooled size
	dtls := append([]byte{22, 0xfe, 0xfd}, make([]byte, 60)...)
	media, turn := f.mux.Media(), f.mux.TURN()
	for _, c := range []struct {
		pkt  []byte
		side net.PacketConn
	}{
		{ice, media}, {allocate, turn}, {plain, turn}, {rtp, media}, {dtls, media},
		{channelData(100), turn}, {big, media},
	} {
		f.send(t, c.pkt)
		expectPacket(t, c.side, c.pkt, f.client.LocalAddr())
	}
	// Answers leave through the one socket.
	for _, side := range []net.PacketConn{media, turn} {
		if side.LocalAddr().String() != f.addr.String() {
			t.Fatalf("LocalAddr %v, want %v", side.LocalAddr(), f.addr)
		}
		if _, err := side.WriteTo([]byte("answer"), f.client.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		f.client.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, from, err := f.client.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "answer" || from.String() != f.addr.String() {
			t.Fatalf("client got %q from %v: %v", buf[:n], from, err)
		}
	}
	if st := f.mux.Stats(); st.Media != 4 || st.TURN != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUDPDropsMalformedWithoutDisturbingOthers(t *testing.T) {
	f := newUDPFixture(t, func(c *UDPConfig) { c.MaxPacket = 1500 })
	plain := stunMsg(t, stun.BindingRequest)
	for _, bad := range [][]byte{
		{0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // unknown
		plain[:len(plain)-1],                       // malformed STUN
		channelData(20)[:10],                       // malformed ChannelData
		{22, 0xfe},                                 // short DTLS
		{0x80, 96, 0},                              // short RTP
		make([]byte, 1501),                         // oversize
	} {
		f.send(t, bad)
	}
	// Good packets after the bad ones still arrive, in order.
	rtp := append([]byte{0x80, 96}, make([]byte, 100)...)
	f.send(t, rtp)
	expectPacket(t, f.mux.Media(), rtp, f.client.LocalAddr())
	st := f.mux.Stats()
	for _, reason := range []string{"unknown", "malformed_stun", "malformed_channeldata", "malformed_dtls", "malformed_rtp", "oversize"} {
		if st.Dropped[reason] != 1 {
			t.Errorf("dropped %s = %d, want 1", reason, st.Dropped[reason])
		}
	}
}

func TestUDPQueueBoundAndClose(t *testing.T) {
	f := newUDPFixture(t, func(c *UDPConfig) { c.QueueLen = 2 })
	rtp := append([]byte{0x80, 96}, make([]byte, 100)...)
	for range 5 {
		f.send(t, rtp)
	}
	// The read loop handles packets in order: once this one is through,
	// the five before it have been queued or dropped.
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	f.send(t, allocate)
	expectPacket(t, f.mux.TURN(), allocate, f.client.LocalAddr())
	if got := f.mux.Stats().Dropped["queue_full"]; got != 3 {
		t.Fatalf("queue_full = %d, want 3", got)
	}
	expectPacket(t, f.mux.Media(), rtp, f.client.LocalAddr())
	expectPacket(t, f.mux.Media(), rtp, f.client.LocalAddr())

	// Closing one side leaves the other working.
	f.mux.Media().Close()
	if _, _, err := f.mux.Media().ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed side: %v", err)
	}
	f.send(t, rtp)
	f.send(t, allocate)
	expectPacket(t, f.mux.TURN(), allocate, f.client.LocalAddr())
	if got := f.mux.Stats().Dropped["closed"]; got != 1 {
		t.Fatalf("closed = %d, want 1", got)
	}
	// Once both sides are closed, so is the socket.
	f.mux.TURN().Close()
	if _, err := f.mux.cfg.Conn.WriteTo([]byte{1}, f.client.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("socket still open after both sides closed: %v", err)
	}
}

func TestUDPReadDeadline(t *testing.T) {
	f := newUDPFixture(t, nil)
	media := f.mux.Media()
	media.SetReadDeadline(time.Now().Add(-time.Second))
	if _, _, err := media.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	media.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := media.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read until a deadline: %v", err)
	}
	media.SetReadDeadline(time.Time{})
	rtp := append([]byte{0x80, 96}, make([]byte, 10)...)
	f.send(t, rtp)
	done := make(chan error, 1)
	go func() {
		_, _, err := media.ReadFrom(make([]byte, 100))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("read with no deadline: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read with no deadline did not return")
	}
}

func TestUDPChannelDataHandler(t *testing.T) {
	f := newUDPFixture(t, nil)
	var taken []string
	f.mux.SetChannelDataHandler(func(b []byte, from netip.AddrPort) bool {
		if from != f.client.LocalAddr().(*net.UDPAddr).AddrPort() {
			t.Errorf("handler saw it from %v", from)
		}
		if b[1] == 1 { // channel 0x4001 is "bound"
			taken = append(taken, string(b[4:]))
			return true
		}
		return false
	})
	bound := append(channelData(0), "bound"...)
	binary.BigEndian.PutUint16(bound[2:], 5)
	unbound := append(channelData(0), "other"...)
	binary.BigEndian.PutUint16(unbound[0:], 0x4002)
	binary.BigEndian.PutUint16(unbound[2:], 5)
	f.send(t, bound)
	f.send(t, unbound) // left to the TURN side
	expectPacket(t, f.mux.TURN(), unbound, f.client.LocalAddr())
	if len(taken) != 1 || taken[0] != "bound" {
		t.Fatalf("handler took %q", taken)
	}
	// STUN never reaches the handler.
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	f.send(t, allocate)
	expectPacket(t, f.mux.TURN(), allocate, f.client.LocalAddr())
	if st := f.mux.Stats(); st.TURN != 3 {
		t.Fatalf("stats %+v", st)
	}
}
