package sfu

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/jingle"
)

// simulcastSender plays a browser's simulcast camera: three VP8 layers by
// rid (q, h, f), one single-packet frame per layer every 40 ms, each layer
// numbering its pictures on its own (from layer*10000), a keyframe at the
// start and whenever the SFU asks that layer with a PLI, and never
// otherwise: a switch the SFU makes anywhere but at a keyframe shows.
type simulcastSender struct {
	layers [3]*webrtc.TrackLocalStaticRTP
	plis   [3]atomic.Int64 // PLIs received per layer
	wantKF [3]atomic.Bool  // a keyframe is due on the layer
	off    [3]atomic.Bool  // the layer is not sent (its uplink gave up)
	// padOnly: the layer sends padding-only packets instead of frames, as
	// a browser's encoder does with a layer its bandwidth estimate no
	// longer allows (it probes for bandwidth on the layer's SSRC).
	padOnly [3]atomic.Bool
	// temporal sends each layer in three VP8 temporal layers, as Chromium
	// does (temporal_test.go); tn and tl0 are its frame counts and
	// TL0PICIDX per layer, owned by send. Set before the first frame.
	temporal bool
	tn       [3]int
	tl0      [3]uint8
}

func newSimulcastSender(t testing.TB, name string) *simulcastSender {
	s := &simulcastSender{}
	for i, rid := range cameraRIDs() {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"v", "client-"+name, webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		s.layers[i] = tr
		s.wantKF[i].Store(true)
	}
	return s
}

// publishSimulcast adds the three layers as encodings of one sender, and
// starts the audio and the layers.
func (c *testClient) publishSimulcast(audioSender *webrtc.RTPSender) error {
	sender, err := c.pc.AddTrack(c.sim.layers[0])
	if err != nil {
		return err
	}
	for _, l := range c.sim.layers[1:] {
		if err := sender.AddEncoding(l); err != nil {
			return err
		}
	}
	for i, rid := range cameraRIDs() {
		c.spawn(func() {
			for {
				pkts, _, err := sender.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						c.sim.plis[i].Add(1)
						c.sim.wantKF[i].Store(true)
					}
				}
			}
		})
	}
	c.spawn(func() { c.readSenderRTCP(audioSender, false) })
	c.spawn(func() { c.sendMedia(audioSender) })
	c.spawn(func() { c.sim.send(c, sender) })
	return nil
}

// send writes the layers' frames until the client closes.
func (s *simulcastSender) send(c *testClient, sender *webrtc.RTPSender) {
	var midID, ridID uint8
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	mid := ""
	for _, t := range c.pc.GetTransceivers() {
		if t.Sender() == sender {
			mid = t.Mid()
		}
	}
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	var seq [3]uint16
	var pic [3]uint16
	for i := range pic {
		pic[i] = uint16(i * 10000)
	}
	for n := uint32(0); ; n++ {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		for i, tr := range s.layers {
			if s.off[i].Load() {
				continue
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq[i], Timestamp: n * 3600, Marker: true}}
			seq[i]++
			if s.padOnly[i].Load() {
				// Padding only: no payload, 200 bytes of padding.
				pkt.Header.Padding, pkt.Header.PaddingSize, pkt.Header.Marker = true, 200, false
			} else {
				key := s.wantKF[i].Swap(false)
				pkt.Payload = vp8Frame(i, pic[i], key)
				if s.temporal {
					pkt.Payload = s.temporalFrame(i, pkt.Payload, key)
				}
				pic[i] = (pic[i] + 1) & 0x7fff
			}
			_ = pkt.Header.SetExtension(midID, []byte(mid))
			_ = pkt.Header.SetExtension(ridID, []byte(cameraRIDs()[i]))
			_ = tr.WriteRTP(pkt)
		}
	}
}

// vp8Frame makes a one-packet VP8 frame of a layer: a payload descriptor
// with a 15-bit picture id, a keyframe header with the layer's size
// (320x180, 640x360, 1280x720) or a delta frame, then the layer's number
// and filler: 150, 450 and 1000 bytes.
func vp8Frame(layer int, pic uint16, key bool) []byte {
	size := [3]int{150, 450, 1000}[layer]
	p := make([]byte, size)
	p[0], p[1], p[2], p[3] = 0x90, 0x80, 0x80|byte(pic>>8), byte(pic)
	b := p[4:]
	if key {
		w, h := 320<<layer, 180<<layer
		b[0] = 0x10 // P=0: keyframe
		b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
		b[6], b[7], b[8], b[9] = byte(w), byte(w>>8), byte(h), byte(h>>8)
	} else {
		b[0] = 0x11 // P=1: delta frame
	}
	b[10] = byte(layer)
	return p
}

