package mediapeer

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// The synthetic media: a 2 s test pattern (640x360, 30 frames/s, VP8 at
// about 1 Mbit/s, a keyframe every 30 frames) and a 2 s 440 Hz tone (Opus,
// 20 ms packets, one per Ogg page), made with ffmpeg:
//
//	ffmpeg -f lavfi -i testsrc=size=640x360:rate=30 -vf noise=alls=10:allf=t -t 2 \
//	    -c:v libvpx -b:v 1M -minrate 1M -maxrate 1M -bufsize 1M -qmax 33 -g 30 \
//	    -auto-alt-ref 0 -deadline good pattern.ivf
//	ffmpeg -f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 -c:a libopus \
//	    -b:a 32k -ac 1 -page_duration 20000 -frame_duration 20 tone.ogg
var (
	//go:embed testdata/pattern.ivf
	patternIVF []byte
	//go:embed testdata/tone.ogg
	toneOgg []byte
)

// Frame is one encoded frame (VP8) or packet (Opus) and how long it lasts.
type Frame struct {
	Data     []byte
	Duration time.Duration
}

// Source yields the frames of one track we publish, in order. A Source
// belongs to one room: it is read from one goroutine.
type Source interface {
	// MimeType is webrtc.MimeTypeVP8 or webrtc.MimeTypeOpus.
	MimeType() string
	// Next returns the next frame; io.EOF ends the track.
	Next() (Frame, error)
}

// SourceError reports a media file that cannot be published.
type SourceError struct {
	Format string // "ivf" or "ogg"
	Err    error
}

