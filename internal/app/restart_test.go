package app

import (
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
)

// icerestarts sums the ICE restarts the SFU made in a room.
func iceRestarts(p *parley, room jid.JID) uint64 {
	var n uint64
	for _, sp := range p.sfu.Conference(room.String()).Participants() {
		n += sp.Stats().ICERestarts
	}
	return n
}

// A participant whose network changed asks for an ICE restart: the focus
// sends transport-replace, the participant answers transport-accept, and
// media flows both ways again, in the same session.
func TestICERestartOnRequest(t *testing.T) {
	srv, ws := startParley(t)
	room := jid.MustParse("restart@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{}
	for _, nick := range []string{"ann", "ben"} {
		peers[nick] = joinPeer(t, ws, room, nick, true)
	}
	waitFlowing(t, peers)
	if n := iceRestarts(srv, room); n != 0 {
		t.Fatalf("%d ICE restarts before any was asked for", n)
	}
	if err := peers["ann"].RestartICE(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for iceRestarts(srv, room) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the SFU made %d ICE restarts, want 1", iceRestarts(srv, room))
		}
		time.Sleep(50 * time.Millisecond)
	}
	flowsOn(t, peers, "after ann's ICE restart")
	// Still one session: the restart did not end it.
	select {
	case <-peers["ann"].Ended():
		t.Fatalf("ann's room ended: %s", peers["ann"].EndReason())
	default:
	}
	// A second restart works too (new credentials again).
	if err := peers["ben"].RestartICE(); err != nil {
		t.Fatal(err)
	}
	for iceRestarts(srv, room) != 2 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("the SFU made %d ICE restarts, want 2", iceRestarts(srv, room))
		}
		time.Sleep(50 * time.Millisecond)
	}
	flowsOn(t, peers, "after ben's ICE restart")
}

// flowsOn checks that every counter grows over a second, a second after
// now: media flows in the new ICE session, not just in packets already
// on their way before the restart.
func flowsOn(t *testing.T, peers map[string]*mediapeer.Peer, when string) {
	t.Helper()
	time.Sleep(time.Second)
	a := waitFlowing(t, peers)
	time.Sleep(time.Second)
	requireGrowth(t, a, waitFlowing(t, peers), when)
}
