package sfu

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// redBlock is one block of a RED payload, for building test packets.
type redBlock struct {
	pt       uint8
	tsOffset uint16 // redundant blocks only
	data     []byte
}

// buildRED encodes blocks as an RFC 2198 payload; the last is the primary.
func buildRED(blocks ...redBlock) []byte {
	var out []byte
	for i, b := range blocks {
		if i == len(blocks)-1 {
			out = append(out, b.pt&0x7f)
			break
		}
		out = append(out, 0x80|b.pt, byte(b.tsOffset>>6), byte(b.tsOffset<<2)|byte(len(b.data)>>8), byte(len(b.data)))
	}
	for _, b := range blocks {
		out = append(out, b.data...)
	}
	return out
}

// testOpusFrame is the Opus frame a RED test client sends with sequence
// number seq: a TOC byte, then seq, then filler, so that a receiver can
// tell which frame it got.
func testOpusFrame(seq uint16) []byte {
	f := bytes.Repeat([]byte{byte(seq)}, 40)
	f[0], f[1], f[2] = 0x78, byte(seq>>8), byte(seq)
	return f
}

// testREDPayload is the RED payload a RED test client sends with sequence
// number seq: the frame before it (20 ms earlier), then its own.
func testREDPayload(seq uint16) []byte {
	if seq == 0 {
		return buildRED(redBlock{pt: 111, data: testOpusFrame(0)})
	}
	return buildRED(redBlock{pt: 111, tsOffset: 960, data: testOpusFrame(seq - 1)}, redBlock{pt: 111, data: testOpusFrame(seq)})
}

// parseREDReference is a plain reading of RFC 2198 §3 to check redPrimary
// against: every block, primary last.
func parseREDReference(p []byte) ([]redBlock, error) {
	type header struct {
		pt     uint8
		length int
	}
	var hs []header
	i := 0
	for {
		if i >= len(p) {
			return nil, errors.New("headers run past the end")
		}
		if p[i]&0x80 == 0 {
			hs = append(hs, header{pt: p[i] & 0x7f, length: -1})
			i++
			break
		}
		if len(p)-i < 4 {
			return nil, errors.New("truncated block header")
		}
		hs = append(hs, header{pt: p[i] & 0x7f, length: int(p[i+2]&3)<<8 | int(p[i+3])})
		i += 4
	}
	var blocks []redBlock
	for _, h := range hs {
		n := h.length
		if n < 0 {
			n = len(p) - i
			if n <= 0 {
				return nil, errors.New("no primary block")
			}
		}
		if i+n > len(p) {
			return nil, errors.New("block past the end")
		}
		blocks = append(blocks, redBlock{pt: h.pt, data: p[i : i+n]})
		i += n
	}
	return blocks, nil
}

func TestREDPrimary(t *testing.T) {
	frame := []byte{0x78, 1, 2, 3}
	prev := []byte{0x78, 9, 9}
	long := bytes.Repeat([]byte{7}, 1000) // a length above 255 uses the 10th bit
	tests := []struct {
		name    string
		payload []byte
		want    []byte // nil: refused
		wantPT  uint8
	}{
		{"primary only", buildRED(redBlock{pt: 111, data: frame}), frame, 111},
		{"one redundant block", buildRED(redBlock{pt: 111, tsOffset: 960, data: prev}, redBlock{pt: 111, data: frame}), frame, 111},
		{"two redundant blocks", buildRED(redBlock{pt: 111, tsOffset: 1920, data: long}, redBlock{pt: 111, tsOffset: 960, data: prev},
			redBlock{pt: 111, data: frame}), frame, 111},
		{"an empty redundant block", buildRED(redBlock{pt: 111, tsOffset: 960}, redBlock{pt: 111, data: frame}), frame, 111},
		{"another primary type", buildRED(redBlock{pt: 13, data: frame}), frame, 13},
		{"empty", nil, nil, 0},
		{"no primary block", []byte{111}, nil, 0},
		{"only redundant headers", []byte{0x80 | 111, 0, 0, 0}, nil, 0},
		{"truncated block header", []byte{0x80 | 111, 0, 0}, nil, 0},
		{"redundant block past the end", append([]byte{0x80 | 111, 0x0f, 0x00, 10, 111}, frame...), nil, 0},
		{"redundant blocks fill the payload", buildRED(redBlock{pt: 111, tsOffset: 960, data: prev}, redBlock{pt: 111}), nil, 0},
	}
	for _, tt := range tests {
		got, pt, ok := redPrimary(tt.payload)
		if ok != (tt.want != nil) || !bytes.Equal(got, tt.want) || pt != tt.wantPT {
			t.Errorf("%s: redPrimary(%x) = %x, %d, %v; want %x, %d", tt.name, tt.payload, got, pt, ok, tt.want, tt.wantPT)
		}
		if _, err := parseREDReference(tt.payload); (err == nil) != ok {
			t.Errorf("%s: the reference parser says %v", tt.name, err)
		}
	}
}

