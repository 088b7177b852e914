package sfu

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// receiveMTU is the largest RTP packet the SFU forwards; Pion's default.
// Larger ones are dropped and counted as malformed.
const receiveMTU = 1460

// publication is one track a participant publishes (at most one of each
// Source), in up to maxLayers simulcast layers, each fed by its own Pion
// track and forwarding goroutine. It outlives the Pion tracks that feed it:
// if the publisher's SSRC changes, a new forwarding goroutine takes over
// the same downtracks and their rewriters keep the outgoing streams
// continuous.
type publication struct {
	owner  *Participant                 // the publisher; read-only
	info   TrackInfo                    // read-only
	kind   webrtc.RTPCodecType          // read-only
	codec  webrtc.RTPCodecParameters    // what the publisher sends; read-only
	extIDs map[string]uint8             // publisher's extension ids by URI; read-only
	clock  Clock                        // read-only
	log    *slog.Logger                 // read-only
	pli    func(ssrc uint32) error      // sends a PLI to the publisher; read-only
	subs   atomic.Pointer[[]*downTrack] // current subscribers; replaced, never mutated (copy on write)
	subsMu sync.Mutex                   // serializes replacements of subs
	live   bool                         // in the conference's publications; guarded by owner.conf.mu

	codecKind codecKind         // how to find keyframes; read-only
	layers    [maxLayers]*layer // read-only pointers; layer 0 without simulcast
	simulcast atomic.Bool       // a track with a rid arrived: layers are switched on keyframes
	levelID   uint8             // the publisher's audio level extension id; 0: none (video); read-only
	level     levelMeter        // audio levels of the current speaker window
	malformed atomic.Uint64     // packets dropped as unparseable
}

// layer is one simulcast layer of a publication (the only one without
// simulcast).
type layer struct {
	fwdMu sync.Mutex // held by a forwarding goroutine for its whole life
	fwd   forwarder  // owned by the holder of fwdMu

	ssrc      atomic.Uint32    // SSRC the publisher currently sends it with; 0 before
	cache     *packetCache     // recent packets, for NACKs; nil for audio; read-only pointer
	keyframes *keyframeLimiter // read-only pointer
	lastAt    atomic.Int64     // arrival of the latest packet with media (not padding alone), Unix ns; 0 before
	bytes     atomic.Uint64    // payload bytes received
	packets   atomic.Uint64    // packets received and forwarded (report.go)
	height    atomic.Uint32    // picture height of the latest VP8 keyframe; 0 unknown

	// tbytes counts, of VP8, the payload bytes received by temporal
	// layer (temporal.go).
	tbytes [numTemporal]atomic.Uint64
}

func newPublication(owner *Participant, src Source, kind webrtc.RTPCodecType, codec webrtc.RTPCodecParameters,
	exts []webrtc.RTPHeaderExtensionParameter,
) *publication {
	pub := &publication{
		owner: owner,
		info: TrackInfo{
			Kind: mediaKindOf(kind), Source: src, StreamID: owner.id, TrackID: trackIDFor(src, owner.id), Codec: codec.MimeType,
		},
		kind:   kind,
		codec:  codec,
		extIDs: make(map[string]uint8, len(exts)),
		clock:  owner.sfu.cfg.Clock,
		log:    owner.log.With("track", trackIDFor(src, owner.id)),
		pli:    owner.sendPLI,

		codecKind: codecKindOf(codec.MimeType),
	}
	for _, e := range exts {
		if e.ID > 0 && e.ID < 256 {
			pub.extIDs[e.URI] = uint8(e.ID)
		}
	}
	if src == SourceAudio {
		pub.levelID = pub.extIDs[uriAudioLevel]
	}
	empty := []*downTrack{}
	pub.subs.Store(&empty)
	for i := range pub.layers {
		l := &layer{fwd: newForwarder()}
		if kind == webrtc.RTPCodecTypeVideo {
			l.cache = &packetCache{}
		}
		l.keyframes = newKeyframeLimiter(owner.sfu.cfg.Clock, owner.sfu.cfg.KeyframeInterval, func() { pub.sendPLI(l) })
		pub.layers[i] = l
	}
	return pub
}

// addSubscriber starts forwarding to d (once d is bound).
func (pub *publication) addSubscriber(d *downTrack) {
	pub.subsMu.Lock()
	defer pub.subsMu.Unlock()
	old := *pub.subs.Load()
	next := make([]*downTrack, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, d)
	pub.subs.Store(&next)
}

// removeSubscriber stops forwarding to d.
func (pub *publication) removeSubscriber(d *downTrack) {
	pub.subsMu.Lock()
	defer pub.subsMu.Unlock()
	old := *pub.subs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, s := range old {
		if s != d {
			next = append(next, s)
		}
	}
	pub.subs.Store(&next)
}

// removeSubscriberOf stops forwarding to participant p and returns its
// downtrack, if it had one.
func (pub *publication) removeSubscriberOf(p *Participant) *downTrack {
	for _, d := range *pub.subs.Load() {
		if d.sub == p {
			pub.removeSubscriber(d)
			return d
		}
	}
	return nil
}

