package record

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

const (
	videoRate = 90000
	// cuesReserved is the room at the front of a WebM file for its Cues,
	// one point per cluster (a cluster starts at a keyframe at least a
	// second after the previous one): about 3000 points, more than an
	// hour; beyond, the library thins them out.
	cuesReserved = 64 << 10
	// sampleMaxLate is the samplebuilder's depth in packets: a keyframe
	// of a few hundred kbit/s is a few dozen packets.
	sampleMaxLate = 512
)

// videoTrack writes one video track as WebM (VP8, VP9) or Matroska
// (H.264, h264.go). It waits for a keyframe
// (asking for one through pli) to learn the picture size; after loss it
// drops frames until the next keyframe, asking for it. It is used by one
// goroutine, the track's.
type videoTrack struct {
	path  string
	mime  string
	sb    *samplebuilder.SampleBuilder
	pli   func()
	isKey func([]byte) (bool, int, int) // VP8, VP9
	h264  *h264Params                   // H.264: nil for the other codecs

	w                       webm.BlockWriteCloser // nil until the first keyframe
	out                     *stickyFile           // the file under w
	broken                  bool                  // a frame was lost: wait for a keyframe
	lastPLI                 time.Time
	ts0                     uint32 // RTP timestamp of the first frame written
	lastTS                  int64  // extended RTP timestamp of the latest frame, from ts0
	prevTS                  uint32
	frames                  int64
	keys                    int64
	dropped                 int64 // frames not written: lost parts, or waiting for a keyframe
	width                   int   // the current picture size
	height                  int
	firstWidth, firstHeight int      // the file's header
	resizes                 []Resize // size changes after the first keyframe
	fatalMu                 sync.Mutex
	fatalErr                error // from the WebM writer's goroutine; guarded by fatalMu
}

// Resize is a change of a video track's picture size.
type Resize struct {
	AtMS   int64 `json:"at_ms"` // from the track's start
	Width  int   `json:"width"`
	Height int   `json:"height"`
}

func newVideoTrack(path, mime string, pli func()) (*videoTrack, error) {
	v := &videoTrack{path: path, mime: mime, pli: pli}
	var dep rtp.Depacketizer
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		dep, v.isKey = &codecs.VP8Packet{}, vp8Keyframe
	case strings.EqualFold(mime, webrtc.MimeTypeVP9):
		dep, v.isKey = &codecs.VP9Packet{}, vp9Keyframe
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		dep, v.h264 = &codecs.H264Packet{IsAVC: true}, &h264Params{}
	default:
		return nil, fmt.Errorf("%w: %s", ErrCodec, mime)
	}
	v.sb = samplebuilder.New(sampleMaxLate, dep, videoRate, samplebuilder.WithMaxTimeDelay(500*time.Millisecond))
	return v, nil
}

func (v *videoTrack) push(pkt *rtp.Packet) error {
	v.sb.Push(pkt.Clone())
	for s := v.sb.Pop(); s != nil; s = v.sb.Pop() {
		if s.PrevDroppedPackets > 0 {
			v.broken = true
		}
		if err := v.frame(s.Data, s.PacketTimestamp); err != nil {
			return err
		}
	}
	return v.err()
}

func (v *videoTrack) frame(data []byte, ts uint32) error {
	if v.w != nil && int32(ts-v.prevTS) <= 0 {
		// Not after the last frame written: a repeat (packets sent again
		// after the frame was complete), which a muxer must not get.
		v.dropped++
		return nil
	}
	var key bool
	var w, h int
	if v.h264 != nil {
		var err error
		if data, key, w, h, err = v.h264.frame(data); err != nil {
			v.dropped++
			v.broken = true
			v.askKeyframe()
			return nil
		}
	} else {
		key, w, h = v.isKey(data)
	}
	if v.w == nil || v.broken {
		if !key {
			v.dropped++
			v.askKeyframe()
			return nil
		}
		v.broken = false
	}
	if v.w == nil {
		if err := v.open(w, h); err != nil {
			return err
		}
		v.ts0, v.prevTS = ts, ts
	}
	v.lastTS += int64(int32(ts - v.prevTS))
	v.prevTS = ts
	ms := v.lastTS * 1000 / videoRate
	if key && w > 0 && (w != v.width || h != v.height) {
		v.resizes = append(v.resizes, Resize{AtMS: ms, Width: w, Height: h})
		v.width, v.height = w, h
	}
	if key {
		v.keys++
	}
	v.frames++
	_, err := v.w.Write(key, ms, data)
	return err
}

