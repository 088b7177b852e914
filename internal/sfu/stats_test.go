package sfu

import (
	"fmt"
	"testing"
)

// TestSFUStatsOnlyGrow: the SFU's totals count the live participants and
// keep what those who left were sent.
func TestSFUStatsOnlyGrow(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice, bob, carol := join(t, conf, "alice"), join(t, conf, "bob"), join(t, conf, "carol")
	allReceive(t, 20, alice, bob, carol)
	st := s.Stats()
	if st.Conferences != 1 || st.Participants != 3 || st.PacketsForwarded < 6*20 || st.BytesForwarded < st.PacketsForwarded {
		t.Fatalf("stats with three in a call: %+v", st)
	}
	waitFor(t, "keyframe requests to publishers", func() error {
		if s.Stats().KeyframeRequests == 0 {
			return fmt.Errorf("none")
		}
		return nil
	})
	before := s.Stats()
	carol.leave()
	waitFor(t, "carol to be gone", func() error {
		if n := s.Stats().Participants; n != 2 {
			return fmt.Errorf("%d participants", n)
		}
		return nil
	})
	after := s.Stats()
	// Each of the three began each video it receives with a layer decision.
	if before.LayerStarts < 6 || after.LayerStarts < before.LayerStarts {
		t.Fatalf("layer starts: %d with three in a call, %d after carol left", before.LayerStarts, after.LayerStarts)
	}
	if after.PacketsForwarded < before.PacketsForwarded || after.BytesForwarded < before.BytesForwarded {
		t.Fatalf("totals went down when carol left: before %+v, after %+v", before, after)
	}
}

func TestRouteNamesTheCandidatePair(t *testing.T) {
	conf := newTestSFU(t, nil).Conference("room")
	alice, bob := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 5, alice, bob)
	r := alice.p.Route()
	if r.Local != "host/udp" || r.Remote == "" || r.RemoteAddr == "" {
		t.Fatalf("route %+v", r)
	}
}
