package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// downTrack carries one publication to one subscriber. It is the
// webrtc.TrackLocal of the subscriber's sendonly transceiver: Pion binds it
// once the subscriber's answer is applied, telling it the SSRC, payload type
// and header extension ids to use, and the writer that encrypts and sends.
// Between publisher and subscriber it rewrites SSRC, sequence numbers and
// timestamps (with per-subscriber offsets) and remaps extension ids.
//
// Of a simulcast publication it forwards one layer at a time: the one the
// layer allocator targets, switched to at a keyframe of it, so that the
// subscriber's decoder never sees a gap; VP8 picture ids are rewritten too.
// Of VP8 it forwards the temporal layers up to the allocator's limit
// (temporal.go).
type downTrack struct {
	pub *publication // the source; read-only
	sub *Participant // the receiving participant; read-only

	// mu serializes the writes of the publication's layers, each on its
	// own forwarding goroutine; only the current layer's take it for long.
	mu      sync.Mutex
	current int          // layer forwarded now; -1: none yet, or paused; guarded by mu
	rw      rewriter     // guarded by mu
	pic     vp8Rewriter  // guarded by mu
	out     rtp.Header   // outgoing header scratch; guarded by mu
	sentLog []sentPacket // what was sent, by outgoing seq modulo sentLogLen; nil for audio (no NACK); guarded by mu
	rtxBuf  []byte       // a cached packet being resent; guarded by mu
	rtxHdr  rtp.Header   // its parsed header; guarded by mu
	// frameEnd says the newest packet sent ended a frame (marker bit):
	// probe padding goes only between frames. Guarded by mu.
	frameEnd bool
	// rtxCredit is the bytes the subscriber's NACKs may still have
	// resent (budgets.go), as of rtxSeen bytes forwarded. Guarded by mu.
	rtxCredit float64
	rtxSeen   uint64
	// lastPLI is when the subscriber's last keyframe request went on to
	// the publisher. Owned by readRTCP.
	lastPLI time.Time

	// replay says the subscriber has just connected: its next packet of
	// the target layer comes after the layer's cached packets from its
	// latest keyframe, if that is fresh (replay.go). Set by
	// onConnectionState, cleared by the forwarding goroutine.
	replay atomic.Bool

	target   atomic.Int32                    // the layer to forward, set by the layer allocator
	maxLayer atomic.Int32                    // the highest layer the subscriber asked for (tile size, quality); maxLayers-1 by default
	switches [numSwitchReasons]atomic.Uint64 // layer switches by reason
	lost     atomic.Uint32                   // fraction lost (of 256) in the subscriber's last receiver report

	// VP8 temporal layers (temporal.go): tMax is the highest forwarded
	// now (guarded by mu), tTarget the highest to forward, set by the
	// allocator (numTemporal-1 by default); tSwitches counts the changes
	// up and down, temporalDrops the frames not forwarded for it.
	tMax          uint8
	tTarget       atomic.Int32
	tSwitches     [2]atomic.Uint64
	temporalDrops atomic.Uint64

	bound  atomic.Pointer[binding] // nil until Bind and after Unbind
	sender *webrtc.RTPSender       // guarded by sub.negMu; nil until offered

	codecMismatch atomic.Bool // bound without the publisher's codec: never written

	// layerOnly is the one simulcast layer a relay's downtrack carries
	// (relay.go); -1 for every other downtrack. Read-only.
	layerOnly int
	// relayUnwatched: of a layerOnly downtrack, the other bridge said
	// nobody there watches the layer (relay.go).
	relayUnwatched atomic.Bool
	// keyframeDeferred: a relay's keyframe request over the budget waits
	// for the budget's end (relay.go).
	keyframeDeferred atomic.Bool

	sent         atomic.Uint64 // packets written
	sentBytes    atomic.Uint64 // their payload bytes
	dropUnbound  atomic.Uint64 // packets dropped: not bound, or bound without the codec
	dropBadRED   atomic.Uint64 // RED packets dropped: no primary Opus block to send (red.go)
	dropWriteErr atomic.Uint64 // packets dropped: the writer failed
	retransmits  atomic.Uint64 // packets resent on the subscriber's NACKs
	paddingBytes atomic.Uint64 // padding sent for bandwidth probes (probe.go)
	rtxDropped   atomic.Uint64 // NACKed packets not resent: over the budget (budgets.go)
	pliDropped   atomic.Uint64 // keyframe requests not passed on: over the budget (budgets.go)
	replayed     atomic.Uint64 // cached packets sent on connecting (replay.go)
}

