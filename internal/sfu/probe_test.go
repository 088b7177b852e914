package sfu

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sentRecord is one packet a recordingWriter saw.
type sentRecord struct {
	seq     uint16
	ts      uint32
	marker  bool
	payload int // payload bytes
	padding int // padding bytes; a padding-only packet has payload 0
}

// recordingWriter keeps every packet a downtrack writes.
type recordingWriter struct {
	mu   sync.Mutex
	sent []sentRecord
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	buf := make([]byte, 1600)
	n, err := rtp.MarshalPacketTo(buf, h, payload) //nolint:staticcheck // what Pion's SRTP writer does
	if err != nil {
		return 0, err
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		return 0, err
	}
	w.mu.Lock()
	w.sent = append(w.sent, sentRecord{seq: p.SequenceNumber, ts: p.Timestamp, marker: p.Marker,
		payload: len(p.Payload), padding: int(p.Header.PaddingSize)})
	w.mu.Unlock()
	return n, nil
}

// Write takes a marshalled packet, as Pion's writer does: the pacer's
// queued packets come this way.
func (w *recordingWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return w.WriteRTP(&p.Header, p.Payload)
}

func (w *recordingWriter) records() []sentRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sentRecord(nil), w.sent...)
}

// fakeBWE is a bandwidth estimator whose statistics the test sets.
type fakeBWE struct {
	mu    sync.Mutex
	loss  float64
	usage string
}

func (f *fakeBWE) AddStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return w
}
func (f *fakeBWE) WriteRTCP([]rtcp.Packet, interceptor.Attributes) error { return nil }
func (f *fakeBWE) GetTargetBitrate() int                                 { return 300_000 }
func (f *fakeBWE) OnTargetBitrateChange(func(int))                       {}
func (f *fakeBWE) Close() error                                          { return nil }
func (f *fakeBWE) GetStats() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"averageLoss": f.loss, "usage": f.usage}
}

func (f *fakeBWE) set(loss float64, usage string) {
	f.mu.Lock()
	f.loss, f.usage = loss, usage
	f.mu.Unlock()
}

// probeSetup is a subscriber receiving one VP8 video (without simulcast)
// through a recordingWriter, on a fake clock and a fake estimator.
type probeSetup struct {
	clock *fakeClock
	bwe   *fakeBWE
	sub   *Participant
	pub   *publication
	d     *downTrack
	w     *recordingWriter
	seq   uint16 // the publisher's next sequence number
}

func newProbeSetup(t *testing.T) *probeSetup {
	t.Helper()
	var plis atomic.Int64
	s := &probeSetup{clock: &fakeClock{now: time.Unix(100, 0)}, bwe: &fakeBWE{usage: "normal"}, w: &recordingWriter{}, seq: 1000}
	s.pub = testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	s.sub = &Participant{
		id: "bob", log: slog.New(slog.NewTextHandler(io.Discard, nil)), done: make(chan struct{}),
		sfu: &SFU{cfg: Config{Clock: s.clock}}, receiving: make(map[*downTrack]struct{}), bwe: s.bwe,
		pacer: newPacer(s.clock),
	}
	s.d = newDownTrack(s.pub, s.sub)
	s.pub.addSubscriber(s.d)
	if _, err := s.d.Bind(&fakeBinding{codecs: []webrtc.RTPCodecParameters{testVP8}, ssrc: 4242, writer: s.w}); err != nil {
		t.Fatal(err)
	}
	s.sub.receiving[s.d] = struct{}{}
	return s
}

// frame sends one frame of n packets from the publisher, the last with
// the marker bit.
func (s *probeSetup) frame(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		p := &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: s.seq, Timestamp: 3000 * uint32(s.seq/4), SSRC: 99, Marker: i == n-1},
			Payload: vp8Frame(0, s.seq, false),
		}
		s.seq++
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s.pub.handle(0, b, s.clock.Now())
	}
}

