package sfu

import (
	"bytes"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// seqWriter records the sequence numbers written to it; while dropping it
// takes packets and sends nothing, as Pion's writer does before DTLS is up.
type seqWriter struct {
	dropping atomic.Bool
	mu       sync.Mutex
	seqs     []uint16 // guarded by mu
}

func (w *seqWriter) WriteRTP(h *rtp.Header, _ []byte) (int, error) {
	if w.dropping.Load() {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seqs = append(w.seqs, h.SequenceNumber)
	return 0, nil
}

func (w *seqWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *seqWriter) got() []uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seqs)
}

// vp8Packet is a packet of a VP8 frame at 30 frames/s: a keyframe's first
// packet, or a delta frame's.
func vp8Packet(t testing.TB, seq uint16, frame uint32, key bool) []byte {
	t.Helper()
	vp8 := []byte{0x10, 0x01, 0, 0} // S bit, partition 0; P bit set: a delta frame
	if key {
		vp8 = []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}
	}
	p := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * frame, SSRC: 99},
		Payload: append(vp8, bytes.Repeat([]byte{0x55}, 900)...),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// connectingSubscriber binds a downtrack of pub for a subscriber still
// connecting, whose writer drops what it is given until it connects.
func connectingSubscriber(t *testing.T, pub *publication) (*Participant, *downTrack, *seqWriter) {
	t.Helper()
	sub := testSubscriber()
	sub.state = StateConnecting
	d := newDownTrack(pub, sub)
	pub.addSubscriber(d)
	sub.receiving = map[*downTrack]struct{}{d: {}}
	w := &seqWriter{}
	w.dropping.Store(true)
	if _, err := d.Bind(&fakeBinding{codecs: []webrtc.RTPCodecParameters{testVP8}, ssrc: 1, writer: w}); err != nil {
		t.Fatal(err)
	}
	return sub, d, w
}

// Binding a subscriber's video asks for a keyframe at once, before it is
// connected; a keyframe that comes before it connects is not lost: its
// first packet after connecting follows the cached packets from that
// keyframe on, in order.
func TestConnectingSendsTheKeyframeAskedForOnBinding(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	sub, d, w := connectingSubscriber(t, pub)
	for deadline := time.Now().Add(5 * time.Second); plis.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if plis.Load() != 1 {
		t.Fatalf("binding for a subscriber still connecting sent %d PLIs, want 1", plis.Load())
	}
	now := time.Unix(0, 0)
	pub.handle(0, vp8Packet(t, 10, 100, true), now)
	pub.handle(0, vp8Packet(t, 11, 100, false), now)
	pub.handle(0, vp8Packet(t, 12, 101, false), now)
	w.dropping.Store(false) // DTLS is up
	sub.onConnectionState(webrtc.PeerConnectionStateConnected)
	pub.handle(0, vp8Packet(t, 13, 102, false), now)
	pub.handle(0, vp8Packet(t, 14, 103, false), now)
	if got, want := w.got(), []uint16{10, 11, 12, 13, 14}; !slices.Equal(got, want) {
		t.Errorf("after connecting the subscriber got %v, want %v: the cached keyframe and what followed it, then the live packets", got, want)
	}
	if n := d.replayed.Load(); n != 3 {
		t.Errorf("replayed %d packets, want 3", n)
	}
}

// A keyframe older than replayMaxAge is not sent from the cache: the
// subscriber would play the call that far behind. It waits for the
// keyframe asked for on connecting instead.
func TestConnectingSendsNoStaleKeyframe(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	sub, d, w := connectingSubscriber(t, pub)
	now := time.Unix(0, 0)
	pub.handle(0, vp8Packet(t, 10, 100, true), now)
	frames := uint32(replayMaxAge/(time.Second/30)) + 2
	for i := range frames {
		pub.handle(0, vp8Packet(t, 11+uint16(i), 101+i, false), now)
	}
	w.dropping.Store(false)
	sub.onConnectionState(webrtc.PeerConnectionStateConnected)
	pub.handle(0, vp8Packet(t, 11+uint16(frames), 101+frames, false), now)
	if got := w.got(); len(got) != 1 || got[0] != 11+uint16(frames) {
		t.Errorf("after connecting the subscriber got %v, want the live packet alone", got)
	}
	if n := d.replayed.Load(); n != 0 {
		t.Errorf("replayed %d packets of a stale keyframe, want 0", n)
	}
}

// Binding for a subscriber still connecting asks every layer for a
// keyframe (the allocator may move its target before it connects), and
// connecting right after asks no more: the keyframes are on their way, and
// asking again would bring a second one per layer half a second later (the
// limiter's interval).
func TestBindingAsksEveryLayerOnceForAConnectingSubscriber(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	var mu sync.Mutex
	asked := map[uint32]int{}
	pub.pli = func(ssrc uint32) error { mu.Lock(); asked[ssrc]++; mu.Unlock(); return nil }
	pub.layers[1].ssrc.Store(100)
	pub.simulcast.Store(true)
	sub, _, _ := connectingSubscriber(t, pub)
	count := func() map[uint32]int { mu.Lock(); defer mu.Unlock(); return maps.Clone(asked) }
	for deadline := time.Now().Add(5 * time.Second); len(count()) < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := count(); got[99] != 1 || got[100] != 1 {
		t.Fatalf("binding asked keyframes %v (by SSRC), want one of each layer (99, 100)", got)
	}
	sub.onConnectionState(webrtc.PeerConnectionStateConnected)
	for _, l := range pub.layers {
		l.keyframes.mu.Lock()
		pending := l.keyframes.pending != nil
		l.keyframes.mu.Unlock()
		if pending {
			t.Errorf("connecting right after binding deferred another keyframe request")
		}
	}
	if got := count(); got[99] != 1 || got[100] != 1 {
		t.Errorf("after connecting: asked %v, want still one of each layer", got)
	}
}
