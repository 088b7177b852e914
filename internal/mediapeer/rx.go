package mediapeer

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Track is another participant's track as we receive it.
type Track struct {
	Owner    string // the publisher's occupant JID (room@service/nick), from ssrc-info; "" if unknown
	StreamID string // the SFU's stream id for the publisher
	Kind     string // "audio" or "video"
	Source   string // "audio", "video" (the camera) or "screen" (a screen share): the track id's prefix
	MimeType string // "video/VP8", "audio/opus", ...
	SSRC     uint32

	Packets atomic.Int64 // RTP packets received
	Bytes   atomic.Int64 // RTP bytes received, headers included
	Ended   atomic.Bool  // the track stopped: its publisher left or the session ended

	mu sync.Mutex
	rx rxStats // guarded by mu; written by the track's read goroutine

	pli func() error // asks the publisher for a keyframe; read-only, nil for a Track made outside a session
}

// RequestKeyframe sends a Picture Loss Indication for a video track: the
// SFU asks the publisher for a keyframe, so that a recorder or a late
// decoder can start, or recover after loss.
func (t *Track) RequestKeyframe() error {
	if t.pli == nil || t.Kind != "video" {
		return nil
	}
	return t.pli()
}

// OwnerNick returns the publisher's nick, or "" if unknown.
func (t *Track) OwnerNick() string {
	if i := strings.LastIndexByte(t.Owner, '/'); i >= 0 {
		return t.Owner[i+1:]
	}
	return ""
}

// TrackStats is a snapshot of what arrived on a track.
type TrackStats struct {
	Packets  int64         // received, duplicates included
	Bytes    int64         // received, RTP headers included
	Expected int64         // by sequence numbers, from the first packet to the highest
	Lost     int64         // Expected minus the packets received, never negative
	Jitter   time.Duration // RFC 3550 interarrival jitter
	First    time.Time     // arrival of the first packet; zero before
	Last     time.Time     // arrival of the latest packet
}

// Stats returns the counters now.
func (t *Track) Stats() TrackStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rx.snapshot()
}

// record counts one packet that arrived at the given time.
func (t *Track) record(pkt []byte, at time.Time) {
	t.Packets.Add(1)
	t.Bytes.Add(int64(len(pkt)))
	if len(pkt) < 12 {
		return
	}
	t.mu.Lock()
	t.rx.add(binary.BigEndian.Uint16(pkt[2:4]), binary.BigEndian.Uint32(pkt[4:8]), len(pkt), at)
	t.mu.Unlock()
}

// rxStats follows sequence numbers and timestamps (RFC 3550 §6.4.1, A.3, A.8).
type rxStats struct {
	clockRate   int64     // RTP timestamp units per second; 0 disables jitter
	started     bool      // a packet arrived
	base        int64     // extended sequence number of the first packet
	highest     int64     // highest extended sequence number seen
	received    int64     // packets, duplicates included
	bytes       int64     // bytes received
	jitter      float64   // in timestamp units
	lastTransit int64     // arrival minus RTP timestamp of the previous packet, in timestamp units
	first       time.Time // arrival of the first packet
	last        time.Time // arrival of the latest packet
}

func (s *rxStats) add(seq uint16, ts uint32, size int, at time.Time) {
	s.received++
	s.bytes += int64(size)
	s.last = at
	if !s.started {
		s.started, s.base, s.highest, s.first = true, int64(seq), int64(seq), at
		s.lastTransit = s.transit(ts, at)
		return
	}
	// The extended number closest to the highest seen: wraps count forward,
	// late packets backward.
	ext := s.highest + int64(int16(seq-uint16(s.highest)))
	if ext > s.highest {
		s.highest = ext
	}
	if ext < s.base {
		s.base = ext
	}
	if s.clockRate == 0 {
		return
	}
	tr := s.transit(ts, at)
	d := tr - s.lastTransit
	s.lastTransit = tr
	if d < 0 {
		d = -d
	}
	s.jitter += (float64(d) - s.jitter) / 16
}

// transit is the arrival time in timestamp units minus the RTP timestamp,
// both relative to the first packet; only differences matter.
func (s *rxStats) transit(ts uint32, at time.Time) int64 {
	if s.clockRate == 0 {
		return 0
	}
	arrival := int64(at.Sub(s.first)) * s.clockRate / int64(time.Second)
	return arrival - int64(ts)
}

func (s *rxStats) snapshot() TrackStats {
	st := TrackStats{Packets: s.received, Bytes: s.bytes, First: s.first, Last: s.last}
	if !s.started {
		return st
	}
	st.Expected = s.highest - s.base + 1
	st.Lost = max(st.Expected-s.received, 0)
	if s.clockRate > 0 {
		st.Jitter = time.Duration(s.jitter * float64(time.Second) / float64(s.clockRate))
	}
	return st
}

// onTrack follows a remote track until it ends.
func (s *session) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	// The track id is "<source>-<stream id>" (docs/SIGNALLING.md): a
	// publisher's screen share is a second video beside its camera.
	key := tr.ID()
	source, _, _ := strings.Cut(tr.ID(), "-")
	codec := tr.Codec()
	t := &Track{StreamID: tr.StreamID(), Kind: tr.Kind().String(), Source: source, MimeType: codec.MimeType, SSRC: uint32(tr.SSRC())}
	t.rx.clockRate = int64(codec.ClockRate)
	t.pli = func() error {
		_, err := recv.Transport().WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
		return err
	}
	s.mu.Lock()
	t.Owner = s.owners[tr.StreamID()]
	s.tracks[key] = t
	s.mu.Unlock()
	p := s.p
	var occ Occupant
	if nick := t.OwnerNick(); nick != "" {
		if o, ok := p.Occupant(nick); ok {
			occ = o
		} else {
			occ = Occupant{Nick: nick}
		}
	}
	p.emit(Event{Kind: EventTrackAdded, Occupant: occ, Track: t})
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			t.Ended.Store(true)
			p.emit(Event{Kind: EventTrackEnded, Occupant: occ, Track: t})
			return
		}
		t.record(buf[:n], time.Now())
		if p.cfg.OnRTP != nil && pkt.Unmarshal(buf[:n]) == nil {
			p.cfg.OnRTP(t, &pkt)
		}
	}
}

// trackList returns the tracks received so far.
func (s *session) trackList() []*Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Track, 0, len(s.tracks))
	for _, t := range s.tracks {
		out = append(out, t)
	}
	return out
}