func TestREDPrimaryDoesNotAllocate(t *testing.T) {
	p := testREDPayload(7)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, ok := redPrimary(p); !ok {
			t.Fatal("refused")
		}
	})
	if allocs != 0 {
		t.Errorf("redPrimary allocates %.1f times", allocs)
	}
}

func TestREDBlockType(t *testing.T) {
	for fmtp, want := range map[string]int{"111/111": 111, "111": 111, " 109/109/109 ": 109, "111/110": -1, "": -1, "a/b": -1, "128/128": -1} {
		pt, ok := redBlockType(fmtp)
		if (want < 0) == ok || (ok && int(pt) != want) {
			t.Errorf("redBlockType(%q) = %d, %v; want %d", fmtp, pt, ok, want)
		}
	}
}

// FuzzREDPrimary checks redPrimary against the reference parser: both
// accept the same payloads, and the primary block is the same, the tail
// of the payload.
func FuzzREDPrimary(f *testing.F) {
	f.Add(testREDPayload(0))
	f.Add(testREDPayload(500))
	f.Add(buildRED(redBlock{pt: 111, tsOffset: 1920, data: bytes.Repeat([]byte{1}, 700)},
		redBlock{pt: 111, tsOffset: 960, data: []byte{2}}, redBlock{pt: 111, data: []byte{3, 4}}))
	f.Add([]byte{0x80 | 111, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x6f, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		got, pt, ok := redPrimary(p)
		blocks, err := parseREDReference(p)
		if ok != (err == nil) {
			t.Fatalf("redPrimary ok %v, reference %v, for %x", ok, err, p)
		}
		if !ok {
			return
		}
		primary := blocks[len(blocks)-1]
		if !bytes.Equal(got, primary.data) || pt != primary.pt || len(got) == 0 {
			t.Fatalf("primary %x pt %d, reference %x pt %d, for %x", got, pt, primary.data, primary.pt, p)
		}
		if &got[len(got)-1] != &p[len(p)-1] {
			t.Fatalf("the primary block is not the payload's tail")
		}
	})
}

var testRED = webrtc.RTPCodecParameters{RTPCodecCapability: redCodec().RTPCodecCapability, PayloadType: 63}

// redPacket is a RED (or, with pt 111, plain Opus) packet of the audio
// publication of redSetup, with the audio level extension (id 1).
func redPacket(t testing.TB, pt uint8, seq uint16, payload []byte) []byte {
	t.Helper()
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: 960 * uint32(seq), SSRC: 99}, Payload: payload}
	if err := p.SetExtension(1, []byte{0xAA}); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// redSetup is a RED publication with a subscriber that negotiated red
// (payload types 100 and 101, so that a pass-through would show) and one
// that negotiated Opus only (payload type 102).
func redSetup(t testing.TB) (pub *publication, red, opus *downTrack, redW, opusW *captureWriter) {
	var plis atomic.Int64
	pub = testPublication(webrtc.RTPCodecTypeAudio, testRED, []webrtc.RTPHeaderExtensionParameter{{URI: uriAudioLevel, ID: 1}}, &plis)
	subRED, subOpus := testRED, testOpus
	subRED.PayloadType, subOpus.PayloadType = 100, 101
	onlyOpus := testOpus
	onlyOpus.PayloadType = 102
	redW, opusW = &captureWriter{}, &captureWriter{}
	exts := []webrtc.RTPHeaderExtensionParameter{{URI: uriAudioLevel, ID: 4}}
	red = boundDownTrack(t, pub, &fakeBinding{codecs: []webrtc.RTPCodecParameters{subRED, subOpus}, exts: exts, ssrc: 1, writer: redW})
	opus = boundDownTrack(t, pub, &fakeBinding{codecs: []webrtc.RTPCodecParameters{onlyOpus}, exts: exts, ssrc: 2, writer: opusW})
	return pub, red, opus, redW, opusW
}

