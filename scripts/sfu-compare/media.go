package main

import (
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"parley.dev/parley/internal/mediapeer"
)

// The one media source of every server's load: parley's synthetic VP8
// (640x360, 30 frames/s, about 1 Mbit/s, a keyframe a second) and Opus
// (50 packets/s), the same bytes `parley load` publishes.

// newLocalTracks makes the audio and video tracks one participant publishes.
func newLocalTracks(id string) (audio, video *webrtc.TrackLocalStaticSample, err error) {
	audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio-"+id, id)
	if err != nil {
		return nil, nil, err
	}
	video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		"video-"+id, id)
	return audio, video, err
}

// pump writes src's frames to track in real time until stop is closed.
func pump(track *webrtc.TrackLocalStaticSample, src mediapeer.Source, stop <-chan struct{}) {
	next := time.Now()
	for {
		f, err := src.Next()
		if err != nil {
			return
		}
		if err := track.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration}); err != nil {
			// not bound yet, or closed: keep the pace anyway
			_ = err
		}
		next = next.Add(f.Duration)
		select {
		case <-stop:
			return
		case <-time.After(time.Until(next)):
		}
	}
}

// publish starts pumping the synthetic media into the two tracks.
func publish(audio, video *webrtc.TrackLocalStaticSample, stop <-chan struct{}) {
	go pump(audio, mediapeer.SyntheticAudio(), stop)
	go pump(video, mediapeer.SyntheticVideo(), stop)
}

// The one receive-and-count path: every received track is read as RTP
// after SRTP decryption (no decoding), and counted by sequence number.

// counter counts one subscriber's packets of one remote track.
type counter struct {
	mu       sync.Mutex
	first    bool   // a packet arrived
	maxExt   uint64 // highest extended sequence number seen
	cycles   uint64
	lastSeq  uint16
	received uint64 // packets
	bytes    uint64 // RTP bytes (header and payload)
	// window snapshot
	winRecv, winMaxExt, winBytes uint64
}

func (c *counter) add(h *rtp.Header, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := h.SequenceNumber
	if !c.first {
		c.first = true
		c.lastSeq = seq
		c.maxExt = uint64(seq)
	} else {
		if seq < c.lastSeq && c.lastSeq-seq > 0x8000 {
			c.cycles += 1 << 16
		}
		if ext := c.cycles + uint64(seq); ext > c.maxExt {
			c.maxExt = ext
		}
		if seq-c.lastSeq < 0x8000 {
			c.lastSeq = seq
		}
	}
	c.received++
	c.bytes += uint64(n)
}

// mark starts the window.
func (c *counter) mark() {
	c.mu.Lock()
	c.winRecv, c.winMaxExt, c.winBytes = c.received, c.maxExt, c.bytes
	c.mu.Unlock()
}

// window returns the packets received and expected since mark.
func (c *counter) window() (recv, expected, bytes uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received - c.winRecv, c.maxExt - c.winMaxExt, c.bytes - c.winBytes
}

// subscriber is one participant's receive side: a counter per remote
// publisher and kind, and when it first heard each.
type subscriber struct {
	id       string
	joinedAt time.Time
	want     int // remote tracks expected (2 per other participant)

	mu     sync.Mutex
	tracks map[string]*counter // by publisher/kind
	allAt  time.Time           // when every expected track delivered a packet
}

func newSubscriber(id string, want int) *subscriber {
	return &subscriber{id: id, want: want, tracks: make(map[string]*counter)}
}

// read counts track's packets until it ends. key names publisher and kind.
func (s *subscriber) read(key string, track *webrtc.TrackRemote) {
	c := &counter{}
	buf := make([]byte, 1500)
	var h rtp.Header
	first := true
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		if _, err := h.Unmarshal(buf[:n]); err != nil {
			continue
		}
		c.add(&h, n)
		if first {
			first = false
			s.mu.Lock()
			s.tracks[key] = c
			if len(s.tracks) >= s.want && s.allAt.IsZero() {
				s.allAt = time.Now()
			}
			s.mu.Unlock()
		}
	}
}

func (s *subscriber) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.allAt.IsZero()
}

func (s *subscriber) mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.tracks {
		c.mark()
	}
}

// windowTotals sums the window over the subscriber's tracks.
func (s *subscriber) windowTotals() (recv, expected, bytes uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.tracks {
		r, e, b := c.window()
		recv += r
		expected += e
		bytes += b
	}
	return
}
