package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/mediapeer"
)

// Source is something to publish: a recipe that every room it is given to
// opens afresh, so one Source may serve many rooms. The zero Source
// publishes nothing.
type Source struct {
	kind   string                           // mediaAudio or mediaVideo; "" for the zero Source
	open   func() (mediapeer.Source, error) // a new stream of frames; nil for a simulcast video
	layers []Source                         // a simulcast video's layers, smallest first; nil otherwise
}

const (
	mediaAudio = "audio"
	mediaVideo = "video"
)

// stream returns a new stream of frames, nil for the zero Source and for
// a simulcast video (see streams).
func (s Source) stream(want string) (mediapeer.Source, error) {
	if s.kind == "" {
		return nil, nil
	}
	if s.kind != want {
		return nil, &ConfigError{Field: "Media." + capitalized(want), Reason: "given a source of " + s.kind}
	}
	if s.open == nil {
		return nil, nil
	}
	src, err := s.open()
	if err != nil {
		return nil, &MediaError{Err: err}
	}
	return src, nil
}

func capitalized(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// SyntheticVideo is the built-in test pattern: real VP8 that browsers
// decode, 640x360 at 30 frames/s and about 1 Mbit/s, a keyframe every
// second, looping every 2 s.
func SyntheticVideo() Source {
	return Source{kind: mediaVideo, open: func() (mediapeer.Source, error) { return mediapeer.SyntheticVideo(), nil }}
}

// SyntheticSimulcast is the built-in test pattern as a browser's camera
// sends it: three simulcast layers by rid, 320x180 (about 150 kbit/s),
// 640x360 (SyntheticVideo, about 1 Mbit/s) and 1280x720 (about
// 1.5 Mbit/s), each 30 frames/s with a keyframe every second. The SFU
// forwards each subscriber one of them (docs/SIGNALLING.md).
func SyntheticSimulcast() Source {
	layers := make([]Source, len(mediapeer.SimulcastRIDs))
	for i := range layers {
		layers[i] = Source{kind: mediaVideo, open: func() (mediapeer.Source, error) { return mediapeer.SyntheticLayers()[i], nil }}
	}
	return SimulcastVideo(layers...)
}

// SimulcastVideo publishes two or three VP8 video sources, smallest first,
// as the simulcast layers of one camera (rids q, h and f).
func SimulcastVideo(layers ...Source) Source {
	return Source{kind: mediaVideo, layers: layers}
}

// streams opens a simulcast video's layers; nil for other sources.
func (s Source) streams() ([]mediapeer.Source, error) {
	if s.layers == nil {
		return nil, nil
	}
	if len(s.layers) < 2 || len(s.layers) > len(mediapeer.SimulcastRIDs) {
		return nil, &ConfigError{Field: "Media.Video", Reason: "a simulcast video needs 2 or 3 layers"}
	}
	out := make([]mediapeer.Source, 0, len(s.layers))
	for _, l := range s.layers {
		src, err := l.stream(mediaVideo)
		if err == nil && src == nil {
			err = &ConfigError{Field: "Media.Video", Reason: "a simulcast layer without media"}
		}
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// closeAll closes the sources that hold files.
func closeAll(srcs []mediapeer.Source) {
	for _, src := range srcs {
		if c, ok := src.(io.Closer); ok {
			c.Close()
		}
	}
}

// SyntheticAudio is the built-in tone: Opus, 440 Hz, 50 packets/s,
// looping every 2 s.
func SyntheticAudio() Source {
	return Source{kind: mediaAudio, open: func() (mediapeer.Source, error) { return mediapeer.SyntheticAudio(), nil }}
}

// IVFFile plays the VP8 video of an IVF file (ffmpeg -c:v libvpx out.ivf
// makes one), from the start again at its end if loop is set. The file is
// opened when a room is joined, and closed when the stream ends.
func IVFFile(path string, loop bool) Source {
	return Source{kind: mediaVideo, open: func() (mediapeer.Source, error) {
		return openFile(path, func(f *os.File) (mediapeer.Source, error) { return mediapeer.NewIVFSource(f, loop) })
	}}
}

// OggFile plays the Opus audio of an Ogg file that holds one Opus packet per
// page (ffmpeg -c:a libopus -page_duration 20000 out.ogg makes one), from
// the start again at its end if loop is set.
func OggFile(path string, loop bool) Source {
	return Source{kind: mediaAudio, open: func() (mediapeer.Source, error) {
		return openFile(path, func(f *os.File) (mediapeer.Source, error) { return mediapeer.NewOggSource(f, loop) })
	}}
}

// IVFData and OggData are IVFFile and OggFile for media held in memory.
func IVFData(data []byte, loop bool) Source {
	return Source{kind: mediaVideo, open: func() (mediapeer.Source, error) {
		return mediapeer.NewIVFSource(bytes.NewReader(data), loop)
	}}
}

// OggData is OggFile for media held in memory.
func OggData(data []byte, loop bool) Source {
	return Source{kind: mediaAudio, open: func() (mediapeer.Source, error) {
		return mediapeer.NewOggSource(bytes.NewReader(data), loop)
	}}
}

// Frame is one encoded video frame or audio packet and how long it lasts.
type Frame struct {
	Data     []byte
	Duration time.Duration
}

// FrameReader yields the frames of a custom source; an io.EOF error ends
// the track. It is read from one goroutine, paced by the frames' durations.
type FrameReader interface {
	Next() (Frame, error)
}

// VP8Frames and OpusFrames publish frames a program makes itself: open is
// called once per room.
func VP8Frames(open func() (FrameReader, error)) Source {
	return custom(mediaVideo, webrtc.MimeTypeVP8, open)
}

// OpusFrames is VP8Frames for Opus audio packets.
func OpusFrames(open func() (FrameReader, error)) Source {
	return custom(mediaAudio, webrtc.MimeTypeOpus, open)
}

func custom(kind, mime string, open func() (FrameReader, error)) Source {
	return Source{kind: kind, open: func() (mediapeer.Source, error) {
		fr, err := open()
		if err != nil {
			return nil, err
		}
		return customSource{mime: mime, fr: fr}, nil
	}}
}

type customSource struct {
	mime string      // read-only
	fr   FrameReader // read by the room's publishing goroutine only
}

func (c customSource) MimeType() string { return c.mime }

func (c customSource) Next() (mediapeer.Frame, error) {
	f, err := c.fr.Next()
	if err == nil && f.Duration <= 0 {
		err = errors.New("sdk: a frame without a duration")
	}
	return mediapeer.Frame{Data: f.Data, Duration: f.Duration}, err
}

// fileSource closes its file when its stream ends, and when the room ends
// (the engine closes sources that are io.Closers).
type fileSource struct {
	mediapeer.Source          // reads f; used by the publishing goroutine only
	f                *os.File // closed at the end, or by the engine when the room ends
}

func (s *fileSource) Next() (mediapeer.Frame, error) {
	fr, err := s.Source.Next()
	if err != nil {
		s.f.Close()
	}
	return fr, err
}

func (s *fileSource) Close() error { return s.f.Close() }

func openFile(path string, read func(*os.File) (mediapeer.Source, error)) (mediapeer.Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	src, err := read(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &fileSource{Source: src, f: f}, nil
}

// Track is a track that another participant publishes, as we receive it.
// Tracks compare equal when they are the same track.
type Track struct{ t *mediapeer.Track }

// Owner returns the publisher's nick in the room, or "" if the focus did
// not say.
func (t Track) Owner() string { return t.t.OwnerNick() }

// Kind returns "audio" or "video".
func (t Track) Kind() string { return t.t.Kind }

// Source returns what the track carries: "audio", "video" (a camera) or
// "screen" (a shared screen, a second video of its owner).
func (t Track) Source() string { return t.t.Source }

// MimeType returns the codec: "video/VP8", "audio/opus", ...
func (t Track) MimeType() string { return t.t.MimeType }

// SSRC returns the RTP synchronization source the SFU sends it with.
func (t Track) SSRC() uint32 { return t.t.SSRC }

// Ended reports whether the track stopped: its publisher left or stopped
// sending it, or our session ended.
func (t Track) Ended() bool { return t.t.Ended.Load() }

// Stats returns what arrived on the track so far.
func (t Track) Stats() TrackStats {
	s := t.t.Stats()
	return TrackStats{Packets: s.Packets, Bytes: s.Bytes, Expected: s.Expected, Lost: s.Lost,
		Jitter: s.Jitter, First: s.First, Last: s.Last}
}

// TrackStats counts what arrived on a track.
type TrackStats struct {
	Packets  int64         // RTP packets received, duplicates included
	Bytes    int64         // RTP bytes received, headers included
	Expected int64         // packets expected by sequence number, first to highest
	Lost     int64         // Expected minus received, never negative
	Jitter   time.Duration // RFC 3550 interarrival jitter
	First    time.Time     // when the first packet arrived; zero before
	Last     time.Time     // when the latest packet arrived
}

// ResendStats counts the packets we publish that the SFU asked for again
// (NACKs): resent, and not resent by reason. A packet is resent as a
// browser does it: within a second of sending, at most once per 100 ms,
// and never more bytes than the media itself.
type ResendStats struct {
	Resent         uint64 // packets resent
	RefusedUnknown uint64 // never sent, or no longer kept
	RefusedOld     uint64 // sent more than a second before
	RefusedSpacing uint64 // resent less than 100 ms before
	RefusedCredit  uint64 // over the resending budget
}

// ResendStats returns the room's resend counts so far; zero without media.
func (r *Room) ResendStats() ResendStats {
	s := r.peer.ResendStats()
	return ResendStats{Resent: s.Resent, RefusedUnknown: s.RefusedUnknown, RefusedOld: s.RefusedOld,
		RefusedSpacing: s.RefusedSpacing, RefusedCredit: s.RefusedCredit}
}

// MediaConnected is closed when the room's media first connects (ICE and
// DTLS done); it is never closed in a room joined without media.
func (r *Room) MediaConnected() <-chan struct{} { return r.peer.MediaConnected() }