// sent parses what w wrote last.
func sent(t *testing.T, w *captureWriter) rtp.Packet {
	t.Helper()
	var p rtp.Packet
	if err := p.Unmarshal(w.last); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestREDGoesAsREDOrAsItsPrimaryBlock checks the two ways a RED
// publication's packet leaves: unchanged with the RED payload type to a
// subscriber with red, its primary block with the Opus payload type to one
// without; the sequence numbers and timestamps are the same for both, the
// audio level extension is kept. A plain Opus packet goes as Opus to both;
// a malformed RED packet to the first only, and is counted.
func TestREDGoesAsREDOrAsItsPrimaryBlock(t *testing.T) {
	pub, red, opus, redW, opusW := redSetup(t)
	now := time.Unix(0, 0)
	for seq := uint16(1); seq <= 3; seq++ {
		pub.handle(0, redPacket(t, 63, seq, testREDPayload(seq)), now)
		r, o := sent(t, redW), sent(t, opusW)
		if r.PayloadType != 100 || !bytes.Equal(r.Payload, testREDPayload(seq)) {
			t.Errorf("seq %d: red subscriber got pt %d %x", seq, r.PayloadType, r.Payload)
		}
		if o.PayloadType != 102 || !bytes.Equal(o.Payload, testOpusFrame(seq)) {
			t.Errorf("seq %d: Opus subscriber got pt %d %x", seq, o.PayloadType, o.Payload)
		}
		for _, p := range []rtp.Packet{r, o} {
			if p.SequenceNumber != seq || p.Timestamp != 960*uint32(seq) || !bytes.Equal(p.GetExtension(4), []byte{0xAA}) {
				t.Errorf("seq %d: sent seq %d ts %d level %x", seq, p.SequenceNumber, p.Timestamp, p.GetExtension(4))
			}
		}
	}

	// A plain Opus packet (payload type 111, the RED fmtp's) goes as Opus.
	pub.handle(0, redPacket(t, 111, 4, testOpusFrame(4)), now)
	for _, w := range []*captureWriter{redW, opusW} {
		want := uint8(101)
		if w == opusW {
			want = 102
		}
		if p := sent(t, w); p.PayloadType != want || !bytes.Equal(p.Payload, testOpusFrame(4)) || p.SequenceNumber != 4 {
			t.Errorf("plain Opus went as pt %d seq %d %x", p.PayloadType, p.SequenceNumber, p.Payload)
		}
	}

	// Malformed RED: a block longer than the packet; then a primary block
	// of another payload type.
	for i, payload := range [][]byte{{0x80 | 111, 0, 0, 200, 111, 1, 2}, buildRED(redBlock{pt: 96, data: []byte{1, 2}})} {
		seq := uint16(5 + i)
		pub.handle(0, redPacket(t, 63, seq, payload), now)
		if p := sent(t, redW); p.SequenceNumber != seq || !bytes.Equal(p.Payload, payload) {
			t.Errorf("the red subscriber did not get packet %d as it came: seq %d %x", seq, p.SequenceNumber, p.Payload)
		}
		if p := sent(t, opusW); p.SequenceNumber != 4 {
			t.Errorf("the Opus subscriber got malformed RED: seq %d %x", p.SequenceNumber, p.Payload)
		}
	}
	// Another payload type altogether has no place on either.
	pub.handle(0, redPacket(t, 0, 7, []byte{1, 2, 3}), now)
	pub.handle(0, redPacket(t, 63, 8, testREDPayload(8)), now)
	if p := sent(t, opusW); p.SequenceNumber != 8 || !bytes.Equal(p.Payload, testOpusFrame(8)) {
		t.Errorf("after the malformed packets the Opus subscriber got seq %d %x", p.SequenceNumber, p.Payload)
	}
	if got := opus.dropBadRED.Load(); got != 2 {
		t.Errorf("%d malformed RED packets counted, want 2", got)
	}
	if red.dropBadRED.Load() != 0 || red.dropUnbound.Load() != 1 || opus.dropUnbound.Load() != 1 {
		t.Errorf("drops: red subscriber %d malformed %d other, Opus subscriber %d other; want 0, 1, 1",
			red.dropBadRED.Load(), red.dropUnbound.Load(), opus.dropUnbound.Load())
	}
	if red.sent.Load() != 7 || opus.sent.Load() != 5 {
		t.Errorf("sent %d to the red subscriber, %d to the Opus one; want 7 and 5", red.sent.Load(), opus.sent.Load())
	}
	var st ParticipantStats
	opus.countInto(&st)
	if st.DroppedBadRED != 2 {
		t.Errorf("ParticipantStats.DroppedBadRED = %d, want 2", st.DroppedBadRED)
	}
}

func TestREDSubscriberCodecs(t *testing.T) {
	got := subscriberCodecs(testRED)
	if len(got) != 2 || got[0].MimeType != mimeTypeRED || got[0].SDPFmtpLine != redFmtp || got[1].MimeType != webrtc.MimeTypeOpus ||
		got[0].PayloadType != 0 || got[1].PayloadType != 0 {
		t.Errorf("subscriberCodecs(red) = %+v, want red then Opus, payload types 0", got)
	}
	if got := subscriberCodecs(testOpus); len(got) != 2 || got[0].MimeType != webrtc.MimeTypeOpus || got[0].SDPFmtpLine != opusFmtp ||
		got[1].MimeType != mimeTypeRED {
		t.Errorf("subscriberCodecs(opus) = %+v, want the SFU's Opus, then red", got)
	}
	if got := subscriberCodecs(testVP8); len(got) != 1 || got[0].MimeType != webrtc.MimeTypeVP8 {
		t.Errorf("subscriberCodecs(vp8) = %+v, want VP8 alone", got)
	}
	if pub := publishAudioCodecs(); len(pub) != 2 || pub[0].MimeType != mimeTypeRED || pub[1].MimeType != webrtc.MimeTypeOpus {
		t.Errorf("publishAudioCodecs() = %+v, want red then Opus", pub)
	}
	// RED of Opus matches Opus, primary blocks only; RED of something
	// else does not.
	noFmtp := testRED.RTPCodecCapability
	noFmtp.SDPFmtpLine = ""
	for _, c := range []webrtc.RTPCodecCapability{testRED.RTPCodecCapability, noFmtp} {
		if got, primaryOnly, ok := matchCodec(c, []webrtc.RTPCodecParameters{testOpus}); !ok || !primaryOnly || got.PayloadType != 111 {
			t.Errorf("RED %q did not match Opus (primary only): %v %v %+v", c.SDPFmtpLine, ok, primaryOnly, got)
		}
		if got, primaryOnly, ok := matchCodec(c, []webrtc.RTPCodecParameters{testOpus, testRED}); !ok || primaryOnly || got.PayloadType != 63 {
			t.Errorf("RED %q did not match RED: %v %v %+v", c.SDPFmtpLine, ok, primaryOnly, got)
		}
	}
	pcmu := testRED.RTPCodecCapability
	pcmu.SDPFmtpLine = "0/0"
	slow := testRED.RTPCodecCapability
	slow.ClockRate = 8000
	for _, c := range []webrtc.RTPCodecCapability{pcmu, slow} {
		if _, _, ok := matchCodec(c, []webrtc.RTPCodecParameters{testOpus}); ok {
			t.Errorf("RED %q at %d Hz matched Opus", c.SDPFmtpLine, c.ClockRate)
		}
		if len(subscriberCodecs(webrtc.RTPCodecParameters{RTPCodecCapability: c})) != 1 {
			t.Errorf("RED %q at %d Hz is offered with Opus", c.SDPFmtpLine, c.ClockRate)
		}
	}
}

func TestREDForwardDoesNotAllocate(t *testing.T) {
	pub, _, _, _, _ := redSetup(t)
	pkt := redPacket(t, 63, 1, testREDPayload(1))
	now := time.Unix(0, 0)
	seq := uint16(1)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pub.handle(0, pkt, now)
	})
	if allocs != 0 {
		t.Errorf("forwarding a RED packet as RED and as Opus allocates %.1f times", allocs)
	}
}

