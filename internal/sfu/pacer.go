package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Pacing towards a constrained subscriber. The SFU forwards a packet the
// moment it arrives, so a publisher's keyframe, ten to thirty packets
// sent within a millisecond or two, leaves as one burst. A link held
// under a ceiling (congestion.go) is narrow by definition, and its
// bottleneck's queue is short: a home router's, or tc's tbf in the
// shaped test, holds some 8 KB at 300 kbit/s. The burst overflows it,
// the keyframe loses its tail, and the picture freezes until another
// keyframe gets through (issue 13's CI runs showed exactly that: the
// frozen samples each had a keyframe in them). So while a subscriber has
// a ceiling its videos go through a pacer: a token bucket at a rate a
// little above what its layers cost, which spreads a keyframe over a few
// hundred milliseconds and never lets the bottleneck's queue build.
//
// An unconstrained subscriber's packets never touch the pacer (one atomic
// load): the forwarding hot path stays as it is. Audio is never paced:
// it is small and steady, and a separate stream, so skipping the queue
// reorders nothing. Within one video stream the order is kept: writes
// and the drain both hold the pacer's mutex, and the direct write is
// taken only while nothing is queued.
const (
	// pacingFactor is the pacing rate over the ceiling: the ceiling
	// already carries ceilingSlack over what the layers cost.
	pacingFactor = 1.5
	// minPacingFactor bounds the rate from below when the bandwidth
	// estimate is lower than pacingFactor times the ceiling: the layers
	// fitted the link when the ceiling was set, and an estimate can be
	// far too low (Firefox's delay signal on a busy machine); their
	// bitrate wanders above its average.
	minPacingFactor = 1.25
	// minPacingRate is the least pacing rate, bit/s.
	minPacingRate = 150_000
	// pacerTick is how often the queue drains.
	pacerTick = 5 * time.Millisecond
	// pacerBurst is how much the bucket holds, as time at the rate: a
	// late tick must not turn into a burst.
	pacerBurst = 2 * pacerTick
	// pacerMaxDelay bounds the queue, as time at the rate: beyond it
	// packets are dropped (and counted), to be NACKed and resent once
	// the queue has room, rather than held so long the picture lags.
	pacerMaxDelay = 700 * time.Millisecond
	// pacerMinQueue is the least queue bound, bytes: a low layer's
	// keyframe fits.
	pacerMinQueue = 32 * 1024
	// pacedPacketSize is a queued packet's buffer: the largest header
	// this SFU writes (12 bytes, one-byte extensions) and an MTU.
	pacedPacketSize = 1600
)

// pacer is one subscriber's token bucket for its videos. Writes come from
// the publications' forwarding goroutines, NACK readers and probes; the
// drain runs on the clock's timers.
type pacer struct {
	clock Clock      // read-only
	out   *batchConn // the SFU's socket, for batching a drain's writes; nil: unbatched; read-only

	// active says writes go through the queue; set by setRate, cleared
	// by the drain once the rate is 0 and the queue is empty. A write
	// that sees it false writes directly.
	active atomic.Bool

	mu     sync.Mutex
	rate   uint64        // bit/s; 0: drain what is queued and stop; guarded by mu
	credit float64       // bytes that may go now; guarded by mu
	last   time.Time     // when credit was last refilled; guarded by mu
	queue  []pacedPacket // FIFO; guarded by mu
	queued int           // bytes in queue; guarded by mu
	armed  bool          // a drain is scheduled; guarded by mu
	// sending is the queued packet being written, parsed again in place:
	// Pion's TrackLocalWriter.Write would allocate a packet for each (and
	// grow its extensions when the TWCC number is stamped). Guarded by mu.
	sending rtp.Packet

	paced   atomic.Uint64 // packets that waited in the queue
	dropped atomic.Uint64 // packets dropped: the queue was full
}

// pacedPacket is a marshalled RTP packet waiting for its writer.
type pacedPacket struct {
	w   webrtc.TrackLocalWriter
	buf *[]byte // from pacedBuffers
}

// pacedBuffers recycles queued packets' buffers; shared by every pacer
// (a sync.Pool is safe for concurrent use and holds nothing mutable).
var pacedBuffers = sync.Pool{New: func() any { b := make([]byte, pacedPacketSize); return &b }}

func newPacer(clock Clock) *pacer { return &pacer{clock: clock} }

// newBatchedPacer is newPacer whose drains leave in one sendmmsg
// (batchConn): a drain sends up to a tick's worth of packets, and one
// sendto each was the largest cost of a loaded server whose subscribers
// had ceilings (docs/BENCHMARKS.md, issue 20).
func newBatchedPacer(clock Clock, out *batchConn) *pacer {
	return &pacer{clock: clock, out: out}
}

// setRate paces at rate bit/s from now on; 0 stops pacing once the queue
// has drained.
func (pc *pacer) setRate(rate uint64) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if rate == pc.rate {
		return
	}
	if pc.rate == 0 && rate > 0 {
		pc.credit, pc.last = 0, pc.clock.Now()
	}
	pc.rate = rate
	if rate > 0 {
		pc.active.Store(true)
	} else if len(pc.queue) == 0 {
		pc.active.Store(false)
	}
}

