package sfu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// newTestSFU starts an SFU on a 127.0.0.1 UDP socket. Logs are discarded
// unless SFU_TEST_LOG is set.
func newTestSFU(t testing.TB, mutate func(*Config)) *SFU {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var out io.Writer = io.Discard
	if os.Getenv("SFU_TEST_LOG") != "" {
		out = os.Stderr
	}
	cfg := Config{UDPConn: conn, Logger: slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// member is one participant with its client and focus loop.
type member struct {
	p       *Participant
	c       *testClient
	driven  <-chan struct{}
	closing atomic.Bool // set before the participant is closed
}

// drive starts the focus loop for m and closes m's participant at the end
// of the test, before the client's own cleanup (registered earlier) runs.
func (m *member) drive(t testing.TB) *member {
	m.driven = drive(t, m.p, m.c, &m.closing)
	t.Cleanup(m.stop)
	return m
}

func (m *member) stop() {
	m.closing.Store(true)
	m.p.Close()
	<-m.driven
}

func join(t testing.TB, conf *Conference, id string) *member {
	t.Helper()
	p, err := conf.Join(id, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &member{p: p, c: newTestClient(t, id)}
	return m.drive(t)
}

func (m *member) leave() {
	m.stop()
	m.c.close()
}

// allReceive waits until every member receives both tracks of every other
// member, at least min packets each.
func allReceive(t *testing.T, min int, ms ...*member) {
	t.Helper()
	waitFor(t, fmt.Sprintf("everyone to receive everyone (%d packets)", min), func() error {
		for _, a := range ms {
			for _, b := range ms {
				if a == b {
					continue
				}
				if err := a.c.receivesFrom(b.p.ID(), min); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// counts returns what each member has received from each other member.
func counts(ms ...*member) map[string]recvTrack {
	out := make(map[string]recvTrack)
	for _, a := range ms {
		for _, b := range ms {
			if a == b {
				continue
			}
			for _, kind := range []MediaKind{Audio, Video} {
				id := trackIDFor(Source(kind), b.p.ID())
				r, _ := a.c.snapshot(id)
				out[a.p.ID()+"<"+id] = r
			}
		}
	}
	return out
}

// keepsGrowing waits until every count in before has grown by at least n,
// then checks that no sequence number went missing and no SSRC changed on
// the way: the streams were not interrupted.
func keepsGrowing(t *testing.T, before map[string]recvTrack, n int, ms ...*member) {
	t.Helper()
	waitFor(t, "received counts to grow", func() error {
		now := counts(ms...)
		for k, b := range before {
			if now[k].packets < b.packets+n {
				return fmt.Errorf("%s: %d packets, was %d", k, now[k].packets, b.packets)
			}
		}
		return nil
	})
	for k, r := range counts(ms...) {
		if _, ok := before[k]; !ok {
			continue
		}
		if r.missing != 0 || r.ssrcChange != 0 || r.ended {
			t.Errorf("%s interrupted: %d missing sequence numbers, %d SSRC changes, ended %v",
				k, r.missing, r.ssrcChange, r.ended)
		}
	}
}

func TestTwoThenThreeParticipants(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice, bob := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 10, alice, bob)
	carol := join(t, conf, "carol")
	allReceive(t, 10, alice, bob, carol)
	keepsGrowing(t, counts(alice, bob, carol), 20, alice, bob, carol)

	// The audio level extension survives the trip.
	r, _ := bob.c.snapshot("audio-alice")
	if r.withLevel == 0 || r.withLevel < r.packets/2 {
		t.Errorf("bob got %d of %d audio packets from alice with the audio level", r.withLevel, r.packets)
	}
	if got := len(conf.Participants()); got != 3 {
		t.Errorf("Participants() = %d, want 3", got)
	}
	waitFor(t, "RTCP sender/receiver reports and TWCC feedback from the SFU", func() error {
		for _, m := range []*member{alice, bob, carol} {
			if m.c.srs.Load() == 0 || m.c.rrs.Load() == 0 || m.c.twcc.Load() == 0 {
				return fmt.Errorf("%s got %d SRs, %d RRs, %d TWCC feedbacks",
					m.p.ID(), m.c.srs.Load(), m.c.rrs.Load(), m.c.twcc.Load())
			}
		}
		return nil
	})
	for _, m := range []*member{alice, bob, carol} {
		if !m.c.sawEvent(Event{Kind: EventConnectionState, ParticipantID: m.p.ID(), State: StateConnected}) {
			t.Errorf("%s: no connected event", m.p.ID())
		}
		for _, other := range []*member{alice, bob, carol} {
			info := TrackInfo{Kind: Video, Source: SourceCamera, StreamID: other.p.ID(), TrackID: "video-" + other.p.ID(), Codec: webrtc.MimeTypeVP8}
			if other != m && !m.c.sawEvent(Event{Kind: EventTrackPublished, ParticipantID: other.p.ID(), Track: info}) {
				t.Errorf("%s: no track-published event for %+v", m.p.ID(), info)
			}
		}
		st := m.p.Stats()
		if st.PacketsSent == 0 || st.DroppedWriteError != 0 {
			t.Errorf("%s stats %+v", m.p.ID(), st)
		}
	}
}

func TestJoinAndLeaveDoNotInterrupt(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice, bob, carol := join(t, conf, "alice"), join(t, conf, "bob"), join(t, conf, "carol")
	allReceive(t, 10, alice, bob, carol)
	before := counts(alice, bob, carol)

	dave := join(t, conf, "dave")
	allReceive(t, 10, alice, bob, carol, dave)
	keepsGrowing(t, before, 25, alice, bob, carol)

	before = counts(alice, bob, dave)
	carol.leave()
	waitFor(t, "carol's tracks to end everywhere", func() error {
		for _, m := range []*member{alice, bob, dave} {
			for _, kind := range []MediaKind{Audio, Video} {
				if r, _ := m.c.snapshot(trackIDFor(Source(kind), "carol")); !r.ended {
					return fmt.Errorf("%s still has %s-carol", m.p.ID(), kind)
				}
			}
		}
		return nil
	})
	keepsGrowing(t, before, 25, alice, bob, dave)
	if got := len(conf.Participants()); got != 3 {
		t.Errorf("Participants() = %d after carol left, want 3", got)
	}
}

func TestNACKIsAnsweredFromCache(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice, bob := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 20, alice, bob)

	r, _ := bob.c.snapshot("video-alice")
	seq := r.seqs[len(r.seqs)-5]
	bob.c.mu.Lock()
	bob.c.recv["video-alice"].watchSeq = int(seq)
	bob.c.mu.Unlock()
	nack := &rtcp.TransportLayerNack{
		MediaSSRC: uint32(r.track.SSRC()),
		Nacks:     rtcp.NackPairsFromSequenceNumbers([]uint16{seq}),
	}
	if err := bob.c.pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retransmission", func() error {
		if r, _ := bob.c.snapshot("video-alice"); r.watchSeen == 0 {
			return fmt.Errorf("sequence number %d not seen again", seq)
		}
		return nil
	})
	// The SFU resent it itself (Pion's responder is not installed), and
	// only to bob.
	if got := bob.p.Stats().Retransmitted; got != 1 {
		t.Errorf("bob's Retransmitted = %d, want 1", got)
	}
	if got := alice.p.Stats().Retransmitted; got != 0 {
		t.Errorf("alice's Retransmitted = %d, want 0", got)
	}
	if got := s.Stats().Retransmitted; got != 1 {
		t.Errorf("SFU Retransmitted = %d, want 1", got)
	}
}

func TestPLIWhenSubscriberJoins(t *testing.T) {
	s := newTestSFU(t, func(c *Config) { c.KeyframeInterval = 50 * time.Millisecond })
	conf := s.Conference("room")
	alice, bob := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 10, alice, bob)
	waitFor(t, "a PLI to alice for bob", func() error {
		if alice.c.plis.Load() == 0 {
			return errors.New("no PLI")
		}
		return nil
	})
	plis := alice.c.plis.Load()
	carol := join(t, conf, "carol")
	allReceive(t, 5, alice, bob, carol)
	waitFor(t, "a PLI to alice for carol", func() error {
		if got := alice.c.plis.Load(); got <= plis {
			return fmt.Errorf("alice has %d PLIs, had %d", got, plis)
		}
		return nil
	})

	// A subscriber's own keyframe request reaches the publisher.
	time.Sleep(100 * time.Millisecond) // let the join's requests settle, so the next one is bob's
	plis = alice.c.plis.Load()
	r, _ := bob.c.snapshot("video-alice")
	pli := &rtcp.PictureLossIndication{MediaSSRC: uint32(r.track.SSRC())}
	if err := bob.c.pc.WriteRTCP([]rtcp.Packet{pli}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's PLI to reach alice", func() error {
		if got := alice.c.plis.Load(); got <= plis {
			return fmt.Errorf("alice has %d PLIs, had %d", got, plis)
		}
		return nil
	})
}

func TestMalformedAnswerHurtsNobodyElse(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	alice, bob := join(t, conf, "alice"), join(t, conf, "bob")
	allReceive(t, 10, alice, bob)
	before := counts(alice, bob)

	mallory, err := conf.Join("mallory", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offer, err := mallory.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "not sdp at all", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", offer} {
		err := mallory.SetAnswer(bad)
		var sfuErr *Error
		if !errors.Is(err, ErrMalformedAnswer) || !errors.As(err, &sfuErr) || sfuErr.Participant != "mallory" {
			t.Errorf("SetAnswer(%.20q) = %v, want a *Error with ErrMalformedAnswer", bad, err)
		}
		// The offer is still outstanding.
		if _, err := mallory.Offer(ctx); !errors.Is(err, ErrOfferPending) {
			t.Errorf("Offer after a bad answer = %v, want ErrOfferPending", err)
		}
	}
	keepsGrowing(t, before, 20, alice, bob)

	// A correct answer to the same offer still completes the negotiation.
	c := newTestClient(t, "mallory")
	ans, err := c.answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := mallory.SetAnswer(ans); err != nil {
		t.Fatalf("good answer after bad ones: %v", err)
	}
	m := (&member{p: mallory, c: c}).drive(t)
	allReceive(t, 5, alice, bob, m)
}

func TestSignallingErrors(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	for _, id := range []string{"", "has space", "a/b", strings.Repeat("x", 59)} {
		if _, err := conf.Join(id, JoinOptions{}); !errors.Is(err, ErrInvalidParticipantID) {
			t.Errorf("Join(%q) = %v, want ErrInvalidParticipantID", id, err)
		}
	}
	p, err := conf.Join("alice", JoinOptions{NoVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.Join("alice", JoinOptions{}); !errors.Is(err, ErrParticipantExists) {
		t.Errorf("second Join = %v, want ErrParticipantExists", err)
	}
	if err := p.SetAnswer("v=0"); !errors.Is(err, ErrNoOfferPending) {
		t.Errorf("SetAnswer before Offer = %v, want ErrNoOfferPending", err)
	}
	if err := p.AddRemoteCandidate("a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"); err != nil {
		t.Errorf("candidate before the answer = %v, want it held", err)
	}
	ctx := context.Background()
	offer, err := p.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(offer, "m=audio") != 1 || strings.Contains(offer, "m=video") {
		t.Errorf("NoVideo offer has the wrong m-lines:\n%s", offer)
	}
	for _, want := range []string{"a=group:BUNDLE", "a=rtcp-mux", "a=recvonly", "useinbandfec=1", uriAudioLevel, "typ host", "transport-cc"} {
		if !strings.Contains(offer, want) {
			t.Errorf("offer lacks %q", want)
		}
	}
	if _, err := p.Offer(ctx); !errors.Is(err, ErrOfferPending) {
		t.Errorf("second Offer = %v, want ErrOfferPending", err)
	}
	c := newTestClient(t, "alice")
	ans, err := c.answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Offer(ctx); !errors.Is(err, ErrNothingToNegotiate) {
		t.Errorf("Offer with no change = %v, want ErrNothingToNegotiate", err)
	}
	if err := p.AddRemoteCandidate("candidate:garbage"); !errors.Is(err, ErrBadCandidate) {
		t.Errorf("bad candidate = %v, want ErrBadCandidate", err)
	}
	if err := p.AddRemoteCandidate(""); err != nil {
		t.Errorf("end of candidates = %v", err)
	}
	conf.Close()
	if _, err := p.Offer(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Offer after close = %v, want ErrClosed", err)
	}
	var kinds []EventKind
	for ev := range p.Events() {
		kinds = append(kinds, ev.Kind)
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != EventClosed {
		t.Errorf("events = %v, want EventClosed last", kinds)
	}
	if _, err := conf.Join("bob", JoinOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Join on a closed conference = %v, want ErrClosed", err)
	}
	if s.Conference("room") == conf {
		t.Error("a closed conference is still handed out")
	}
}

func TestCandidatesUsePublicIPsAndTCP(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSFU(t, func(c *Config) {
		c.TCPListener = ln
		c.PublicIPs = []string{"192.0.2.7"} // documentation address; only written into SDP
	})
	p, err := s.Conference("room").Join("alice", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "192.0.2.7") || strings.Contains(offer, " 127.0.0.1 ") {
		t.Errorf("host candidates not rewritten to the public IP:\n%s", offer)
	}
	if !strings.Contains(offer, "tcptype passive") {
		t.Errorf("no passive ICE-TCP candidate:\n%s", offer)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New without UDPConn = %v, want ErrConfig", err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := New(Config{UDPConn: conn, PublicIPs: []string{"not-an-ip"}}); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a bad public IP = %v, want ErrConfig", err)
	}
}

// drainEvents returns the events queued now, without waiting.
func drainEvents(p *Participant) []EventKind {
	var kinds []EventKind
	for {
		select {
		case ev := <-p.Events():
			kinds = append(kinds, ev.Kind)
		default:
			return kinds
		}
	}
}

func countKind(kinds []EventKind, k EventKind) int {
	n := 0
	for _, x := range kinds {
		if x == k {
			n++
		}
	}
	return n
}

func TestRenegotiationIsSerializedAndCoalesced(t *testing.T) {
	s := newTestSFU(t, nil)
	alice, err := s.Conference("room").Join("alice", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client := newTestClient(t, "alice")
	ctx := context.Background()
	offer, err := alice.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two tracks appear while the first offer waits for its answer.
	var plis atomic.Int64
	bob := testPublicationOf("bob", webrtc.RTPCodecTypeAudio, testOpus, nil, &plis)
	carol := testPublicationOf("carol", webrtc.RTPCodecTypeVideo, testVP8, nil, &plis)
	alice.queueAdd(newDownTrack(bob, alice))
	alice.queueAdd(newDownTrack(carol, alice))
	if kinds := drainEvents(alice); countKind(kinds, EventTrackPublished) != 2 || countKind(kinds, EventNeedsOffer) != 0 {
		t.Fatalf("events while the offer is out = %v, want 2 track-published and no needs-offer", kinds)
	}
	if _, err := alice.Offer(ctx); !errors.Is(err, ErrOfferPending) {
		t.Fatalf("Offer with one outstanding = %v, want ErrOfferPending", err)
	}
	ans, err := client.answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	if kinds := drainEvents(alice); countKind(kinds, EventNeedsOffer) != 1 {
		t.Fatalf("events after the answer = %v, want exactly one needs-offer", kinds)
	}
	offer, err = alice.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a=msid:bob audio-bob", "a=msid:carol video-carol"} {
		if !strings.Contains(offer, want) {
			t.Errorf("second offer lacks %q", want)
		}
	}
	if n := strings.Count(offer, "a=sendonly"); n != 2 {
		t.Errorf("second offer has %d sendonly m-lines, want 2", n)
	}
	ans, err = client.answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	if kinds := drainEvents(alice); countKind(kinds, EventNeedsOffer) != 0 {
		t.Errorf("events after a complete negotiation = %v, want no needs-offer", kinds)
	}
	// A withdrawn track makes its m-line inactive at the next offer.
	alice.mu.Lock()
	var carolDown *downTrack
	for d := range alice.receiving {
		if d.pub == carol {
			carolDown = d
		}
	}
	alice.mu.Unlock()
	alice.queueRemove(carolDown)
	if kinds := drainEvents(alice); countKind(kinds, EventNeedsOffer) != 1 || countKind(kinds, EventTrackUnpublished) != 1 {
		t.Fatalf("events after a withdrawal = %v", kinds)
	}
	offer, err = alice.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(offer, "a=sendonly") != 1 || !strings.Contains(offer, "a=inactive") {
		t.Errorf("offer after withdrawal should have one sendonly and one inactive m-line:\n%s", offer)
	}
}

// A conference being closed is no longer handed out, even while its
// participants are still closing: the same id gets a new conference at
// once, which a joiner can join (a bridge that takes a conference back).
func TestClosingConferenceMakesWayAtOnce(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	first, err := conf.Join("alice", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bob", "carol", "dave"} {
		if _, err := conf.Join(id, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { conf.Close(); close(closed) }()
	// The first participant's EventClosed comes while the others are
	// still closing.
	for ev := range first.Events() {
		if ev.Kind == EventClosed {
			break
		}
	}
	again := s.Conference("room")
	if again == conf {
		t.Fatal("the closing conference is still handed out")
	}
	if _, err := again.Join("alice", JoinOptions{}); err != nil {
		t.Errorf("joining the new conference: %v", err)
	}
	<-closed
	if s.Conference("room") != again {
		t.Error("the new conference was forgotten with the old one")
	}
}
