package sfu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// testClient is a Pion peer standing in for a browser: it answers the
// SFU's offers, publishes Opus (with the RFC 6464 audio level extension)
// and VP8, and counts what it receives per remote track. It uses its own
// UDP socket on 127.0.0.1 only.
type testClient struct {
	t testing.TB
	// hideCandidates answers without a=candidate lines: the SFU learns the
	// client's addresses only from its checks (peer-reflexive), as behind
	// a NAT or with mDNS host names. Set before the first answer.
	hideCandidates bool
	name           string
	pc             *webrtc.PeerConnection
	mux            ice.UDPMux
	audio          *webrtc.TrackLocalStaticRTP
	video          *webrtc.TrackLocalStaticSample
	// screen goes on the SFU's third recvonly m-line; frames are sent
	// only while screenOn is set, as a browser does once it shares.
	screen *webrtc.TrackLocalStaticSample

	plis      atomic.Int64     // PLIs received for the video track
	rrs       atomic.Int64     // receiver reports the SFU sent about our tracks
	twcc      atomic.Int64     // transport-wide congestion control feedback from the SFU
	srs       atomic.Int64     // sender reports the SFU sent with forwarded tracks
	audioExt  atomic.Uint32    // negotiated audio level extension id on the audio sender
	published atomic.Bool      // tracks added (first answer made)
	videoOff  atomic.Bool      // sendMedia skips video frames while set
	quiet     atomic.Bool      // sendMedia sends nothing while set (a benchmark writes itself)
	screenOn  atomic.Bool      // sendMedia sends screen frames while set
	level     atomic.Uint32    // the RFC 6464 audio level byte sent; testAudioLevel at first
	sim       *simulcastSender // sends the camera as three layers instead of video; nil: one layer
	red       bool             // audio is RED of Opus, as Chromium sends it (red_test.go); read-only
	stop      chan struct{}    // closed by close
	wg        sync.WaitGroup

	mu     sync.Mutex            // guards recv and events
	recv   map[string]*recvTrack // by track id, e.g. "video-bob"
	events []Event               // what the SFU reported for this client's participant
}

// recvTrack is what a client saw of one remote track.
type recvTrack struct {
	streamID   string
	ssrc       uint32
	packets    int
	missing    int // sequence numbers skipped
	ssrcChange int // SSRC changed mid-track
	lastSeq    uint16
	withLevel  int  // audio packets carrying the audio level extension
	ended      bool // Read returned an error
	watchSeq   int  // sequence number under watch (NACK test); -1: none
	watchSeen  int  // times watchSeq arrived
	seqs       []uint16
	payloads   [][]byte // the payloads of the packets in seqs
	mime       string   // the track's codec
	track      *webrtc.TrackRemote

	// Of VP8 from a simulcastSender (see simulcast_test.go).
	vp8         bool
	frames      int              // packets carrying a frame (one packet each), not padding
	lastLayer   int              // the layer of the last frame; -1 before
	layers      []int            // the layers received, in order of change
	badSwitches int              // layer changes not at a keyframe
	lastPic     uint16           // the last picture id
	picJumps    int              // picture ids not one after the previous
	tids        [numTemporal]int // frames by VP8 temporal layer
}

const testAudioLevel = 0x80 | 42 // voice activity flag, -42 dBov

func newTestClient(t testing.TB, name string) *testClient {
	t.Helper()
	return newTestClientWith(t, name, false)
}

// newTestClientWith makes a test client; with simulcast its camera is
// sent as three layers by rid (see simulcastSender).
func newTestClientWith(t testing.TB, name string, simulcast bool) *testClient {
	t.Helper()
	return newTestClientOpts(t, name, clientOptions{simulcast: simulcast})
}

// clientOptions say what a test client does beyond the defaults.
type clientOptions struct {
	simulcast bool // the camera goes as three layers by rid (simulcastSender)
	red       bool // RED of Opus is registered, and the microphone sends it (red_test.go)
}

