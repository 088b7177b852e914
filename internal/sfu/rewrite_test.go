package sfu

import (
	"sync"
	"testing"
	"time"
)

func TestRewriterPassesFirstSourceThrough(t *testing.T) {
	r := newRewriter(90000)
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		seq, ts := r.rewrite(7, uint16(100+i), uint32(5000+3000*i), t0)
		if seq != uint16(100+i) || ts != uint32(5000+3000*i) {
			t.Fatalf("packet %d: got seq %d ts %d", i, seq, ts)
		}
	}
}

func TestRewriterContinuesAcrossSourceSwitch(t *testing.T) {
	r := newRewriter(90000)
	t0 := time.Unix(1000, 0)
	var lastSeq uint16
	var lastTS uint32
	for i := range 10 {
		lastSeq, lastTS = r.rewrite(1, uint16(65530+i), uint32(4294960000+3000*i), t0.Add(time.Duration(i)*33*time.Millisecond))
	}
	if lastSeq != 3 { // wrapped: 65530+9 mod 65536
		t.Fatalf("last seq of source 1 = %d, want 3", lastSeq)
	}
	// Source 2 starts 100 ms after the last packet of source 1, with
	// unrelated numbers.
	switchAt := t0.Add(9*33*time.Millisecond + 100*time.Millisecond)
	seq, ts := r.rewrite(2, 12345, 777, switchAt)
	if seq != lastSeq+1 {
		t.Errorf("first seq after switch = %d, want %d", seq, lastSeq+1)
	}
	if want := lastTS + 9000; ts != want { // 100 ms at 90 kHz
		t.Errorf("first ts after switch = %d, want %d", ts, want)
	}
	// Later packets of source 2 keep its spacing.
	seq2, ts2 := r.rewrite(2, 12346, 777+3000, switchAt.Add(33*time.Millisecond))
	if seq2 != seq+1 || ts2 != ts+3000 {
		t.Errorf("second packet after switch: seq %d ts %d, want %d %d", seq2, ts2, seq+1, ts+3000)
	}
	// Switching back to source 1 continues again.
	seq3, _ := r.rewrite(1, 50, 1, switchAt.Add(66*time.Millisecond))
	if seq3 != seq2+1 {
		t.Errorf("seq after switching back = %d, want %d", seq3, seq2+1)
	}
}

func TestRewriterReorderedPacketsKeepTheirPlace(t *testing.T) {
	r := newRewriter(48000)
	t0 := time.Unix(0, 0)
	r.rewrite(1, 10, 0, t0)
	r.rewrite(2, 500, 0, t0.Add(20*time.Millisecond)) // switch: 500 -> 11
	r.rewrite(2, 502, 1920, t0.Add(40*time.Millisecond))
	late, _ := r.rewrite(2, 501, 960, t0.Add(45*time.Millisecond))
	if late != 12 {
		t.Errorf("late packet mapped to %d, want 12", late)
	}
	next, _ := r.rewrite(2, 503, 2880, t0.Add(60*time.Millisecond))
	if next != 14 {
		t.Errorf("next packet mapped to %d, want 14 (the late one must not move the high mark back)", next)
	}
}

func TestRewriterSwitchWithoutElapsedTimeStillAdvances(t *testing.T) {
	r := newRewriter(90000)
	t0 := time.Unix(0, 0)
	_, ts := r.rewrite(1, 1, 1000, t0)
	_, ts2 := r.rewrite(2, 1, 1000, t0)
	if ts2 != ts+1 {
		t.Errorf("ts after an instant switch = %d, want %d", ts2, ts+1)
	}
}

func TestSeqNewer(t *testing.T) {
	cases := []struct {
		a, b uint16
		want bool
	}{{2, 1, true}, {1, 2, false}, {0, 65535, true}, {65535, 0, false}, {5, 5, false}, {0x8000, 0, false}, {0x7fff, 0, true}}
	for _, c := range cases {
		if got := seqNewer(c.a, c.b); got != c.want {
			t.Errorf("seqNewer(%d, %d) = %v", c.a, c.b, got)
		}
	}
}

// fakeClock is a Clock whose time moves only when told.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return tm
}

func (tm *fakeTimer) Stop() bool {
	tm.c.mu.Lock()
	defer tm.c.mu.Unlock()
	was := !tm.stopped
	tm.stopped = true
	return was
}

// advance moves time forward and runs the timers that came due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, tm := range c.timers {
		switch {
		case tm.stopped:
		case !tm.at.After(c.now):
			tm.stopped = true
			due = append(due, tm.f)
		default:
			kept = append(kept, tm)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func TestKeyframeLimiter(t *testing.T) {
	clock := &fakeClock{now: time.Unix(100, 0)}
	sent := 0
	k := newKeyframeLimiter(clock, 500*time.Millisecond, func() { sent++ })

	k.request()
	if sent != 1 {
		t.Fatalf("first request: sent %d, want 1", sent)
	}
	clock.advance(100 * time.Millisecond)
	k.request()
	k.request()
	if sent != 1 {
		t.Fatalf("requests inside the interval: sent %d, want still 1", sent)
	}
	clock.advance(399 * time.Millisecond)
	if sent != 1 {
		t.Fatalf("before the interval ends: sent %d, want 1", sent)
	}
	clock.advance(time.Millisecond)
	if sent != 2 {
		t.Fatalf("deferred request: sent %d, want 2 (merged into one)", sent)
	}
	clock.advance(time.Second)
	k.request()
	if sent != 3 {
		t.Fatalf("request after a quiet second: sent %d, want 3", sent)
	}
	clock.advance(10 * time.Millisecond)
	k.request()
	k.stop()
	clock.advance(time.Second)
	if sent != 3 {
		t.Fatalf("stopped limiter still sent: %d", sent)
	}
}

// Padding the SFU inserts takes the next sequence numbers and the last
// timestamp; the source's later packets follow it, and a late packet from
// before the padding keeps the number it would have had.
func TestRewriterPadding(t *testing.T) {
	r := newRewriter(90000)
	now := time.Unix(0, 0)
	r.rewrite(7, 100, 9000, now)
	if _, _, ok := (&rewriter{}).pad(); ok {
		t.Fatal("padding before any packet")
	}
	r.rewrite(7, 102, 9000, now) // 101 is late
	for i, want := range []uint16{103, 104} {
		seq, ts, ok := r.pad()
		if !ok || seq != want || ts != 9000 {
			t.Fatalf("padding %d: seq %d ts %d, want %d and 9000", i, seq, ts, want)
		}
	}
	if seq, _ := r.rewrite(7, 101, 9000, now); seq != 101 {
		t.Fatalf("late packet from before the padding got %d, want 101", seq)
	}
	if seq, ts := r.rewrite(7, 103, 12000, now); seq != 105 || ts != 12000 {
		t.Fatalf("next packet: %d/%d, want 105/12000", seq, ts)
	}
	// After a pause, the resumed source follows the padding too.
	r.resume()
	seq, _, _ := r.pad()
	if seq != 106 {
		t.Fatalf("padding after a pause %d, want 106", seq)
	}
	if seq, _ := r.rewrite(7, 200, 20000, now); seq != 107 {
		t.Fatalf("resumed packet %d, want 107", seq)
	}
}
