package sfu

import (
	"time"

	"github.com/pion/rtp"
)

// A subscriber's first picture comes from a keyframe. Waiting for it after
// the subscriber connects costs a keyframe request's round trip through the
// publisher's encoder (50 to 100 ms in a browser, docs/BENCHMARKS.md, "Join
// time"). So a downtrack asks for the keyframe when it is bound, before its
// subscriber is connected; the layer's packet cache (packetcache.go) keeps
// the keyframe when it comes, and when the subscriber connects its first
// packet of the layer is preceded by the cached packets from that keyframe
// on: the very packets it would have got, with the same rewriting.
//
// Only a fresh keyframe is sent so: a receiver schedules its frames from
// the first one it decodes, and an old keyframe followed at once by live
// frames would play the whole call that much behind.

// replayMaxAge is the oldest keyframe, by its RTP timestamp against the
// live packet's, that a connecting subscriber gets from the cache.
const replayMaxAge = 250 * time.Millisecond

// replayMaxPackets bounds the packets sent from the cache at once.
const replayMaxPackets = 256

// keyframeMark is where a layer's latest keyframe starts.
type keyframeMark struct {
	ssrc uint32 // the layer's SSRC then
	seq  uint16 // the keyframe's first packet
	ts   uint32 // its RTP timestamp
	set  bool   // false: no keyframe seen yet
}

// markKeyframe records hdr's packet, just put, as the start of the
// latest keyframe.
func (c *packetCache) markKeyframe(hdr *rtp.Header) {
	c.mu.Lock()
	c.key = keyframeMark{ssrc: hdr.SSRC, seq: hdr.SequenceNumber, ts: hdr.Timestamp, set: true}
	c.mu.Unlock()
}

// lastKeyframe returns where the latest keyframe starts.
func (c *packetCache) lastKeyframe() keyframeMark {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.key
}

// replayLocked runs before the downtrack's first packet of layer li since
// its subscriber connected, src: when li is the target layer and nothing
// else is forwarded, it sends the layer's cached packets from its latest
// keyframe up to src, if that keyframe is fresh and the cache holds it.
// Must hold mu.
func (d *downTrack) replayLocked(li int, src *rtp.Header, now time.Time) {
	if int32(li) != d.target.Load() {
		return // the target layer's own packets come on another goroutine
	}
	d.replay.Store(false)
	if d.current >= 0 && d.current != li {
		return
	}
	l := d.pub.layers[li]
	if l.cache == nil {
		return
	}
	k := l.cache.lastKeyframe()
	if !k.set || k.ssrc != src.SSRC {
		return
	}
	n := src.SequenceNumber - k.seq
	clockRate := d.pub.codec.ClockRate
	if clockRate == 0 {
		clockRate = 90000
	}
	age := time.Duration(src.Timestamp-k.ts) * time.Second / time.Duration(clockRate)
	if n == 0 || n > replayMaxPackets || age > replayMaxAge {
		return
	}
	sent := 0
	defer func() {
		d.sub.log.Debug("keyframe sent from the cache", "track", d.pub.info.TrackID, "layer", li, "packets", sent, "of", n, "age", age)
	}()
	for i := range n {
		m := l.cache.get(k.ssrc, k.seq+i, d.rtxBuf)
		if m == 0 {
			return // lost or gone: the live keyframe asked for on connecting comes instead
		}
		payload, ok := splitPacket(d.rtxBuf[:m], &d.rtxHdr)
		if !ok || (i == 0 && !keyframeStart(d.pub.codecKind, payload)) {
			return
		}
		var desc vp8Descriptor
		if d.pub.codecKind == codecVP8 {
			desc = parseVP8(payload)
		}
		d.forwardLocked(li, i == 0, &d.rtxHdr, payload, desc, now)
		d.replayed.Add(1)
		sent++
	}
}
