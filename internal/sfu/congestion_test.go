package sfu

import (
	"testing"
	"time"
)

// endProbe makes the padding probe the last budget asked for end with
// result.
func endProbe(t *testing.T, cg *congestion, result int32) {
	t.Helper()
	if !cg.wantProbe {
		t.Fatal("no probe asked for")
	}
	cg.probe = &paddingProbe{}
	cg.probe.result.Store(result)
}

// The congestion controller: loss sets a ceiling; after a wait a padding
// probe runs under the ceiling, and only one that held lifts it; a failed
// probe doubles the wait up to probeWaitMax, loss soon after the lift
// too, and a lift that holds resets it.
func TestCongestionCeilingAndProbes(t *testing.T) {
	var cg congestion
	t0 := time.Unix(1000, 0)
	// lose: two allocations in a row see loss (one is a burst, ignored).
	lose := func(est, cost uint64, now time.Time) (uint64, bool) {
		cg.budget(true, est, cost, now.Add(-500*time.Millisecond))
		return cg.budget(true, est, cost, now)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	if b, down := cg.budget(false, 2_000_000, 650_000, at(0)); b != 0 || down {
		t.Fatalf("no loss, no ceiling: budget %d, step down %v", b, down)
	}
	// Loss with a low estimate: the estimate (with headroom) is the budget.
	if b, down := lose(300_000, 650_000, at(0)); b != 255_000 || down {
		t.Fatalf("loss: budget %d, step down %v; want 255000 from the estimate", b, down)
	}
	cg.settle(200_000)
	// Loss with an estimate above the cost: step down anyway.
	if _, down := lose(5_000_000, 200_000, at(100*time.Millisecond)); !down {
		t.Fatal("loss within the estimate did not step down")
	}
	cg.settle(200_000)
	if b, _ := cg.budget(false, 300_000, 650_000, at(time.Second)); b != 240_000 || cg.wantProbe {
		t.Fatalf("before the wait is over: budget %d, probe %v; want the ceiling 240000 and no probe", b, cg.wantProbe)
	}
	// The wait (2 s from the last loss) is over: a padding probe, under
	// the ceiling still.
	now := at(100*time.Millisecond + probeWaitMin)
	if b, _ := cg.budget(false, 300_000, 650_000, now); b != 240_000 || !cg.wantProbe {
		t.Fatalf("wait over: budget %d, probe %v; want the ceiling and a probe", b, cg.wantProbe)
	}
	// Failed probes: the next wait is twice as long, and so on up to the cap.
	waits := []time.Duration{}
	for range 4 {
		endProbe(t, &cg, probeFailed)
		now = now.Add(allocInterval)
		if b, _ := cg.budget(false, 300_000, 650_000, now); b != 240_000 || cg.probe != nil {
			t.Fatalf("failed probe: budget %d, probe kept %v", b, cg.probe != nil)
		}
		waits = append(waits, cg.probeAt.Sub(now))
		if b, _ := cg.budget(false, 300_000, 650_000, cg.probeAt.Add(-time.Millisecond)); b != 240_000 || cg.wantProbe {
			t.Fatal("probed before the wait was over")
		}
		now = cg.probeAt
		if cg.budget(false, 300_000, 650_000, now); !cg.wantProbe {
			t.Fatal("no probe when the wait was over")
		}
	}
	want := []time.Duration{}
	for w := probeWaitMin; len(want) < 4; {
		w = min(2*w, probeWaitMax)
		want = append(want, w)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits after failed probes %v, want %v", waits, want)
		}
	}
	if cg.failed.Load() != 4 {
		t.Fatalf("failed probes counted %d, want 4", cg.failed.Load())
	}
	// A probe still running keeps the ceiling.
	cg.probe = &paddingProbe{}
	now = now.Add(allocInterval)
	if b, _ := cg.budget(false, 300_000, 650_000, now); b != 240_000 || cg.probe == nil {
		t.Fatalf("probe running: budget %d", b)
	}
	// It holds: the ceiling goes.
	cg.probe.result.Store(probeHeld)
	now = now.Add(allocInterval)
	if b, _ := cg.budget(false, 300_000, 650_000, now); b != 0 || cg.held.Load() != 1 {
		t.Fatalf("probe held: budget %d, held %d; want no limit", b, cg.held.Load())
	}
	// The lifted layers hold for probeWindow: the wait is back to the least.
	cg.budget(false, 300_000, 650_000, now.Add(probeWindow))
	lose(300_000, 650_000, now.Add(probeWindow+time.Second))
	if w := cg.probeAt.Sub(now.Add(probeWindow + time.Second)); w != probeWaitMin {
		t.Fatalf("wait after a probe that held %v, want %v", w, probeWaitMin)
	}
}

