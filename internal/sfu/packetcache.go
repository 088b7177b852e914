package sfu

import (
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// The SFU answers its subscribers' NACKs itself, from one copy of each
// published video packet, shared by every subscriber of the publication.
// Pion's NACK responder (not installed, see buildAPI) would keep a copy of
// every packet per subscriber instead: about 0.9 MB per video downtrack, most
// of a media participant's memory (docs/BENCHMARKS.md).
//
// A packetCache keeps the latest packets of one layer as they arrived from
// the publisher, in a byte ring; a downtrack's sentLog maps the sequence
// numbers it sent back to the source packets, with the outgoing header
// fields, so that a retransmission is the very packet the subscriber missed.

const (
	// cacheBytes is a layer's ring: about 2 s of a 1 Mbit/s video, well
	// beyond the round trips in which a retransmission is still useful.
	cacheBytes = 256 << 10
	// cacheSlots indexes the ring by source sequence number (a power of 2).
	cacheSlots = 1024
	// sentLogLen is the sequence numbers a downtrack remembers (a power of 2).
	sentLogLen = 512
)

// packetCache is one layer's recent packets. put runs on the layer's
// forwarding goroutine; get on the subscribers' RTCP goroutines.
type packetCache struct {
	mu      sync.Mutex                // guards the fields below
	data    []byte                    // cacheBytes ring; nil until the first put
	written uint64                    // bytes put so far, ring wraps included
	slots   [cacheSlots]packetCacheAt // by sequence number modulo cacheSlots
	key     keyframeMark              // where the latest keyframe put starts (replay.go)
}

// packetCacheAt is where one packet lies in the ring.
type packetCacheAt struct {
	at    uint64 // offset in the ring's history (written at put)
	ssrc  uint32
	seq   uint16
	n     uint16 // length; 0: empty slot
	valid bool
}

// put keeps a copy of pkt, the RTP packet with this source SSRC and
// sequence number. It allocates the ring at the first call only.
func (c *packetCache) put(ssrc uint32, seq uint16, pkt []byte) {
	if len(pkt) == 0 || len(pkt) > receiveMTU {
		return
	}
	c.mu.Lock()
	if c.data == nil {
		c.data = make([]byte, cacheBytes)
	}
	pos := c.written % cacheBytes
	if pos+uint64(len(pkt)) > cacheBytes { // no room before the end: start over at 0
		c.written += cacheBytes - pos
		pos = 0
	}
	copy(c.data[pos:], pkt)
	c.slots[seq%cacheSlots] = packetCacheAt{at: c.written, ssrc: ssrc, seq: seq, n: uint16(len(pkt)), valid: true}
	c.written += uint64(len(pkt))
	c.mu.Unlock()
}

// get copies the packet with this SSRC and sequence number into dst and
// returns its length, or 0 if it is no longer (or never was) in the cache.
func (c *packetCache) get(ssrc uint32, seq uint16, dst []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[seq%cacheSlots]
	if !s.valid || s.seq != seq || s.ssrc != ssrc || int(s.n) > len(dst) {
		return 0
	}
	if c.written > s.at+cacheBytes { // overwritten since
		return 0
	}
	pos := s.at % cacheBytes
	return copy(dst, c.data[pos:pos+uint64(s.n)])
}

// sentPacket is what a downtrack sent under one outgoing sequence number.
type sentPacket struct {
	ssrc   uint32 // the source SSRC
	ts     uint32 // the outgoing timestamp
	out    uint16 // the outgoing sequence number
	src    uint16 // the source sequence number
	layer  uint8  // the layer it came from
	valid  bool
	pad    bool    // a padding-only packet of a probe: no source packet
	patch  bool    // a VP8 picture id was rewritten: pic and tl0 hold the bytes sent
	pic    [2]byte // the rewritten picture id bytes
	tl0    byte    // the rewritten TL0PICIDX
	picAt  uint16  // offsets in the payload, as in vp8Patch
	tl0At  uint16
	picLen uint8 // 1 or 2
}

// logSent remembers one packet sent. Must hold d.mu.
func (d *downTrack) logSent(li int, src *rtp.Header, seq uint16, ts uint32, payload []byte, patch vp8Patch) {
	if d.sentLog == nil {
		return
	}
	e := sentPacket{ssrc: src.SSRC, ts: ts, out: seq, src: src.SequenceNumber, layer: uint8(li), valid: true}
	if patch.picAt != 0 {
		e.patch, e.picAt, e.picLen = true, uint16(patch.picAt), 1
		e.pic[0] = payload[patch.picAt]
		if payload[patch.picAt]&0x80 != 0 {
			e.pic[1], e.picLen = payload[patch.picAt+1], 2
		}
		if patch.tl0At != 0 {
			e.tl0At, e.tl0 = uint16(patch.tl0At), payload[patch.tl0At]
		}
	}
	d.sentLog[seq%sentLogLen] = e
}

// retransmit resends what the subscriber NACKed, from the publication's
// cache. It runs on the subscriber's RTCP goroutine and returns the
// packets resent.
func (d *downTrack) retransmit(nack *rtcp.TransportLayerNack) int {
	b := d.bound.Load()
	if b == nil || nack.MediaSSRC != b.ssrc {
		return 0
	}
	sent := 0
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			if d.resend(b, seq) {
				sent++
			}
			return true
		})
	}
	return sent
}

// resend sends the packet sent as seq again, if it is still cached.
func (d *downTrack) resend(b *binding, seq uint16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sentLog == nil {
		return false
	}
	e := d.sentLog[seq%sentLogLen]
	if !e.valid || e.out != seq || int(e.layer) >= maxLayers {
		return false
	}
	if e.pad {
		// The probe is over by now: the least padding closes the gap.
		if !d.sendPaddingLocked(b, seq, e.ts, 1) {
			return false
		}
		d.retransmits.Add(1)
		return true
	}
	cache := d.pub.layers[e.layer].cache
	n := cache.get(e.ssrc, e.src, d.rtxBuf)
	if n == 0 {
		return false
	}
	pkt := d.rtxBuf[:n]
	hdrLen, err := d.rtxHdr.Unmarshal(pkt)
	if err != nil {
		return false
	}
	end := n
	d.rtxHdr.PaddingSize = 0
	if d.rtxHdr.Padding {
		pad := int(pkt[end-1])
		if pad == 0 || hdrLen+pad > end {
			return false
		}
		end -= pad
		d.rtxHdr.PaddingSize = byte(pad)
	}
	payload := pkt[hdrLen:end]
	if e.patch {
		if int(e.picAt)+int(e.picLen) > len(payload) || int(e.tl0At) >= len(payload) {
			return false
		}
		copy(payload[e.picAt:], e.pic[:e.picLen])
		if e.tl0At != 0 {
			payload[e.tl0At] = e.tl0
		}
	}
	if !d.spendRetransmit(len(payload)) {
		return false
	}
	if !d.sendLocked(b, &d.rtxHdr, seq, e.ts, payload) {
		return false
	}
	d.retransmits.Add(1)
	return true
}
