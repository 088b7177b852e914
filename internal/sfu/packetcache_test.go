package sfu

import (
	"bytes"
	"testing"
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
