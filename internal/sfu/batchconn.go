package sfu

import (
	"net"
	"sync/atomic"
)

// batchConn is the SFU's side of the UDP socket: while a publication's
// forwarding goroutine fans a packet out to its subscribers (between hold
// and release), the datagrams written are queued, and release sends
// everything queued in one sendmmsg(2) where the socket allows it
// (batchconn_linux.go). One loopback sendto costs about 3.6 µs here, a
// third of the server's CPU at 50 participants (docs/BENCHMARKS.md); a
// batch of 4 to 64 datagrams costs barely more than one. Outside a hold,
// and where batching is unsupported, writes go straight to the socket.
//
// Release flushes on the calling goroutine: no goroutine hand-off, no
// wake-up per packet. Flushes are serialized, so that a stream's datagrams
// leave in the order they were written.
type batchConn struct {
	net.PacketConn
	holders atomic.Int32 // forwarding goroutines between hold and release
	batch   *sendQueue   // nil: batching unsupported; safe for concurrent use
}

func newBatchConn(conn net.PacketConn) *batchConn {
	return &batchConn{PacketConn: conn, batch: newSendQueue(conn)}
}

// hold starts a fan-out: writes are queued until release.
func (c *batchConn) hold() {
	if c.batch != nil {
		c.holders.Add(1)
	}
}

// release ends a fan-out and sends what is queued.
func (c *batchConn) release() {
	if c.batch != nil {
		c.holders.Add(-1)
		c.batch.flush()
	}
}

// WriteTo queues b during a fan-out, and writes it at once otherwise.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.batch == nil || c.holders.Load() == 0 {
		return c.PacketConn.WriteTo(b, addr)
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok || !c.batch.add(b, ua) {
		return c.PacketConn.WriteTo(b, addr)
	}
	return len(b), nil
}
