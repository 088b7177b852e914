package sfu

import (
	"strings"
	"time"
)

// Layer allocation. Every allocInterval the conference picks, for each
// subscriber and each video it receives, the layer to forward:
//
//  1. the layer the subscriber wants: the smallest active layer at least as
//     tall as the tile it shows the video in (ReceiveVideo.Heights), capped
//     by its quality setting; a video shown nowhere (height 0) is paused;
//  2. then, while the sum of the wanted layers' bitrates exceeds what the
//     subscriber's link carries (congestion.go: its bandwidth estimate
//     once it loses packets, then a ceiling until the next probe), the
//     biggest one steps down a layer, never below the lowest.
//
// Going up waits for a keyframe of the higher layer, asked for with a PLI.
// Going down for want of bandwidth is immediate: the subscriber gets
// nothing of that video until the lower layer's keyframe, rather than more
// than its link carries. Going down because the tile shrank waits for the
// lower layer's keyframe.
const (
	allocInterval = 500 * time.Millisecond
	// bweHeadroom is the share of the estimate video may use: audio, RTCP
	// and retransmissions need the rest.
	bweHeadroom = 0.85
)

// Quality is a subscriber's own setting for the video it receives.
type Quality int

// The quality settings.
const (
	QualityHigh   Quality = iota // every layer (the default)
	QualityMedium                // at most the middle layer
	QualityLow                   // the lowest layer only
)

// ReceiveVideo is what a subscriber says of the videos it shows.
type ReceiveVideo struct {
	// Quality caps every video. Default QualityHigh.
	Quality Quality
	// Heights gives, by track id ("video-p1", "screen-p1"), the height in
	// device pixels of the largest tile showing it; 0 hides it, and it is
	// paused. A track not named is shown at any size.
	Heights map[string]int
	// LastN, if above 0, receives the camera of only the LastN most recent
	// speakers (and the Pinned), below the conference's own lastN if it
	// has one. Default 0: the conference's setting.
	LastN int
	// Pinned are participant ids whose camera is received whatever lastN.
	Pinned []string
}

// SetLastN makes every subscriber receive the camera video of only the n
// most recent speakers (the dominant speaker's history, then join order),
// plus the ones it pins; audio and screens are always forwarded. 0 turns
// it off (the default).
func (c *Conference) SetLastN(n int) {
	c.mu.Lock()
	c.lastN = max(n, 0)
	c.mu.Unlock()
}

// speakerOrderLocked returns every participant id, the most recent dominant
// speakers first, then the others in join order. Must hold c.mu.
func (c *Conference) speakerOrderLocked() []string {
	out := make([]string, 0, len(c.joinOrder))
	seen := make(map[string]bool, len(c.joinOrder))
	for _, id := range c.speakers.recent {
		if c.participants[id] != nil && !seen[id] {
			out = append(out, id)
			seen[id] = true
		}
	}
	for _, p := range c.joinOrder {
		if !seen[p.id] && !p.relay {
			out = append(out, p.id)
		}
	}
	for _, p := range c.remotes {
		if !seen[p.id] {
			out = append(out, p.id)
		}
	}
	return out
}

// lastNAllowed returns the participants whose camera p receives, or nil
// for all: the n most recent speakers other than p, and p's pins.
func (p *Participant) lastNAllowed(order []string, roomN, ownN int, pinned map[string]bool) map[string]bool {
	n := roomN
	if ownN > 0 && (n == 0 || ownN < n) {
		n = ownN
	}
	if n <= 0 {
		return nil
	}
	allowed := make(map[string]bool, n+len(pinned))
	for id := range pinned {
		allowed[id] = true
	}
	for _, id := range order {
		if n == 0 {
			break
		}
		if id != p.id {
			allowed[id] = true
			n--
		}
	}
	return allowed
}

