package sfu

import "time"

// rewriter maps the sequence numbers and timestamps of whatever source
// currently feeds a downtrack onto one continuous outgoing stream. Each
// subscriber has its own, so that switching a subscriber to another source
// (a new publisher SSRC today; simulcast layers, pause or lastN later)
// never shows the subscriber a jump.
//
// A rewriter is not safe for concurrent use: it is owned by the forwarding
// goroutine of the publication that feeds its downtrack.
type rewriter struct {
	clockRate uint32 // RTP clock rate of the codec; set once at creation

	started   bool      // a packet has been sent
	srcSSRC   uint32    // SSRC of the current source
	restart   bool      // the next packet continues the stream as a new source would
	seqOffset uint16    // added to a source sequence number
	tsOffset  uint32    // added to a source timestamp
	lastSeq   uint16    // highest outgoing sequence number
	lastTS    uint32    // outgoing timestamp of the packet with lastSeq
	lastAt    time.Time // arrival time of the packet with lastSeq
	lastSrc   uint16    // source sequence number of the packet with lastSeq

	// Padding the SFU inserted (pad) shifts the current source's later
	// packets by one sequence number each; one reordered late packet from
	// before the insertion point keeps the offset it had.
	padded     bool   // padding was inserted after source packet padSrc
	padSrc     uint16 // the last source packet before the padding
	prevOffset uint16 // seqOffset for source packets up to padSrc
	// A skipped source packet (skip) shifts the later ones back by one
	// the same way, padSrc then being the one before the first of a run
	// of skipped packets, the last of which is lastSkip.
	skipping bool
	lastSkip uint16
}

func newRewriter(clockRate uint32) rewriter {
	if clockRate == 0 {
		clockRate = 90000
	}
	return rewriter{clockRate: clockRate}
}

// rewrite returns the outgoing sequence number and timestamp for a packet of
// source ssrc arriving at now. A new ssrc starts where the previous source
// left off: the next sequence number, and a timestamp advanced by the wall
// time elapsed since the last packet (at least one tick, so that the
// receiver's jitter buffer sees a new frame).
func (r *rewriter) rewrite(ssrc uint32, seq uint16, ts uint32, now time.Time) (uint16, uint32) {
	switch {
	case !r.started:
		r.started = true
		r.srcSSRC = ssrc
		r.seqOffset, r.tsOffset = 0, 0
		r.lastSeq, r.lastTS, r.lastAt, r.lastSrc = seq, ts, now, seq
		return seq, ts
	case ssrc != r.srcSSRC:
		r.srcSSRC, r.restart, r.padded, r.skipping = ssrc, false, false, false
		r.seqOffset = r.lastSeq + 1 - seq
		r.tsOffset = r.lastTS + r.ticksSince(now) - ts
	case r.restart:
		// The same source after a pause: its timestamps went on with the
		// wall clock meanwhile, so only the skipped sequence numbers are
		// hidden. (Re-deriving the timestamp from the arrival time, as for
		// a new source, gave a frame resumed mid-way a second timestamp.)
		r.restart, r.padded, r.skipping = false, false, false
		r.seqOffset = r.lastSeq + 1 - seq
	case r.padded && !seqNewer(seq, r.padSrc) && r.padSrc-seq < 0x1000:
		// From before the padding: where it would have gone then.
		return seq + r.prevOffset, ts + r.tsOffset
	}
	outSeq := seq + r.seqOffset
	outTS := ts + r.tsOffset
	if seqNewer(outSeq, r.lastSeq) {
		r.lastSeq, r.lastTS, r.lastAt, r.lastSrc = outSeq, outTS, now, seq
	}
	return outSeq, outTS
}

// pad reserves the next outgoing sequence number for a packet the SFU
// makes up (a padding-only packet of a bandwidth probe, probe.go), with
// the timestamp of the last packet sent; the source's later packets follow
// it. It reports false before the first packet.
func (r *rewriter) pad() (uint16, uint32, bool) {
	if !r.started {
		return 0, 0, false
	}
	if !r.restart {
		if !r.padded || r.padSrc != r.lastSrc {
			r.padded, r.padSrc, r.prevOffset = true, r.lastSrc, r.seqOffset
		}
		r.skipping = false
		r.seqOffset++
	}
	// After a pause the next source packet re-derives its offset from
	// lastSeq, so it follows the padding anyway.
	r.lastSeq++
	return r.lastSeq, r.lastTS, true
}

// skip leaves source packet seq out of the outgoing stream (a frame of a
// temporal layer the subscriber does not get, temporal.go): the source's
// later packets close the gap. A packet older than the last one sent is
// not in the stream's numbering yet either way, and is ignored.
func (r *rewriter) skip(seq uint16) {
	if !r.started || r.restart || !seqNewer(seq, r.lastSrc) {
		return
	}
	if !(r.padded && r.skipping && seq == r.lastSkip+1) {
		r.padded, r.padSrc, r.prevOffset = true, seq-1, r.seqOffset
	}
	r.skipping, r.lastSkip = true, seq
	r.seqOffset--
}

// resume makes the next packet continue the outgoing stream, even from the
// same source: forwarding resumes after a pause, and the packets skipped
// meanwhile must not look lost to the subscriber.
func (r *rewriter) resume() { r.restart = true }

// ticksSince converts the time since the last packet into clock ticks.
func (r *rewriter) ticksSince(now time.Time) uint32 {
	elapsed := now.Sub(r.lastAt)
	if elapsed <= 0 {
		return 1
	}
	// Cap the gap at ten minutes: the exact value matters only for lip
	// sync within a second or so, and the cap keeps the product in range.
	if elapsed > 10*time.Minute {
		elapsed = 10 * time.Minute
	}
	ticks := uint64(elapsed) * uint64(r.clockRate) / uint64(time.Second)
	if ticks == 0 {
		return 1
	}
	return uint32(ticks)
}

// seqNewer reports whether a is after b in RTP sequence-number order
// (RFC 3550 serial-number arithmetic on 16 bits).
func seqNewer(a, b uint16) bool {
	return a != b && a-b < 0x8000
}
