package sfu

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestPacketCacheKeepsRecentPacketsOnly(t *testing.T) {
	var c packetCache
	buf := make([]byte, receiveMTU)
	pkt := func(seq uint16) []byte { return bytes.Repeat([]byte{byte(seq)}, 1000+int(seq%7)) }
	for seq := range uint16(100) {
		c.put(7, seq, pkt(seq))
	}
	n := c.get(7, 42, buf)
	if !bytes.Equal(buf[:n], pkt(42)) {
		t.Fatalf("get(42) = %d bytes, not the packet put", n)
	}
	if n := c.get(8, 42, buf); n != 0 {
		t.Errorf("another SSRC's packet 42 returned %d bytes", n)
	}
	if n := c.get(7, 100, buf); n != 0 {
		t.Errorf("a packet never put returned %d bytes", n)
	}
	// Fill the ring several times over: the oldest packets are gone, even
	// where their slot was not reused, and the newest are intact.
	for seq := uint16(100); seq < 1000; seq++ {
		c.put(7, seq, pkt(seq))
	}
	if n := c.get(7, 42, buf); n != 0 {
		t.Errorf("packet 42, overwritten in the ring, returned %d bytes", n)
	}
	for _, seq := range []uint16{999, 900, 800} {
		n := c.get(7, seq, buf)
		if !bytes.Equal(buf[:n], pkt(seq)) {
			t.Errorf("get(%d) = %d bytes, not the packet put", seq, n)
		}
	}
	if n := c.get(7, 999, buf[:10]); n != 0 {
		t.Errorf("a packet larger than dst returned %d bytes", n)
	}
}

// TestVideoForwardingCachesWithoutAllocating forwards video (which the
// packet cache keeps, and each downtrack logs) without allocating, and a
// NACK then gets back the very packet the subscriber was sent.
func TestVideoForwardingCachesWithoutAllocating(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	writers := make([]*captureWriter, 10)
	for i := range writers {
		writers[i] = &captureWriter{}
		d := boundDownTrack(t, pub, &fakeBinding{
			codecs: []webrtc.RTPCodecParameters{testVP8}, ssrc: webrtc.SSRC(2000 + i), writer: writers[i],
		})
		d.target.Store(0)
	}
	pkt := videoPacket(t, 1)
	now := time.Unix(0, 0)
	seq := uint16(1)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pub.handle(0, pkt, now)
	})
	if allocs != 0 {
		t.Errorf("forwarding one video packet to 10 subscribers allocates %.1f times", allocs)
	}
	d := pub.subscribers()[3]
	w := writers[3]
	sent := append([]byte(nil), w.last...)
	var h rtp.Header
	if _, err := h.Unmarshal(sent); err != nil {
		t.Fatal(err)
	}
	// Forward some more, then NACK the packet sent above.
	for range 20 {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pub.handle(0, pkt, now)
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: 2003, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{h.SequenceNumber})}
	if got := d.retransmit(nack); got != 1 {
		t.Fatalf("retransmit resent %d packets, want 1", got)
	}
	if !bytes.Equal(w.last, sent) {
		t.Errorf("the retransmission differs from the packet first sent:\n got %x\nwant %x", w.last[:16], sent[:16])
	}
	// Another subscriber's SSRC, or a sequence number never sent: nothing.
	if got := d.retransmit(&rtcp.TransportLayerNack{MediaSSRC: 2004, Nacks: nack.Nacks}); got != 0 {
		t.Errorf("a NACK for another SSRC resent %d packets", got)
	}
	nack.Nacks = rtcp.NackPairsFromSequenceNumbers([]uint16{h.SequenceNumber + 1000})
	if got := d.retransmit(nack); got != 0 {
		t.Errorf("a NACK for a sequence number never sent resent %d packets", got)
	}
	if d.retransmits.Load() != 1 {
		t.Errorf("retransmits = %d, want 1", d.retransmits.Load())
	}
}