// SetReceiveVideo records what the subscriber shows; the next allocation
// follows it.
func (p *Participant) SetReceiveVideo(rv ReceiveVideo) {
	heights := make(map[string]int, len(rv.Heights))
	for id, h := range rv.Heights {
		heights[id] = max(h, 0)
	}
	pinned := make(map[string]bool, len(rv.Pinned))
	for _, id := range rv.Pinned {
		pinned[id] = true
	}
	p.mu.Lock()
	p.recvQuality = rv.Quality
	p.recvHeights = heights
	p.recvLastN = max(rv.LastN, 0)
	p.recvPinned = pinned
	p.mu.Unlock()
}

// layerRates keeps a publication's layer bitrates between two
// allocations, and which layers its publisher was told to pause
// (dynacast). Owned by the conference's speaker tick.
type layerRates struct {
	bytes  [maxLayers]uint64 // byte counters at the last allocation
	bps    [maxLayers]uint64 // bitrate over the last interval, or four fifths of the one before if more
	at     time.Time         // when bytes were read
	paused uint8             // layers the publisher was told to stop sending
	idle   [maxLayers]int    // allocations in a row that nobody took the layer
	// Of VP8, the same by temporal layer within each layer (temporal.go).
	tbytes [maxLayers][numTemporal]uint64
	tbps   [maxLayers][numTemporal]uint64
}

// pauseAfter is how many allocations in a row a layer must go unwatched
// before its publisher is told to stop sending it: a viewer switching
// tiles does not make it flap.
const pauseAfter = 2

// allocateLayers runs one allocation for the whole conference (the live
// publications pubs, the participants ps) and returns how many simulcast
// layers nobody gets. Runs on the speaker tick, which owns c.rates.
func (c *Conference) allocateLayers(pubs []*publication, ps []*Participant, order []string, lastN int, now time.Time) int {
	live := make(map[*publication]bool, len(pubs))
	for _, pub := range pubs {
		if pub.info.Kind == Video {
			c.measure(pub, now)
			live[pub] = true
		}
	}
	for pub := range c.rates {
		if !live[pub] {
			delete(c.rates, pub)
		}
	}
	watched := make(map[*publication]uint8, len(live))
	for _, p := range ps {
		p.allocate(c.rates, now, watched, order, lastN)
	}
	paused := 0
	for pub := range live {
		if pub.simulcast.Load() && c.sfu.cfg.Dynacast {
			c.dynacast(pub, c.rates[pub], watched[pub], now)
			paused += countBits(c.rates[pub].paused)
		}
	}
	c.tellRelays(ps)
	return paused
}

// dynacast tells a publisher to stop sending the layers nobody has taken
// for pauseAfter allocations, and to send again a paused layer someone
// wants. The lowest layer is never paused: a subscriber joining, or one
// whose bandwidth drops, starts from it at once, and it costs a tenth of
// the top one. Runs on the speaker tick.
func (c *Conference) dynacast(pub *publication, r *layerRates, watched uint8, now time.Time) {
	sent := pub.activeLayers(now) | r.paused
	next := r.paused
	for l := 1; l < maxLayers; l++ {
		bit := uint8(1) << l
		switch {
		case sent&bit == 0:
			r.idle[l] = 0
		case watched&bit != 0:
			r.idle[l] = 0
			next &^= bit
		default:
			r.idle[l]++
			if r.idle[l] >= pauseAfter {
				next |= bit
			}
		}
	}
	if next == r.paused {
		return
	}
	r.paused = next
	pub.log.Debug("dynacast", "sent", sent, "watched", watched, "paused", next, "bps", r.bps)
	var keep []string
	for l, rid := range ridsFor(pub.info.Source) {
		if next&(1<<l) == 0 {
			keep = append(keep, rid)
		}
	}
	pub.owner.sendLayers(pub.info, strings.Join(keep, ","))
}