// FuzzForwardRED feeds arbitrary payloads to a RED publication: whatever
// reaches the Opus subscriber is valid RTP with its payload type and a
// non-empty tail of the payload, and the red subscriber gets what came.
func FuzzForwardRED(f *testing.F) {
	f.Add(uint8(63), testREDPayload(3))
	f.Add(uint8(111), testOpusFrame(3))
	f.Add(uint8(63), []byte{0x80 | 111, 0, 0, 200, 111, 1, 2})
	f.Add(uint8(63), []byte{})
	f.Fuzz(func(t *testing.T, pt uint8, payload []byte) {
		if len(payload) > 1200 {
			return // beyond receiveMTU; the capture buffer would refuse it
		}
		pub, _, opus, redW, opusW := redSetup(t)
		pt &= 0x7f
		pkt := redPacket(t, pt, 9, payload)
		pub.handle(0, pkt, time.Unix(0, 0))
		if opusW.writes > 0 {
			p := sent(t, opusW)
			if p.PayloadType != 102 || p.SSRC != 2 || p.SequenceNumber != 9 {
				t.Fatalf("Opus subscriber got pt %d ssrc %d seq %d", p.PayloadType, p.SSRC, p.SequenceNumber)
			}
			if !bytes.HasSuffix(payload, p.Payload) || (len(p.Payload) == 0) != (len(payload) == 0) {
				t.Fatalf("Opus subscriber got %x of %x", p.Payload, payload)
			}
		} else if opus.dropBadRED.Load()+opus.dropUnbound.Load() != 1 {
			t.Fatalf("a packet neither sent nor counted: %x", pkt)
		}
		if pt == 63 && (redW.writes != 1 || !bytes.Equal(sent(t, redW).Payload, payload)) {
			t.Fatalf("red subscriber did not get %x as it came", payload)
		}
	})
}

