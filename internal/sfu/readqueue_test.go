package sfu

import (
	"testing"

	"github.com/pion/transport/v4/packetio"
)

// A reader that stops: the queue holds at most its bound, every packet
// beyond is dropped and counted, and once the reader takes packets again
// new ones are queued.
func TestReadQueueHoldsItsBoundAndCountsDrops(t *testing.T) {
	for _, c := range []struct {
		kind  packetio.BufferPacketType
		bound int
		size  int
	}{
		{packetio.RTPBufferPacket, rtpReadQueueBytes, 1200},
		{packetio.RTCPBufferPacket, rtcpReadQueueBytes, 80},
	} {
		var drops readQueueDrops
		q := drops.newReadQueue(c.kind, 1234)
		counter := &drops.rtp
		if c.kind == packetio.RTCPBufferPacket {
			counter = &drops.rtcp
		}
		pkt := make([]byte, c.size)
		queued, dropped := 0, 0
		for i := 0; i < 2*c.bound/c.size; i++ { // twice what fits
			if _, err := q.Write(pkt); err != nil {
				dropped++
				continue
			}
			queued++
		}
		if queued*c.size > c.bound {
			t.Errorf("kind %d: %d packets of %d bytes queued, over the %d-byte bound", c.kind, queued, c.size, c.bound)
		}
		// The buffer's own framing costs a few bytes a packet: most of the
		// bound is used.
		if queued*c.size < c.bound*9/10 {
			t.Errorf("kind %d: only %d packets of %d bytes queued under a %d-byte bound", c.kind, queued, c.size, c.bound)
		}
		if dropped == 0 || counter.Load() != uint64(dropped) {
			t.Errorf("kind %d: %d writes refused, %d counted", c.kind, dropped, counter.Load())
		}
		if other := drops.rtp.Load() + drops.rtcp.Load() - counter.Load(); other != 0 {
			t.Errorf("kind %d: %d drops counted under the other kind", c.kind, other)
		}
		buf := make([]byte, 1500)
		if n, err := q.Read(buf); err != nil || n != c.size {
			t.Fatalf("kind %d: read %d, %v", c.kind, n, err)
		}
		if _, err := q.Write(pkt); err != nil {
			t.Errorf("kind %d: after a read, a write still fails: %v", c.kind, err)
		}
		if counter.Load() != uint64(dropped) {
			t.Errorf("kind %d: a queued packet was counted as dropped", c.kind)
		}
		q.Close()
	}
}