// subscribers returns the current subscriber list; do not modify it.
func (pub *publication) subscribers() []*downTrack { return *pub.subs.Load() }

// run forwards track, layer li of the publication, until it ends. A later
// track for the same layer waits here until the previous one has finished.
func (pub *publication) run(track *webrtc.TrackRemote, li int) {
	l := pub.layers[li]
	l.fwdMu.Lock()
	defer l.fwdMu.Unlock()
	l.ssrc.Store(uint32(track.SSRC()))
	if track.RID() != "" {
		pub.simulcast.Store(true)
	}
	video := pub.kind == webrtc.RTPCodecTypeVideo
	if video {
		pub.requestLayerKeyframe(li) // subscribers may already wait for a picture
	}
	var last time.Time // arrival of the previous packet
	out := pub.owner.sfu.out
	for {
		n, _, err := track.Read(l.fwd.buf)
		if errors.Is(err, io.ErrShortBuffer) {
			pub.malformed.Add(1) // oversized packet, already discarded
			continue
		}
		if err != nil {
			pub.log.Debug("publisher track ended", "ssrc", uint32(track.SSRC()), "rid", track.RID(), "err", err)
			l.lastAt.Store(0)
			return
		}
		now := pub.clock.Now()
		if video && !last.IsZero() && now.Sub(last) >= resumeKeyframeGap {
			// The publisher's path was down (a cut, a network change):
			// subscribers lost frames and need a picture to decode from.
			pub.requestLayerKeyframe(li)
		}
		last = now
		if !pub.pass() {
			continue
		}
		// The copies for every subscriber leave in one system call.
		out.hold()
		pub.handle(li, l.fwd.buf[:n], now)
		out.release()
	}
}

// handle forwards one packet of layer li to the current subscribers and
// reads its audio level. It runs on the layer's forwarding goroutine and
// does not allocate.
func (pub *publication) handle(li int, pkt []byte, now time.Time) {
	l := pub.layers[li]
	if !l.fwd.forward(pkt, now, pub.subscribers(), li, pub.codecKind) {
		pub.malformed.Add(1)
		return
	}
	if l.cache != nil {
		l.cache.put(l.fwd.hdr.SSRC, l.fwd.hdr.SequenceNumber, pkt)
		if l.fwd.keyframe {
			l.cache.markKeyframe(&l.fwd.hdr)
		}
	}
	if len(l.fwd.payload) > 0 {
		// Padding alone is no sign of a live layer: a browser whose
		// estimate drops a layer keeps probing for bandwidth on its SSRC
		// with padding-only packets, and a subscriber kept on the layer
		// would get packets and never a frame.
		l.lastAt.Store(now.UnixNano())
	}
	l.bytes.Add(uint64(len(l.fwd.payload)))
	l.packets.Add(1)
	if pub.codecKind == codecVP8 {
		l.noteTemporal(l.fwd.vp8, len(l.fwd.payload))
	}
	if pub.codecKind == codecVP8 && l.fwd.keyframe {
		if _, h, ok := vp8Size(l.fwd.payload); ok {
			l.height.Store(uint32(h))
		}
	}
	if pub.levelID != 0 {
		pub.level.observe(l.fwd.hdr.GetExtension(pub.levelID))
	}
}

// requestKeyframe asks the publisher for a keyframe on every layer it
// sends, rate-limited per layer.
func (pub *publication) requestKeyframe() {
	if pub.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	for i, l := range pub.layers {
		if l.ssrc.Load() != 0 {
			pub.requestLayerKeyframe(i)
		}
	}
}

// requestFreshKeyframes asks for a keyframe on every layer it sends whose
// last request is older than d.
func (pub *publication) requestFreshKeyframes(d time.Duration) {
	if pub.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	for _, l := range pub.layers {
		if l.ssrc.Load() != 0 {
			l.keyframes.requestUnlessSince(d)
		}
	}
}

// requestLayerKeyframe asks for a keyframe on one layer, rate-limited.
func (pub *publication) requestLayerKeyframe(li int) {
	if pub.kind == webrtc.RTPCodecTypeVideo && li >= 0 && li < maxLayers {
		pub.layers[li].keyframes.request()
	}
}

func (pub *publication) sendPLI(l *layer) {
	ssrc := l.ssrc.Load()
	if ssrc == 0 {
		return
	}
	if err := pub.pli(ssrc); err != nil {
		pub.log.Debug("sending PLI failed", "err", err)
		return
	}
	pub.owner.sfu.totals.keyframes.Add(1)
	pub.log.Debug("PLI sent", "ssrc", ssrc)
}

// activeLayers reports which layers sent a packet within the last
// layerTimeout, as a bit set.
func (pub *publication) activeLayers(now time.Time) uint8 {
	var set uint8
	for i, l := range pub.layers {
		if at := l.lastAt.Load(); at != 0 && now.Sub(time.Unix(0, at)) < layerTimeout {
			set |= 1 << i
		}
	}
	return set
}

