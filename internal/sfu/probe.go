package sfu

import (
	"sync/atomic"
	"time"
)

// Bandwidth probes. A subscriber held under a ceiling (congestion.go) is
// not switched up to find out whether its link has widened: a layer too
// big for the link loses packets of everything sent with it, and the
// picture then waits for a keyframe. Instead the SFU first sends padding
// on top of what the subscriber gets, paced, at the rate the wanted layers
// would add, for probeDuration: RTP padding-only packets on one of its
// video streams, between frames, with sequence numbers of their own
// (rewrite.go), which browsers' receivers take as padding and never as a
// gap in a frame. The probe confirms the headroom when the subscriber's
// TWCC feedback shows none of it lost and no delay growth (GCC's loss
// average and its over-use detector) for the whole probe; only then are
// the wanted layers taken. It stops at the first sign of either, a few
// hundred milliseconds of excess that retransmissions repair.
//
// Why not wait for GCC's target to rise above the wanted rate: Pion's GCC
// has no probe estimator; its delay-based target grows by at most 8 % a
// second, and a subscriber at 300 kbit/s would take some 15 s to climb
// to a 900 kbit/s layer. The probe measures the link directly, as
// libwebrtc's probes do.
const (
	probeDuration = time.Second
	probeTick     = 20 * time.Millisecond
	// probeOvershoot is the rate a probe reaches, over the wanted layers'
	// cost: their bitrate wanders.
	probeOvershoot = 1.1
	// minProbeRate is the least padding rate, bit/s.
	minProbeRate = 50_000
	// maxPadding is the largest padding-only packet's padding: RFC 3550
	// keeps the count in one byte.
	maxPadding = 255
)

// The outcomes of a probe.
const (
	probeRunning int32 = iota
	probeHeld          // probeDuration without loss or delay growth
	probeFailed        // loss or delay growth, or stopped
)

// paddingProbe is one probe towards one subscriber. Its pacer runs on the
// clock's timers, one step at a time; the congestion state reads result.
type paddingProbe struct {
	p      *Participant // read-only
	clock  Clock        // read-only
	rate   uint64       // padding bit/s; read-only
	end    time.Time    // when it has held long enough; read-only
	result atomic.Int32 // probeRunning until it ends
	why    atomic.Value // string: why it failed, for the log

	// Owned by the pacer (one step runs at a time).
	last   time.Time     // the previous step
	credit float64       // bytes of padding owed
	armed  bool          // GCC's delay signal was seen not over-used since the start
	sent   atomic.Uint64 // padding bytes sent; atomic: the log reads it
}

// startProbe begins a probe at rate bit/s of padding.
func (p *Participant) startProbe(rate uint64, now time.Time) *paddingProbe {
	clock := p.sfu.cfg.Clock
	pr := &paddingProbe{p: p, clock: clock, rate: max(rate, minProbeRate), end: now.Add(probeDuration), last: now}
	clock.AfterFunc(probeTick, pr.step)
	return pr
}

// stop ends a running probe as failed; it reports whether it was running.
func (pr *paddingProbe) stop(why string) bool {
	if pr.result.CompareAndSwap(probeRunning, probeFailed) {
		pr.why.Store(why)
		return true
	}
	return false
}

// step sends the padding owed since the last step, unless the feedback
// says to stop, and schedules the next.
func (pr *paddingProbe) step() {
	if pr.result.Load() != probeRunning {
		return
	}
	select {
	case <-pr.p.done:
		pr.stop("closed")
		return
	default:
	}
	if why := pr.trouble(); why != "" {
		pr.stop(why)
		return
	}
	now := pr.clock.Now()
	if !now.Before(pr.end) {
		pr.result.CompareAndSwap(probeRunning, probeHeld)
		return
	}
	dt := now.Sub(pr.last)
	pr.last = now
	// Owed at most two steps' worth: a late timer must not burst.
	pr.credit = min(pr.credit+float64(pr.rate)*dt.Seconds()/8, float64(pr.rate)*2*probeTick.Seconds()/8)
	if pr.credit >= maxPadding/2 {
		n := pr.p.sendPadding(int(pr.credit))
		pr.credit -= float64(n)
		pr.sent.Add(uint64(n))
	}
	pr.clock.AfterFunc(probeTick, pr.step)
}

// trouble returns why the probe must stop now ("" if it need not): the
// subscriber's TWCC feedback shows loss, or GCC's delay detector over-use
// (once it has been seen otherwise since the start: the last feedback
// before the probe may still say over-use).
func (pr *paddingProbe) trouble() string {
	bwe := pr.p.bwe
	if bwe == nil {
		return "" // receiver reports only: the allocation sees their loss
	}
	stats := bwe.GetStats()
	if loss, _ := stats["averageLoss"].(float64); loss >= twccLossy {
		return "loss"
	}
	if usage, _ := stats["usage"].(string); usage == "overuse" {
		if pr.armed {
			return "delay"
		}
	} else {
		pr.armed = true
	}
	return ""
}

// sendPadding sends up to n bytes of padding on the subscriber's video
// streams that are between two frames, and returns the bytes sent.
func (p *Participant) sendPadding(n int) int {
	p.mu.Lock()
	tracks := make([]*downTrack, 0, len(p.receiving))
	for d := range p.receiving {
		if d.sentLog != nil {
			tracks = append(tracks, d)
		}
	}
	p.mu.Unlock()
	sent := 0
	for _, d := range tracks {
		if sent >= n {
			break
		}
		sent += d.sendPadding(n - sent)
	}
	return sent
}

// sendPadding sends up to n bytes of padding-only packets, if the track is
// forwarding and its last packet ended a frame; it returns the bytes sent.
func (d *downTrack) sendPadding(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.bound.Load()
	if b == nil || d.current < 0 || !d.frameEnd || d.sentLog == nil || d.codecMismatch.Load() {
		return 0
	}
	sent := 0
	for n-sent > 0 {
		size := min(n-sent, maxPadding)
		seq, ts, ok := d.rw.pad()
		if !ok {
			break
		}
		d.sentLog[seq%sentLogLen] = sentPacket{out: seq, ts: ts, valid: true, pad: true}
		if !d.sendPaddingLocked(b, seq, ts, byte(size)) {
			d.dropWriteErr.Add(1)
			break
		}
		sent += size
	}
	d.paddingBytes.Add(uint64(sent))
	return sent
}

// sendPaddingLocked writes one padding-only packet. Must hold mu.
func (d *downTrack) sendPaddingLocked(b *binding, seq uint16, ts uint32, size byte) bool {
	h := &d.out
	h.Version = 2
	h.Padding = true
	h.PaddingSize = size
	h.Marker = false
	h.PayloadType = b.payloadType
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.SSRC = b.ssrc
	h.CSRC = h.CSRC[:0]
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
	return d.writeRTP(b, h, nil) == nil
}

// startProbeFor starts the padding probe the congestion state asked for:
// for everything wanted, or for one step up from what the videos cost
// now when the last probe for everything failed (congestion.stepNext).
func (p *Participant) startProbeFor(choices []choice, wanted, cost uint64, now time.Time) {
	target := wanted
	p.cong.probeTo = 0
	if p.cong.stepNext {
		if next := stepUpCost(choices, cost); next > cost && next < wanted {
			target, p.cong.probeTo = next, next
		}
	}
	over := uint64(float64(target) * probeOvershoot)
	rate := over - min(cost, over)
	p.cong.probe = p.startProbe(rate, now)
	p.log.Debug("probing with padding", "bps", rate, "wanted", wanted, "target", target, "cost", cost)
}
