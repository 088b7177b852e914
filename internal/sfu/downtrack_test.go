package sfu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// captureWriter marshals what a downtrack writes into a reused buffer, as
// SRTP would, and keeps the last packet.
type captureWriter struct {
	buf    [1600]byte
	last   []byte
	writes int
	fail   error
}

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.fail != nil {
		return 0, w.fail
	}
	n, err := rtp.MarshalPacketTo(w.buf[:], h, payload) //nolint:staticcheck // what Pion's SRTP writer does
	if err != nil {
		return 0, err
	}
	w.last = w.buf[:n]
	w.writes++
	return n, nil
}

func (w *captureWriter) Write(b []byte) (int, error) { return len(b), nil }

// fakeBinding is the TrackLocalContext Pion would pass to Bind.
type fakeBinding struct {
	codecs []webrtc.RTPCodecParameters
	exts   []webrtc.RTPHeaderExtensionParameter
	ssrc   webrtc.SSRC
	writer webrtc.TrackLocalWriter
}

func (f *fakeBinding) CodecParameters() []webrtc.RTPCodecParameters           { return f.codecs }
func (f *fakeBinding) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return f.exts }
func (f *fakeBinding) SSRC() webrtc.SSRC                                      { return f.ssrc }
func (f *fakeBinding) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (f *fakeBinding) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (f *fakeBinding) WriteStream() webrtc.TrackLocalWriter                   { return f.writer }
func (f *fakeBinding) ID() string                                             { return "fake" }
func (f *fakeBinding) RTCPReader() interceptor.RTCPReader                     { return nil }

var (
	testOpus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}
	testVP8 = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}
)

// testPublication builds a publication without a peer connection; its
// keyframe requests are counted in *plis.
func testPublication(kind webrtc.RTPCodecType, codec webrtc.RTPCodecParameters,
	exts []webrtc.RTPHeaderExtensionParameter, plis *atomic.Int64,
) *publication {
	return testPublicationOf("alice", kind, codec, exts, plis)
}

func testPublicationOf(ownerID string, kind webrtc.RTPCodecType, codec webrtc.RTPCodecParameters,
	exts []webrtc.RTPHeaderExtensionParameter, plis *atomic.Int64,
) *publication {
	clock := &fakeClock{now: time.Unix(0, 0)}
	owner := &Participant{
		id:  ownerID,
		sfu: &SFU{cfg: Config{Clock: clock, KeyframeInterval: time.Second}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	src := SourceAudio
	if kind == webrtc.RTPCodecTypeVideo {
		src = SourceCamera
	}
	pub := newPublication(owner, src, kind, codec, exts)
	pub.pli = func(uint32) error { plis.Add(1); return nil }
	pub.layers[0].ssrc.Store(99)
	return pub
}

func testSubscriber() *Participant {
	return &Participant{id: "bob", log: slog.New(slog.NewTextHandler(io.Discard, nil)), state: StateConnected,
		pacer: newPacer(&fakeClock{now: time.Unix(0, 0)})}
}

// boundDownTrack subscribes a new downtrack to pub and binds it.
func boundDownTrack(t testing.TB, pub *publication, ctx *fakeBinding) *downTrack {
	t.Helper()
	d := newDownTrack(pub, testSubscriber())
	pub.addSubscriber(d)
	if _, err := d.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func audioPacket(t testing.TB, seq uint16, ts uint32, levelID, midID uint8) []byte {
	t.Helper()
	p := &rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts, SSRC: 99,
			CSRC: []uint32{5}, Padding: true, PaddingSize: 4,
		},
		Payload: []byte("opus frame"),
	}
	if err := p.SetExtension(levelID, []byte{0xAA}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetExtension(midID, []byte("0")); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownTrackRewritesHeaderAndMapsExtensions(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeAudio, testOpus, []webrtc.RTPHeaderExtensionParameter{
		{URI: uriAudioLevel, ID: 1}, {URI: uriMid, ID: 3},
	}, &plis)
	w := &captureWriter{}
	opus109 := testOpus
	opus109.PayloadType = 109
	boundDownTrack(t, pub, &fakeBinding{
		codecs: []webrtc.RTPCodecParameters{testVP8, opus109},
		exts:   []webrtc.RTPHeaderExtensionParameter{{URI: uriMid, ID: 2}, {URI: uriAudioLevel, ID: 7}},
		ssrc:   4242,
		writer: w,
	})
	if !pub.layers[0].fwd.forward(audioPacket(t, 1000, 5000, 1, 3), time.Unix(0, 0), pub.subscribers(), 0, pub.codecKind) {
		t.Fatal("valid packet refused")
	}
	var got rtp.Packet
	if err := got.Unmarshal(w.last); err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	h := got.Header
	if h.SSRC != 4242 || h.PayloadType != 109 || h.SequenceNumber != 1000 || h.Timestamp != 5000 {
		t.Errorf("header = ssrc %d pt %d seq %d ts %d", h.SSRC, h.PayloadType, h.SequenceNumber, h.Timestamp)
	}
	if len(h.CSRC) != 0 {
		t.Errorf("CSRCs forwarded: %v", h.CSRC)
	}
	if v := h.GetExtension(7); !bytes.Equal(v, []byte{0xAA}) {
		t.Errorf("audio level at the subscriber's id 7 = %v", v)
	}
	for _, id := range []uint8{1, 2, 3} {
		if v := h.GetExtension(id); v != nil {
			t.Errorf("extension %d forwarded: %v", id, v)
		}
	}
	if string(got.Payload) != "opus frame" || h.PaddingSize != 4 {
		t.Errorf("payload %q padding %d", got.Payload, h.PaddingSize)
	}
}

func TestDownTrackWithoutTheCodecForwardsNothing(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	d := newDownTrack(pub, testSubscriber())
	pub.addSubscriber(d)
	vp9 := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000},
		PayloadType:        98,
	}
	w := &captureWriter{}
	codec, err := d.Bind(&fakeBinding{codecs: []webrtc.RTPCodecParameters{vp9}, writer: w})
	if err != nil || codec.MimeType != webrtc.MimeTypeVP9 || !d.codecMismatch.Load() {
		t.Errorf("Bind = %v, %v; want the negotiated VP9 and a mismatch mark", codec.MimeType, err)
	}
	pub.layers[0].fwd.forward(videoPacket(t, 1), time.Unix(0, 0), pub.subscribers(), 0, pub.codecKind)
	if w.writes != 0 || d.dropUnbound.Load() != 1 {
		t.Errorf("VP8 forwarded as VP9: %d writes, %d dropped", w.writes, d.dropUnbound.Load())
	}
	if _, err := newDownTrack(pub, testSubscriber()).Bind(&fakeBinding{writer: w}); !errors.Is(err, ErrCodecNotNegotiated) {
		t.Errorf("Bind without codecs = %v, want ErrCodecNotNegotiated", err)
	}
}