// run advances the clock by d in probe ticks, sending one frame of two
// packets every frameEvery ticks.
func (s *probeSetup) run(t *testing.T, d time.Duration, frameEvery int) {
	t.Helper()
	for i := 0; time.Duration(i)*probeTick < d; i++ {
		if i%frameEvery == 0 {
			s.frame(t, 2)
		}
		s.clock.advance(probeTick)
	}
}

// checkStream asserts that the subscriber saw one gapless run of sequence
// numbers, and padding only right after a packet with the marker bit (or
// after other padding): never inside a frame.
func checkStream(t *testing.T, recs []sentRecord) (padding int) {
	t.Helper()
	for i, r := range recs {
		if r.payload == 0 {
			padding += r.padding
			if i == 0 || (!recs[i-1].marker && recs[i-1].payload != 0) {
				t.Fatalf("padding at %d (seq %d) inside a frame: %+v", i, r.seq, recs[max(0, i-3):i+1])
			}
			if r.padding == 0 {
				t.Fatalf("an empty packet without padding at %d", i)
			}
		}
		if i > 0 && r.seq != recs[i-1].seq+1 {
			t.Fatalf("sequence %d after %d: a gap or a repeat", r.seq, recs[i-1].seq)
		}
	}
	return padding
}

// A probe sends, between frames, about its rate's worth of padding for
// probeDuration, in padding-only packets that continue the subscriber's
// sequence numbers; with clean feedback it holds.
func TestProbeSendsPacedPaddingBetweenFrames(t *testing.T) {
	s := newProbeSetup(t)
	s.frame(t, 2)
	pr := s.sub.startProbe(400_000, s.clock.Now())
	s.run(t, probeDuration+2*probeTick, 3)
	if got := pr.result.Load(); got != probeHeld {
		t.Fatalf("probe result %d, want held", got)
	}
	recs := s.w.records()
	padding := checkStream(t, recs)
	// 400 kbit/s for 1 s is 50 kB; a frame every 3 ticks leaves room
	// after each, and what a step cannot send is owed to the next.
	if want := 400_000 / 8 * int(probeDuration/time.Second); padding < want*8/10 || padding > want*11/10 {
		t.Fatalf("padding sent %d bytes, want about %d", padding, want)
	}
	if uint64(padding) != s.d.paddingBytes.Load() || uint64(padding) != s.sub.Stats().PaddingBytes {
		t.Fatalf("padding counted %d, sent %d", s.d.paddingBytes.Load(), padding)
	}
	// After the probe, nothing more.
	before := len(recs)
	s.run(t, 200*time.Millisecond, 1000)
	if extra := len(s.w.records()) - before; extra != 2 {
		t.Fatalf("%d packets after the probe ended, want the one frame's 2", extra)
	}
}

