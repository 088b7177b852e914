package app

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

// floodRate is how many STUN Binding requests, and as many DTLS
// ClientHellos, the flood sends per second; floodFor how long.
const (
	floodRate = 50_000
	floodFor  = 3 * time.Second
)

// bindingRequest is a STUN Binding request; with a USERNAME naming no ICE
// session (for the SFU) when ice is set, else without (for TURN).
func bindingRequest(r *rand.Rand, ice bool) []byte {
	b := make([]byte, 20, 48)
	binary.BigEndian.PutUint16(b[0:], 0x0001)
	binary.BigEndian.PutUint32(b[4:], 0x2112A442)
	for i := 8; i < 20; i++ {
		b[i] = byte(r.UintN(256))
	}
	if ice {
		user := fmt.Appendf(nil, "flood%04d:remote", r.UintN(10000))
		b = binary.BigEndian.AppendUint16(b, 0x0006)
		b = binary.BigEndian.AppendUint16(b, uint16(len(user)))
		b = append(b, user...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-20))
	return b
}

// clientHello is a DTLS 1.2 record holding the start of a ClientHello.
func clientHello(r *rand.Rand) []byte {
	body := make([]byte, 2+32+1+2+4+2)
	body[0], body[1] = 0xfe, 0xfd // client_version DTLS 1.2
	for i := 2; i < 34; i++ {
		body[i] = byte(r.UintN(256)) // random
	}
	// session id empty, cookie empty, one cipher suite, one null compression
	body[34] = 0
	binary.BigEndian.PutUint16(body[35:], 2)
	binary.BigEndian.PutUint16(body[37:], 0xc02b)
	body[39], body[40] = 1, 0
	hs := []byte{1, 0, 0, byte(len(body)), 0, 0, 0, 0, 0, 0, 0, byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(rec[11:], uint16(len(hs)))
	return append(rec, hs...)
}

// udpFlood sends floodRate Binding requests and floodRate ClientHellos a
// second to target for d, from 127.0.0.9 (many source ports); it returns
// how many datagrams it sent.
func udpFlood(t *testing.T, target *net.UDPAddr, d time.Duration) int64 {
	t.Helper()
	const senders = 4
	var sent atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for s := range senders {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := rand.New(rand.NewPCG(uint64(s), 9))
		var pkts [][]byte
		for i := range 64 {
			pkts = append(pkts, bindingRequest(r, i%2 == 0), clientHello(r))
		}
		// Sent with sendmmsg, 64 a call: the flood must cost the test
		// little CPU, or it measures the machine instead of the server.
		batch := make([]ipv4.Message, 64)
		for i := range batch {
			batch[i] = ipv4.Message{Buffers: [][]byte{pkts[i%len(pkts)]}, Addr: target}
		}
		pc := ipv4.NewPacketConn(conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Paced in 5 ms slices: each sender's share of both floods.
			const slice = 5 * time.Millisecond
			perSlice := int(2 * floodRate * slice / time.Second / senders)
			next := time.Now()
			for time.Now().Before(end) {
				for left := perSlice; left > 0; {
					n, err := pc.WriteBatch(batch[:min(left, len(batch))], 0)
					if err != nil && n <= 0 {
						break
					}
					sent.Add(int64(n))
					left -= n
				}
				next = next.Add(slice)
				time.Sleep(time.Until(next))
			}
		}()
	}
	wg.Wait()
	return sent.Load()
}

// lossOf sums, over every track every peer receives, the packets expected
// and lost since before.
func lossOf(peers map[string]*mediapeer.Peer, before map[*mediapeer.Track]mediapeer.TrackStats) (expected, lost int64, now map[*mediapeer.Track]mediapeer.TrackStats) {
	now = map[*mediapeer.Track]mediapeer.TrackStats{}
	for _, p := range peers {
		for _, tr := range p.Tracks() {
			st := tr.Stats()
			now[tr] = st
			if b, ok := before[tr]; ok {
				expected += st.Expected - b.Expected
				lost += st.Lost - b.Lost
			}
		}
	}
	return expected, lost, now
}

// joinPeerFrom joins a media peer whose media go from ip.
func joinPeerFrom(t *testing.T, ws string, room jid.JID, nick string, ip net.IP) *mediapeer.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	p, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: room, Nick: nick, Media: true, BindIP: ip})
	if err != nil {
		t.Fatalf("%s joining: %v", nick, err)
	}
	t.Cleanup(func() { p.Close(); c.Close() })
	return p
}

// A flood of 50,000 STUN Binding requests a second and as many DTLS
// ClientHellos from one address (127.0.0.9) leaves a running call (Pion
// peers on 127.0.0.1 and 127.0.0.2) under 1 % loss; the mux drops the
// flood beyond the per-source rates and counts it.
func TestUDPFloodFromOneAddressSparesTheCall(t *testing.T) {
	p, ws := startParley(t)
	room := jid.MustParse("flooded@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{
		"ann": joinPeerFrom(t, ws, room, "ann", net.IPv4(127, 0, 0, 1)),
		"ben": joinPeerFrom(t, ws, room, "ben", net.IPv4(127, 0, 0, 2)),
	}
	waitFlowing(t, peers)
	time.Sleep(time.Second) // past the first keyframes and any start-up loss
	_, _, base := lossOf(peers, nil)
	before := p.port.udp.Stats()

	target := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.port.port}
	start := time.Now()
	sent := udpFlood(t, target, floodFor)
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // what was in flight arrives
	expected, lost, _ := lossOf(peers, base)
	after := p.port.udp.Stats()

	rate := float64(sent) / 2 / took.Seconds()
	t.Logf("sent %d datagrams in %v: %.0f Binding requests and as many ClientHellos a second", sent, took.Round(time.Millisecond), rate)
	t.Logf("call: %d packets expected, %d lost (%.3f %%)", expected, lost, 100*float64(lost)/float64(max(expected, 1)))
	drops := map[string]uint64{}
	for k, v := range after.Dropped {
		if d := v - before.Dropped[k]; d > 0 {
			drops[k] = d
		}
	}
	t.Logf("mux drops during the flood: %v", drops)
	if rate < floodRate*0.9 {
		t.Errorf("the flood reached only %.0f/s of each kind, want %d", rate, floodRate)
	}
	if expected < 200 {
		t.Fatalf("the call carried only %d packets during the flood", expected)
	}
	if lost*100 >= expected {
		t.Errorf("the call lost %d of %d packets during the flood (>= 1 %%)", lost, expected)
	}
	if limited := drops["rate_binding"] + drops["rate_dtls_hello"]; limited < uint64(sent)*9/10 {
		t.Errorf("the mux rate-limited %d of %d flood datagrams", limited, sent)
	}
	snap := waitFlowing(t, peers)
	time.Sleep(500 * time.Millisecond)
	requireGrowth(t, snap, waitFlowing(t, peers), "after the flood")
}