func BenchmarkForwardRED(b *testing.B) {
	pub, _, _, _, _ := redSetup(b)
	pkt := redPacket(b, 63, 1, testREDPayload(1))
	now := time.Unix(0, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	seq := uint16(1)
	for b.Loop() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pub.handle(0, pkt, now)
	}
}

// joinWith is join with a client made with opts.
func joinWith(t testing.TB, conf *Conference, id string, opts clientOptions) *member {
	t.Helper()
	p, err := conf.Join(id, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &member{p: p, c: newTestClientOpts(t, id, opts)}
	return m.drive(t)
}

// checkREDStream checks what a client received of a RED test client's
// microphone: each payload is what the publisher sent with one sequence
// number (the RED payload, or with primaryOnly its primary block), and the
// sequence numbers received are the publisher's plus one constant offset.
func checkREDStream(r recvTrack, primaryOnly bool) error {
	if len(r.payloads) < 20 {
		return fmt.Errorf("%d payloads", len(r.payloads))
	}
	var offset uint16
	for i, p := range r.payloads {
		frame := p
		if !primaryOnly {
			block, _, ok := redPrimary(p)
			if !ok {
				return fmt.Errorf("packet %d is not RED: %x", r.seqs[i], p)
			}
			frame = block
		}
		if len(frame) < 3 {
			return fmt.Errorf("packet %d: frame %x", r.seqs[i], frame)
		}
		src := uint16(frame[1])<<8 | uint16(frame[2])
		want := testOpusFrame(src)
		if !primaryOnly {
			want = testREDPayload(src)
		}
		if !bytes.Equal(p, want) {
			return fmt.Errorf("packet %d (the publisher's %d): %x, want %x", r.seqs[i], src, p, want)
		}
		if i == 0 {
			offset = r.seqs[i] - src
		} else if r.seqs[i]-src != offset {
			return fmt.Errorf("packet %d carries the publisher's %d: the offset was %d", r.seqs[i], src, offset)
		}
	}
	return nil
}

// TestREDReachesREDAndOpusSubscribers runs RED end to end between Pion
// peers: alice and bob register RED (as Chromium does) and send it, carol
// has Opus only (as Firefox, the recorder and the SDK). Alice's RED
// reaches bob unchanged and carol as its primary Opus blocks, one packet
// for one, with no sequence number missing; carol's Opus reaches alice as
// Opus. Carol comes first, so that alice's track reaches her in a
// renegotiation, where her session cannot offer red any more.
func TestREDReachesREDAndOpusSubscribers(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	carol := joinWith(t, conf, "carol", clientOptions{})
	waitFor(t, "carol's first answer", func() error {
		if !carol.c.published.Load() {
			return errors.New("not yet")
		}
		return nil
	})
	alice := joinWith(t, conf, "alice", clientOptions{red: true})
	bob := joinWith(t, conf, "bob", clientOptions{red: true})
	allReceive(t, 40, alice, bob, carol)
	aliceAudio := trackIDFor(SourceAudio, "alice")
	for _, c := range []struct {
		to          *member
		track       string
		mime        string
		primaryOnly bool
	}{
		{bob, aliceAudio, mimeTypeRED, false},
		{carol, aliceAudio, webrtc.MimeTypeOpus, true},
		{alice, trackIDFor(SourceAudio, "carol"), webrtc.MimeTypeOpus, false},
	} {
		r, _ := c.to.c.snapshot(c.track)
		if !strings.EqualFold(r.mime, c.mime) {
			t.Errorf("%s receives %s as %s, want %s", c.to.p.ID(), c.track, r.mime, c.mime)
		}
		if r.missing != 0 || r.withLevel == 0 {
			t.Errorf("%s: %s: %d sequence numbers missing, %d packets with the audio level", c.to.p.ID(), c.track, r.missing, r.withLevel)
		}
		if c.track != aliceAudio {
			continue
		}
		if err := checkREDStream(r, c.primaryOnly); err != nil {
			t.Errorf("%s receives %s: %v", c.to.p.ID(), c.track, err)
		}
	}
	for _, m := range []*member{alice, bob, carol} {
		if st := m.p.Stats(); st.DroppedBadRED != 0 || st.CodecMismatches != 0 {
			t.Errorf("%s: %d RED packets dropped, %d codec mismatches", m.p.ID(), st.DroppedBadRED, st.CodecMismatches)
		}
	}
}

// TestPublishingAudioLaterWithoutRED gives a viewer whose session answered
// audio without red (an Opus-only client receiving Opus) an audio m-line
// to publish on: its offer, which cannot offer red any more, is made with
// Opus alone, and its audio flows.
func TestPublishingAudioLaterWithoutRED(t *testing.T) {
	conf := newTestSFU(t, nil).Conference("room")
	bob := join(t, conf, "bob")
	p, err := conf.Join("viewer", JoinOptions{NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	viewer := (&member{p: p, c: newTestClient(t, "viewer")}).drive(t)
	waitFor(t, "the viewer to receive bob", func() error { return viewer.c.receivesFrom("bob", 10) })
	p.OfferPublishing(Audio)
	waitFor(t, "bob to receive the viewer's audio", func() error {
		r, ok := bob.c.snapshot(trackIDFor(SourceAudio, "viewer"))
		if !ok || r.packets < 10 {
			return fmt.Errorf("%d packets", r.packets)
		}
		return nil
	})
}

// A subscriber under a bandwidth ceiling (its videos paced) gets a RED
// publication as its primary blocks, with its Opus payload type, even
// though it negotiated red: the redundancy would take the room of its
// video. Once the ceiling goes, RED comes back; the sequence numbers run
// on throughout.
func TestREDLeanUnderACeiling(t *testing.T) {
	pub, red, _, redW, _ := redSetup(t)
	now := time.Unix(0, 0)
	pub.handle(0, redPacket(t, 63, 1, testREDPayload(1)), now)
	if p := sent(t, redW); p.PayloadType != 100 {
		t.Fatalf("before the ceiling: pt %d, want red (100)", p.PayloadType)
	}
	red.sub.pacer.setRate(300_000)
	pub.handle(0, redPacket(t, 63, 2, testREDPayload(2)), now)
	if p := sent(t, redW); p.PayloadType != 101 || !bytes.Equal(p.Payload, testOpusFrame(2)) || p.SequenceNumber != 2 {
		t.Errorf("under the ceiling: pt %d seq %d %x, want Opus (101) and the primary block", p.PayloadType, p.SequenceNumber, p.Payload)
	}
	red.sub.pacer.setRate(0)
	pub.handle(0, redPacket(t, 63, 3, testREDPayload(3)), now)
	if p := sent(t, redW); p.PayloadType != 100 || !bytes.Equal(p.Payload, testREDPayload(3)) || p.SequenceNumber != 3 {
		t.Errorf("after the ceiling: pt %d seq %d, want red (100) unchanged", p.PayloadType, p.SequenceNumber)
	}
}
