package sfu

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// socketWriter writes marshalled RTP to one address through the SFU's
// batching socket, as Pion's SRTP writer does (without the encryption).
type socketWriter struct {
	out *batchConn
	to  net.Addr
}

func (w socketWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	buf := make([]byte, pacedPacketSize)
	if err := marshalPacket(buf, h, payload); err != nil {
		return 0, err
	}
	return w.Write(buf[:h.MarshalSize()+len(payload)])
}

func (w socketWriter) Write(b []byte) (int, error) { return w.out.WriteTo(b, w.to) }

// A drain's packets leave in one sendmmsg, and all of them arrive, in
// order: one sendto each was a fifth of a loaded server's CPU
// (docs/BENCHMARKS.md, issue 20).
func TestPacerDrainIsOneSystemCall(t *testing.T) {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	out := newBatchConn(server)
	if out.batch == nil {
		t.Fatal("no sendmmsg on a UDP socket on Linux")
	}
	var calls atomic.Int32
	send := out.batch.sendFn
	out.batch.sendFn = func(fd uintptr) bool { calls.Add(1); return send(fd) }

	clock := &fakeClock{now: time.Unix(100, 0)}
	pc := newBatchedPacer(clock, out)
	pc.setRate(10_000_000) // a tick's credit takes the whole queue
	w := socketWriter{out: out, to: client.LocalAddr()}
	const n = 10
	for i := range n {
		h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(500 + i), SSRC: 7}
		if err := pc.write(w, h, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if pc.paced.Load() != n {
		t.Fatalf("%d of %d packets queued; the test needs them all in the queue", pc.paced.Load(), n)
	}
	clock.advance(pacerTick)
	if got := calls.Load(); got != 1 {
		t.Errorf("the drain of %d packets made %d sendmmsg calls, want 1", n, got)
	}
	buf := make([]byte, 1500)
	for i := range n {
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, _, err := client.ReadFrom(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:m]); err != nil || p.SequenceNumber != uint16(500+i) || len(p.Payload) != 100 {
			t.Fatalf("packet %d arrived as seq %d, %d bytes (%v)", i, p.SequenceNumber, len(p.Payload), err)
		}
	}
}
