package sfu

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// relayedPublication is bridge c's publication of remote participant
// id's src, brought by a relay; nil while there is none.
func relayedPublication(c *Conference, id string, src Source) *publication {
	c.mu.Lock()
	p := c.participants[id]
	c.mu.Unlock()
	if p == nil || p.remote == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published[src.slot()]
}

// relayState describes, for a failure, what A's relay forwards of
// alice's camera and which layers arrive at B.
func relayState(a, b *Conference) string {
	var out []string
	a.mu.Lock()
	var relay *Participant
	for _, p := range a.joinOrder {
		if p.relay {
			relay = p
		}
	}
	a.mu.Unlock()
	if relay != nil {
		relay.mu.Lock()
		for d := range relay.receiving {
			if d.pub.info.TrackID == "video-alice" {
				d.mu.Lock()
				out = append(out, fmt.Sprintf("A's relay layer %d: current %d target %d sent %d unwatched %v",
					d.layerOnly, d.current, d.target.Load(), d.sent.Load(), d.relayUnwatched.Load()))
				d.mu.Unlock()
			}
		}
		relay.mu.Unlock()
	}
	if pub := relayedPublication(b, "alice", SourceCamera); pub != nil {
		out = append(out, fmt.Sprintf("at B: layers active %03b", pub.activeLayers(time.Now())))
	}
	return strings.Join(out, "; ")
}

// Simulcast across a relay: alice publishes three layers on bridge A;
// on bridge B, bob's small tile gets the quarter layer and carol the full
// one, each chosen by B's allocator among the layers the relay brings.
// The half layer, which nobody on either bridge watches, stops crossing
// the relay and is paused at alice; the full one, watched on B alone,
// keeps coming (A's dynacast counts what is watched across the relay);
// and each layer crosses once, whatever the number of its subscribers.
func TestRelayCarriesTheSimulcastLayersWatchedAcross(t *testing.T) {
	dynacast := func(c *Config) { c.Dynacast = true }
	a := newTestSFU(t, dynacast).Conference("room")
	b := newTestSFU(t, dynacast).Conference("room")
	relayPair(t, a, b)
	alice := joinSimulcast(t, a, "alice")
	erin := join(t, a, "erin") // alice's bridge watches the quarter layer only
	erin.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 180}})
	bob, carol, dave := join(t, b, "bob"), join(t, b, "carol"), join(t, b, "dave")
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 180}})
	dave.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 720}})

	waitFor(t, "bob on the quarter layer, carol and dave on the full one", func() error {
		for _, w := range []struct {
			m     *member
			layer int
		}{{bob, 0}, {carol, 2}, {dave, 2}, {erin, 0}} {
			if r := w.m.c.cameraOf("alice"); r.lastLayer != w.layer || r.frames < 10 {
				return fmt.Errorf("%s gets layer %d (%v, %d frames), want %d; %s", w.m.p.ID(), r.lastLayer, r.layers, r.frames, w.layer, relayState(a, b))
			}
		}
		return nil
	})
	waitFor(t, "alice told to send the quarter and full layers only", func() error {
		if rids, ok := alice.lastSendLayers(); !ok || rids != "q,f" {
			return fmt.Errorf("last send-layers %q (%v)", rids, ok)
		}
		return nil
	})
	pub := relayedPublication(b, "alice", SourceCamera)
	if pub == nil || !pub.simulcast.Load() {
		t.Fatalf("B's publication of alice's camera: %v, want a simulcast one", pub)
	}
	waitFor(t, "the half layer to stop crossing the relay", func() error {
		if act := pub.activeLayers(time.Now()); act != 0b101 {
			return fmt.Errorf("layers arriving at B: %03b, want the quarter and the full one", act)
		}
		return nil
	})
	// Once per bridge pair: B's relayed layers grow at the rate of what
	// one subscriber there gets of it, not of two (carol and dave).
	full := func() (crossed, carolGot, daveGot uint64) {
		r1, r2 := carol.c.cameraOf("alice"), dave.c.cameraOf("alice")
		return pub.layers[2].packets.Load(), uint64(r1.packets), uint64(r2.packets)
	}
	x0, c0, d0 := full()
	time.Sleep(time.Second)
	x1, c1, d1 := full()
	if x1-x0 == 0 || float64(x1-x0) > 1.5*float64(c1-c0) || float64(x1-x0) > 1.5*float64(d1-d0) {
		t.Errorf("the full layer: %d packets crossed while carol got %d and dave %d: want one copy for both", x1-x0, c1-c0, d1-d0)
	}
	if _, n := relayed(a, "video-alice", true); n != 1 {
		t.Errorf("A counts %d relay entries for video-alice, want one", n)
	}
}
