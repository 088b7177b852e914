package sip

import (
	"slices"
	"sync"
	"time"
)

// mixQueue is how many 20 ms frames a room voice may have waiting (100 ms);
// beyond, the oldest is dropped.
const mixQueue = 5

// mixForget is how long a voice may send nothing before it is forgotten
// (its track ended).
const mixForget = 5 * time.Second

// mixer decodes the room's Opus voices at 8 kHz and mixes the loudest few
// for the phone. push runs on one goroutine per track; take on the phone
// leg's send loop.
type mixer struct {
	codec    Codec // read-only
	speakers int   // read-only: how many voices are mixed at once

	mu      sync.Mutex
	voices  map[uint32]*voice           // guarded by mu; by SSRC
	overlay func(*[frameLen]int16) bool // guarded by mu: a prompt played over the mix (the IVR)
}

// voice is one room participant's audio.
type voice struct {
	dec    Decoder   // used by its track's goroutine only
	pcm    []int16   // decode buffer, its track's goroutine only
	queue  [][]int16 // guarded by the mixer's mu
	seen   time.Time // guarded by the mixer's mu
	energy int64     // guarded by the mixer's mu: of the frame taken now
}

func newMixer(codec Codec, speakers int) *mixer {
	return &mixer{codec: codec, speakers: speakers, voices: make(map[uint32]*voice)}
}

// push decodes one Opus packet of the voice ssrc.
func (m *mixer) push(ssrc uint32, payload []byte) {
	m.mu.Lock()
	v := m.voices[ssrc]
	m.mu.Unlock()
	if v == nil {
		dec, err := m.codec.NewDecoder(clockRate)
		if err != nil {
			return
		}
		v = &voice{dec: dec, pcm: make([]int16, 6*frameLen)} // 120 ms, the longest Opus packet
		m.mu.Lock()
		m.voices[ssrc] = v
		m.mu.Unlock()
	}
	n, err := v.dec.Decode(payload, v.pcm)
	if err != nil || n <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v.seen = time.Now()
	for pcm := v.pcm[:n]; len(pcm) >= frameLen; pcm = pcm[frameLen:] {
		if len(v.queue) >= mixQueue {
			v.queue = v.queue[1:]
		}
		v.queue = append(v.queue, slices.Clone(pcm[:frameLen]))
	}
}

// take mixes the next 20 ms of the loudest voices into out.
func (m *mixer) take(out *[frameLen]int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var frames []*voice
	now := time.Now()
	for ssrc, v := range m.voices {
		if now.Sub(v.seen) > mixForget {
			delete(m.voices, ssrc)
			continue
		}
		if len(v.queue) == 0 {
			continue
		}
		v.energy = 0
		for _, s := range v.queue[0] {
			v.energy += int64(s) * int64(s)
		}
		frames = append(frames, v)
	}
	slices.SortFunc(frames, func(a, b *voice) int { return int(min(max(b.energy-a.energy, -1), 1)) })
	var sum [frameLen]int32
	for i, v := range frames {
		if i < m.speakers {
			for k, s := range v.queue[0] {
				sum[k] += int32(s)
			}
		}
		v.queue = v.queue[1:]
	}
	for k, s := range sum {
		out[k] = int16(min(max(s, -32768), 32767))
	}
	if m.overlay != nil && !m.overlay(out) {
		m.overlay = nil
	}
}

// play sets a prompt to play over the mix: f writes 20 ms at a time and
// returns false when it is done.
func (m *mixer) play(f func(*[frameLen]int16) bool) {
	m.mu.Lock()
	m.overlay = f
	m.mu.Unlock()
}
