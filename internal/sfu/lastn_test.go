package sfu

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// growth samples what each member receives of each other member's camera
// and audio over a second: the senders whose packets grew, by receiver.
func growth(ms []*member) (video, audio map[string][]string) {
	before := counts(ms...)
	time.Sleep(time.Second)
	after := counts(ms...)
	video, audio = map[string][]string{}, map[string][]string{}
	for k, a := range after {
		rx, track, _ := strings.Cut(k, "<")
		if a.packets <= before[k].packets || a.ended {
			continue
		}
		kind, sender, _ := strings.Cut(track, "-")
		if kind == "video" {
			video[rx] = append(video[rx], sender)
		} else {
			audio[rx] = append(audio[rx], sender)
		}
	}
	for _, m := range []map[string][]string{video, audio} {
		for rx := range m {
			slices.Sort(m[rx])
		}
	}
	return video, audio
}

// lastN=2 in a call of five: everyone gets the camera of exactly two
// others, the most recent speakers, and the audio of all four; when
// someone else speaks the set follows; a pin adds one.
func TestLastNFollowsTheSpeakers(t *testing.T) {
	const silent, speaking = 127, 0x80 | 30
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	var ms []*member
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		m := join(t, conf, id)
		m.c.level.Store(silent)
		ms = append(ms, m)
	}
	allReceive(t, 10, ms...)
	conf.SetLastN(2)
	others := func(rx string, ids ...string) []string {
		var out []string
		for _, id := range ids {
			if id != rx {
				out = append(out, id)
			}
		}
		return out
	}
	expect := func(what string, videoFrom func(rx string) []string) {
		t.Helper()
		waitFor(t, what, func() error {
			video, audio := growth(ms)
			for _, m := range ms {
				rx := m.p.ID()
				if want := videoFrom(rx); fmt.Sprint(video[rx]) != fmt.Sprint(want) {
					return fmt.Errorf("%s gets video from %v, want %v", rx, video[rx], want)
				}
				if want := others(rx, "a", "b", "c", "d", "e"); fmt.Sprint(audio[rx]) != fmt.Sprint(want) {
					return fmt.Errorf("%s gets audio from %v, want %v", rx, audio[rx], want)
				}
			}
			return nil
		})
	}
	// firstTwo: the first two of order other than rx (and pins), sorted.
	firstTwo := func(order []string, pins ...string) func(rx string) []string {
		return func(rx string) []string {
			out := append([]string(nil), others(rx, order...)[:2]...)
			for _, p := range pins {
				if !slices.Contains(out, p) && p != rx {
					out = append(out, p)
				}
			}
			slices.Sort(out)
			return out
		}
	}
	// Nobody spoke yet: the first two others in join order.
	expect("the first two joiners' video", firstTwo([]string{"a", "b", "c", "d", "e"}))
	// d talks: d and the first other.
	ms[3].c.level.Store(speaking)
	expect("d's video to reach everyone", firstTwo([]string{"d", "a", "b", "c", "e"}))
	ms[3].c.level.Store(silent)
	// e talks: e and d.
	ms[4].c.level.Store(speaking)
	expect("e's and d's video", firstTwo([]string{"e", "d", "a", "b", "c"}))
	ms[4].c.level.Store(silent)
	// a pins b: a gets b too.
	ms[0].p.SetReceiveVideo(ReceiveVideo{Pinned: []string{"b"}})
	expect("a's pin of b", func(rx string) []string {
		if rx == "a" {
			return firstTwo([]string{"e", "d", "a", "b", "c"}, "b")(rx)
		}
		return firstTwo([]string{"e", "d", "a", "b", "c"})(rx)
	})
	// The conference's lastN is a cap: b asking for 4 still gets 2; c
	// asking for 1 gets 1.
	ms[1].p.SetReceiveVideo(ReceiveVideo{LastN: 4})
	ms[2].p.SetReceiveVideo(ReceiveVideo{LastN: 1})
	order := []string{"e", "d", "a", "b", "c"}
	expect("b's lastN of 4 capped at the conference's 2, c's 1", func(rx string) []string {
		switch rx {
		case "a":
			return firstTwo(order, "b")(rx)
		case "c":
			return others(rx, order...)[:1]
		}
		return firstTwo(order)(rx)
	})
	if st := ms[1].p.Stats(); st.LayerPauses == 0 {
		t.Errorf("b's videos were never paused: %+v", st)
	}
}