// The probe stops at the first TWCC loss, or at delay over-use once the
// over-use it started under has cleared, and sends nothing more.
func TestProbeStopsAtLossOrDelayGrowth(t *testing.T) {
	t.Run("loss", func(t *testing.T) {
		s := newProbeSetup(t)
		s.frame(t, 2)
		pr := s.sub.startProbe(400_000, s.clock.Now())
		s.run(t, 200*time.Millisecond, 3)
		if pr.result.Load() != probeRunning {
			t.Fatal("stopped without cause")
		}
		s.bwe.set(0.05, "normal")
		s.run(t, 2*probeTick, 1000)
		if pr.result.Load() != probeFailed {
			t.Fatalf("loss in the feedback: result %d, want failed", pr.result.Load())
		}
		sent := s.d.paddingBytes.Load()
		s.run(t, probeDuration, 3)
		if s.d.paddingBytes.Load() != sent {
			t.Fatal("padding went on after the probe failed")
		}
		checkStream(t, s.w.records())
	})
	t.Run("delay", func(t *testing.T) {
		s := newProbeSetup(t)
		s.bwe.set(0, "overuse") // the last feedback before the probe
		s.frame(t, 2)
		pr := s.sub.startProbe(400_000, s.clock.Now())
		s.run(t, 200*time.Millisecond, 3)
		if pr.result.Load() != probeRunning {
			t.Fatal("stopped at the over-use it started under")
		}
		s.bwe.set(0, "normal")
		s.run(t, 100*time.Millisecond, 3)
		s.bwe.set(0, "overuse")
		s.run(t, 2*probeTick, 3)
		if pr.result.Load() != probeFailed {
			t.Fatalf("delay over-use during the probe: result %d, want failed", pr.result.Load())
		}
	})
	t.Run("stopped", func(t *testing.T) {
		s := newProbeSetup(t)
		s.frame(t, 2)
		pr := s.sub.startProbe(400_000, s.clock.Now())
		if !pr.stop("test") || pr.stop("again") {
			t.Fatal("stop should succeed once")
		}
		s.run(t, probeDuration, 3)
		if s.d.paddingBytes.Load() != 0 || pr.result.Load() != probeFailed {
			t.Fatalf("a stopped probe sent %d bytes, result %d", s.d.paddingBytes.Load(), pr.result.Load())
		}
	})
}

// A NACK for a padding packet is answered with padding of the same
// sequence number; one for media with the media packet.
func TestNackedPaddingIsPaddingAgain(t *testing.T) {
	s := newProbeSetup(t)
	s.frame(t, 2)
	pr := s.sub.startProbe(100_000, s.clock.Now())
	s.run(t, 5*probeTick, 3)
	pr.stop("test")
	recs := s.w.records()
	var pad, media sentRecord
	for _, r := range recs {
		if r.payload == 0 && pad.padding == 0 {
			pad = r
		}
		if r.payload != 0 {
			media = r
		}
	}
	if pad.padding == 0 {
		t.Fatalf("no padding sent: %+v", recs)
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{pad.seq, media.seq})}
	if n := s.d.retransmit(nack); n != 2 {
		t.Fatalf("resent %d of 2", n)
	}
	after := s.w.records()[len(recs):]
	if len(after) != 2 || after[0].seq != pad.seq || after[0].payload != 0 || after[0].padding == 0 ||
		after[1].seq != media.seq || after[1].payload != media.payload {
		t.Fatalf("resent %+v, want padding %d then media %d", after, pad.seq, media.seq)
	}
}

// startProbeFor probes for everything wanted, or after a failed probe for
// everything, for one step up only, at that step's rate.
func TestStartProbeForAStep(t *testing.T) {
	s := newProbeSetup(t)
	rates := &layerRates{bps: [maxLayers]uint64{150_000, 500_000}}
	rates.tbps[0] = [numTemporal]uint64{80_000, 40_000, 30_000, 0}
	choices := []choice{{d: s.d, layer: 0, temporal: 0, want: 1, active: 0b11, rates: rates}}
	s.sub.startProbeFor(choices, 500_000, 80_000, s.clock.Now())
	if s.sub.cong.probeTo != 0 || s.sub.cong.probe.rate != uint64(500_000*probeOvershoot)-80_000 {
		t.Fatalf("first probe: for %d at %d bit/s; want everything (probeTo 0) at %d", s.sub.cong.probeTo, s.sub.cong.probe.rate, uint64(500_000*probeOvershoot)-80_000)
	}
	s.sub.cong.probe.stop("test")
	s.sub.cong.stepNext = true
	s.sub.startProbeFor(choices, 500_000, 80_000, s.clock.Now())
	if s.sub.cong.probeTo != 120_000 || s.sub.cong.probe.rate != max(uint64(120_000*probeOvershoot)-80_000, minProbeRate) {
		t.Fatalf("after a failed probe: for %d at %d bit/s; want the step to 120000", s.sub.cong.probeTo, s.sub.cong.probe.rate)
	}
	s.sub.cong.probe.stop("test")
}
