package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// keyframeBurst writes n packets of size payload bytes at once, as a
// publisher's keyframe arrives, with sequence numbers from seq.
func keyframeBurst(t *testing.T, pc *pacer, w *recordingWriter, seq uint16, n, size int) {
	t.Helper()
	payload := make([]byte, size)
	for i := range n {
		h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq + uint16(i), Timestamp: 9000, SSRC: 4242, Marker: i == n-1}
		if err := pc.write(w, h, payload); err != nil {
			t.Fatal(err)
		}
	}
}

// A keyframe written at once leaves at the pacing rate, never faster than
// the rate plus the bucket, in order and whole.
func TestPacerSpreadsAKeyframe(t *testing.T) {
	clock := &fakeClock{now: time.Unix(100, 0)}
	pc := newPacer(clock)
	w := &recordingWriter{}
	const rate = 300_000
	pc.setRate(rate)
	keyframeBurst(t, pc, w, 1000, 30, 1000) // 30 KB: 0.8 s at 300 kbit/s
	if got := len(w.records()); got > 1 {
		t.Fatalf("%d packets of the burst left at once", got)
	}
	const packet = 1000 + 12
	start := clock.Now()
	for step := 0; len(w.records()) < 30; step++ {
		if step > 400 {
			t.Fatalf("after 2 s only %d of 30 packets left", len(w.records()))
		}
		clock.advance(pacerTick)
		elapsed := clock.Now().Sub(start).Seconds()
		allowed := rate/8*elapsed + rate/8*pacerBurst.Seconds() + packet
		if sent := float64(len(w.records()) * packet); sent > allowed {
			t.Fatalf("%.0f bytes left within %.3f s: over %.0f, the rate and the bucket", sent, elapsed, allowed)
		}
	}
	if took := clock.Now().Sub(start); took < 700*time.Millisecond {
		t.Errorf("the 30 KB burst left within %v at 300 kbit/s", took)
	}
	for i, r := range w.records() {
		if r.seq != 1000+uint16(i) || r.payload != 1000 {
			t.Fatalf("packet %d left as %+v", i, r)
		}
	}
	if pc.paced.Load() != 30 || pc.dropped.Load() != 0 {
		t.Errorf("paced %d, dropped %d; want 30 and 0", pc.paced.Load(), pc.dropped.Load())
	}
}

// When pacing ends, what is queued still leaves first and in order; then
// writes go straight through again.
func TestPacerStopsAfterItsQueue(t *testing.T) {
	clock := &fakeClock{now: time.Unix(100, 0)}
	pc := newPacer(clock)
	w := &recordingWriter{}
	pc.setRate(200_000)
	keyframeBurst(t, pc, w, 1, 10, 1000)
	pc.setRate(0)
	if !pc.active.Load() {
		t.Fatal("pacing stopped with packets queued")
	}
	keyframeBurst(t, pc, w, 11, 5, 500) // behind the queue: must not overtake it
	if got := len(w.records()); got != 0 {
		t.Fatalf("%d packets overtook the queue", got)
	}
	clock.advance(pacerTick)
	if pc.active.Load() {
		t.Fatal("still pacing with the rate 0 and the queue drained")
	}
	keyframeBurst(t, pc, w, 16, 1, 500)
	rs := w.records()
	if len(rs) != 16 {
		t.Fatalf("%d packets written, want 16", len(rs))
	}
	for i, r := range rs {
		if r.seq != uint16(i+1) {
			t.Fatalf("packet %d has seq %d: out of order", i, r.seq)
		}
	}
}

// A queue over its bound drops, and counts; what it kept still leaves.
func TestPacerBoundsItsQueue(t *testing.T) {
	clock := &fakeClock{now: time.Unix(100, 0)}
	pc := newPacer(clock)
	w := &recordingWriter{}
	pc.setRate(minPacingRate)
	n := pacerMinQueue/1000 + 20
	keyframeBurst(t, pc, w, 1, n, 1000)
	if pc.dropped.Load() == 0 {
		t.Fatalf("%d KB queued at %d bit/s without a drop", n, minPacingRate)
	}
	for range 2000 {
		clock.advance(pacerTick)
	}
	if got := uint64(len(w.records())) + pc.dropped.Load(); got != uint64(n) {
		t.Errorf("%d written and %d dropped of %d", len(w.records()), pc.dropped.Load(), n)
	}
}

// Padding-only packets keep their padding through the queue: a probe's
// packets are paced with the media.
func TestPacerKeepsPadding(t *testing.T) {
	clock := &fakeClock{now: time.Unix(100, 0)}
	pc := newPacer(clock)
	w := &recordingWriter{}
	pc.setRate(300_000)
	keyframeBurst(t, pc, w, 1, 3, 1000)
	h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 4, SSRC: 4242, Padding: true, PaddingSize: 200}
	if err := pc.write(w, h, nil); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		clock.advance(pacerTick)
	}
	rs := w.records()
	if len(rs) != 4 || rs[3].seq != 4 || rs[3].payload != 0 || rs[3].padding != 200 {
		t.Fatalf("the padding packet left as %+v", rs)
	}
}

func TestPacingRate(t *testing.T) {
	for _, c := range []struct{ ceiling, cost, estimate, probe, want uint64 }{
		{0, 100_000, 300_000, 0, 0},               // no ceiling: no pacing
		{200_000, 150_000, 0, 0, 300_000},         // no estimate: 1.5 times the ceiling
		{200_000, 150_000, 260_000, 0, 260_000},   // the estimate, below that
		{200_000, 150_000, 100_000, 0, 250_000},   // never under 1.25 times the ceiling
		{100_000, 200_000, 100_000, 0, 250_000},   // nor under 1.25 times what the layers cost
		{100_000, 200_000, 0, 0, 300_000},         // the cost over the ceiling: 1.5 times the cost
		{50_000, 40_000, 0, 0, minPacingRate},     // a floor
		{200_000, 150_000, 0, 400_000, 700_000},   // a probe's padding on top
		{200_000, 150_000, 1_000_000, 0, 300_000}, // the estimate does not raise it
		{1_000_000, 0, 2_000_000, 0, 1_500_000},   // a wide link
	} {
		if got := pacingRate(c.ceiling, c.cost, c.estimate, c.probe); got != c.want {
			t.Errorf("pacingRate(%d, %d, %d, %d) = %d, want %d", c.ceiling, c.cost, c.estimate, c.probe, got, c.want)
		}
	}
}

// A subscriber without a ceiling is not paced: its videos go straight
// to the transport, on the forwarding goroutine.
func TestUnconstrainedSubscriberNotPaced(t *testing.T) {
	s := newProbeSetup(t)
	s.frame(t, 5)
	if got := len(s.w.records()); got != 5 || s.sub.pacer.paced.Load() != 0 {
		t.Fatalf("%d of 5 packets written at once, %d paced", got, s.sub.pacer.paced.Load())
	}
	// With a ceiling, a keyframe waits in the pacer.
	s.sub.pacer.setRate(pacingRate(200_000, 0, 0, 0))
	s.frame(t, 20)
	if s.sub.pacer.paced.Load() == 0 {
		t.Fatal("a paced subscriber's keyframe went straight out")
	}
	for range 200 {
		s.clock.advance(pacerTick)
	}
	rs := s.w.records()
	if len(rs) != 25 {
		t.Fatalf("%d of 25 packets written", len(rs))
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].seq != rs[i-1].seq+1 {
			t.Fatalf("seq %d after %d", rs[i].seq, rs[i-1].seq)
		}
	}
}