func newTestClientOpts(t testing.TB, name string, opts clientOptions) *testClient {
	t.Helper()
	simulcast := opts.simulcast
	me := &webrtc.MediaEngine{}
	if opts.red {
		// Registered first, as Chromium lists it.
		if err := me.RegisterCodec(redCodec(), webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if simulcast {
		if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
			t.Fatal(err)
		}
	}
	for _, uri := range []string{uriAudioLevel} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	registry := &interceptor.Registry{}
	// Stamp transport-wide sequence numbers, so that the SFU's congestion
	// control feedback can be observed.
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, registry); err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableSRTPReplayProtection(true) // the NACK test receives a packet twice
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(registry))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	audioCodec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if opts.red {
		audioCodec = redCodec().RTPCodecCapability
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(audioCodec, "a", "client-"+name)
	if err != nil {
		t.Fatal(err)
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8,
		ClockRate: 90000}, "v", "client-"+name)
	if err != nil {
		t.Fatal(err)
	}
	screen, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8,
		ClockRate: 90000}, "s", "client-"+name)
	if err != nil {
		t.Fatal(err)
	}
	c := &testClient{t: t, name: name, pc: pc, mux: mux, audio: audio, video: video, screen: screen,
		red: opts.red, stop: make(chan struct{}), recv: make(map[string]*recvTrack)}
	c.level.Store(testAudioLevel)
	if simulcast {
		c.sim = newSimulcastSender(t, name)
	}
	pc.OnTrack(c.onTrack)
	t.Cleanup(c.close)
	return c
}

// answer applies an offer and returns the complete answer. The first
// answer also attaches the client's tracks to the SFU's recvonly m-lines.
func (c *testClient) answer(offer string) (string, error) {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	if c.published.CompareAndSwap(false, true) {
		if err := c.publish(); err != nil {
			return "", err
		}
	}
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(ans); err != nil {
		return "", err
	}
	<-gathered
	sdp := c.pc.LocalDescription().SDP
	if c.hideCandidates {
		sdp = withoutCandidates(sdp)
	}
	return sdp, nil
}

func (c *testClient) publish() error {
	audioSender, err := c.pc.AddTrack(c.audio)
	if err != nil {
		return err
	}
	if c.sim != nil {
		return c.publishSimulcast(audioSender)
	}
	videoSender, err := c.pc.AddTrack(c.video)
	if err != nil {
		return err
	}
	// The second video track takes the second recvonly video m-line: the
	// screen share's.
	screenSender, err := c.pc.AddTrack(c.screen)
	if err != nil {
		return err
	}
	c.spawn(func() { c.readSenderRTCP(audioSender, false) })
	c.spawn(func() { c.readSenderRTCP(videoSender, true) })
	c.spawn(func() { c.readSenderRTCP(screenSender, false) })
	c.spawn(func() { c.sendMedia(audioSender) })
	return nil
}

// spawn runs f in a goroutine that close waits for, unless already closed.
func (c *testClient) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
		return false
	default:
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// readSenderRTCP counts keyframe requests from the SFU.
func (c *testClient) readSenderRTCP(sender *webrtc.RTPSender, video bool) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication:
				if video {
					c.plis.Add(1)
				}
			case *rtcp.ReceiverReport:
				c.rrs.Add(1)
			case *rtcp.TransportLayerCC:
				c.twcc.Add(1)
			}
		}
	}
}

// sendMedia writes 20 ms Opus packets with an audio level and 40 ms VP8
// frames until the client closes.
func (c *testClient) sendMedia(audioSender *webrtc.RTPSender) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	frame := make([]byte, 900)
	frame[0] = 0x10 // VP8 payload start; the SFU does not decode
	opus := make([]byte, 60)
	var seq uint16
	var ts uint32
	for i := 0; ; i++ {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		if c.quiet.Load() {
			continue
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == 0}, Payload: opus}
		if c.red {
			pkt.Payload = testREDPayload(seq)
		}
		seq++
		ts += 960
		if id := c.audioLevelID(audioSender); id != 0 {
			_ = pkt.Header.SetExtension(id, []byte{byte(c.level.Load())})
		}
		_ = c.audio.WriteRTP(pkt)
		if i%2 == 0 && !c.videoOff.Load() {
			_ = c.video.WriteSample(media.Sample{Data: frame, Duration: 40 * time.Millisecond})
		}
		if i%5 == 0 && c.screenOn.Load() {
			_ = c.screen.WriteSample(media.Sample{Data: frame, Duration: 100 * time.Millisecond})
		}
	}
}

func (c *testClient) audioLevelID(sender *webrtc.RTPSender) uint8 {
	if id := c.audioExt.Load(); id != 0 {
		return uint8(id)
	}
	for _, e := range sender.GetParameters().HeaderExtensions {
		if e.URI == uriAudioLevel {
			c.audioExt.Store(uint32(e.ID))
			return uint8(e.ID)
		}
	}
	return 0
}

func (c *testClient) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	levelID := uint8(0)
	for _, e := range receiver.GetParameters().HeaderExtensions {
		if e.URI == uriAudioLevel {
			levelID = uint8(e.ID)
		}
	}
	r := &recvTrack{streamID: track.StreamID(), ssrc: uint32(track.SSRC()), watchSeq: -1, track: track,
		vp8: track.Kind() == webrtc.RTPCodecTypeVideo, lastLayer: -1, mime: track.Codec().MimeType}
	c.mu.Lock()
	c.recv[track.ID()] = r
	c.mu.Unlock()
	c.spawn(func() { c.readReceiverRTCP(receiver) })
	c.spawn(func() { c.readTrack(track, r, levelID) })
}