// binding is what Bind learned; replaced as a whole, never mutated.
type binding struct {
	ssrc        uint32                  // subscriber-side SSRC
	payloadType uint8                   // subscriber-side payload type
	writer      webrtc.TrackLocalWriter // Pion's interceptor chain and SRTP
	exts        [maxForwardedExt]extMap // extension ids to copy
	nExts       int                     // used entries of exts

	// Of a RED publication (red.go): the publisher's payload types, the
	// subscriber's Opus payload type (0: none), and whether the
	// subscriber gets the primary blocks only (it has no RED).
	src         redSource
	opusPT      uint8
	primaryOnly bool
}

// extMap maps a publisher extension id to the subscriber's.
type extMap struct{ from, to uint8 }

func newDownTrack(pub *publication, sub *Participant) *downTrack {
	d := &downTrack{pub: pub, sub: sub, rw: newRewriter(pub.codec.ClockRate), current: -1, layerOnly: -1}
	if pub.kind == webrtc.RTPCodecTypeVideo { // NACK is offered for video only (codecs.go)
		d.sentLog = make([]sentPacket, sentLogLen)
		d.rtxBuf = make([]byte, receiveMTU)
	}
	d.maxLayer.Store(maxLayers - 1)
	d.tMax = numTemporal - 1
	d.tTarget.Store(numTemporal - 1)
	return d
}

// ID, StreamID, RID and Kind implement webrtc.TrackLocal; they make the
// msid "<publisher id> <kind>-<publisher id>" (see TrackInfo).
func (d *downTrack) ID() string {
	if d.layerOnly >= 0 {
		return relayLayerTrackID(d.pub, d.layerOnly)
	}
	return d.pub.info.TrackID
}
func (d *downTrack) StreamID() string          { return d.pub.info.StreamID }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.pub.kind }

// Bind implements webrtc.TrackLocal.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, primaryOnly, ok := matchCodec(d.pub.codec.RTPCodecCapability, ctx.CodecParameters())
	if !ok {
		// The subscriber cannot take what the publisher sends. Failing
		// here would fail the subscriber's whole answer in Pion, so bind
		// to whatever was negotiated and forward nothing instead.
		if len(ctx.CodecParameters()) == 0 {
			return webrtc.RTPCodecParameters{}, wrapf(ErrCodecNotNegotiated, "%s for %s", d.pub.codec.MimeType, d.pub.info.TrackID)
		}
		d.sub.log.Warn("subscriber lacks the publisher's codec; track not forwarded",
			"track", d.pub.info.TrackID, "codec", d.pub.codec.MimeType)
		d.codecMismatch.Store(true)
		return ctx.CodecParameters()[0], nil
	}
	b := &binding{
		ssrc:        uint32(ctx.SSRC()),
		payloadType: uint8(codec.PayloadType),
		writer:      ctx.WriteStream(),
	}
	if isREDOfOpus(d.pub.codec.RTPCodecCapability) {
		bindRED(b, d.pub.codec, ctx.CodecParameters(), primaryOnly)
	}
	for _, uri := range forwardedExtensions() {
		from, ok := d.pub.extIDs[uri]
		if !ok {
			continue
		}
		for _, e := range ctx.HeaderExtensions() {
			// One-byte ids only (1-14): every id this SFU offers is one.
			if e.URI == uri && e.ID >= 1 && e.ID <= 14 {
				b.exts[b.nExts] = extMap{from: from, to: uint8(e.ID)}
				b.nExts++
				break
			}
		}
	}
	d.bound.Store(b)
	// A subscriber not connected yet cannot receive the keyframe now, but
	// the layer's packet cache keeps it, and connecting sends it from
	// there (replay.go): asked now, it is there by the time DTLS is up,
	// one keyframe request's round trip to the publisher sooner than
	// asking on connecting (docs/BENCHMARKS.md, "Join time").
	// Every layer, as connecting would: the allocator may move the target
	// meanwhile. A subscriber already connected (a track added later)
	// wants its target's at once.
	// Asynchronously: Pion holds its sender's lock while binding, and the
	// request goes out through another peer connection.
	if d.sub.connected() {
		go d.requestKeyframe()
	} else {
		go d.pub.requestKeyframe()
	}
	return codec, nil
}

