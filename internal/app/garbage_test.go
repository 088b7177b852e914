package app

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
)

// garbage returns one malformed or unsolicited datagram of each RFC 7983
// range and a few outside them: what a scanner or a broken client sends.
func garbage(r *rand.Rand) [][]byte {
	random := func(first byte, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		b[0] = first
		return b
	}
	// A STUN Binding request with a USERNAME naming no ICE session.
	stun := make([]byte, 20, 48)
	binary.BigEndian.PutUint16(stun[0:], 0x0001)
	binary.BigEndian.PutUint32(stun[4:], 0x2112A442)
	for i := 8; i < 20; i++ {
		stun[i] = byte(r.UintN(256))
	}
	user := []byte("nosuchufrag:remote")
	stun = binary.BigEndian.AppendUint16(stun, 0x0006)
	stun = binary.BigEndian.AppendUint16(stun, uint16(len(user)))
	stun = append(stun, user...)
	for len(stun)%4 != 0 {
		stun = append(stun, 0)
	}
	binary.BigEndian.PutUint16(stun[2:], uint16(len(stun)-20))
	// The same, with a length that lies.
	lying := append([]byte(nil), stun...)
	binary.BigEndian.PutUint16(lying[2:], 400)
	// An RTP header of an unknown SSRC, and a truncated one.
	rtp := random(0x80, 172)
	rtp[1] = 96
	return [][]byte{
		stun, lying, random(0, 1), random(1, 64),
		random(22, 200), random(23, 40), random(20, 3), // DTLS handshake, application data, a stub
		random(0x40, 100), random(0x4f, 3), // ChannelData
		rtp, random(0x80, 5), random(0xbf, 1200), // RTP / RTCP
		random(5, 50), random(100, 50), random(200, 50), random(255, 1), // outside every range
		random(byte(r.UintN(256)), int(r.UintN(1500))+1),
	}
}

// Malformed and unsolicited packets sprayed at the one UDP port, from many
// source ports, during a call: they are dropped and counted, and the
// participants' media never stops.
func TestGarbageOnThePortDisturbsNoCall(t *testing.T) {
	p, ws := startParley(t)
	room := jid.MustParse("noise@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{}
	for _, nick := range []string{"ann", "ben"} {
		peers[nick] = joinPeer(t, ws, room, nick, true)
	}
	waitFlowing(t, peers)
	before := p.port.udp.Stats()

	target := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.port.port}
	r := rand.New(rand.NewPCG(1, 2))
	sent := 0
	start := waitFlowing(t, peers)
	for round := range 40 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			for _, pkt := range garbage(r) {
				if _, err := conn.WriteToUDP(pkt, target); err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
		conn.Close()
		if round%10 == 9 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond)
	mid := waitFlowing(t, peers)
	requireGrowth(t, start, mid, "while garbage was sprayed")
	time.Sleep(time.Second)
	requireGrowth(t, mid, waitFlowing(t, peers), "after the garbage")

	after := p.port.udp.Stats()
	dropped := uint64(0)
	for reason, n := range after.Dropped {
		dropped += n - before.Dropped[reason]
	}
	// The packets outside every range, the lying STUN header and the stubs
	// are the mux's to drop; the rest reach the SFU or TURN, which ignore
	// what belongs to no session.
	if min := uint64(40 * 5 * 6); dropped < min {
		t.Errorf("the mux dropped %d of %d packets, want at least %d: %+v", dropped, sent, min, after.Dropped)
	}
	if after.Dropped["unknown"] == before.Dropped["unknown"] {
		t.Errorf("no packet counted as unknown: %+v", after.Dropped)
	}
	t.Logf("sent %d garbage packets; mux drops now %+v", sent, after.Dropped)
}