// A layer chosen for a subscriber still connecting is asked for when it
// connects, at once: the allocator's choice before that asks nothing (the
// keyframe could not reach it, and the request would hold back the one
// made on connecting behind the layer's limiter).
func TestConnectingAsksTheTargetLayerAtOnce(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	var asked []uint32
	pub.pli = func(ssrc uint32) error { asked = append(asked, ssrc); return nil }
	pub.layers[1].ssrc.Store(100)
	pub.simulcast.Store(true)
	sub := testSubscriber()
	sub.state = StateConnecting
	d := newDownTrack(pub, sub)
	pub.addSubscriber(d)
	sub.receiving = map[*downTrack]struct{}{d: {}}
	d.setTarget(1, false)
	if len(asked) != 0 {
		t.Fatalf("choosing a layer before connecting asked keyframes of %v, want none", asked)
	}
	sub.onConnectionState(webrtc.PeerConnectionStateConnected)
	if !slices.Contains(asked, 100) {
		t.Fatalf("connecting asked keyframes of %v, want the target layer's (100) among them, at once", asked)
	}
	n := len(asked)
	d.setTarget(0, false)
	d.setTarget(1, false)
	if len(asked) != n {
		t.Errorf("switching layers right after connecting asked more keyframes (%v): connecting asked every layer", asked[n:])
	}
}