// requestKeyframe asks for a keyframe of the layer this subscriber gets,
// or is about to get.
func (d *downTrack) requestKeyframe() {
	d.mu.Lock()
	li := d.current
	d.mu.Unlock()
	if li < 0 || int32(li) != d.target.Load() {
		li = int(d.target.Load())
	}
	d.pub.requestLayerKeyframe(li)
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// write sends one packet of layer li of the publication to the
// subscriber, if that is the layer it gets, or switches to it there (a
// keyframe of the target layer). It runs on the layer's forwarding
// goroutine and does not allocate.
func (d *downTrack) write(li int, keyframe bool, src *rtp.Header, payload []byte, desc vp8Descriptor, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.replay.Load() {
		d.replayLocked(li, src, now)
	}
	d.forwardLocked(li, keyframe, src, payload, desc, now)
}

// forwardLocked is write's work, with mu held; desc is the payload's VP8
// descriptor, parsed by the caller once for every subscriber.
func (d *downTrack) forwardLocked(li int, keyframe bool, src *rtp.Header, payload []byte, desc vp8Descriptor, now time.Time) {
	switching := li != d.current
	if switching && !d.mayStart(li, keyframe) {
		return
	}
	b := d.bound.Load()
	if b == nil {
		d.dropUnbound.Add(1)
		return
	}
	if switching {
		d.switchTo(li)
	}
	if b.src.red != 0 {
		pt, out, ok, malformed := b.redPayload(src, payload, d.sub.pacer.active.Load())
		switch {
		case malformed:
			d.dropBadRED.Add(1)
		case !ok:
			d.dropUnbound.Add(1)
		default:
			d.writeLocked(li, b, pt, src, out, now, vp8Patch{})
		}
		return
	}
	if d.pub.codecKind == codecVP8 {
		if !d.temporalPass(desc, keyframe, src.SequenceNumber, payload) {
			return
		}
		restore := d.pic.rewrite(payload, desc)
		d.writeLocked(li, b, b.payloadType, src, payload, now, restore)
		restore.undo(payload)
		return
	}
	d.writeLocked(li, b, b.payloadType, src, payload, now, vp8Patch{})
}

// mayStart reports whether a packet of layer li can start that layer for
// this subscriber: it is the target, and a keyframe begins there (any
// packet will do for a publication without simulcast). Must hold mu.
func (d *downTrack) mayStart(li int, keyframe bool) bool {
	if int32(li) != d.target.Load() {
		return false
	}
	return keyframe || (d.current < 0 && !d.pub.simulcast.Load())
}

// switchTo makes li the forwarded layer, counting why. Must hold mu.
func (d *downTrack) switchTo(li int) {
	switch {
	case d.current < 0:
		d.switches[switchStart].Add(1)
	case li > d.current:
		d.switches[switchUp].Add(1)
	default:
		d.switches[switchDown].Add(1)
	}
	d.current = li
	d.rw.resume()
	d.pic.resync = true
}

// pause stops forwarding at once, until a keyframe of the target layer:
// going down under congestion does not wait. Reports whether it was
// forwarding.
func (d *downTrack) pause() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current < 0 {
		return false
	}
	d.current = -1
	d.switches[switchPause].Add(1)
	return true
}

// writeLocked rewrites and sends one packet of layer li with payload
// type pt, whose VP8 picture id rewrite (if any) is patch. Must hold mu.
func (d *downTrack) writeLocked(li int, b *binding, pt uint8, src *rtp.Header, payload []byte, now time.Time, patch vp8Patch) {
	seq, ts := d.rw.rewrite(src.SSRC, src.SequenceNumber, src.Timestamp, now)
	if !d.sendAsLocked(b, pt, src, seq, ts, payload) {
		d.dropWriteErr.Add(1)
		return
	}
	if seq == d.rw.lastSeq {
		d.frameEnd = src.Marker
	}
	d.logSent(li, src, seq, ts, payload, patch)
	d.sent.Add(1)
	d.sentBytes.Add(uint64(len(payload)))
}

// sendLocked sends payload with src's header made the subscriber's: its
// SSRC, payload type, extension ids, and this sequence number and
// timestamp. Must hold mu.
func (d *downTrack) sendLocked(b *binding, src *rtp.Header, seq uint16, ts uint32, payload []byte) bool {
	return d.sendAsLocked(b, b.payloadType, src, seq, ts, payload)
}

// sendAsLocked is sendLocked with payload type pt, one of the
// subscriber's. Must hold mu.
func (d *downTrack) sendAsLocked(b *binding, pt uint8, src *rtp.Header, seq uint16, ts uint32, payload []byte) bool {
	h := &d.out
	h.Version = 2
	h.Padding = src.Padding
	h.PaddingSize = src.PaddingSize
	h.Marker = src.Marker
	h.PayloadType = pt
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.SSRC = b.ssrc
	h.CSRC = h.CSRC[:0]
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
	for i := 0; i < b.nExts; i++ {
		// One-byte form carries 1 to 16 bytes; anything else is dropped.
		if v := src.GetExtension(b.exts[i].from); len(v) >= 1 && len(v) <= 16 {
			_ = h.SetExtension(b.exts[i].to, v)
		}
	}
	return d.writeRTP(b, h, payload) == nil
}