// recordVP8 follows the layers and picture ids a subscriber receives.
func (r *recvTrack) recordVP8(p []byte) {
	d := parseVP8(p)
	if !d.parsedOK || len(p) < d.size+11 || d.picAt == 0 || !d.picWide {
		return
	}
	r.frames++
	r.tids[d.tid]++
	layer := int(p[d.size+10])
	key := p[d.size]&0x01 == 0
	pic := uint16(p[d.picAt]&0x7f)<<8 | uint16(p[d.picAt+1])
	if layer != r.lastLayer {
		r.layers = append(r.layers, layer)
		if !key {
			r.badSwitches++
		}
	}
	if r.lastLayer >= 0 && pic != (r.lastPic+1)&0x7fff {
		r.picJumps++
	}
	r.lastLayer, r.lastPic = layer, pic
}

func joinSimulcast(t *testing.T, conf *Conference, id string) *member {
	t.Helper()
	p, err := conf.Join(id, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &member{p: p, c: newTestClientWith(t, id, true)}
	return m.drive(t)
}

// layerOfLast reports the layer and the count of frames c got of pid's
// camera.
func (c *testClient) cameraOf(pid string) recvTrack {
	r, _ := c.snapshot(trackIDFor(SourceCamera, pid))
	r.layers = append([]int(nil), r.layers...)
	return r
}

// Layer switches happen at keyframes only, with sequence numbers and
// picture ids continuous at the subscriber; the subscriber's tile size
// picks the layer; a layer the publisher stops is left for another.
func TestSimulcastLayersSwitchAtKeyframes(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice := joinSimulcast(t, conf, "alice")
	bob := join(t, conf, "bob")
	waitLayer := func(what string, want int) {
		t.Helper()
		waitFor(t, what, func() error {
			r := bob.c.cameraOf("alice")
			if r.lastLayer != want || r.packets == 0 {
				return fmt.Errorf("bob gets layer %d of alice (layers %v, %d packets)", r.lastLayer, r.layers, r.packets)
			}
			return nil
		})
	}
	// Nothing asked: the full layer.
	waitLayer("bob to get alice's full layer", 2)
	// A 180-pixel tile: the quarter layer is enough.
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 180}})
	waitLayer("bob to go down to the quarter layer", 0)
	// 360 pixels: the half layer.
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 360}})
	waitLayer("bob to go up to the half layer", 1)
	// Quality "low" caps it whatever the tile.
	bob.p.SetReceiveVideo(ReceiveVideo{Quality: QualityLow, Heights: map[string]int{"video-alice": 1080}})
	waitLayer("bob's low quality to give the quarter layer", 0)
	bob.p.SetReceiveVideo(ReceiveVideo{})
	waitLayer("bob back on the full layer", 2)
	// alice's uplink drops the full layer: bob gets the half one.
	alice.c.sim.off[2].Store(true)
	waitLayer("bob to fall back to the half layer", 1)

	r := bob.c.cameraOf("alice")
	if r.badSwitches != 0 || r.picJumps != 0 || r.missing != 0 || r.ssrcChange != 0 {
		t.Errorf("bob's camera of alice: %d switches not at a keyframe, %d picture id jumps, %d missing sequence numbers, %d SSRC changes (layers %v)",
			r.badSwitches, r.picJumps, r.missing, r.ssrcChange, r.layers)
	}
	if fmt.Sprint(r.layers) != "[0 2 0 1 0 2 1]" && fmt.Sprint(r.layers) != "[2 0 1 0 2 1]" {
		t.Errorf("bob got the layers %v", r.layers)
	}
	st := bob.p.Stats()
	if st.LayerStarts == 0 || st.LayerSwitchesUp < 2 || st.LayerSwitchesDown < 3 {
		t.Errorf("bob's layer decisions %+v", st)
	}
	for i := range alice.c.sim.plis {
		if alice.c.sim.plis[i].Load() == 0 {
			t.Errorf("no PLI asked alice's layer %d for a keyframe", i)
		}
	}
	if st.EstimatedBitrate == 0 {
		t.Errorf("no bandwidth estimate for bob: %+v", st)
	}
}