// Loss while a probe runs stops it and counts as its failure; so does
// loss soon after a probe lifted the ceiling, which steps down at once.
func TestCongestionLossEndsAProbe(t *testing.T) {
	var cg congestion
	now := time.Unix(1000, 0)
	cg.budget(true, 300_000, 650_000, now)
	cg.budget(true, 300_000, 650_000, now.Add(allocInterval))
	cg.settle(200_000)
	now = cg.probeAt
	cg.budget(false, 300_000, 650_000, now)
	endProbe(t, &cg, probeRunning)
	pr := cg.probe
	now = now.Add(allocInterval)
	cg.budget(true, 300_000, 650_000, now)
	if pr.result.Load() != probeFailed {
		t.Fatal("loss in a receiver report did not stop the probe")
	}
	now = now.Add(allocInterval)
	if b, _ := cg.budget(false, 300_000, 650_000, now); b != 240_000 || cg.probe != nil || cg.wait != 2*probeWaitMin {
		t.Fatalf("after the failed probe: budget %d, wait %v", b, cg.wait)
	}
	// A probe that holds, then loss: down at once (one lossy allocation
	// suffices within probeWindow), and the wait doubles again.
	now = cg.probeAt
	cg.budget(false, 300_000, 650_000, now)
	endProbe(t, &cg, probeHeld)
	now = now.Add(allocInterval)
	if b, _ := cg.budget(false, 300_000, 650_000, now); b != 0 {
		t.Fatalf("held: budget %d", b)
	}
	now = now.Add(allocInterval)
	if b, _ := cg.budget(true, 300_000, 650_000, now); !cg.congested() || b != 255_000 {
		t.Fatalf("loss after the lift: budget %d, congested %v; want the estimate's at once", b, cg.congested())
	}
	if cg.wait != probeWaitMax {
		t.Fatalf("wait %v after the lifted layers lost, want %v", cg.wait, probeWaitMax)
	}
}

// A single allocation with loss, a burst, changes nothing.
func TestCongestionIgnoresALossBurst(t *testing.T) {
	var cg congestion
	now := time.Unix(1000, 0)
	if b, down := cg.budget(true, 300_000, 650_000, now); b != 0 || down {
		t.Fatalf("one lossy allocation: budget %d, step down %v", b, down)
	}
	if b, _ := cg.budget(false, 300_000, 650_000, now.Add(500*time.Millisecond)); b != 0 {
		t.Fatalf("after the burst: budget %d", b)
	}
}

// Loss every other allocation (a receiver report each second) is a narrow
// link; loss once in three is not.
func TestCongestionSeesLossEveryOtherAllocation(t *testing.T) {
	var cg congestion
	now := time.Unix(1000, 0)
	pattern := []bool{true, false, true}
	var down bool
	for i, l := range pattern {
		_, down = cg.budget(l, 300_000, 650_000, now.Add(time.Duration(i)*allocInterval))
	}
	if !cg.congested() {
		t.Fatalf("loss, none, loss: not congested (step down %v)", down)
	}
	var cg2 congestion
	for i, l := range []bool{true, false, false, true, false, false} {
		if b, _ := cg2.budget(l, 300_000, 650_000, now.Add(time.Duration(i)*allocInterval)); b != 0 {
			t.Fatalf("loss once in three allocations: budget %d at %d", b, i)
		}
	}
}

// While what a subscriber wants fits under its ceiling (the publisher's
// top layer gone), the ceiling stays: when the layer comes back, a probe
// runs first, and its failure doubles the wait.
func TestCongestionCeilingOutlastsAnAbsentLayer(t *testing.T) {
	var cg congestion
	now := time.Unix(1000, 0)
	cg.budget(true, 300_000, 650_000, now)
	cg.budget(true, 300_000, 650_000, now.Add(allocInterval))
	cg.settle(200_000)
	later := now.Add(10 * time.Second)
	if b, _ := cg.budget(false, 300_000, 150_000, later); b != 240_000 {
		t.Fatalf("only the lowest layer wanted, long after: budget %d, want the ceiling", b)
	}
	if b, _ := cg.budget(false, 300_000, 650_000, later.Add(allocInterval)); b != 240_000 || !cg.wantProbe {
		t.Fatalf("the top layer back: budget %d, probe %v; want a probe under the ceiling", b, cg.wantProbe)
	}
	endProbe(t, &cg, probeFailed)
	cg.budget(false, 300_000, 650_000, later.Add(2*allocInterval))
	if cg.wait != 2*probeWaitMin {
		t.Fatalf("wait after the failed probe %v", cg.wait)
	}
}

