package sfu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// relayPair plays the owner of two bridges for the relay between them:
// each end offers on its EventNeedsOffer and the other end answers, one
// exchange at a time, until the relay participants close.
func relayPair(t testing.TB, a, b *Conference) (ra, rb *Participant, exchange *sync.Mutex) {
	t.Helper()
	exchange = &sync.Mutex{}
	ra, err := a.JoinRelay("relay~b")
	if err != nil {
		t.Fatal(err)
	}
	rb, err = b.JoinRelay("relay~a")
	if err != nil {
		t.Fatal(err)
	}
	negotiate := func(from, to *Participant) {
		exchange.Lock()
		defer exchange.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		offer, err := from.Offer(ctx)
		if errors.Is(err, ErrOfferPending) || errors.Is(err, ErrNothingToNegotiate) || errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			t.Errorf("relay %s: offer: %v", from.ID(), err)
			return
		}
		ans, err := to.AnswerOffer(ctx, offer)
		if errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			t.Errorf("relay %s: answer: %v", to.ID(), err)
			return
		}
		if err := from.SetAnswer(ans); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("relay %s: set answer: %v", from.ID(), err)
		}
	}
	loop := func(from, to *Participant) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			negotiate(from, to)
			for ev := range from.Events() {
				if ev.Kind == EventNeedsOffer {
					negotiate(from, to)
				}
			}
		}()
		return done
	}
	doneA, doneB := loop(ra, rb), loop(rb, ra)
	t.Cleanup(func() {
		ra.Close()
		rb.Close()
		<-doneA
		<-doneB
	})
	return ra, rb, exchange
}

// cascade joins two SFUs' conferences "room" by a relay, and returns the
// two conferences.
func cascade(t testing.TB) (a, b *Conference) {
	t.Helper()
	a = newTestSFU(t, nil).Conference("room")
	b = newTestSFU(t, nil).Conference("room")
	relayPair(t, a, b)
	return a, b
}

