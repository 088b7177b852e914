package sfu

import (
	"errors"
	"fmt"
	"testing"
)

// receivesScreen checks that c gets pid's screen share as its own track,
// with pid's stream id, at least min packets, not ended.
func (c *testClient) receivesScreen(pid string, min int) error {
	id := trackIDFor(SourceScreen, pid)
	r, ok := c.snapshot(id)
	switch {
	case !ok:
		return fmt.Errorf("%s has no track %s", c.name, id)
	case r.ended:
		return fmt.Errorf("%s: track %s ended", c.name, id)
	case r.streamID != pid:
		return fmt.Errorf("%s: track %s has stream id %q", c.name, id, r.streamID)
	case r.packets < min:
		return fmt.Errorf("%s: track %s has %d packets, want %d", c.name, id, r.packets, min)
	}
	return nil
}

// A participant shares a screen as a second video track while keeping its
// camera: the others receive it as a separate track, "screen-<id>" in the
// same stream; stopping withdraws it, and sharing again brings it back.
func TestScreenShareIsASecondVideoTrack(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice, bob, carol := join(t, conf, "alice"), join(t, conf, "bob"), join(t, conf, "carol")
	allReceive(t, 10, alice, bob, carol)

	// Screen packets before the share is announced go nowhere.
	alice.c.screenOn.Store(true)
	waitFor(t, "alice's screen packets to reach the SFU", func() error {
		alice.p.mu.Lock()
		pub := alice.p.published[SourceScreen.slot()]
		alice.p.mu.Unlock()
		if pub == nil {
			return errors.New("no screen publication yet")
		}
		return nil
	})
	keepsGrowing(t, counts(alice, bob, carol), 25, alice, bob, carol)
	if _, ok := bob.c.snapshot("screen-alice"); ok {
		t.Fatal("bob received alice's screen before she shared it")
	}

	if err := alice.p.SetScreenShare(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob and carol to receive alice's screen", func() error {
		for _, m := range []*member{bob, carol} {
			if err := m.c.receivesScreen("alice", 10); err != nil {
				return err
			}
		}
		return nil
	})
	info := TrackInfo{Kind: Video, Source: SourceScreen, StreamID: "alice", TrackID: "screen-alice", Codec: "video/VP8"}
	for _, m := range []*member{bob, carol} {
		if !m.c.sawEvent(Event{Kind: EventTrackPublished, ParticipantID: "alice", Track: info}) {
			t.Errorf("%s: no track-published event for %+v", m.p.ID(), info)
		}
		cam, _ := m.c.snapshot("video-alice")
		scr, _ := m.c.snapshot("screen-alice")
		if cam.ssrc == scr.ssrc {
			t.Errorf("%s gets alice's camera and screen on one SSRC %d", m.p.ID(), cam.ssrc)
		}
	}
	if _, ok := alice.c.snapshot("screen-alice"); ok {
		t.Error("alice receives her own screen")
	}
	// The camera and audio go on, undisturbed.
	keepsGrowing(t, counts(alice, bob, carol), 25, alice, bob, carol)

	// Someone joining during the share gets it too.
	dave := join(t, conf, "dave")
	waitFor(t, "dave to receive alice's screen", func() error { return dave.c.receivesScreen("alice", 5) })

	// Stopping withdraws the track from everybody's session.
	alice.c.screenOn.Store(false)
	if err := alice.p.SetScreenShare(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's screen to end everywhere", func() error {
		for _, m := range []*member{bob, carol, dave} {
			if r, _ := m.c.snapshot("screen-alice"); !r.ended {
				return fmt.Errorf("%s still has alice's screen", m.p.ID())
			}
		}
		return nil
	})
	unpub := Event{Kind: EventTrackUnpublished, ParticipantID: "alice", Track: info}
	if !bob.c.sawEvent(unpub) {
		t.Errorf("bob: no track-unpublished event for %+v", info)
	}
	keepsGrowing(t, counts(alice, bob, carol), 25, alice, bob, carol)

	// Sharing again publishes a new screen track.
	alice.c.screenOn.Store(true)
	if err := alice.p.SetScreenShare(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's second share to reach everybody", func() error {
		for _, m := range []*member{bob, carol, dave} {
			if err := m.c.receivesScreen("alice", 10); err != nil {
				return err
			}
		}
		return nil
	})
	for _, m := range []*member{bob, carol, dave} {
		if r, _ := m.c.snapshot("screen-alice"); r.missing != 0 || r.ssrcChange != 0 {
			t.Errorf("%s: second share has %d missing sequence numbers, %d SSRC changes", m.p.ID(), r.missing, r.ssrcChange)
		}
	}
}

func TestScreenShareNeedsItsMLine(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	for _, opts := range []JoinOptions{{NoScreen: true}, {NoVideo: true}} {
		p, err := conf.Join(fmt.Sprintf("p%v%v", opts.NoScreen, opts.NoVideo), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetScreenShare(true); !errors.Is(err, ErrNoScreenShare) {
			t.Errorf("SetScreenShare with %+v = %v, want ErrNoScreenShare", opts, err)
		}
		p.Close()
	}
}