func (v *videoTrack) askKeyframe() {
	if now := time.Now(); now.Sub(v.lastPLI) > 500*time.Millisecond {
		v.lastPLI = now
		v.pli()
	}
}

func (v *videoTrack) open(w, h int) error {
	f, err := os.OpenFile(v.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	track := webm.TrackEntry{Name: "video", TrackNumber: 1, TrackUID: 1, CodecID: "V_VP8", TrackType: 1,
		Video: &webm.Video{PixelWidth: uint64(w), PixelHeight: uint64(h)}}
	header := *webm.DefaultEBMLHeader
	switch {
	case strings.EqualFold(v.mime, webrtc.MimeTypeVP9):
		track.CodecID = "V_VP9"
	case v.h264 != nil: // Matroska, not WebM
		track.CodecID, track.CodecPrivate, header.DocType = h264Codec, v.h264.codecPrivate(), "matroska"
	}
	v.width, v.height = w, h
	v.firstWidth, v.firstHeight = w, h
	info := &webm.Info{TimecodeScale: 1000000, MuxingApp: "parley", WritingApp: "parley", DateUTC: time.Now()}
	v.out = &stickyFile{f: f}
	ws, err := webm.NewSimpleBlockWriter(v.out, []webm.TrackEntry{track},
		mkvcore.WithEBMLHeader(&header),
		mkvcore.WithSegmentInfo(info),
		mkvcore.WithBlockInterceptor(nil), // one track: nothing to interleave
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cuesReserved),
		mkvcore.WithMinMaxClusterDuration(1, 1000, 30000),
		mkvcore.WithOnFatalHandler(v.fatal),
		mkvcore.WithOnErrorHandler(func(error) {}), // an old frame dropped: counted nowhere else
	)
	if err != nil {
		f.Close()
		return err
	}
	v.w = ws[0]
	return nil
}

func (v *videoTrack) fatal(err error) {
	v.fatalMu.Lock()
	if v.fatalErr == nil {
		v.fatalErr = err
	}
	v.fatalMu.Unlock()
}

func (v *videoTrack) err() error {
	v.fatalMu.Lock()
	defer v.fatalMu.Unlock()
	if v.fatalErr == nil && v.out != nil {
		return v.out.err()
	}
	return v.fatalErr
}

// stickyFile is the WebM writer's file. The writer runs on a goroutine of
// its own that stops at its first error, after which a Write would block
// for ever; so a write error (a full disk) is kept here and later writes
// are dropped, and the track reads the error and ends the file cleanly.
// WriteAt (Cues and duration, in space reserved at the start) still goes
// to the file.
//
// The writer writes an element (a block, a cluster's header) at a time, so
// a write that fails is cut off the file: what stays ends on a whole
// element and plays.
type stickyFile struct {
	f    *os.File
	mu   sync.Mutex
	size int64 // bytes appended by Write; guarded by mu
	bad  error // the first write error; guarded by mu
}

func (s *stickyFile) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad != nil {
		return len(b), nil
	}
	n, err := s.f.Write(b)
	if err != nil {
		s.bad = err
		if n > 0 {
			s.f.Truncate(s.size)
		}
		return len(b), nil
	}
	s.size += int64(n)
	return len(b), nil
}

func (s *stickyFile) WriteAt(b []byte, off int64) (int, error) { return s.f.WriteAt(b, off) }
func (s *stickyFile) Close() error                             { return s.f.Close() }

func (s *stickyFile) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

// close writes the frames still in the samplebuilder and finishes the
// file: Cues and duration.
func (v *videoTrack) close() error {
	v.sb.Flush()
	var err error
	for s := v.sb.Pop(); s != nil; s = v.sb.Pop() {
		if e := v.frame(s.Data, s.PacketTimestamp); e != nil && err == nil {
			err = e
		}
	}
	if v.w != nil {
		err = errors.Join(err, v.w.Close())
	}
	return errors.Join(err, v.err())
}

func (v *videoTrack) duration() time.Duration {
	return time.Duration(v.lastTS) * time.Second / videoRate
}