// layerTimeout is the silence after which a layer counts as stopped (the
// publisher paused it, or its uplink cannot carry it).
const layerTimeout = time.Second

// close stops keyframe requests; the forwarding goroutines end with the
// publisher's peer connection.
func (pub *publication) close() {
	for _, l := range pub.layers {
		l.keyframes.stop()
	}
}

// forwarder parses packets from a publisher and hands them to downtracks.
// Its buffers are reused for every packet, so forwarding does not allocate.
type forwarder struct {
	buf      []byte     // receive buffer, receiveMTU bytes
	hdr      rtp.Header // parsed header of the current packet; slices reused
	payload  []byte     // the current packet's payload, in buf
	keyframe bool       // the current packet starts a keyframe
	// vp8 is the current packet's VP8 payload descriptor, parsed once for
	// every subscriber (zero for other codecs).
	vp8 vp8Descriptor
}

func newForwarder() forwarder {
	return forwarder{buf: make([]byte, receiveMTU)}
}

// forward parses one RTP packet of layer li and writes it to every
// subscriber that takes that layer. It reports false, forwarding nothing,
// if the packet does not parse.
func (f *forwarder) forward(pkt []byte, now time.Time, subs []*downTrack, li int, codec codecKind) bool {
	payload, ok := splitPacket(pkt, &f.hdr)
	if !ok {
		return false
	}
	f.payload = payload
	f.vp8 = vp8Descriptor{}
	if codec == codecVP8 {
		f.vp8 = parseVP8(payload)
		f.keyframe = f.vp8.keyframe(payload)
	} else {
		f.keyframe = keyframeStart(codec, payload)
	}
	for _, d := range subs {
		d.write(li, f.keyframe, &f.hdr, payload, f.vp8, now)
	}
	return true
}

// splitPacket parses an RTP packet's header into hdr and returns its
// payload without padding, or false for a malformed packet.
func splitPacket(pkt []byte, hdr *rtp.Header) ([]byte, bool) {
	hdrLen, err := hdr.Unmarshal(pkt)
	if err != nil || hdr.Version != 2 {
		return nil, false
	}
	end := len(pkt)
	hdr.PaddingSize = 0
	if hdr.Padding {
		// Header.Unmarshal leaves padding to the caller; strip it so that
		// the payload is the media only and Pion re-pads on marshal.
		pad := int(pkt[end-1])
		if pad == 0 || hdrLen+pad > end {
			return nil, false
		}
		end -= pad
		hdr.PaddingSize = byte(pad)
	}
	return pkt[hdrLen:end], true
}

// resumeKeyframeGap is the silence after which a video publisher's next
// packet brings a keyframe request: whatever subscribers missed, they
// decode again from the keyframe rather than wait for their own PLIs.
const resumeKeyframeGap = time.Second

// keyframeLimiter sends at most one keyframe request per interval; a
// request inside the interval is deferred to its end, and further requests
// meanwhile merge into that one.
type keyframeLimiter struct {
	clock    Clock         // read-only
	interval time.Duration // read-only
	send     func()        // read-only

	mu      sync.Mutex // guards the fields below
	last    time.Time  // when the last request was sent; zero: never
	pending Timer      // deferred request, or nil
	stopped bool       // no more requests
	sent    uint64     // requests sent
}

func newKeyframeLimiter(clock Clock, interval time.Duration, send func()) *keyframeLimiter {
	return &keyframeLimiter{clock: clock, interval: interval, send: send}
}

func (k *keyframeLimiter) request() {
	k.mu.Lock()
	if k.stopped || k.pending != nil {
		k.mu.Unlock()
		return
	}
	now := k.clock.Now()
	if since := now.Sub(k.last); k.last.IsZero() || since >= k.interval {
		k.last = now
		k.sent++
		k.mu.Unlock()
		k.send()
		return
	}
	k.pending = k.clock.AfterFunc(k.interval-now.Sub(k.last), k.fire)
	k.mu.Unlock()
}

// requestUnlessSince is request, unless a request was sent within d or
// is pending: its keyframe is on its way.
func (k *keyframeLimiter) requestUnlessSince(d time.Duration) {
	k.mu.Lock()
	recent := k.pending != nil || (!k.last.IsZero() && k.clock.Now().Sub(k.last) < d)
	k.mu.Unlock()
	if !recent {
		k.request()
	}
}

func (k *keyframeLimiter) fire() {
	k.mu.Lock()
	if k.stopped || k.pending == nil {
		k.mu.Unlock()
		return
	}
	k.pending = nil
	k.last = k.clock.Now()
	k.sent++
	k.mu.Unlock()
	k.send()
}

func (k *keyframeLimiter) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	if k.pending != nil {
		k.pending.Stop()
		k.pending = nil
	}
}

// pliPacket builds the RTCP a keyframe request is sent as.
func pliPacket(ssrc uint32) []rtcp.Packet {
	return []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}
}