// The subscriber-side picture id rewriter in isolation: 7- and 15-bit
// ids, and the bytes put back for the next subscriber.
func TestVP8PictureIDRewriting(t *testing.T) {
	var r vp8Rewriter
	frame := vp8Frame(0, 500, true)
	orig := append([]byte(nil), frame...)
	patch := r.rewrite(frame, parseVP8(frame))
	if got := uint16(frame[2]&0x7f)<<8 | uint16(frame[3]); got != 500 {
		t.Errorf("first picture id %d, want 500 (kept)", got)
	}
	patch.undo(frame)
	if string(frame) != string(orig) {
		t.Error("undo did not restore the frame")
	}
	r.resync = true
	frame = vp8Frame(2, 20000, true)
	r.rewrite(frame, parseVP8(frame))
	if got := uint16(frame[2]&0x7f)<<8 | uint16(frame[3]); got != 501 {
		t.Errorf("picture id after a switch %d, want 501", got)
	}
	frame = vp8Frame(2, 20001, false)
	r.rewrite(frame, parseVP8(frame))
	if got := uint16(frame[2]&0x7f)<<8 | uint16(frame[3]); got != 502 {
		t.Errorf("next picture id %d, want 502", got)
	}
	if !vp8KeyframeStart(vp8Frame(1, 3, true)) || vp8KeyframeStart(vp8Frame(1, 3, false)) {
		t.Error("keyframe detection")
	}
	if w, h, ok := vp8Size(vp8Frame(1, 3, true)); !ok || w != 640 || h != 360 {
		t.Errorf("vp8Size = %d %d %v", w, h, ok)
	}
}

// The offer asks for simulcast on the camera and screen m-lines, and an
// answer's mirrored receive rids are dropped.
func TestOfferAsksForSimulcast(t *testing.T) {
	s := newTestSFU(t, nil)
	p, err := s.Conference("room").Join("alice", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := p.Offer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(offer, "\r\nm=")
	if len(sections) != 4 {
		t.Fatalf("%d m-lines", len(sections)-1)
	}
	for i, want := range []string{"", "a=simulcast:recv q;h;f\r\n", "a=simulcast:recv h;f\r\n"} {
		sec := sections[i+1]
		if want == "" {
			if strings.Contains(sec, "a=rid:") {
				t.Errorf("audio m-line asks for rids:\n%s", sec)
			}
			continue
		}
		if !strings.Contains(sec, want) || !strings.Contains(sec, "a=rid:h recv\r\n") || !strings.Contains(sec, sdp.SDESRTPStreamIDURI) {
			t.Errorf("m-line %d lacks %q or its rids:\n%s", i, want, sec)
		}
	}
	answer := "v=0\r\nm=video 9 X 96\r\na=mid:1\r\na=rid:q recv\r\na=rid:q send\r\na=simulcast:recv q\r\na=simulcast:send q;h\r\n" +
		"m=video 9 X 96\r\na=mid:2\r\na=msid:s t\r\na=rid:h send\r\na=simulcast:send h\r\n"
	want := "v=0\r\nm=video 9 X 96\r\na=mid:1\r\na=msid:simulcast-1 video-1\r\na=rid:q send\r\na=simulcast:send q;h\r\n" +
		"m=video 9 X 96\r\na=mid:2\r\na=msid:s t\r\na=rid:h send\r\na=simulcast:send h\r\n"
	if got := withoutReceiveRIDs(answer); got != want {
		t.Errorf("withoutReceiveRIDs = %q\nwant %q", got, want)
	}
	// The same answer after a trip through Prosody or ejabberd to a remote
	// bridge: its CRs are gone, and the msid must still be added.
	lf := strings.ReplaceAll
	if got := withoutReceiveRIDs(lf(answer, "\r\n", "\n")); got != lf(want, "\r\n", "\n") {
		t.Errorf("withoutReceiveRIDs(LF only) = %q\nwant %q", got, lf(want, "\r\n", "\n"))
	}
	// An a=mid that ends the SDP without a line end still gets its msid.
	if got := withoutReceiveRIDs("m=video 9 X 96\r\na=simulcast:send q;h\r\na=mid:1"); got != "m=video 9 X 96\r\na=simulcast:send q;h\r\na=mid:1\r\na=msid:simulcast-1 video-1" {
		t.Errorf("withoutReceiveRIDs(unterminated) = %q", got)
	}
	p.Close()
}

// Once a publisher sends simulcast, the SFU's later offers still ask for
// it once per m-line, and translate to Jingle (the focus sends them as
// content-add).
func TestRenegotiatedOfferKeepsOneSimulcastLine(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice := joinSimulcast(t, conf, "alice")
	waitFor(t, "alice's layers at the SFU", func() error {
		alice.p.mu.Lock()
		pub := alice.p.published[SourceCamera.slot()]
		alice.p.mu.Unlock()
		if pub == nil || !pub.simulcast.Load() {
			return errors.New("no simulcast publication yet")
		}
		return nil
	})
	join(t, conf, "bob") // alice renegotiates to receive bob
	waitFor(t, "alice to receive bob", func() error { return alice.c.receivesFrom("bob", 5) })
	// The offer alice was sent last is Pion's local description plus ours.
	local := alice.p.pc.LocalDescription().SDP
	offer := withSimulcast(local, alice.p.simulcastMids())
	if n := strings.Count(offer, "a=simulcast:"); n != 2 {
		t.Errorf("renegotiated offer has %d simulcast lines, want 2:\n%s", n, offer)
	}
	if _, err := jingle.FromSDP(offer, jingle.RoleInitiator); err != nil {
		t.Errorf("renegotiated offer does not translate: %v", err)
	}
}

// lastSendLayers returns the rids of the last EventSendLayers for m's
// camera, and whether there was one.
func (m *member) lastSendLayers() (string, bool) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	for i := len(m.c.events) - 1; i >= 0; i-- {
		if ev := m.c.events[i]; ev.Kind == EventSendLayers && ev.Track.Source == SourceCamera {
			return ev.Layers, true
		}
	}
	return "", false
}