func TestDownTrackDropsUntilBoundAndCountsWriteErrors(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	d := newDownTrack(pub, testSubscriber())
	pub.addSubscriber(d)
	pkt := videoPacket(t, 1)
	pub.layers[0].fwd.forward(pkt, time.Unix(0, 0), pub.subscribers(), 0, pub.codecKind)
	if d.dropUnbound.Load() != 1 || d.sent.Load() != 0 {
		t.Errorf("unbound: dropped %d sent %d", d.dropUnbound.Load(), d.sent.Load())
	}
	w := &captureWriter{fail: errors.New("transport gone")}
	if _, err := d.Bind(&fakeBinding{codecs: []webrtc.RTPCodecParameters{testVP8}, ssrc: 1, writer: w}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for plis.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if plis.Load() != 1 {
		t.Errorf("binding a video downtrack sent %d PLIs, want 1", plis.Load())
	}
	pub.layers[0].fwd.forward(pkt, time.Unix(0, 0), pub.subscribers(), 0, pub.codecKind)
	if d.dropWriteErr.Load() != 1 {
		t.Errorf("write errors counted %d, want 1", d.dropWriteErr.Load())
	}
	pub.removeSubscriber(d)
	if n := len(pub.subscribers()); n != 0 {
		t.Errorf("%d subscribers after removal", n)
	}
}

func TestForwarderRefusesMalformedPackets(t *testing.T) {
	f := newForwarder()
	good := videoPacket(t, 1)
	badPadding := append([]byte(nil), good...)
	badPadding[0] |= 0x20                            // padding bit
	badPadding[len(badPadding)-1] = 0                // padding length 0
	hugePadding := append([]byte(nil), good[:20]...) // 8 bytes of payload
	hugePadding[0] |= 0x20
	hugePadding[len(hugePadding)-1] = 9
	for name, pkt := range map[string][]byte{
		"empty": nil, "short": good[:5], "bad version": append([]byte{0x00}, good[1:]...),
		"zero padding": badPadding, "padding longer than packet": hugePadding,
	} {
		if f.forward(pkt, time.Unix(0, 0), nil, 0, codecVP8) {
			t.Errorf("%s: accepted", name)
		}
	}
	if !f.forward(good, time.Unix(0, 0), nil, 0, codecVP8) {
		t.Error("good packet refused")
	}
}

func videoPacket(t testing.TB, seq uint16) []byte {
	t.Helper()
	p := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * uint32(seq), SSRC: 99},
		Payload: bytes.Repeat([]byte{0x10}, 1100),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forwardingSetup is a publication with n bound subscribers whose writers
// marshal each packet, as SRTP would.
func forwardingSetup(t testing.TB, n int) (*publication, []byte) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeAudio, testOpus, []webrtc.RTPHeaderExtensionParameter{
		{URI: uriAudioLevel, ID: 1}, {URI: uriMid, ID: 3},
	}, &plis)
	for i := range n {
		boundDownTrack(t, pub, &fakeBinding{
			codecs: []webrtc.RTPCodecParameters{testOpus},
			exts:   []webrtc.RTPHeaderExtensionParameter{{URI: uriAudioLevel, ID: 5}},
			ssrc:   webrtc.SSRC(1000 + i),
			writer: &captureWriter{},
		})
	}
	return pub, audioPacket(t, 1, 960, 1, 3)
}

func TestForwardDoesNotAllocate(t *testing.T) {
	pub, pkt := forwardingSetup(t, 10)
	now := time.Unix(0, 0)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pub.handle(0, pkt, now)
	})
	if allocs != 0 {
		t.Errorf("forwarding one packet to 10 subscribers allocates %.1f times", allocs)
	}
	if pub.malformed.Load() != 0 || pub.level.heard.Load() == 0 {
		t.Errorf("%d packets refused, %d audio levels read", pub.malformed.Load(), pub.level.heard.Load())
	}
	for _, d := range pub.subscribers() {
		if d.sent.Load() < 1000 {
			t.Errorf("a subscriber was sent %d packets of 1000+", d.sent.Load())
		}
	}
}

func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			pub, pkt := forwardingSetup(b, n)
			now := time.Unix(0, 0)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			seq := uint16(0)
			for b.Loop() {
				seq++
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				pub.handle(0, pkt, now)
			}
		})
	}
}

// FuzzForward feeds arbitrary bytes to the forwarding path: it must never
// panic, and whatever it forwards must be valid RTP with the subscriber's
// SSRC and payload type.
func FuzzForward(f *testing.F) {
	f.Add(videoPacket(f, 7))
	f.Add(audioPacket(f, 1, 960, 1, 3))
	f.Add([]byte{0xB0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 99, 0x10, 0, 0, 1, 0, 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var plis atomic.Int64
		pub := testPublication(webrtc.RTPCodecTypeAudio, testOpus, []webrtc.RTPHeaderExtensionParameter{
			{URI: uriAudioLevel, ID: 1},
		}, &plis)
		w := &captureWriter{}
		boundDownTrack(t, pub, &fakeBinding{
			codecs: []webrtc.RTPCodecParameters{testOpus},
			exts:   []webrtc.RTPHeaderExtensionParameter{{URI: uriAudioLevel, ID: 9}},
			ssrc:   4242,
			writer: w,
		})
		if !pub.layers[0].fwd.forward(pkt, time.Unix(0, 0), pub.subscribers(), 0, pub.codecKind) || w.writes == 0 {
			return
		}
		var out rtp.Packet
		if err := out.Unmarshal(w.last); err != nil {
			t.Fatalf("forwarded packet does not parse: %v\nin  %x\nout %x", err, pkt, w.last)
		}
		if out.SSRC != 4242 || out.PayloadType != 111 {
			t.Fatalf("forwarded ssrc %d pt %d", out.SSRC, out.PayloadType)
		}
	})
}