// Loss that goes on while the estimate sees no narrow link steps down
// below what the videos cost when the ceiling was set, not only below
// what is wanted: again and again, down to the lowest frame rate.
func TestCongestionLossGoingOnStepsBelowTheCeiling(t *testing.T) {
	var cg congestion
	t0 := time.Unix(1000, 0)
	cg.budget(true, 5_000_000, 650_000, t0)
	if b, down := cg.budget(true, 5_000_000, 650_000, t0.Add(allocInterval)); b != 650_000 || !down {
		t.Fatalf("first loss: budget %d, step down %v; want 650000 and a step down", b, down)
	}
	cg.settle(150_000)
	if b, down := cg.budget(true, 5_000_000, 650_000, t0.Add(2*allocInterval)); b != 150_000 || !down {
		t.Fatalf("loss going on: budget %d, step down %v; want 150000 (what was sent) and a step down", b, down)
	}
}

// Loss right after a probe was asked for is the probe's padding on a
// narrow link: it keeps what was sent, and does not step down below it.
func TestCongestionLossAfterAProbeKeepsWhatWasSent(t *testing.T) {
	var cg congestion
	t0 := time.Unix(1000, 0)
	cg.budget(true, 5_000_000, 650_000, t0)
	cg.budget(true, 5_000_000, 650_000, t0.Add(allocInterval))
	cg.settle(150_000)
	now := cg.probeAt
	if cg.budget(false, 5_000_000, 650_000, now); !cg.wantProbe {
		t.Fatal("no probe asked for")
	}
	endProbe(t, &cg, probeFailed)
	cg.budget(true, 5_000_000, 650_000, now.Add(allocInterval))
	if b, down := cg.budget(true, 5_000_000, 650_000, now.Add(2*allocInterval)); b != 150_000 || down {
		t.Fatalf("loss after the probe: budget %d, step down %v; want 150000 and no step down", b, down)
	}
	cg.settle(150_000)
	later := now.Add(probeLossGrace + allocInterval)
	if b, down := cg.budget(true, 5_000_000, 650_000, later); b != 150_000 || !down {
		t.Fatalf("loss going on after the grace: budget %d, step down %v; want 150000 and a step down", b, down)
	}
}

// A probe for everything wanted that fails is followed by one for a step
// up (the allocator sets probeTo); when that holds the ceiling rises to
// it instead of going, and the next probe, after the shortest wait, is
// for everything again.
func TestCongestionProbesAStepAfterAFailedProbe(t *testing.T) {
	var cg congestion
	t0 := time.Unix(1000, 0)
	cg.budget(true, 5_000_000, 650_000, t0)
	cg.budget(true, 5_000_000, 650_000, t0.Add(allocInterval))
	cg.settle(100_000)
	now := cg.probeAt
	if cg.budget(false, 5_000_000, 650_000, now); !cg.wantProbe || cg.stepNext {
		t.Fatalf("first probe: asked %v, a step only %v; want a probe for everything", cg.wantProbe, cg.stepNext)
	}
	endProbe(t, &cg, probeFailed)
	now = now.Add(allocInterval)
	cg.budget(false, 5_000_000, 650_000, now)
	if !cg.stepNext {
		t.Fatal("after a failed probe for everything the next is not for a step")
	}
	now = cg.probeAt
	if cg.budget(false, 5_000_000, 650_000, now); !cg.wantProbe {
		t.Fatal("no second probe")
	}
	cg.probeTo = 150_000 // the allocator's step up
	endProbe(t, &cg, probeHeld)
	now = now.Add(allocInterval)
	if b, _ := cg.budget(false, 5_000_000, 650_000, now); b != 180_000 || cg.held.Load() != 1 {
		t.Fatalf("the step held: budget %d, held %d; want the ceiling raised to 180000 (the step with slack)", b, cg.held.Load())
	}
	if cg.stepNext || cg.probeTo != 0 || cg.probeAt.Sub(now) != probeWaitMin {
		t.Fatalf("after the step: a step next %v, probeTo %d, wait %v; want everything next after %v", cg.stepNext, cg.probeTo, cg.probeAt.Sub(now), probeWaitMin)
	}
	now = cg.probeAt
	if cg.budget(false, 5_000_000, 650_000, now); !cg.wantProbe {
		t.Fatal("no probe for everything after the step")
	}
	endProbe(t, &cg, probeHeld)
	if b, _ := cg.budget(false, 5_000_000, 650_000, now.Add(allocInterval)); b != 0 {
		t.Fatalf("the probe for everything held: budget %d, want no limit", b)
	}
}
