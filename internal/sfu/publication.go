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

// publication is one track a participant publishes (at most one audio and
// one video each). It outlives the Pion track that feeds it: if the
// publisher's SSRC changes, a new forwarding goroutine takes over the same
// downtracks and their rewriters keep the outgoing streams continuous.
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

	fwdMu sync.Mutex // held by a forwarding goroutine for its whole life
	fwd   forwarder  // owned by the holder of fwdMu

	ssrc      atomic.Uint32    // SSRC the publisher currently sends with
	keyframes *keyframeLimiter // read-only pointer
	malformed atomic.Uint64    // packets dropped as unparseable
}

func newPublication(owner *Participant, kind webrtc.RTPCodecType, codec webrtc.RTPCodecParameters,
	exts []webrtc.RTPHeaderExtensionParameter,
) *publication {
	mk := mediaKindOf(kind)
	pub := &publication{
		owner: owner,
		info: TrackInfo{
			Kind: mk, StreamID: owner.id, TrackID: trackIDFor(mk, owner.id), Codec: codec.MimeType,
		},
		kind:   kind,
		codec:  codec,
		extIDs: make(map[string]uint8, len(exts)),
		clock:  owner.sfu.cfg.Clock,
		log:    owner.log.With("track", trackIDFor(mk, owner.id)),
		pli:    owner.sendPLI,
		fwd:    newForwarder(),
	}
	for _, e := range exts {
		if e.ID > 0 && e.ID < 256 {
			pub.extIDs[e.URI] = uint8(e.ID)
		}
	}
	empty := []*downTrack{}
	pub.subs.Store(&empty)
	pub.keyframes = newKeyframeLimiter(owner.sfu.cfg.Clock, owner.sfu.cfg.KeyframeInterval, pub.sendPLI)
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

// run forwards track until it ends. A later track for the same publication
// waits here until the previous one has finished.
func (pub *publication) run(track *webrtc.TrackRemote) {
	pub.fwdMu.Lock()
	defer pub.fwdMu.Unlock()
	pub.ssrc.Store(uint32(track.SSRC()))
	video := pub.kind == webrtc.RTPCodecTypeVideo
	if video {
		pub.requestKeyframe() // subscribers may already wait for a picture
	}
	var last time.Time // arrival of the previous packet
	for {
		n, _, err := track.Read(pub.fwd.buf)
		if errors.Is(err, io.ErrShortBuffer) {
			pub.malformed.Add(1) // oversized packet, already discarded
			continue
		}
		if err != nil {
			pub.log.Debug("publisher track ended", "ssrc", uint32(track.SSRC()), "err", err)
			return
		}
		now := pub.clock.Now()
		if video && !last.IsZero() && now.Sub(last) >= resumeKeyframeGap {
			// The publisher's path was down (a cut, a network change):
			// subscribers lost frames and need a picture to decode from.
			pub.requestKeyframe()
		}
		last = now
		if !pub.pass() {
			continue
		}
		if !pub.fwd.forward(pub.fwd.buf[:n], now, pub.subscribers()) {
			pub.malformed.Add(1)
		}
	}
}

// requestKeyframe asks the publisher for a keyframe, rate-limited.
func (pub *publication) requestKeyframe() {
	if pub.kind == webrtc.RTPCodecTypeVideo {
		pub.keyframes.request()
	}
}

func (pub *publication) sendPLI() {
	ssrc := pub.ssrc.Load()
	if ssrc == 0 {
		return
	}
	if err := pub.pli(ssrc); err != nil {
		pub.log.Debug("sending PLI failed", "err", err)
	}
}

// close stops keyframe requests; the forwarding goroutine ends with the
// publisher's peer connection.
func (pub *publication) close() { pub.keyframes.stop() }

// forwarder parses packets from a publisher and hands them to downtracks.
// Its buffers are reused for every packet, so forwarding does not allocate.
type forwarder struct {
	buf []byte     // receive buffer, receiveMTU bytes
	hdr rtp.Header // parsed header of the current packet; slices reused
}

func newForwarder() forwarder {
	return forwarder{buf: make([]byte, receiveMTU)}
}

// forward parses one RTP packet and writes it to every subscriber. It
// reports false, forwarding nothing, if the packet does not parse.
func (f *forwarder) forward(pkt []byte, now time.Time, subs []*downTrack) bool {
	hdrLen, err := f.hdr.Unmarshal(pkt)
	if err != nil || f.hdr.Version != 2 {
		return false
	}
	end := len(pkt)
	f.hdr.PaddingSize = 0
	if f.hdr.Padding {
		// Header.Unmarshal leaves padding to the caller; strip it so that
		// the payload is the media only and Pion re-pads on marshal.
		pad := int(pkt[end-1])
		if pad == 0 || hdrLen+pad > end {
			return false
		}
		end -= pad
		f.hdr.PaddingSize = byte(pad)
	}
	payload := pkt[hdrLen:end]
	for _, d := range subs {
		d.write(&f.hdr, payload, now)
	}
	return true
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
