package sfu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestForwardingGate: a closed gate stops the forwarding of one kind at
// once while the other kind flows on; opening it again resumes it, and
// for video asks the publisher for a keyframe.
func TestForwardingGate(t *testing.T) {
	conf := newTestSFU(t, nil).Conference("room")
	alice, bob := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 20, alice, bob)

	for _, kind := range []MediaKind{Audio, Video} {
		t.Run(string(kind), func(t *testing.T) {
			other := Video
			if kind == Video {
				other = Audio
			}
			gated, open := trackIDFor(kind, "alice"), trackIDFor(other, "alice")
			alice.p.SetForwarding(kind, false)
			if alice.p.Forwarding(kind) || !alice.p.Forwarding(other) {
				t.Fatal("Forwarding does not report the gate")
			}
			withheld := alice.p.Stats().Withheld
			waitFor(t, "packets to be withheld", func() error {
				if alice.p.Stats().Withheld < withheld+10 {
					return fmt.Errorf("withheld %d", alice.p.Stats().Withheld)
				}
				return nil
			})
			before, _ := bob.c.snapshot(gated)
			beforeOpen, _ := bob.c.snapshot(open)
			// The other kind keeps flowing while this one stays still.
			waitFor(t, string(other)+" to keep flowing", func() error {
				if r, _ := bob.c.snapshot(open); r.packets < beforeOpen.packets+20 {
					return fmt.Errorf("%d packets, was %d", r.packets, beforeOpen.packets)
				}
				return nil
			})
			if r, _ := bob.c.snapshot(gated); r.packets != before.packets {
				t.Fatalf("%s still forwarded with the gate closed: %d packets, was %d", gated, r.packets, before.packets)
			}
			plis := alice.c.plis.Load()
			alice.p.SetForwarding(kind, true)
			waitFor(t, string(kind)+" to flow again", func() error {
				if r, _ := bob.c.snapshot(gated); r.packets < before.packets+10 {
					return fmt.Errorf("%d packets, was %d", r.packets, before.packets)
				}
				return nil
			})
			if kind == Video {
				waitFor(t, "a keyframe request on reopening", func() error {
					if alice.c.plis.Load() <= plis {
						return fmt.Errorf("PLIs %d", alice.c.plis.Load())
					}
					return nil
				})
			}
		})
	}
}

// TestOfferPublishing: a participant that joined without an audio m-line
// to publish on gets one in its next offer.
func TestOfferPublishing(t *testing.T) {
	conf := newTestSFU(t, nil).Conference("room")
	p, err := conf.Join("viewer", JoinOptions{NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c := newTestClient(t, "viewer")
	offer, err := p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if recvonlyLines(offer, "audio") != 0 || recvonlyLines(offer, "video") != 1 {
		t.Fatalf("first offer with NoAudio:\n%s", offer)
	}
	answer, err := c.answer(offer)
	if err == nil {
		err = p.SetAnswer(answer)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.OfferPublishing(Audio)
	p.OfferPublishing(Audio) // twice: still one m-line
	offer, err = p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if recvonlyLines(offer, "audio") != 1 || recvonlyLines(offer, "video") != 1 {
		t.Fatalf("after OfferPublishing(audio), the offer has %d audio and %d video recvonly m-lines:\n%s",
			recvonlyLines(offer, "audio"), recvonlyLines(offer, "video"), offer)
	}
}

// recvonlyLines counts the m-lines of media that are recvonly in sdp.
func recvonlyLines(sdp, media string) int {
	n := 0
	for _, m := range strings.Split(sdp, "\nm=")[1:] {
		if strings.HasPrefix(m, media+" ") && strings.Contains(m, "a=recvonly") {
			n++
		}
	}
	return n
}

func TestGateDoesNotAllocate(t *testing.T) {
	pub, pkt := forwardingSetup(t, 10)
	now := time.Unix(0, 0)
	for _, open := range []bool{true, false} {
		pub.owner.SetForwarding(Audio, open)
		allocs := testing.AllocsPerRun(1000, func() {
			if pub.pass() != open {
				t.Fatal("the gate does not say what was set")
			}
			if open {
				pub.fwd.forward(pkt, now, pub.subscribers())
			}
		})
		if allocs != 0 {
			t.Errorf("open=%v: %.1f allocations per packet", open, allocs)
		}
	}
	if got := pub.owner.gate.withheld[0].Load(); got < 1000 {
		t.Errorf("withheld %d packets, want at least 1000", got)
	}
}

// BenchmarkForwardGated is BenchmarkForward with the gate on the path, as
// publication.run has it.
func BenchmarkForwardGated(b *testing.B) {
	for _, open := range []bool{true, false} {
		b.Run(fmt.Sprintf("open=%v", open), func(b *testing.B) {
			pub, pkt := forwardingSetup(b, 10)
			pub.owner.SetForwarding(Audio, open)
			now := time.Unix(0, 0)
			b.ReportAllocs()
			seq := uint16(0)
			for b.Loop() {
				seq++
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				if pub.pass() {
					pub.fwd.forward(pkt, now, pub.subscribers())
				}
			}
		})
	}
}

// TestNothingToOfferYet: a participant that may publish nothing, alone in
// its conference, has no first offer to make; OfferPublishing (or the
// first track of someone else) raises EventNeedsOffer, and the offer then
// has the m-line.
func TestNothingToOfferYet(t *testing.T) {
	conf := newTestSFU(t, nil).Conference("room")
	p, err := conf.Join("viewer", JoinOptions{NoAudio: true, NoVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := p.Offer(context.Background()); !errors.Is(err, ErrNothingToNegotiate) {
		t.Fatalf("empty first offer: %v, want ErrNothingToNegotiate", err)
	}
	p.OfferPublishing(Video)
	waitFor(t, "EventNeedsOffer", func() error {
		for _, k := range drainEvents(p) {
			if k == EventNeedsOffer {
				return nil
			}
		}
		return errors.New("none yet")
	})
	offer, err := p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if recvonlyLines(offer, "video") != 1 || recvonlyLines(offer, "audio") != 0 {
		t.Fatalf("offer after OfferPublishing(video):\n%s", offer)
	}
}
