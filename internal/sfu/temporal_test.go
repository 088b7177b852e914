package sfu

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// vp8TemporalPacket builds a VP8 RTP payload with a 15-bit picture id,
// TL0PICIDX and TID/Y (RFC 7741): the first packet of its frame if start,
// a keyframe if key.
func vp8TemporalPacket(pic uint16, tl0 uint8, tid uint8, sync, start, key bool) []byte {
	p := make([]byte, 16)
	p[0] = 0x80 // X
	if start {
		p[0] |= 0x10 // S, partition 0
	}
	p[1] = 0xe0 // I, L, T
	p[2], p[3] = 0x80|byte(pic>>8), byte(pic)
	p[4] = tl0
	p[5] = tid << 6
	if sync {
		p[5] |= 0x20
	}
	p[6] = 0x01 // P=1: a delta frame
	if key {
		p[6] = 0x10
		p[9], p[10], p[11] = 0x9d, 0x01, 0x2a
		p[12], p[14] = 64, 48 // 320x? : only the header's shape matters here
	}
	return p
}

func TestParseVP8TemporalFields(t *testing.T) {
	d := parseVP8(vp8TemporalPacket(300, 7, 2, true, true, false))
	if !d.parsedOK || d.tid != 2 || !d.sync || d.picAt != 2 || !d.picWide || d.tl0At != 4 || d.size != 6 || !d.start {
		t.Fatalf("T and Y: %+v", d)
	}
	d = parseVP8(vp8TemporalPacket(300, 7, 1, false, false, false))
	if !d.parsedOK || d.tid != 1 || d.sync || d.start {
		t.Fatalf("TID 1 without Y, not a start: %+v", d)
	}
	// K without T: the byte holds KEYIDX only, its TID bits mean nothing.
	p := []byte{0x90, 0x10, 0xff, 0x01}
	if d := parseVP8(p); !d.parsedOK || d.tid != 0 || d.sync || d.size != 3 {
		t.Fatalf("K alone: %+v", d)
	}
	// T set, but the packet ends before the TID byte.
	if d := parseVP8([]byte{0x90, 0x20}); d.parsedOK {
		t.Fatalf("truncated descriptor parsed: %+v", d)
	}
}

// A skipped source packet leaves no gap; runs of them and late packets
// from before them keep their places.
func TestRewriterSkip(t *testing.T) {
	r := newRewriter(90000)
	now := time.Unix(0, 0)
	r.skip(99) // before the first packet: nothing to close
	r.rewrite(7, 100, 0, now)
	r.rewrite(7, 102, 0, now) // 101 late
	r.skip(103)
	r.skip(104)
	if seq, _ := r.rewrite(7, 105, 0, now); seq != 103 {
		t.Fatalf("after two skipped packets: %d, want 103", seq)
	}
	if seq, _ := r.rewrite(7, 101, 0, now); seq != 101 {
		t.Fatalf("late packet from before the skips: %d, want 101", seq)
	}
	r.skip(101) // late, older than the last sent: no shift
	r.skip(106)
	if seq, _ := r.rewrite(7, 107, 0, now); seq != 104 {
		t.Fatalf("after another skip: %d, want 104", seq)
	}
	seq, _, _ := r.pad()
	if seq != 105 {
		t.Fatalf("padding after skips: %d, want 105", seq)
	}
	r.skip(108)
	if seq, _ := r.rewrite(7, 109, 0, now); seq != 106 {
		t.Fatalf("skip after padding: %d, want 106", seq)
	}
}

// sentVP8 is what a vp8Recorder saw of one packet.
type sentVP8 struct {
	seq uint16
	pic uint16
	tid uint8
}

// vp8Recorder keeps the sequence number, picture id and TID of every
// packet written.
type vp8Recorder struct{ got []sentVP8 }

func (w *vp8Recorder) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	d := parseVP8(payload)
	w.got = append(w.got, sentVP8{seq: h.SequenceNumber, pic: uint16(payload[d.picAt]&0x7f)<<8 | uint16(payload[d.picAt+1]), tid: d.tid})
	return len(payload), nil
}

