package sip

// jitterSlots is the jitter buffer's length in 20 ms frames (320 ms).
const jitterSlots = 16

// jitterTarget is how many frames the buffer holds before it starts to
// play, and again after it ran dry: 40 ms of delay against jitter.
const jitterTarget = 2

// plcFrames is how many lost frames in a row are concealed by repeating
// the last one, fading; beyond, silence.
const plcFrames = 3

// jitterBuffer reorders the phone's audio by RTP timestamp and plays it
// out one 20 ms frame at a time, concealing lost frames. Not safe for
// concurrent use: the phone leg guards it.
type jitterBuffer struct {
	slots   [jitterSlots]jitterSlot
	next    uint32 // the frame index (timestamp/160) played next
	playing bool   // false until jitterTarget frames are held
	last    [frameLen]int16
	lost    int   // frames concealed in a row
	late    int64 // frames that came after their turn to play
}

type jitterSlot struct {
	index  uint32 // the frame index held
	filled int    // samples written; frameLen when whole
	pcm    [frameLen]int16
}

// push stores samples that start at RTP timestamp ts.
func (j *jitterBuffer) push(ts uint32, pcm []int16) {
	for len(pcm) > 0 {
		index, off := ts/frameLen, int(ts%frameLen)
		if !j.playing && j.held() == 0 {
			j.next = index
		}
		d := int32(index - j.next)
		switch {
		case d < 0:
			j.late++
		case d >= jitterSlots: // far ahead: the stream jumped; start again there
			j.reset(index)
			fallthrough
		default:
			s := &j.slots[index%jitterSlots]
			if s.index != index || s.filled == 0 {
				*s = jitterSlot{index: index}
			}
			n := copy(s.pcm[off:], pcm)
			s.filled += n
		}
		n := min(len(pcm), frameLen-off)
		pcm, ts = pcm[n:], ts+uint32(n)
	}
	if !j.playing && j.held() >= jitterTarget {
		j.playing = true
	}
}

func (j *jitterBuffer) reset(index uint32) {
	j.slots = [jitterSlots]jitterSlot{}
	j.next, j.playing = index, false
}

// held counts the frames waiting from next on.
func (j *jitterBuffer) held() int {
	n := 0
	for i := range uint32(jitterSlots) {
		s := &j.slots[(j.next+i)%jitterSlots]
		if s.filled > 0 && s.index == j.next+i {
			n++
		}
	}
	return n
}

// pop fills out with the next 20 ms: the frame if it came, else a
// concealment of the last one, else silence.
func (j *jitterBuffer) pop(out *[frameLen]int16) {
	if !j.playing {
		*out = [frameLen]int16{}
		return
	}
	s := &j.slots[j.next%jitterSlots]
	if s.filled > 0 && s.index == j.next {
		*out, j.last, j.lost = s.pcm, s.pcm, 0
		s.filled = 0
	} else {
		j.lost++
		*out = [frameLen]int16{}
		if j.lost <= plcFrames {
			for i, v := range j.last {
				out[i] = int16(int32(v) >> j.lost) // fade: -6 dB a frame
			}
		}
		if j.held() == 0 {
			j.playing = false // ran dry: wait for jitterTarget frames again
		}
	}
	j.next++
}