// A publisher is told to stop sending the layers nobody watches, and to
// send one again when someone wants it; its uplink carries only what is
// watched.
func TestDynacastPausesUnwatchedLayers(t *testing.T) {
	s := newTestSFU(t, func(c *Config) { c.Dynacast = true })
	conf := s.Conference("room")
	alice := joinSimulcast(t, conf, "alice")
	bob := join(t, conf, "bob")
	waitFor(t, "bob to get alice's camera", func() error { return bob.c.receivesFrom("alice", 10) })
	// The publisher does what it is told, as the web client does.
	obey := func(rids string) {
		for i, rid := range cameraRIDs() {
			alice.c.sim.off[i].Store(!strings.Contains(","+rids+",", ","+rid+","))
		}
	}
	alice.p.mu.Lock()
	pub := alice.p.published[SourceCamera.slot()]
	alice.p.mu.Unlock()
	// uplink is the bit rate the SFU receives of alice's camera, over a
	// second.
	uplink := func() uint64 {
		var a, b uint64
		for _, l := range pub.layers {
			a += l.bytes.Load()
		}
		time.Sleep(time.Second)
		for _, l := range pub.layers {
			b += l.bytes.Load()
		}
		return (b - a) * 8
	}
	before := uplink()
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 180}})
	waitFor(t, "alice told to send the quarter layer only", func() error {
		if rids, ok := alice.lastSendLayers(); !ok || rids != "q" {
			return fmt.Errorf("last send-layers %q (%v)", rids, ok)
		}
		return nil
	})
	obey("q")
	waitFor(t, "alice's upper layers to stop at the SFU", func() error {
		if act := pub.activeLayers(time.Now()); act != 1 {
			return fmt.Errorf("active layers %03b", act)
		}
		return nil
	})
	if n := conf.Stats().PausedLayers; n != 2 { // h and f
		t.Errorf("%d paused layers, want 2", n)
	}
	// The frames are 150, 450 and 1000 bytes every 40 ms: about 320
	// kbit/s for the three layers, 30 for the quarter one.
	if after := uplink(); after*4 > before {
		t.Errorf("alice's uplink %d bit/s with two layers paused, %d with all: not down to a quarter", after, before)
	} else {
		t.Logf("alice's uplink: %d bit/s with every layer, %d with the quarter one alone", before, after)
	}
	beforeUp := bob.c.cameraOf("alice")
	// bob's tile grows: the half layer comes back.
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 360}})
	waitFor(t, "alice told to send the half layer again", func() error {
		if rids, _ := alice.lastSendLayers(); rids != "q,h" {
			return fmt.Errorf("last send-layers %q", rids)
		}
		return nil
	})
	obey("q,h")
	waitFor(t, "bob to get the half layer", func() error {
		if r := bob.c.cameraOf("alice"); r.lastLayer != 1 {
			return fmt.Errorf("bob gets layer %d (%v)", r.lastLayer, r.layers)
		}
		return nil
	})
	after := bob.c.cameraOf("alice")
	if after.missing != beforeUp.missing || after.badSwitches != 0 {
		t.Errorf("bob's stream: %d missing, %d bad switches", after.missing, after.badSwitches)
	}
	// Nobody watches at all: all but the lowest layer paused.
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 0}})
	waitFor(t, "alice told to send the lowest layer only", func() error {
		if rids, ok := alice.lastSendLayers(); !ok || rids != "q" {
			return fmt.Errorf("last send-layers %q", rids)
		}
		return nil
	})
}