// measure updates a publication's layer bitrates. Runs on the speaker
// tick.
func (c *Conference) measure(pub *publication, now time.Time) {
	r := c.rates[pub]
	if r == nil {
		r = &layerRates{}
		c.rates[pub] = r
	}
	dt := now.Sub(r.at)
	for i, l := range pub.layers {
		b := l.bytes.Load()
		if !r.at.IsZero() && dt > 0 {
			// A quiet interval (the publisher's encoder starved for a
			// moment) lowers the cost by a fifth at most: measured as
			// nothing, a layer too big for a subscriber's ceiling would
			// seem to fit it.
			r.bps[i] = max((b-r.bytes[i])*8*uint64(time.Second)/uint64(dt), r.bps[i]*4/5)
		}
		r.bytes[i] = b
		for t := range l.tbytes {
			b := l.tbytes[t].Load()
			if !r.at.IsZero() && dt > 0 {
				r.tbps[i][t] = max((b-r.tbytes[i][t])*8*uint64(time.Second)/uint64(dt), r.tbps[i][t]*4/5)
			}
			r.tbytes[i][t] = b
		}
	}
	r.at = now
}

// choice is one video's layer for one subscriber, being decided.
type choice struct {
	d      *downTrack
	active uint8 // the publication's active layers
	layer  int   // the layer chosen; -1: paused
	rates  *layerRates
	// temporal is the highest VP8 temporal layer chosen of it;
	// numTemporal-1: all of them.
	temporal int
	want     int // the layer wanted before bandwidth; -1: none
}

// allocate picks the layer of every video p receives, and records in
// watched which layers someone gets. Takes p.mu.
func (p *Participant) allocate(rates map[*publication]*layerRates, now time.Time, watched map[*publication]uint8, order []string, lastN int) {
	p.mu.Lock()
	quality, heights := p.recvQuality, p.recvHeights
	allowed := p.lastNAllowed(order, lastN, p.recvLastN, p.recvPinned)
	if p.relay {
		allowed = nil // the other bridge applies lastN to its own subscribers
	}
	choices := make([]choice, 0, len(p.receiving))
	for d := range p.receiving {
		if d.pub.info.Kind == Video {
			choices = append(choices, choice{d: d, temporal: numTemporal - 1})
		}
	}
	p.mu.Unlock()
	lossy := lossy(choices) || p.twccLoss() >= twccLossy || p.queueing()
	var estimate uint64
	if p.bwe != nil {
		estimate = uint64(p.bwe.GetTargetBitrate())
		p.bweBitrate.Store(estimate)
	}
	var cost uint64
	for i := range choices {
		ch := &choices[i]
		ch.active, ch.rates = ch.d.pub.activeLayers(now), rates[ch.d.pub]
		if ch.rates != nil {
			ch.active |= ch.rates.paused // a paused layer comes back if wanted
		}
		ch.layer = wantedLayer(ch.d.pub, ch.active, quality, heights, now)
		if ch.d.layerOnly >= 0 {
			ch.layer = ch.d.relayLayer(ch.active) // what the other bridge watches
		}
		if allowed != nil && ch.d.pub.info.Source == SourceCamera && !allowed[ch.d.pub.owner.id] {
			ch.layer = -1 // not among the last N speakers
		}
		ch.want = ch.layer
		cost += ch.cost()
	}
	wanted, probe := cost, p.cong.probe
	budget, stepDown := p.cong.budget(lossy, estimate, cost, now)
	if probe != nil && p.cong.probe == nil {
		why, _ := probe.why.Load().(string)
		p.log.Debug("probe ended", "held", probe.result.Load() == probeHeld, "why", why, "padding", probe.sent.Load(), "bps", probe.rate)
	}
	if stepDown && budget > 0 {
		budget-- // at least the biggest video steps down
	}
	congested := make(map[*downTrack]bool)
	for budget > 0 && cost > budget {
		// The biggest video steps down first.
		var big *choice
		for i := range choices {
			ch := &choices[i]
			if ch.canStepDown() && (big == nil || ch.cost() > big.cost()) {
				big = ch
			}
		}
		if big == nil {
			break // everything at its lowest layer and frame rate
		}
		cost -= big.cost()
		big.stepDown()
		cost += big.cost()
		congested[big.d] = true
	}
	if p.cong.congested() {
		p.cong.settle(cost)
	}
	if p.cong.wantProbe && p.sfu != nil {
		p.startProbeFor(choices, wanted, cost, now)
	}
	p.pacer.setRate(pacingRate(p.cong.ceiling, cost, estimate, p.cong.probeRate()))
	if len(congested) > 0 {
		p.log.Debug("layers stepped down for bandwidth", "budget", budget, "cost", cost, "lossy", lossy, "fewerFrames", fewerFrames(choices))
	}
	for i := range choices {
		ch := &choices[i]
		ch.d.setTarget(ch.layer, congested[ch.d])
		ch.d.setTemporal(ch.temporal)
		if ch.layer >= 0 {
			watched[ch.d.pub] |= 1 << ch.layer
		}
	}
}

