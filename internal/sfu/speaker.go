package sfu

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Dominant speaker detection. Every audio packet carries the RFC 6464
// audio level (0 loudest to 127 silence, in -dBov). The forwarding
// goroutine counts, per publication, packets heard and packets loud enough
// to be speech; every speakerWindow the conference turns each count into
// one bit, "spoke in this window", and keeps the last speechHistory bits
// per participant. Someone becomes the dominant speaker when they spoke in
// at least minSpeechWindows of those windows and in clearly more of them
// than the current one: a cough or a "yes" (under a second) never reaches
// that, and two people talking over each other do not make it flap.
const (
	speakerWindow    = 100 * time.Millisecond
	speechHistory    = 15 // windows looked at: 1.5 s
	minSpeechWindows = 10 // 1 s of speech in the last 1.5 s
	speechMargin     = 3  // windows more than the current speaker
	// speechLevel is the loudest level that still counts as silence is
	// above: -50 dBov. Speech into a browser's microphone reads -20 to
	// -45; room noise -60 and below.
	speechLevel = 50
)

// levelMeter counts one audio publication's packets within the current
// window. The forwarding goroutine adds; the conference's speaker tick
// takes and resets.
type levelMeter struct {
	heard atomic.Uint32 // packets carrying an audio level
	loud  atomic.Uint32 // of those, packets at speechLevel or louder
}

// observe records the level extension's value (one byte) of a packet.
func (m *levelMeter) observe(v []byte) {
	if len(v) != 1 {
		return
	}
	m.heard.Add(1)
	if v[0]&0x7f <= speechLevel {
		m.loud.Add(1)
	}
}

// spoke reports whether the window now ending had speech (at least half
// its packets loud), and starts a new window.
func (m *levelMeter) spoke() bool {
	heard, loud := m.heard.Swap(0), m.loud.Swap(0)
	return heard > 0 && loud*2 >= heard
}

// speakerTracker decides the dominant speaker from each participant's
// windows. Guarded by its conference's mu.
type speakerTracker struct {
	history  map[string]uint32 // last speechHistory windows per participant id, newest in bit 0
	dominant string            // participant id; "" before anybody spoke
	// recent orders participant ids by when they last became dominant,
	// most recent first; people who never did are not in it.
	recent []string
}

func newSpeakerTracker() *speakerTracker {
	return &speakerTracker{history: make(map[string]uint32)}
}

// window adds one window of speech flags (present: the participants with
// an audio publication now) and reports whether the dominant speaker
// changed.
func (s *speakerTracker) window(spoke map[string]bool) bool {
	const mask = 1<<speechHistory - 1
	for id := range s.history {
		if _, ok := spoke[id]; !ok {
			delete(s.history, id) // left, or stopped publishing audio
		}
	}
	for id, on := range spoke {
		h := s.history[id] << 1 & mask
		if on {
			h |= 1
		}
		s.history[id] = h
	}
	best, bestN := "", 0
	for id, h := range s.history {
		// Ties go to the smaller id, for determinism; a tie with the
		// dominant speaker never switches (speechMargin).
		if n := bits.OnesCount32(h); n > bestN || (n == bestN && n > 0 && id < best) {
			best, bestN = id, n
		}
	}
	cur := bits.OnesCount32(s.history[s.dominant])
	if best == "" || best == s.dominant || bestN < minSpeechWindows || bestN < cur+speechMargin {
		return false
	}
	s.dominant = best
	s.recent = moveToFront(s.recent, best)
	return true
}

// forget drops a participant who left.
func (s *speakerTracker) forget(id string) {
	delete(s.history, id)
	for i, r := range s.recent {
		if r == id {
			s.recent = append(s.recent[:i:i], s.recent[i+1:]...)
			break
		}
	}
	if s.dominant == id {
		s.dominant = ""
	}
}

func moveToFront(list []string, id string) []string {
	out := make([]string, 0, len(list)+1)
	out = append(out, id)
	for _, r := range list {
		if r != id {
			out = append(out, r)
		}
	}
	return out
}