func (e *SourceError) Error() string { return "mediapeer: " + e.Format + " source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// ErrOggPacking is returned for an Ogg file that puts several Opus packets
// in one page: pion's reader returns whole pages. Remux it with
// ffmpeg -i in.ogg -c copy -page_duration 20000 out.ogg.
var ErrOggPacking = errors.New("several Opus packets per Ogg page")

// clip is an immutable list of frames, shared by every source that plays it.
type clip struct {
	mime   string  // read-only
	frames []Frame // read-only
}

// synthetic parses the embedded media once; the frames are never written
// afterwards, so a thousand publishers share one copy.
var synthetic = sync.OnceValues(func() ([2]*clip, error) {
	var out [2]*clip
	for i, src := range []Source{mustIVF(patternIVF), mustOgg(toneOgg)} {
		c, err := clipOf(src)
		if err != nil {
			return out, err
		}
		out[i] = c
	}
	return out, nil
})

// clipOf reads every frame of a source that ends.
func clipOf(src Source) (*clip, error) {
	c := &clip{mime: src.MimeType()}
	for {
		f, err := src.Next()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		c.frames = append(c.frames, f)
	}
}

func mustIVF(b []byte) Source {
	s, err := NewIVFSource(bytes.NewReader(b), false)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return s
}

func mustOgg(b []byte) Source {
	s, err := NewOggSource(bytes.NewReader(b), false)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return s
}

// loop plays a clip forever.
type loop struct {
	c   *clip       // shared, read-only
	i   int         // the next frame; owned by the publishing goroutine
	key atomic.Bool // a keyframe is asked for; set by any goroutine
}

func (l *loop) MimeType() string { return l.c.mime }

func (l *loop) Next() (Frame, error) {
	if l.key.Swap(false) {
		l.i = nextKeyframe(l.c, l.i)
	}
	f := l.c.frames[l.i%len(l.c.frames)]
	l.i++
	return f, nil
}

// RequestKeyframe makes the next frame a keyframe, as an encoder does on a
// PLI: the loop jumps to the clip's next one (VP8; audio has none).
func (l *loop) RequestKeyframe() { l.key.Store(true) }

// nextKeyframe returns the index, from i on, of the clip's next VP8
// keyframe (a frame tag with the P bit clear), or i if it has none.
func nextKeyframe(c *clip, i int) int {
	if c.mime != webrtc.MimeTypeVP8 {
		return i
	}
	n := len(c.frames)
	for k := range n {
		if d := c.frames[(i+k)%n].Data; len(d) > 0 && d[0]&1 == 0 {
			return i + k
		}
	}
	return i
}

// SyntheticVideo returns a new source of the built-in test pattern: real
// VP8 that browsers decode, about 1 Mbit/s at 30 frames/s, looping.
func SyntheticVideo() Source {
	clips, err := synthetic()
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return &loop{c: clips[0]}
}

// SyntheticAudio returns a new source of the built-in tone: Opus, 50
// packets/s, looping.
func SyntheticAudio() Source {
	clips, err := synthetic()
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return &loop{c: clips[1]}
}

// ivfSource reads VP8 frames from an IVF stream with pion's reader. Each
// frame lasts until the next one's timestamp, so it reads one frame ahead.
// Its fields are owned by the goroutine that calls Next.
type ivfSource struct {
	r      io.Reader // the stream; an io.Seeker when looping
	loop   bool      // start again at the end
	rd     *ivfreader.IVFReader
	unit   time.Duration // one timebase tick
	num    uint64        // timebase numerator (seconds per tick = num/den)
	den    uint64        // timebase denominator
	next   []byte        // the frame read ahead; nil at the end
	nextTS uint64        // its presentation time in ticks
	last   time.Duration // the previous frame's duration, for the last frame
}

// NewIVFSource returns a source of the VP8 frames of an IVF stream. With
// loop, r must be an io.Seeker and the stream starts again at its end.
func NewIVFSource(r io.Reader, loop bool) (Source, error) {
	s := &ivfSource{r: r, loop: loop}
	if _, ok := r.(io.Seeker); loop && !ok {
		return nil, &SourceError{"ivf", errors.New("looping needs a seekable reader")}
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *ivfSource) open() error {
	rd, h, err := ivfreader.NewWith(&ivfGuard{r: s.r, next: 32})
	if err != nil {
		return &SourceError{"ivf", err}
	}
	if string(h.FourCC[:]) != "VP80" {
		return &SourceError{"ivf", fmt.Errorf("codec %q, want VP80", h.FourCC)}
	}
	if h.TimebaseDenominator == 0 || h.TimebaseNumerator == 0 {
		return &SourceError{"ivf", errors.New("zero timebase")}
	}
	s.rd, s.num, s.den = rd, uint64(h.TimebaseNumerator), uint64(h.TimebaseDenominator)
	s.unit = time.Duration(uint64(time.Second) * s.num / s.den)
	if s.last == 0 {
		s.last = time.Second / 30
	}
	return s.readAhead()
}

func (s *ivfSource) readAhead() error {
	data, fh, err := s.rd.ParseNextFrame()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		s.next = nil
		return nil
	}
	if err != nil {
		return &SourceError{"ivf", err}
	}
	// pion's reader reports the frame's pts multiplied by den/num; undo it
	// to count timebase ticks.
	s.next, s.nextTS = data, fh.Timestamp*s.num/s.den
	return nil
}

func (s *ivfSource) MimeType() string { return webrtc.MimeTypeVP8 }

func (s *ivfSource) Next() (Frame, error) {
	if s.next == nil {
		if !s.loop {
			return Frame{}, io.EOF
		}
		if _, err := s.r.(io.Seeker).Seek(0, io.SeekStart); err != nil {
			return Frame{}, &SourceError{"ivf", err}
		}
		if err := s.open(); err != nil {
			return Frame{}, err
		}
		if s.next == nil {
			return Frame{}, &SourceError{"ivf", errors.New("no frames")}
		}
	}
	data, ts := s.next, s.nextTS
	if err := s.readAhead(); err != nil {
		return Frame{}, err
	}
	d := s.last
	if s.next != nil && s.nextTS > ts {
		d = time.Duration(s.nextTS-ts) * s.unit
	}
	s.last = d
	return Frame{Data: data, Duration: d}, nil
}

// maxIVFFrame bounds one VP8 frame; a larger size in a frame header is
// damage (or malice), refused before pion's reader allocates it.
const maxIVFFrame = 8 << 20

// ivfGuard passes an IVF stream through to pion's reader, checking each
// frame header's size on the way.
// Its fields are owned by the reader's goroutine.
type ivfGuard struct {
	r    io.Reader // the file
	pos  int64     // bytes delivered so far
	next int64     // where the next frame header starts
	hdr  []byte    // a frame header read ahead and not yet delivered
	err  error     // sticky
}

func (g *ivfGuard) Read(b []byte) (int, error) {
	if g.hdr == nil && g.err == nil && g.pos == g.next {
		g.readHeader()
	}
	if len(g.hdr) > 0 {
		n := copy(b, g.hdr)
		g.hdr = g.hdr[n:]
		g.pos += int64(n)
		return n, nil
	}
	g.hdr = nil
	if g.err != nil {
		return 0, g.err
	}
	if want := g.next - g.pos; int64(len(b)) > want {
		b = b[:want]
	}
	n, err := g.r.Read(b)
	g.pos += int64(n)
	return n, err
}

// readHeader reads the next frame header ahead and checks its size. A
// short read is passed on as it is, for pion to report.
func (g *ivfGuard) readHeader() {
	h := make([]byte, 12)
	n, err := io.ReadFull(g.r, h)
	if err != nil {
		g.hdr, g.err = h[:n], err
		if n > 0 {
			g.err = io.ErrUnexpectedEOF
		}
		return
	}
	size := int64(binary.LittleEndian.Uint32(h[:4]))
	if size > maxIVFFrame {
		g.err = fmt.Errorf("a frame of %d bytes, more than %d", size, maxIVFFrame)
		return
	}
	g.hdr, g.next = h, g.next+12+size
}

// oggSource reads Opus packets from an Ogg stream with pion's reader, one
// packet per page.
// Its fields are owned by the goroutine that calls Next.
type oggSource struct {
	r       io.Reader // the stream; an io.Seeker when looping
	loop    bool      // start again at the end
	rd      *oggreader.OggReader
	granule uint64 // the previous page's granule position
}

// NewOggSource returns a source of the Opus packets of an Ogg stream that
// has one packet per page (ffmpeg's -page_duration 20000 makes such files).
// With loop, r must be an io.Seeker and the stream starts again at its end.
func NewOggSource(r io.Reader, loop bool) (Source, error) {
	s := &oggSource{r: r, loop: loop}
	if _, ok := r.(io.Seeker); loop && !ok {
		return nil, &SourceError{"ogg", errors.New("looping needs a seekable reader")}
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *oggSource) open() error {
	rd, _, err := oggreader.NewWith(s.r)
	if err != nil {
		return &SourceError{"ogg", err}
	}
	s.rd, s.granule = rd, 0
	return nil
}

func (s *oggSource) MimeType() string { return webrtc.MimeTypeOpus }

func (s *oggSource) Next() (Frame, error) {
	for restarted := false; ; {
		payload, h, err := s.rd.ParseNextPage()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if !s.loop || restarted {
				return Frame{}, io.EOF
			}
			if _, err := s.r.(io.Seeker).Seek(0, io.SeekStart); err != nil {
				return Frame{}, &SourceError{"ogg", err}
			}
			if err := s.open(); err != nil {
				return Frame{}, err
			}
			restarted = true
			continue
		}
		if err != nil {
			return Frame{}, &SourceError{"ogg", err}
		}
		if _, isHeader := h.HeaderType(payload); isHeader || len(payload) == 0 {
			continue
		}
		d, err := opusDuration(payload)
		if err != nil {
			return Frame{}, &SourceError{"ogg", err}
		}
		samples := h.GranulePosition - s.granule
		s.granule = h.GranulePosition
		if samples > uint64(d/(time.Second/48000)) && h.GranulePosition != 0 {
			return Frame{}, &SourceError{"ogg", ErrOggPacking}
		}
		return Frame{Data: payload, Duration: d}, nil
	}
}

// opusDuration reads an Opus packet's duration from its TOC byte and frame
// count (RFC 6716 §3.1).
func opusDuration(pkt []byte) (time.Duration, error) {
	if len(pkt) == 0 {
		return 0, errors.New("empty Opus packet")
	}
	toc := pkt[0]
	config := toc >> 3
	var frame time.Duration
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[config%4] * time.Millisecond
	case config < 16: // hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[config%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[config%4] * time.Microsecond
	}
	frames := 1
	switch toc & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(pkt) < 2 {
			return 0, errors.New("Opus packet without its frame count")
		}
		frames = int(pkt[1] & 0x3f)
	}
	d := frame * time.Duration(frames)
	if d == 0 || d > 120*time.Millisecond {
		return 0, fmt.Errorf("Opus packet of %v", d)
	}
	return d, nil
}

// publish paces a source onto a local track until the room ends or the
// source does.
func (s *session) publish(src Source, write func(Frame) error) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	next := time.Now()
	for {
		f, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.p.log.Warn("media source failed", "err", err)
			}
			return
		}
		if err := write(f); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			s.p.log.Warn("writing a sample failed", "err", err)
			return
		}
		next = next.Add(f.Duration)
		wait := time.Until(next)
		if wait < -time.Second {
			// Far behind (a stalled machine): start again from now rather
			// than send a burst.
			next, wait = time.Now(), 0
		}
		timer.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
	}
}