// congestionLoss is the fraction lost (of 256) in a subscriber's receiver
// report above which its bandwidth estimate is believed: 2 %.
const congestionLoss = 5

// lossy reports whether the subscriber reported loss on any of its videos
// since the last allocation: each receiver report counts once.
func lossy(choices []choice) bool {
	lost := false
	for i := range choices {
		if choices[i].d.lost.Swap(0) >= congestionLoss {
			lost = true
		}
	}
	return lost
}

// cost is the bitrate of the chosen layer, at the chosen temporal
// layers.
func (ch *choice) cost() uint64 {
	if ch.layer < 0 || ch.rates == nil {
		return 0
	}
	if ch.temporal < numTemporal-1 {
		return ch.rates.temporalCost(ch.layer, ch.temporal)
	}
	return ch.rates.bps[ch.layer]
}

// lower returns the next active layer below the chosen one, or -1.
func (ch *choice) lower() int {
	if ch.d.layerOnly >= 0 {
		return -1 // a relay's layer carries that layer or nothing
	}
	for l := ch.layer - 1; l >= 0; l-- {
		if ch.active&(1<<l) != 0 {
			return l
		}
	}
	return -1
}

// wantedLayer is the layer a subscriber wants of pub, before bandwidth:
// -1 to pause it.
func wantedLayer(pub *publication, active uint8, q Quality, heights map[string]int, now time.Time) int {
	h, named := heights[pub.info.TrackID]
	if named && h == 0 {
		return -1
	}
	if !pub.simulcast.Load() {
		return 0
	}
	top := maxLayers - 1
	switch q {
	case QualityMedium:
		top = 1
	case QualityLow:
		top = 0
	}
	if pub.info.Source == SourceScreen && q != QualityHigh {
		top = 0 // a screen has two layers
	}
	best := -1
	for l := 0; l < maxLayers; l++ {
		if active&(1<<l) == 0 {
			continue
		}
		if l > top && best >= 0 {
			break
		}
		best = l
		if named && pub.layerHeight(l) >= h*9/10 {
			break // the smallest layer that fills the tile
		}
	}
	if best < 0 {
		return 0 // nothing active yet: start with the lowest
	}
	return best
}

// layerHeight is a layer's picture height: as its last VP8 keyframe said,
// else what the browsers' default scaling gives a 720p camera or a 1080p
// screen.
func (pub *publication) layerHeight(l int) int {
	if h := pub.layers[l].height.Load(); h != 0 {
		return int(h)
	}
	full := 720
	if pub.info.Source == SourceScreen {
		full = 1080
	}
	n := len(ridsFor(pub.info.Source))
	return full >> (n - 1 - l)
}

// setTarget makes layer the one to forward (-1: none). A change asks the
// new layer for a keyframe once the subscriber is connected; under congestion, a lower layer also stops the
// current one at once.
func (d *downTrack) setTarget(layer int, congested bool) {
	old := d.target.Swap(int32(layer))
	if old == int32(layer) {
		return
	}
	d.mu.Lock()
	cur := d.current
	d.mu.Unlock()
	if layer < 0 || (congested && cur > layer) {
		d.pause()
	}
	// A subscriber not connected yet could not receive the keyframe, and
	// asking now would hold back, behind the layer's limiter, the request
	// it makes when it connects (onConnectionState): up to a
	// KeyframeInterval of black video on joining (docs/BENCHMARKS.md,
	// "Join time").
	if layer >= 0 && cur != layer && d.sub.connected() {
		d.pub.requestLayerKeyframe(layer)
	}
}

func countBits(b uint8) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}
