package loadgen

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"parley.dev/parley/internal/testserver"
)

func TestFrameClockCountsGapsAsFreezes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var c frameClock
	for i := range 10 { // 30 frames/s: no freeze
		c.frame(t0.Add(time.Duration(i) * 33 * time.Millisecond))
	}
	start := t0.Add(400 * time.Millisecond)
	before := c.read()
	if !before.watched(start) || before.watched(t0.Add(time.Second)) || (frameCount{}).watched(start) {
		t.Errorf("watched: %+v at %v", before, start)
	}
	c.frame(t0.Add(797 * time.Millisecond))  // a 500 ms gap: not a freeze
	c.frame(t0.Add(1400 * time.Millisecond)) // 603 ms: one
	c.frame(t0.Add(1433 * time.Millisecond))
	after := c.read()
	n, d := freezesSince(before, after, t0.Add(1800*time.Millisecond))
	if n != 1 || d != 603*time.Millisecond {
		t.Errorf("closed gaps: %d freezes, %v; want 1, 603ms", n, d)
	}
	// Still without a frame 1 s after the last one: a freeze still open.
	n, d = freezesSince(before, after, t0.Add(2433*time.Millisecond))
	if n != 2 || d != 1603*time.Millisecond {
		t.Errorf("an open gap: %d freezes, %v; want 2, 1.603s", n, d)
	}
}

// A small simulcast room with lastN: everyone receives the audio of all,
// the video of lastN others, without loss or freezes on loopback, and the
// summary reports egress and videos per subscriber.
func TestSimulcastRoomWithLastN(t *testing.T) {
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sum, err := Run(context.Background(), Config{Server: srv.WebSocket, Domain: srv.Domain, Participants: 4,
		Duration: 3 * time.Second, Simulcast: true, LastN: 2, Speakers: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 {
		t.Fatalf("errors: %v", sum.ErrorSamples)
	}
	if !sum.Simulcast || sum.LastN != 2 || sum.Speakers != 1 {
		t.Errorf("the run's shape: %+v", sum)
	}
	if sum.Videos != (Spread{Mean: 2, Min: 2, Max: 2}) {
		t.Errorf("videos per subscriber %+v, want 2 each under lastN 2", sum.Videos)
	}
	if sum.Freezes != 0 || sum.FrozenS != 0 {
		t.Errorf("%d freezes (%v s) on loopback", sum.Freezes, sum.FrozenS)
	}
	// Four subscribers, two videos of at least the quarter layer each.
	if sum.EgressKbps < 4*2*100 || sum.EgressKbps < sum.RecvKbps.Min*4 {
		t.Errorf("egress %v kbit/s, per subscriber %+v", sum.EgressKbps, sum.RecvKbps)
	}
}
