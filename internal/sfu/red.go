package sfu

import (
	"strconv"
	"strings"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// RED for audio (RFC 2198). Chromium sends it when red comes first among the
// codecs negotiated for its microphone: each packet carries the current
// Opus frame (the primary block) and copies of earlier ones (redundant
// blocks), so a receiver rebuilds a lost packet from the next. The SFU
// forwards a RED publication unchanged to subscribers that negotiated red,
// and its primary blocks as plain Opus to the others (Firefox, the
// recorder, the SIP gateway, the SDK): the sequence numbers and timestamps
// of both are the publisher's, so the rewriter is the same.
//
// A RED payload is a list of block headers, then the blocks in the same
// order, the primary last:
//
//	redundant header, 4 bytes: F=1 | PT (7) | timestamp offset (14) | length (10)
//	last header, 1 byte:       F=0 | PT (7)   (the primary; its length is the rest)

// redPrimary returns the primary block of an RFC 2198 payload, a sub-slice
// of payload (nothing is copied or allocated), and its payload type. It
// reports false for a payload that is not RED: headers that run past the
// end, blocks longer than the payload, or an empty primary block (an Opus
// packet has at least its TOC byte, RFC 6716 §3.1).
func redPrimary(payload []byte) (block []byte, pt uint8, ok bool) {
	i, redundant := 0, 0
	for {
		if i >= len(payload) {
			return nil, 0, false
		}
		if payload[i]&0x80 == 0 { // F=0: the last header, the primary's
			pt = payload[i] & 0x7f
			i++
			break
		}
		if i+4 > len(payload) {
			return nil, 0, false
		}
		redundant += int(payload[i+2]&0x03)<<8 | int(payload[i+3])
		i += 4
	}
	start := i + redundant
	if start >= len(payload) {
		return nil, 0, false
	}
	return payload[start:], pt, true
}

// redSource is what a down-track of a RED publication knows of the
// publisher's side; zero for any other publication. Read-only.
type redSource struct {
	red  uint8 // the publisher's RED payload type; 0: not a RED publication
	opus uint8 // the payload type of its blocks (the fmtp "111/111"): the SFU's Opus
}

// redPayload returns what a down-track of a RED publication sends of one
// packet, and with which of the subscriber's payload types: the packet
// unchanged to a subscriber bound to red, its primary block to one bound
// to Opus, and a plain Opus packet (a publisher may send some) as Opus to
// both. A lean subscriber (one under a bandwidth ceiling, whose videos
// are paced) bound to red gets the primary block as Opus too, when it
// has Opus: the redundancy costs as much as the audio, and on a link
// that is full it takes the room of the video at its lowest layer (the
// shaped test's 300 kbit/s link lost in every sample once two audios
// doubled). malformed says a RED packet had no primary Opus block;
// otherwise ok false means the subscriber has no payload type for it.
func (b *binding) redPayload(src *rtp.Header, payload []byte, lean bool) (pt uint8, out []byte, ok, malformed bool) {
	primaryPT := b.payloadType
	if !b.primaryOnly {
		primaryPT = b.opusPT
	}
	switch {
	case len(payload) == 0:
		// Padding alone: nothing to decode either way, and forwarding it
		// keeps the subscriber's sequence numbers whole.
		return b.payloadType, payload, true, false
	case src.PayloadType == b.src.red && !b.primaryOnly && (!lean || b.opusPT == 0):
		return b.payloadType, payload, true, false
	case src.PayloadType == b.src.red:
		block, blockPT, ok := redPrimary(payload)
		if !ok || blockPT != b.src.opus {
			return 0, nil, false, true
		}
		return primaryPT, block, true, false
	case src.PayloadType == b.src.opus && b.opusPT != 0:
		return b.opusPT, payload, true, false
	}
	return 0, nil, false, false
}

// redBlockType returns the payload type every block of a RED payload type
// carries, from its fmtp (RFC 2198 §5: "111/111", one per block), if they
// all carry the same one.
func redBlockType(fmtp string) (uint8, bool) {
	var pt uint8
	for i, part := range strings.Split(strings.TrimSpace(fmtp), "/") {
		n, err := strconv.ParseUint(part, 10, 7)
		if err != nil || (i > 0 && uint8(n) != pt) {
			return 0, false
		}
		pt = uint8(n)
	}
	return pt, true
}

// bindRED completes b for a RED publication pub: the publisher's payload
// types, and the subscriber's Opus among its negotiated codecs.
func bindRED(b *binding, pub webrtc.RTPCodecParameters, negotiated []webrtc.RTPCodecParameters, primaryOnly bool) {
	b.src.red = uint8(pub.PayloadType)
	b.src.opus, _ = redBlockTypeOf(pub.RTPCodecCapability)
	b.primaryOnly = primaryOnly
	opus := opusCodec().RTPCodecCapability
	for _, c := range negotiated {
		if sameCodec(opus, c.RTPCodecCapability) {
			b.opusPT = uint8(c.PayloadType)
			break
		}
	}
}
