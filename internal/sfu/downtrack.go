package sfu

import (
	"errors"
	"io"
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
type downTrack struct {
	pub *publication // the source; read-only
	sub *Participant // the receiving participant; read-only

	rw  rewriter   // owned by pub's forwarding goroutine
	out rtp.Header // outgoing header scratch; owned by pub's forwarding goroutine

	bound  atomic.Pointer[binding] // nil until Bind and after Unbind
	sender *webrtc.RTPSender       // guarded by sub.negMu; nil until offered

	codecMismatch atomic.Bool // bound without the publisher's codec: never written

	sent         atomic.Uint64 // packets written
	dropUnbound  atomic.Uint64 // packets dropped: not bound, or bound without the codec
	dropWriteErr atomic.Uint64 // packets dropped: the writer failed
}

// binding is what Bind learned; replaced as a whole, never mutated.
type binding struct {
	ssrc        uint32                  // subscriber-side SSRC
	payloadType uint8                   // subscriber-side payload type
	writer      webrtc.TrackLocalWriter // Pion's interceptor chain and SRTP
	exts        [maxForwardedExt]extMap // extension ids to copy
	nExts       int                     // used entries of exts
}

// extMap maps a publisher extension id to the subscriber's.
type extMap struct{ from, to uint8 }

func newDownTrack(pub *publication, sub *Participant) *downTrack {
	return &downTrack{pub: pub, sub: sub, rw: newRewriter(pub.codec.ClockRate)}
}

// ID, StreamID, RID and Kind implement webrtc.TrackLocal; they make the
// msid "<publisher id> <kind>-<publisher id>" (see TrackInfo).
func (d *downTrack) ID() string                { return d.pub.info.TrackID }
func (d *downTrack) StreamID() string          { return d.pub.info.StreamID }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.pub.kind }

// Bind implements webrtc.TrackLocal.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(d.pub.codec.RTPCodecCapability, ctx.CodecParameters())
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
	// Asynchronously: Pion holds its sender's lock while binding, and the
	// request goes out through another peer connection.
	go d.pub.requestKeyframe()
	return codec, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// write sends one packet of the publication to the subscriber. It runs on
// the forwarding goroutine and does not allocate.
func (d *downTrack) write(src *rtp.Header, payload []byte, now time.Time) {
	b := d.bound.Load()
	if b == nil {
		d.dropUnbound.Add(1)
		return
	}
	seq, ts := d.rw.rewrite(src.SSRC, src.SequenceNumber, src.Timestamp, now)
	h := &d.out
	h.Version = 2
	h.Padding = src.Padding
	h.PaddingSize = src.PaddingSize
	h.Marker = src.Marker
	h.PayloadType = b.payloadType
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
	if _, err := b.writer.WriteRTP(h, payload); err != nil {
		d.dropWriteErr.Add(1)
		return
	}
	d.sent.Add(1)
}

// readRTCP consumes the subscriber's RTCP for this track until the sender
// stops. Reading is what lets Pion's interceptors answer NACKs from their
// packet cache; keyframe requests (PLI, FIR) go on to the publisher.
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
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.pub.requestKeyframe()
			}
		}
	}
}