// An ICE restart of the relay (its connection failed): one end's
// restart offer, the other end's answer; the media goes on, on the same
// streams.
func TestRelayICERestart(t *testing.T) {
	a := newTestSFU(t, nil).Conference("room")
	b := newTestSFU(t, nil).Conference("room")
	ra, rb, exchange := relayPair(t, a, b)
	alice, bob := join(t, a, "alice"), join(t, b, "bob")
	allReceive(t, 20, alice, bob)
	localUfrag := func(p *Participant) string {
		return p.pc.LocalDescription().SDP[strings.Index(p.pc.LocalDescription().SDP, "a=ice-ufrag:"):][:20]
	}
	exchange.Lock()
	beforeA, beforeB := localUfrag(ra), localUfrag(rb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	offer, err := ra.RestartOffer(ctx)
	if err == nil {
		var ans string
		if ans, err = rb.AnswerOffer(ctx, offer); err == nil {
			err = ra.SetAnswer(ans)
		}
	}
	cancel()
	afterA, afterB := localUfrag(ra), localUfrag(rb)
	exchange.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if beforeA == afterA || beforeB == afterB {
		t.Fatalf("ICE credentials unchanged: %q %q -> %q %q", beforeA, beforeB, afterA, afterB)
	}
	// The media goes on over the restarted connection (a few packets in
	// flight during the switch may be lost), on the same streams.
	grown := counts(alice, bob)
	waitFor(t, "media both ways after the relay's restart", func() error {
		for k, r := range counts(alice, bob) {
			if r.packets < grown[k].packets+50 {
				return fmt.Errorf("%s: %d packets, was %d", k, r.packets, grown[k].packets)
			}
			if r.ssrcChange != 0 || r.ended {
				return fmt.Errorf("%s: %d SSRC changes, ended %v", k, r.ssrcChange, r.ended)
			}
		}
		return nil
	})
	if n := ra.Stats().ICERestarts; n != 1 {
		t.Errorf("relay ICE restarts: %d, want 1", n)
	}
}

// relayed sums one bridge's relay counters of trackID in one direction;
// n is the number of entries found.
func relayed(c *Conference, trackID string, out bool) (packets uint64, n int) {
	for _, s := range c.RelayStats() {
		if s.TrackID == trackID && s.Out == out {
			packets += s.Packets
			n++
		}
	}
	return packets, n
}

// published is what the bridge received of a local participant's track.
func published(t *testing.T, c *Conference, id string, src Source) uint64 {
	t.Helper()
	c.mu.Lock()
	p := c.participants[id]
	c.mu.Unlock()
	if p == nil || p.remote != nil {
		t.Fatalf("%s is no local participant", id)
	}
	p.mu.Lock()
	pub := p.published[src.slot()]
	p.mu.Unlock()
	if pub == nil {
		t.Fatalf("%s publishes no %s", id, src)
	}
	var n uint64
	for _, l := range pub.layers {
		n += l.packets.Load()
	}
	return n
}

// Two participants on bridge A, three on bridge B: everyone sees and hears
// everyone, and each stream crosses the relay once, however many
// subscribers the other bridge has.
func TestRelayJoinsTwoBridges(t *testing.T) {
	a, b := cascade(t)
	alice, erin := join(t, a, "alice"), join(t, a, "erin")
	bob, carol, dave := join(t, b, "bob"), join(t, b, "carol"), join(t, b, "dave")
	all := []*member{alice, erin, bob, carol, dave}
	allReceive(t, 50, all...)
	before := counts(all...)
	keepsGrowing(t, before, 25, all...)

	for _, side := range []struct {
		name       string
		home, away *Conference
		locals     []string
	}{{"A", a, b, []string{"alice", "erin"}}, {"B", b, a, []string{"bob", "carol", "dave"}}} {
		for _, id := range side.locals {
			for _, src := range []Source{SourceAudio, SourceCamera} {
				track := trackIDFor(src, id)
				// Read in the order the packets travel, so that each
				// later count has seen at least what the earlier did.
				in, nIn := relayed(side.away, track, false)
				out, nOut := relayed(side.home, track, true)
				pub := published(t, side.home, id, src)
				if nOut != 1 || nIn != 1 {
					t.Errorf("%s: %s is relayed out %d times and in %d times, want once each", side.name, track, nOut, nIn)
				}
				if out > pub || in > out || in == 0 {
					t.Errorf("%s: %s: published %d packets, relayed out %d, in %d on the other bridge: want 0 < in <= out <= published",
						side.name, track, pub, out, in)
				}
			}
		}
		// A relay carries only its own bridge's participants: nothing
		// that came from the other bridge goes back.
		for _, s := range side.home.RelayStats() {
			if s.Out && !contains(side.locals, s.TrackID[len(string(SourceCamera))+1:]) && !contains(side.locals, s.TrackID[len(string(SourceAudio))+1:]) {
				t.Errorf("%s relays %s, which is not its own participant's", side.name, s.TrackID)
			}
		}
	}

	// Bob's three listeners on B cost A's relay nothing more: the relay
	// carries alice's camera once while B forwards it three times.
	relayIn, _ := relayed(b, "video-alice", false)
	var fannedOut uint64
	for _, m := range []*member{bob, carol, dave} {
		r, _ := m.c.snapshot("video-alice")
		fannedOut += uint64(r.packets)
	}
	if fannedOut <= 2*relayIn {
		t.Errorf("B's three subscribers received %d packets of video-alice, the relay brought %d: want about three times", fannedOut, relayIn)
	}
	sa, sb := a.sfu.Stats(), b.sfu.Stats()
	if sa.Participants != 2 || sb.Participants != 3 {
		t.Errorf("participants: A %d, B %d; want 2 and 3 (relays and remote participants not counted)", sa.Participants, sb.Participants)
	}
	if sa.RelayPacketsOut == 0 || sa.RelayPacketsIn == 0 || sb.RelayPacketsOut == 0 || sb.RelayPacketsIn == 0 {
		t.Errorf("relay counters: A out %d in %d, B out %d in %d; want all above 0",
			sa.RelayPacketsOut, sa.RelayPacketsIn, sb.RelayPacketsOut, sb.RelayPacketsIn)
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// A participant who leaves one bridge leaves the other too: its tracks are
// withdrawn there, and the relay stops carrying them; the others go on.
func TestRelayWithdrawsWhoLeaves(t *testing.T) {
	a, b := cascade(t)
	alice := join(t, a, "alice")
	bob, carol := join(t, b, "bob"), join(t, b, "carol")
	allReceive(t, 20, alice, bob, carol)
	carol.leave()
	gone := Event{Kind: EventTrackUnpublished, ParticipantID: "carol",
		Track: TrackInfo{Kind: Video, Source: SourceCamera, StreamID: "carol", TrackID: "video-carol", Codec: "video/VP8"}}
	waitFor(t, "alice to lose carol's camera", func() error {
		if !alice.c.sawEvent(gone) {
			return fmt.Errorf("no %v yet", gone)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.participants["carol"] != nil || len(a.remotes) != 1 {
			return fmt.Errorf("A still has carol, or not only bob, as remote participants: %d", len(a.remotes))
		}
		return nil
	})
	before := counts(alice, bob)
	keepsGrowing(t, before, 25, alice, bob)
	if _, n := relayed(b, "video-carol", true); n != 0 {
		t.Errorf("B still relays carol's camera")
	}
}

// A relayed participant whose id a local participant has is refused: the
// local one keeps its tracks, nobody is confused.
func TestRelayRefusesATakenID(t *testing.T) {
	a, b := cascade(t)
	alice := join(t, a, "alice")
	twin := join(t, b, "alice")
	bob := join(t, b, "bob")
	allReceive(t, 20, twin, bob)
	waitFor(t, "B to refuse A's alice", func() error {
		b.mu.Lock()
		r := b.participants["relay~a"]
		b.mu.Unlock()
		if r == nil || r.refused.Load() == 0 {
			return fmt.Errorf("nothing refused yet")
		}
		return nil
	})
	// A still gets B's bob: only the clash is refused.
	waitFor(t, "alice to receive bob", func() error { return alice.c.receivesFrom("bob", 20) })
	b.mu.Lock()
	local := b.participants["alice"]
	b.mu.Unlock()
	if local != twin.p {
		t.Errorf("B's alice is no longer the local participant")
	}
}
