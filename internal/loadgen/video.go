package loadgen

import (
	"sync"
	"time"

	"github.com/pion/rtp"

	"parley.dev/parley/sdk"
)

// FreezeGap is how long a video a subscriber is receiving may go without
// a frame before it counts as frozen: a gap between two frames (marker
// bits) longer than this is one freeze, lasting the whole gap.
const FreezeGap = 500 * time.Millisecond

// frameClock follows when a received video's frames complete.
type frameClock struct {
	mu      sync.Mutex
	last    time.Time     // when the latest frame completed; guarded by mu
	freezes int64         // gaps longer than FreezeGap so far; guarded by mu
	frozen  time.Duration // their total length; guarded by mu
}

// frameCount is a frameClock's reading.
type frameCount struct {
	last    time.Time
	freezes int64
	frozen  time.Duration
}

// frame records a frame that completed at the given time.
func (c *frameClock) frame(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.last.IsZero() {
		if gap := at.Sub(c.last); gap > FreezeGap {
			c.freezes++
			c.frozen += gap
		}
	}
	c.last = at
}

func (c *frameClock) read() frameCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	return frameCount{last: c.last, freezes: c.freezes, frozen: c.frozen}
}

// watched reports whether a video was being received when the window
// started: a frame came within FreezeGap before. Only those count for
// freezes (lastN stops the others on purpose).
func (f frameCount) watched(start time.Time) bool {
	return !f.last.IsZero() && start.Sub(f.last) <= FreezeGap
}

// freezesSince returns the freezes between two readings of one video, the
// second taken at end; a gap still open at end longer than FreezeGap
// counts as one more, lasting until end.
func freezesSince(before, after frameCount, end time.Time) (int64, time.Duration) {
	n, d := after.freezes-before.freezes, after.frozen-before.frozen
	if open := end.Sub(after.last); !after.last.IsZero() && open > FreezeGap {
		n, d = n+1, d+open
	}
	return n, d
}

// videoClocks are a subscriber's frame clocks, one per received video.
type videoClocks struct {
	mu     sync.Mutex
	clocks map[sdk.Track]*frameClock // guarded by mu
}

func newVideoClocks() *videoClocks { return &videoClocks{clocks: map[sdk.Track]*frameClock{}} }

// onRTP is the subscriber's sdk.Media.OnRTP: a video packet with the
// marker bit ends a frame.
func (v *videoClocks) onRTP(t sdk.Track, pkt *rtp.Packet) {
	if !pkt.Marker || t.Kind() != "video" {
		return
	}
	now := time.Now()
	v.mu.Lock()
	c := v.clocks[t]
	if c == nil {
		c = &frameClock{}
		v.clocks[t] = c
	}
	v.mu.Unlock()
	c.frame(now)
}

// read returns every video's reading.
func (v *videoClocks) read() map[sdk.Track]frameCount {
	v.mu.Lock()
	clocks := make(map[sdk.Track]*frameClock, len(v.clocks))
	for t, c := range v.clocks {
		clocks[t] = c
	}
	v.mu.Unlock()
	out := make(map[sdk.Track]frameCount, len(clocks))
	for t, c := range clocks {
		out[t] = c.read()
	}
	return out
}

// opusSilence is a 20 ms Opus frame of silence (a CELT-only TOC byte and
// an empty frame). The SDK marks packets of at most 3 bytes as silence in
// their audio level, so the SFU never takes their sender for a speaker.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// silence is the audio of a participant who does not speak: a silent
// frame every 20 ms, as a browser sends without DTX.
type silence struct{}

func (silence) Next() (sdk.Frame, error) {
	return sdk.Frame{Data: opusSilence, Duration: 20 * time.Millisecond}, nil
}

// media is what participant idx of a room publishes.
func (c *Config) media(idx int) *sdk.Media {
	m := &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo()}
	if c.Simulcast {
		m.Video = sdk.SyntheticSimulcast()
	}
	if c.Speakers > 0 && idx >= c.Speakers {
		m.Audio = sdk.OpusFrames(func() (sdk.FrameReader, error) { return silence{}, nil })
	}
	return m
}