// writeRTP hands one packet to the transport: through the subscriber's
// pacer while it paces, for video (pacer.go). Must hold mu.
func (d *downTrack) writeRTP(b *binding, h *rtp.Header, payload []byte) error {
	if d.sentLog != nil && d.sub.pacer.active.Load() {
		return d.sub.pacer.write(b.writer, h, payload)
	}
	_, err := b.writer.WriteRTP(h, payload)
	return err
}

// readRTCP consumes the subscriber's RTCP for this track until the sender
// stops: NACKs are answered from the publication's packet cache
// (packetcache.go), keyframe requests (PLI, FIR) go on to the publisher.
func (d *downTrack) readRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, receiveMTU)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				d.sub.log.Debug("subscriber RTCP read ended", "track", d.pub.info.TrackID, "err", err)
			}
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if d.mayRequestKeyframe(d.pub.owner.sfu.cfg.Clock.Now()) {
					d.requestKeyframe()
				}
			case *rtcp.TransportLayerNack:
				d.sub.sfu.totals.nacks.Add(1)
				d.retransmit(p)
			case *rtcp.ReceiverReport:
				d.noteLoss(p.Reports)
			case *rtcp.ApplicationDefined:
				d.noteRelayWatch(p)
			}
		}
	}
}

// noteLoss keeps the loss the subscriber reports for this track.
func (d *downTrack) noteLoss(reports []rtcp.ReceptionReport) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	for _, r := range reports {
		if r.SSRC == b.ssrc {
			d.lost.Store(uint32(r.FractionLost))
		}
	}
}

// Why a subscriber's layer changed, for the statistics.
const (
	switchStart      = iota // the first layer forwarded
	switchUp                // a higher layer (more room, a bigger tile)
	switchDown              // a lower layer at its keyframe (smaller tile, lower quality, layer lost)
	switchPause             // stopped at once: congestion
	numSwitchReasons        // the number of reasons
)

// vp8Rewriter keeps a subscriber's VP8 picture ids (and TL0PICIDX)
// continuous across layer switches: each layer numbers its pictures on its
// own. It patches the payload in place for one write and undoes it after,
// since the buffer is shared by every subscriber of the layer.
type vp8Rewriter struct {
	resync    bool   // the next picture id starts where the last one left off
	started   bool   // a picture id was sent
	picOffset uint16 // added to the source picture id
	tl0Offset uint8  // added to the source TL0PICIDX
	lastPic   uint16 // the last picture id sent
	lastTL0   uint8  // the last TL0PICIDX sent
	skipping  bool   // the latest picture seen was dropped (temporal.go)
	skipPic   uint16 // its source picture id
}

// vp8Patch remembers the bytes a rewrite changed.
type vp8Patch struct {
	picAt, tl0At int     // offsets patched; 0: none
	pic          [2]byte // original picture id bytes
	tl0          byte    // original TL0PICIDX
}

// rewrite patches the picture id and TL0PICIDX of p, whose descriptor is
// d.
func (r *vp8Rewriter) rewrite(p []byte, d vp8Descriptor) vp8Patch {
	var patch vp8Patch
	if !d.parsedOK || d.picAt == 0 {
		return patch
	}
	var in, mask uint16
	if d.picWide {
		in, mask = uint16(p[d.picAt]&0x7f)<<8|uint16(p[d.picAt+1]), 0x7fff
	} else {
		in, mask = uint16(p[d.picAt]&0x7f), 0x7f
	}
	var tl0 uint8
	if d.tl0At != 0 {
		tl0 = p[d.tl0At]
	}
	if r.resync && r.started {
		r.picOffset = r.lastPic + 1 - in
		r.tl0Offset = r.lastTL0 + 1 - tl0
	}
	r.resync, r.started, r.skipping = false, true, false
	out := (in + r.picOffset) & mask
	r.lastPic = out
	patch.picAt, patch.pic = d.picAt, [2]byte{p[d.picAt], 0}
	if d.picWide {
		patch.pic[1] = p[d.picAt+1]
		p[d.picAt], p[d.picAt+1] = 0x80|byte(out>>8), byte(out)
	} else {
		p[d.picAt] = byte(out)
	}
	if d.tl0At != 0 {
		patch.tl0At, patch.tl0 = d.tl0At, tl0
		r.lastTL0 = tl0 + r.tl0Offset
		p[d.tl0At] = r.lastTL0
	}
	return patch
}

// undo puts back the bytes rewrite changed.
func (patch vp8Patch) undo(p []byte) {
	if patch.picAt != 0 {
		p[patch.picAt] = patch.pic[0]
		if patch.pic[0]&0x80 != 0 {
			p[patch.picAt+1] = patch.pic[1]
		}
	}
	if patch.tl0At != 0 {
		p[patch.tl0At] = patch.tl0
	}
}
