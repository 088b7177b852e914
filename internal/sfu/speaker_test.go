package sfu

import (
	"fmt"
	"testing"
	"time"
)

// The tracker in isolation, one window at a time.
func TestSpeakerTrackerHysteresis(t *testing.T) {
	s := newSpeakerTracker()
	run := func(n int, speaking ...string) (changes []string) {
		for range n {
			spoke := map[string]bool{"alice": false, "bob": false, "carol": false}
			for _, id := range speaking {
				spoke[id] = true
			}
			if s.window(spoke) {
				changes = append(changes, s.dominant)
			}
		}
		return changes
	}
	if got := run(20); len(got) != 0 || s.dominant != "" {
		t.Fatalf("silence made %v dominant", got)
	}
	if got := run(9, "alice"); len(got) != 0 {
		t.Fatalf("0.9 s of speech made %v dominant", got)
	}
	if got := run(1, "alice"); fmt.Sprint(got) != "[alice]" {
		t.Fatalf("1 s of speech: changes %v, want [alice]", got)
	}
	// alice goes on; bob coughs (0.4 s), then says "yes" twice.
	if got := run(4, "alice", "bob"); len(got) != 0 {
		t.Fatalf("a cough over alice switched to %v", got)
	}
	if got := run(30, "alice"); len(got) != 0 {
		t.Fatalf("changes %v while alice spoke alone", got)
	}
	if got := run(5); len(got) != 0 {
		t.Fatal("silence switched")
	}
	if got := run(5, "bob"); len(got) != 0 || s.dominant != "alice" {
		t.Fatalf("half a second from bob while alice paused: changes %v, dominant %q", got, s.dominant)
	}
	if got := run(20); len(got) != 0 || s.dominant != "alice" {
		t.Fatalf("silence: changes %v, dominant %q", got, s.dominant)
	}
	// Both talk at once for a while: the one already dominant stays.
	if got := run(30, "alice", "bob"); len(got) != 0 {
		t.Fatalf("talking over each other switched to %v", got)
	}
	// bob takes over once alice stops.
	if got := run(30, "bob"); fmt.Sprint(got) != "[bob]" {
		t.Fatalf("bob alone: changes %v, want [bob]", got)
	}
	if fmt.Sprint(s.recent) != "[bob alice]" {
		t.Errorf("recent speakers %v, want [bob alice]", s.recent)
	}
	s.forget("bob")
	if s.dominant != "" || fmt.Sprint(s.recent) != "[alice]" {
		t.Errorf("after bob left: dominant %q, recent %v", s.dominant, s.recent)
	}
}

// speakerEvents collects a conference's dominant speaker events.
func speakerEvents(conf *Conference) func() []string {
	ch := make(chan string, 64)
	go func() {
		for ev := range conf.Events() {
			if ev.Kind == ConferenceDominantSpeaker {
				ch <- ev.ParticipantID
			}
		}
		close(ch)
	}()
	var seen []string
	return func() []string {
		for {
			select {
			case id, ok := <-ch:
				if !ok {
					return seen
				}
				seen = append(seen, id)
			default:
				return seen
			}
		}
	}
}

// Pion peers send audio levels: the SFU names whoever talks the dominant
// speaker, and a cough does not switch it.
func TestDominantSpeakerFromAudioLevels(t *testing.T) {
	const silent, speaking = 127, 0x80 | 30
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	events := speakerEvents(conf)
	var ms []*member
	for _, id := range []string{"alice", "bob", "carol"} {
		m := join(t, conf, id)
		m.c.level.Store(silent)
		ms = append(ms, m)
	}
	alice, bob, carol := ms[0], ms[1], ms[2]
	allReceive(t, 10, alice, bob, carol)
	dominantIs := func(want []string) {
		t.Helper()
		waitFor(t, fmt.Sprintf("dominant speaker events %v", want), func() error {
			if got := events(); fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("events %v", got)
			}
			return nil
		})
	}

	alice.c.level.Store(speaking)
	dominantIs([]string{"alice"})
	if got := conf.DominantSpeaker(); got != "alice" {
		t.Errorf("DominantSpeaker() = %q", got)
	}
	alice.c.level.Store(silent)
	bob.c.level.Store(speaking)
	dominantIs([]string{"alice", "bob"})
	bob.c.level.Store(silent)

	// carol coughs: 0.3 s loud. Then alice talks again: she, not carol,
	// is the next dominant speaker.
	carol.c.level.Store(speaking)
	time.Sleep(300 * time.Millisecond)
	carol.c.level.Store(silent)
	alice.c.level.Store(speaking)
	dominantIs([]string{"alice", "bob", "alice"})
	if st := conf.Stats(); st.SpeakerChanges != 3 || st.DominantSpeaker != "alice" {
		t.Errorf("stats %+v", st)
	}
}

// Under Opus DTX (codecs.go) a silent publisher sends one comfort-noise
// packet every 400 ms, so most 100 ms windows hear nothing: such a window,
// or one with only a quiet DTX packet, is silence, and speech after it
// counts at once.
func TestLevelMeterUnderDTX(t *testing.T) {
	var m levelMeter
	if m.spoke() {
		t.Error("a window without packets counted as speech")
	}
	m.observe([]byte{127}) // DTX frame: -127 dBov
	if m.spoke() {
		t.Error("a window with one quiet DTX packet counted as speech")
	}
	for range 5 {
		m.observe([]byte{0x80 | 20}) // voice activity bit, -20 dBov
	}
	if !m.spoke() {
		t.Error("speech after DTX silence did not count")
	}
	if m.spoke() {
		t.Error("the window did not reset")
	}
}
