package sfu

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/pion/transport/v4/packetio"
)

// Pion queues each SRTP and SRTCP stream's decrypted packets until their
// reader takes them, up to 1 MB (RTP) and 100 KB (RTCP) per stream by
// default; a queue keeps the memory of its longest backlog until its stream
// closes. Those queues were about a third of a participant's memory under
// load (docs/BENCHMARKS.md, "Where a participant's memory goes"). The SFU
// reads every stream at once, so a queue is only long when the CPU is short;
// these bounds hold a quarter of a second of a 4 Mbit/s video and a few
// hundred RTCP packets, and what does not fit is dropped and counted.
//
// A dropped RTP packet is lost for good: SRTP's replay check refuses the
// publisher's resending of a packet it already decrypted. So the bounds are
// generous for a reader that keeps up, and the drops are a metric
// (Stats.ReadQueueDrops) to watch.
const (
	rtpReadQueueBytes  = 128 << 10
	rtcpReadQueueBytes = 16 << 10
)

// readQueueDrops counts the packets dropped by full read queues. Safe for
// concurrent use.
type readQueueDrops struct {
	rtp, rtcp atomic.Uint64
}

// readQueue is a bounded packetio.Buffer that counts what it drops.
type readQueue struct {
	*packetio.Buffer
	drops *atomic.Uint64 // read-only pointer
}

// Write queues one packet, or drops and counts it when the queue is full
// (the SRTP session ignores the ErrFull and goes on).
func (q readQueue) Write(p []byte) (int, error) {
	n, err := q.Buffer.Write(p)
	if errors.Is(err, packetio.ErrFull) {
		q.drops.Add(1)
	}
	return n, err
}

// newReadQueue is the SettingEngine's BufferFactory: one bounded queue per
// SRTP or SRTCP read stream.
func (d *readQueueDrops) newReadQueue(kind packetio.BufferPacketType, _ uint32) io.ReadWriteCloser {
	return newBoundedQueue(kind, d)
}

func newBoundedQueue(kind packetio.BufferPacketType, d *readQueueDrops) readQueue {
	b := packetio.NewBuffer()
	if kind == packetio.RTCPBufferPacket {
		b.SetLimitSize(rtcpReadQueueBytes)
		return readQueue{Buffer: b, drops: &d.rtcp}
	}
	b.SetLimitSize(rtpReadQueueBytes)
	return readQueue{Buffer: b, drops: &d.rtp}
}
