package sfu

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"
)

var ufragLine = regexp.MustCompile(`(?m)^a=ice-ufrag:(\S+)`)

func ufragOf(t *testing.T, sdp string) string {
	t.Helper()
	m := ufragLine.FindStringSubmatch(sdp)
	if m == nil {
		t.Fatalf("no ice-ufrag in\n%s", sdp)
	}
	return m[1]
}

// An ICE restart gives the participant new credentials, keeps its m-lines,
// and media flows both ways again once the client has answered it.
func TestRestartOfferRestartsICE(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	a, b := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 20, a, b)

	before := a.p.pc.LocalDescription().SDP
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offer, err := a.p.RestartOffer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ufragOf(t, offer) == ufragOf(t, before) {
		t.Fatalf("the restart offer kept ufrag %s", ufragOf(t, before))
	}
	if got, want := countMLines(offer), countMLines(before); got != want {
		t.Fatalf("restart offer has %d m-lines, the previous offer %d", got, want)
	}
	if _, err := a.p.RestartOffer(ctx); !errors.Is(err, ErrOfferPending) {
		t.Fatalf("second restart while one is out: %v, want ErrOfferPending", err)
	}
	ans, err := a.c.answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.p.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	if got := a.p.Stats().ICERestarts; got != 1 {
		t.Fatalf("ICERestarts = %d, want 1", got)
	}
	grown := counts(a, b)
	waitFor(t, "media both ways after the restart", func() error {
		now := counts(a, b)
		for k, was := range grown {
			if now[k].packets < was.packets+50 {
				return fmt.Errorf("%s: %d packets, was %d", k, now[k].packets, was.packets)
			}
		}
		return nil
	})
}

func TestRestartOfferBeforeNegotiation(t *testing.T) {
	s := newTestSFU(t, nil)
	p, err := s.Conference("room").Join("carol", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.RestartOffer(context.Background()); !errors.Is(err, ErrNotNegotiated) {
		t.Fatalf("restart before any answer: %v, want ErrNotNegotiated", err)
	}
	p.Close()
	if _, err := p.RestartOffer(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("restart after close: %v, want ErrClosed", err)
	}
}

func countMLines(sdp string) int {
	return len(regexp.MustCompile(`(?m)^m=`).FindAllString(sdp, -1))
}

// A video publisher silent for a while (its path was cut) gets a keyframe
// request when its packets come back, without any subscriber asking.
func TestKeyframeRequestedWhenPublisherResumes(t *testing.T) {
	s := newTestSFU(t, func(c *Config) { c.KeyframeInterval = 10 * time.Millisecond })
	conf := s.Conference("room")
	a, b := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 20, a, b)
	time.Sleep(500 * time.Millisecond) // the join's keyframe requests are over
	before := a.c.plis.Load()
	a.c.videoOff.Store(true)
	time.Sleep(1500 * time.Millisecond)
	if got := a.c.plis.Load(); got != before {
		t.Fatalf("%d PLIs while alice's video was silent and nobody asked", got-before)
	}
	a.c.videoOff.Store(false)
	waitFor(t, "a PLI after alice's video resumed", func() error {
		if a.c.plis.Load() == before {
			return fmt.Errorf("no PLI yet")
		}
		return nil
	})
}
