package sfu

// VP8 temporal layers. A VP8 encoder may code each simulcast layer in up to
// four temporal layers (the TID of its RFC 7741 payload descriptor): frames
// of layer n reference frames of layers up to n only, so that forwarding
// TID 0 (or 0 and 1) alone gives a lower frame rate that still decodes.
// When even the lowest spatial layer does not fit a subscriber's link, the
// allocator lowers its temporal layer: fewer frames a second rather than
// a frozen picture.

// numTemporal is the most temporal layers a VP8 stream has (TID 0 to 3).
const numTemporal = 4

// noteTemporal counts a VP8 packet's payload bytes under its temporal
// layer (TID 0 for a stream without temporal layers). Runs on the layer's
// forwarding goroutine.
func (l *layer) noteTemporal(d vp8Descriptor, n int) {
	if d.parsedOK {
		l.tbytes[d.tid].Add(uint64(n))
	}
}

// temporalCost is the bitrate of layer l's temporal layers up to t.
func (r *layerRates) temporalCost(l, t int) uint64 {
	var sum uint64
	for k := 0; k <= t; k++ {
		sum += r.tbps[l][k]
	}
	return sum
}

// canStepDown reports whether the choice has a step down: a lower active
// layer, or at its lowest, fewer temporal layers that cost less.
func (ch *choice) canStepDown() bool {
	return ch.lower() >= 0 || ch.lowerTemporal() >= 0
}

// stepDown takes the next lower active layer, or at the lowest, one
// temporal layer fewer: the frame rate goes down only when the picture
// size cannot.
func (ch *choice) stepDown() {
	if l := ch.lower(); l >= 0 {
		ch.layer = l
		return
	}
	if t := ch.lowerTemporal(); t >= 0 {
		ch.temporal = t
	}
}

// lowerTemporal returns the highest temporal layer below the chosen one
// that costs less, with some rate above it (a stream without temporal
// layers has none), or -1.
func (ch *choice) lowerTemporal() int {
	if ch.layer < 0 || ch.rates == nil || ch.d.pub.codecKind != codecVP8 {
		return -1
	}
	top := ch.cost()
	for t := ch.temporal - 1; t >= 0; t-- {
		if c := ch.rates.temporalCost(ch.layer, t); c < top && c < ch.rates.temporalCost(ch.layer, numTemporal-1) {
			return t
		}
	}
	return -1
}

// fewerFrames counts the videos sent with fewer temporal layers than
// their publisher sends, for the log.
func fewerFrames(choices []choice) int {
	n := 0
	for i := range choices {
		if choices[i].layer >= 0 && choices[i].temporal < numTemporal-1 {
			n++
		}
	}
	return n
}

// temporalPass decides whether a VP8 packet goes to the subscriber under
// its temporal layer limit; a packet that does not is left out of the
// outgoing sequence numbers and picture ids, so that the subscriber sees
// neither gap. The limit changes at frame starts only: down at the next
// frame, up at a frame the higher layer can be decoded from (a keyframe,
// or the next layer's frame with the Y bit). Must hold mu.
func (d *downTrack) temporalPass(desc vp8Descriptor, keyframe bool, seq uint16, p []byte) bool {
	if desc.start {
		d.temporalStep(desc, keyframe)
	}
	if desc.tid <= d.tMax {
		return true
	}
	d.rw.skip(seq)
	d.pic.skip(p, desc)
	if desc.start {
		d.temporalDrops.Add(1)
	}
	return false
}

// temporalStep moves the forwarded temporal layers towards the target at
// the start of a frame. Must hold mu.
func (d *downTrack) temporalStep(desc vp8Descriptor, keyframe bool) {
	want := uint8(d.tTarget.Load())
	switch {
	case want == d.tMax:
		return
	case want < d.tMax:
		d.tSwitches[1].Add(1)
		d.tMax = want
	case keyframe:
		d.tSwitches[0].Add(1)
		d.tMax = want
	case desc.sync && desc.tid == d.tMax+1:
		d.tSwitches[0].Add(1)
		d.tMax = desc.tid
	}
}

// setTemporal makes t the highest temporal layer to forward.
func (d *downTrack) setTemporal(t int) {
	d.tTarget.Store(int32(min(max(t, 0), numTemporal-1)))
}

// skip leaves one packet of a dropped frame out of the picture ids: the
// frame's first packet seen shifts the later frames' ids back by one.
func (r *vp8Rewriter) skip(p []byte, d vp8Descriptor) {
	if !r.started || !d.parsedOK || d.picAt == 0 {
		return
	}
	in := uint16(p[d.picAt] & 0x7f)
	if d.picWide {
		in = in<<8 | uint16(p[d.picAt+1])
	}
	if r.skipping && in == r.skipPic {
		return
	}
	r.skipping, r.skipPic = true, in
	r.picOffset--
}

// stepUpCost is what the videos would cost with the cheapest single step
// up of one of them towards what it wants (stepUp); 0 if none can.
func stepUpCost(choices []choice, cost uint64) uint64 {
	best := uint64(0)
	for i := range choices {
		up := choices[i] // a copy
		for up.stepUp() {
			c := cost - choices[i].cost() + up.cost()
			if c > cost {
				if best == 0 || c < best {
					best = c
				}
				break
			}
		}
	}
	return best
}

// stepUp is stepDown's inverse: one temporal layer more, or with all of
// them, the next active layer up to the one wanted. It reports whether
// there was a step to take.
func (ch *choice) stepUp() bool {
	if ch.layer < 0 || ch.rates == nil {
		return false
	}
	if ch.temporal < numTemporal-1 {
		ch.temporal++
		return true
	}
	for l := ch.layer + 1; l <= ch.want; l++ {
		if ch.active&(1<<l) != 0 {
			ch.layer = l
			return true
		}
	}
	return false
}