// write sends or queues one packet for w. Queuing copies it: the payload
// is the publication's buffer, shared by every subscriber. A full queue
// drops the packet; it still counts as sent, so that the subscriber's
// NACK has it resent.
func (pc *pacer) write(w webrtc.TrackLocalWriter, h *rtp.Header, payload []byte) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	size := h.MarshalSize() + len(payload) + int(h.PaddingSize)
	pc.refill()
	if len(pc.queue) == 0 && (pc.rate == 0 || pc.credit > 0) {
		pc.credit -= float64(size)
		_, err := w.WriteRTP(h, payload)
		return err
	}
	if size > pacedPacketSize || pc.queued+size > pc.limit() {
		pc.dropped.Add(1)
		return nil
	}
	bp := pacedBuffers.Get().(*[]byte)
	if err := marshalPacket(*bp, h, payload); err != nil {
		pacedBuffers.Put(bp)
		return err
	}
	*bp = (*bp)[:size]
	pc.queue = append(pc.queue, pacedPacket{w: w, buf: bp})
	pc.queued += size
	pc.paced.Add(1)
	pc.armLocked()
	return nil
}

// refill adds the credit earned since the last refill. Must hold mu.
func (pc *pacer) refill() {
	now := pc.clock.Now()
	if pc.rate > 0 {
		bytesPerSecond := float64(pc.rate) / 8
		pc.credit = min(pc.credit+bytesPerSecond*now.Sub(pc.last).Seconds(), bytesPerSecond*pacerBurst.Seconds())
	}
	pc.last = now
}

// limit is the queue's bound in bytes. Must hold mu.
func (pc *pacer) limit() int {
	return max(int(float64(pc.rate)/8*pacerMaxDelay.Seconds()), pacerMinQueue)
}

// armLocked schedules a drain if none is. Must hold mu.
func (pc *pacer) armLocked() {
	if !pc.armed {
		pc.armed = true
		pc.clock.AfterFunc(pacerTick, pc.drain)
	}
}

// drain sends what the credit allows, in order, and schedules the next
// drain while anything is left.
func (pc *pacer) drain() {
	if pc.out != nil {
		// Released after the unlock: the flush's system call runs
		// without the pacer's mutex held.
		pc.out.hold()
		defer pc.out.release()
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.armed = false
	pc.refill()
	sent := 0
	for sent < len(pc.queue) && (pc.rate == 0 || pc.credit > 0) {
		p := pc.queue[sent]
		pc.queue[sent] = pacedPacket{}
		sent++
		pc.credit -= float64(len(*p.buf))
		pc.queued -= len(*p.buf)
		// A failed write is the transport's: the NACK path recovers it.
		if pc.sending.Unmarshal(*p.buf) == nil {
			_, _ = p.w.WriteRTP(&pc.sending.Header, pc.sending.Payload)
		}
		putPacedBuffer(p.buf)
	}
	pc.queue = pc.queue[sent:]
	switch {
	case len(pc.queue) > 0:
		pc.armLocked()
	case pc.rate == 0:
		pc.active.Store(false)
		pc.queue = nil
	}
}

// putPacedBuffer gives a queued packet's buffer back, whole again.
func putPacedBuffer(bp *[]byte) {
	*bp = (*bp)[:pacedPacketSize]
	pacedBuffers.Put(bp)
}

// marshalPacket writes h, payload and h's padding (RFC 3550: zeros, then
// the count) into buf, which holds them. pion/rtp's MarshalPacketTo does
// the same but is deprecated (to go in pion/webrtc v5).
func marshalPacket(buf []byte, h *rtp.Header, payload []byte) error {
	n, err := h.MarshalTo(buf)
	if err != nil {
		return err
	}
	n += copy(buf[n:], payload)
	if h.Padding && h.PaddingSize > 0 {
		end := n + int(h.PaddingSize)
		clear(buf[n : end-1])
		buf[end-1] = h.PaddingSize
	}
	return nil
}

// close drops whatever is queued.
func (pc *pacer) close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, p := range pc.queue {
		putPacedBuffer(p.buf)
	}
	pc.queue, pc.queued, pc.rate = nil, 0, 0
	pc.active.Store(false)
}

// pacingRate is the rate to pace a subscriber at, bit/s, given its
// ceiling (0: none, no pacing), what its chosen layers cost, its
// bandwidth estimate (0: none) and the padding rate of a probe running
// now (0: none). It is never below what the layers cost: at the lowest
// layers the cost may exceed the ceiling, and a pacer slower than its
// input only grows its queue and drops (a first version paced at the
// ceiling and turned a 300 kbit/s link's every probe into loss).
func pacingRate(ceiling, cost, estimate, probe uint64) uint64 {
	if ceiling == 0 {
		return 0
	}
	need := max(ceiling, cost)
	rate := uint64(float64(need) * pacingFactor)
	if estimate > 0 {
		rate = max(min(rate, estimate), uint64(float64(need)*minPacingFactor))
	}
	return max(rate, minPacingRate) + probe
}
