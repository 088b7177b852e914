package sfu

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
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
		d.write(0, key && i == 0, &h, p, parseVP8(p), now)
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

// temporalFrame turns frame, a vp8Frame of layer i, into the same frame
// with a TID: the pattern 0,2,1,2 restarting at each keyframe, and the Y
// bit on the first TID 2 and TID 1 frames after every other TID 0 frame,
// as Chromium sends its simulcast layers (L1T3).
func (s *simulcastSender) temporalFrame(i int, frame []byte, key bool) []byte {
	if key {
		s.tn[i] = 0
	}
	n := s.tn[i]
	s.tn[i]++
	tid := [4]uint8{0, 2, 1, 2}[n%4]
	if tid == 0 {
		s.tl0[i]++
	}
	p := make([]byte, len(frame)+2)
	p[0], p[1], p[2], p[3], p[4] = 0x90, 0xe0, frame[2], frame[3], s.tl0[i]
	p[5] = tid << 6
	if n%8 == 1 || n%8 == 2 {
		p[5] |= 0x20 // Y
	}
	copy(p[6:], frame[4:])
	return p
}

// reportLoss sends the SFU, every 100 ms until stop closes, receiver
// reports of a quarter of ssrc's packets lost, as a subscriber behind a
// narrow link would.
func (c *testClient) reportLoss(ssrc uint32, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.stop:
			return
		case <-tick.C:
		}
		_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1,
			Reports: []rtcp.ReceptionReport{{SSRC: ssrc, FractionLost: 64}}}})
	}
}

// A subscriber already on the lowest layer that keeps losing packets gets
// fewer temporal layers of it (TID 1, then TID 0 alone), with no gap in
// sequence numbers or picture ids; when the loss ends, a probe lifts the
// ceiling and the higher temporal layers come back.
func TestTemporalLayersForAConstrainedSubscriber(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	p, err := conf.Join("alice", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice := &member{p: p, c: newTestClientWith(t, "alice", true)}
	alice.c.sim.temporal = true
	alice.drive(t)
	bob := join(t, conf, "bob")
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 180}})
	var seen recvTrack
	waitFor(t, "bob to get all of alice's lowest layer", func() error {
		seen = bob.c.cameraOf("alice")
		if seen.lastLayer != 0 || seen.tids[2] < 10 {
			return fmt.Errorf("bob gets layer %d, frames by TID %v", seen.lastLayer, seen.tids)
		}
		return nil
	})
	lossy := make(chan struct{})
	bob.c.spawn(func() { bob.c.reportLoss(seen.ssrc, lossy) })
	var before recvTrack
	waitFor(t, "bob to get TID 0 alone", func() error {
		before = bob.c.cameraOf("alice")
		time.Sleep(600 * time.Millisecond)
		after := bob.c.cameraOf("alice")
		if after.tids[1] != before.tids[1] || after.tids[2] != before.tids[2] || after.tids[0] < before.tids[0]+3 {
			return fmt.Errorf("frames by TID %v, then %v", before.tids, after.tids)
		}
		return nil
	})
	if st := bob.p.Stats(); st.TemporalSwitchesDown < 1 || st.TemporalFramesDropped == 0 {
		t.Errorf("bob's temporal decisions: down %d, frames dropped %d", st.TemporalSwitchesDown, st.TemporalFramesDropped)
	}
	close(lossy)
	waitFor(t, "bob to get TID 2 again", func() error {
		if r := bob.c.cameraOf("alice"); r.tids[2] < before.tids[2]+10 {
			return fmt.Errorf("frames by TID %v", r.tids)
		}
		return nil
	})
	r := bob.c.cameraOf("alice")
	if r.missing != 0 || r.picJumps != 0 || r.badSwitches != 0 {
		t.Errorf("bob's camera of alice: %d missing sequence numbers, %d picture id jumps, %d switches not at a keyframe", r.missing, r.picJumps, r.badSwitches)
	}
	if st := bob.p.Stats(); st.TemporalSwitchesUp < 1 {
		t.Errorf("no temporal switch up counted: %+v", st)
	}
}

// stepUpCost finds the cheapest single step up towards what is wanted:
// one temporal layer more of a video at its lowest frame rate, before the
// next spatial layer of another; a temporal layer that adds nothing (the
// publisher sends fewer) is passed over.
func TestStepUpCost(t *testing.T) {
	rates := &layerRates{bps: [maxLayers]uint64{150_000, 500_000}}
	rates.tbps[0] = [numTemporal]uint64{80_000, 40_000, 30_000, 0}
	low := choice{layer: 0, temporal: 0, want: 1, active: 0b11, rates: rates}
	full := choice{layer: 1, temporal: numTemporal - 1, want: 1, active: 0b11, rates: rates}
	cost := low.cost() + full.cost()
	if got := stepUpCost([]choice{low, full}, cost); got != 120_000+500_000 {
		t.Fatalf("from TID 0: %d, want one temporal layer more (620000)", got)
	}
	low.temporal = 2
	cost = low.cost() + full.cost()
	if got := stepUpCost([]choice{low, full}, cost); got != 500_000+500_000 {
		t.Fatalf("with every temporal layer sent: %d, want the next layer (1000000)", got)
	}
	low.want = 0
	if got := stepUpCost([]choice{low, full}, cost); got != 0 {
		t.Fatalf("everything at what it wants: %d, want 0", got)
	}
}