// readReceiverRTCP counts sender reports for the tracks we receive.
func (c *testClient) readReceiverRTCP(receiver *webrtc.RTPReceiver) {
	for {
		pkts, _, err := receiver.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.SenderReport); ok {
				c.srs.Add(1)
			}
		}
	}
}

func (c *testClient) readTrack(track *webrtc.TrackRemote, r *recvTrack, levelID uint8) {
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			c.mu.Lock()
			r.ended = true
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		r.record(pkt, levelID)
		c.mu.Unlock()
	}
}

func (r *recvTrack) record(pkt *rtp.Packet, levelID uint8) {
	if r.packets > 0 {
		if pkt.SSRC != r.ssrc {
			r.ssrcChange++
		}
		if d := pkt.SequenceNumber - r.lastSeq; d > 1 && d < 0x8000 {
			r.missing += int(d - 1)
		}
	}
	if r.packets == 0 || seqNewer(pkt.SequenceNumber, r.lastSeq) {
		r.lastSeq = pkt.SequenceNumber
	}
	r.ssrc = pkt.SSRC
	r.packets++
	if levelID != 0 {
		if v := pkt.GetExtension(levelID); len(v) == 1 && v[0] == testAudioLevel {
			r.withLevel++
		}
	}
	if r.vp8 {
		r.recordVP8(pkt.Payload)
	}
	if r.watchSeq >= 0 && int(pkt.SequenceNumber) == r.watchSeq {
		r.watchSeen++
	}
	if len(r.seqs) < 64 {
		r.seqs = append(r.seqs, pkt.SequenceNumber)
		r.payloads = append(r.payloads, pkt.Payload)
	} else {
		r.seqs = append(r.seqs[1:], pkt.SequenceNumber)
		r.payloads = append(r.payloads[1:], pkt.Payload)
	}
}

// sawEvent reports whether the focus loop got an event matching want.
func (c *testClient) sawEvent(want Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if ev == want {
			return true
		}
	}
	return false
}

// snapshot returns a copy of what the client received from trackID.
func (c *testClient) snapshot(trackID string) (recvTrack, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recv[trackID]
	if !ok {
		return recvTrack{}, false
	}
	cp := *r
	cp.seqs = append([]uint16(nil), r.seqs...)
	cp.payloads = append([][]byte(nil), r.payloads...)
	return cp, true
}

func (c *testClient) close() {
	c.mu.Lock()
	select {
	case <-c.stop:
		c.mu.Unlock()
		return
	default:
	}
	close(c.stop)
	c.mu.Unlock()
	_ = c.pc.Close()
	_ = c.mux.Close()
	c.wg.Wait()
}

// drive plays the focus for one participant: it makes the first offer,
// then renegotiates on every EventNeedsOffer, until the events end. It
// returns a channel closed when it stops. Once closing is set, client
// errors are expected and ignored.
func drive(t testing.TB, p *Participant, c *testClient, closing *atomic.Bool) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	negotiate := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		offer, err := p.Offer(ctx)
		if errors.Is(err, ErrOfferPending) || errors.Is(err, ErrNothingToNegotiate) || errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			t.Errorf("%s: offer: %v", p.ID(), err)
			return
		}
		ans, err := c.answer(offer)
		if err != nil && closing.Load() {
			return // closing the SFU side closed the client too (DTLS close_notify)
		}
		if err != nil {
			t.Errorf("%s: client answer: %v", p.ID(), err)
			return
		}
		if err := p.SetAnswer(ans); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("%s: set answer: %v", p.ID(), err)
		}
	}
	go func() {
		defer close(done)
		negotiate()
		for ev := range p.Events() {
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			if ev.Kind == EventNeedsOffer {
				negotiate()
			}
		}
	}()
	return done
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// receivesFrom checks that c got at least min packets of both of pid's
// tracks, with the right stream id.
func (c *testClient) receivesFrom(pid string, min int) error {
	for _, kind := range []MediaKind{Audio, Video} {
		id := trackIDFor(Source(kind), pid)
		r, ok := c.snapshot(id)
		switch {
		case !ok:
			return fmt.Errorf("%s has no track %s", c.name, id)
		case r.streamID != pid:
			return fmt.Errorf("%s: track %s has stream id %q", c.name, id, r.streamID)
		case r.packets < min:
			return fmt.Errorf("%s: track %s has %d packets, want %d", c.name, id, r.packets, min)
		}
	}
	return nil
}