// A layer whose publisher stops encoding it but keeps its SSRC busy with
// padding (browsers probe for bandwidth that way) is no longer a layer to
// forward: a subscriber on it goes down to one that carries frames, at a
// keyframe, and sees no gap. Before, padding kept the layer "active", the
// subscriber stayed on it and got packets but never a frame, which is what
// browsers showed as a frozen video with packets arriving.
func TestSimulcastLayerSendingOnlyPaddingIsLeft(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice := joinSimulcast(t, conf, "alice")
	bob := join(t, conf, "bob")
	waitFor(t, "bob to get alice's full layer", func() error {
		if r := bob.c.cameraOf("alice"); r.lastLayer != 2 || r.frames < 5 {
			return fmt.Errorf("bob gets layer %d of alice, %d frames", r.lastLayer, r.frames)
		}
		return nil
	})
	alice.c.sim.padOnly[2].Store(true)
	before := bob.c.cameraOf("alice")
	waitFor(t, "bob to get frames of the half layer", func() error {
		if r := bob.c.cameraOf("alice"); r.lastLayer != 1 || r.frames < before.frames+10 {
			return fmt.Errorf("bob gets layer %d of alice, %d frames (%d when the full layer turned to padding), %d packets",
				r.lastLayer, r.frames, before.frames, r.packets)
		}
		return nil
	})
	r := bob.c.cameraOf("alice")
	if r.badSwitches != 0 || r.picJumps != 0 || r.missing != 0 || r.ssrcChange != 0 {
		t.Errorf("bob's camera of alice: %d switches not at a keyframe, %d picture id jumps, %d missing sequence numbers, %d SSRC changes (layers %v)",
			r.badSwitches, r.picJumps, r.missing, r.ssrcChange, r.layers)
	}
	alice.p.mu.Lock()
	pub := alice.p.published[SourceCamera.slot()]
	alice.p.mu.Unlock()
	if act := pub.activeLayers(time.Now()); act != 0b011 {
		t.Errorf("active layers %03b, want 011: padding is no media", act)
	}
	// The full layer's frames come back (with a keyframe, as browsers
	// send when their estimate allows a layer again): bob climbs back.
	alice.c.sim.wantKF[2].Store(true)
	alice.c.sim.padOnly[2].Store(false)
	waitFor(t, "bob back on the full layer", func() error {
		if r := bob.c.cameraOf("alice"); r.lastLayer != 2 {
			return fmt.Errorf("bob gets layer %d of alice (%v)", r.lastLayer, r.layers)
		}
		return nil
	})
}

// A video paused for a subscriber (its tile hidden) and shown again on the
// same layer resumes at a keyframe with no gap in its sequence numbers or
// picture ids: the packets skipped meanwhile are not "lost" to the
// subscriber, who would otherwise ask for them and count them as loss.
func TestSimulcastPauseAndResumeLeaveNoGap(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	joinSimulcast(t, conf, "alice")
	bob := join(t, conf, "bob")
	waitFor(t, "bob to get alice's full layer", func() error {
		if r := bob.c.cameraOf("alice"); r.lastLayer != 2 || r.frames < 5 {
			return fmt.Errorf("bob gets layer %d of alice, %d frames", r.lastLayer, r.frames)
		}
		return nil
	})
	bob.p.SetReceiveVideo(ReceiveVideo{Heights: map[string]int{"video-alice": 0}})
	waitFor(t, "alice's camera to stop for bob", func() error {
		a := bob.c.cameraOf("alice")
		time.Sleep(300 * time.Millisecond)
		if b := bob.c.cameraOf("alice"); b.packets != a.packets {
			return fmt.Errorf("bob still gets packets (%d, then %d)", a.packets, b.packets)
		}
		return nil
	})
	paused := bob.c.cameraOf("alice")
	time.Sleep(500 * time.Millisecond) // alice sends on meanwhile
	bob.p.SetReceiveVideo(ReceiveVideo{})
	waitFor(t, "bob to get alice's camera again", func() error {
		if r := bob.c.cameraOf("alice"); r.frames < paused.frames+10 {
			return fmt.Errorf("bob got %d frames (%d when paused)", r.frames, paused.frames)
		}
		return nil
	})
	r := bob.c.cameraOf("alice")
	if r.badSwitches != 0 || r.picJumps != 0 || r.missing != 0 || r.ssrcChange != 0 {
		t.Errorf("bob's camera of alice: %d switches not at a keyframe, %d picture id jumps, %d missing sequence numbers, %d SSRC changes (layers %v)",
			r.badSwitches, r.picJumps, r.missing, r.ssrcChange, r.layers)
	}
}