func (w *vp8Recorder) Write(b []byte) (int, error) { return len(b), nil }

// temporalSource sends VP8 frames of two packets each, in the temporal
// pattern 0,2,1,2 that libwebrtc's three temporal layers use; sync marks
// the frames (by index) that carry the Y bit.
type temporalSource struct {
	seq   uint16
	pic   uint16
	tl0   uint8
	frame int
	sync  map[int]bool
}

func (s *temporalSource) send(d *downTrack, now time.Time) {
	tid := [4]uint8{0, 2, 1, 2}[s.frame%4]
	if tid == 0 && s.frame > 0 {
		s.tl0++
	}
	key := s.frame == 0
	for i := 0; i < 2; i++ {
		p := vp8TemporalPacket(s.pic, s.tl0, tid, s.sync[s.frame], i == 0, key && i == 0)
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: s.seq, Timestamp: uint32(s.frame) * 3000, SSRC: 99, Marker: i == 1}
		d.write(0, key && i == 0, &h, p, now)
		s.seq++
	}
	s.pic++
	s.frame++
}

// The downtrack forwards only the temporal layers up to its target: the
// subscriber sees contiguous sequence numbers and picture ids; it goes
// down at the next frame, and up only at a frame of the next layer with
// the Y bit.
func TestDownTrackTemporalLayerDrop(t *testing.T) {
	var plis atomic.Int64
	pub := testPublication(webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	w := &vp8Recorder{}
	d := boundDownTrack(t, pub, &fakeBinding{codecs: []webrtc.RTPCodecParameters{testVP8}, ssrc: 5, writer: w})
	src := &temporalSource{seq: 1000, pic: 200, sync: map[int]bool{9: true, 13: true}}
	now := time.Unix(0, 0)
	for range 4 { // frames 0-3: everything
		src.send(d, now)
	}
	d.setTemporal(0)
	for range 4 { // frames 4-7: TID 0 only
		src.send(d, now)
	}
	d.setTemporal(1)
	for range 8 { // frames 8-15: frame 9 (TID 2) has Y but is above 1; 10 (TID 1) has none; 14 (TID 1) none: TID 0 only still
		src.send(d, now)
	}
	d.setTemporal(2)
	for range 4 { // frames 16-19: no Y: TID 0 only
		src.send(d, now)
	}
	src.sync[22] = true // TID 1 with Y: up to 1
	src.sync[25] = true // TID 2 with Y: up to 2
	for range 8 {       // frames 20-27
		src.send(d, now)
	}
	var tids []uint8
	for i, g := range w.got {
		if i > 0 && g.seq != w.got[i-1].seq+1 {
			t.Fatalf("sequence gap at packet %d: %d after %d", i, g.seq, w.got[i-1].seq)
		}
		if i > 0 && g.pic != w.got[i-1].pic && g.pic != w.got[i-1].pic+1 {
			t.Fatalf("picture id jump at packet %d: %d after %d", i, g.pic, w.got[i-1].pic)
		}
		if i%2 == 0 {
			tids = append(tids, g.tid)
		}
	}
	// Frames 0-3; 4; 8 and 12; 16; then 20, 22 (TID 1 with Y: up to 1),
	// 24, 25 (TID 2 with Y: up to 2), 26 and 27.
	want := []uint8{0, 2, 1, 2, 0, 0, 0, 0, 0, 1, 0, 2, 1, 2}
	if !slices.Equal(tids, want) {
		t.Fatalf("forwarded the temporal layers %v, want %v", tids, want)
	}
	if got := d.temporalDrops.Load(); got != 28-14 {
		t.Fatalf("%d frames counted as dropped, want 14", got)
	}
	if up, down := d.tSwitches[0].Load(), d.tSwitches[1].Load(); up != 2 || down != 1 {
		t.Fatalf("temporal switches up %d, down %d; want 2 and 1", up, down)
	}
}
