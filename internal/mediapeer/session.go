package mediapeer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// udpReadBuffer is the receive buffer asked for each media socket.
const udpReadBuffer = 2 << 20

// jingleQueueSize bounds a room's pending Jingle requests; the focus sends
// one at a time per session, so a full queue means a misbehaving peer.
const jingleQueueSize = 16

// session is a room's media: the focus's Jingle session and our Pion
// PeerConnection. Its loop goroutine handles Jingle requests in order.
type session struct {
	p     *Peer                   // the room; read-only
	queue chan *xmlstream.Element // Jingle requests; drained by loop
	stop  chan struct{}           // closed by close
	once  sync.Once               // closes stop

	connected     chan struct{} // closed when a PeerConnection first reaches "connected"
	connectedOnce sync.Once     // closes connected

	mu        sync.Mutex
	pc        *webrtc.PeerConnection           // guarded by mu; nil until the focus calls
	mux       ice.UDPMux                       // guarded by mu
	sid       string                           // guarded by mu
	focus     string                           // the focus's JID, from session-initiate; guarded by mu
	offer     []jingle.Content                 // the focus's contents in m-line order; guarded by mu
	group     *jingle.Group                    // guarded by mu
	owners    map[string]string                // stream id -> occupant JID, from ssrc-info; guarded by mu
	tracks    map[string]*Track                // by stream id + kind; guarded by mu
	local     []*webrtc.TrackLocalStaticSample // what we publish, made on the first call; guarded by mu
	layered   *layeredVideo                    // VideoLayers' tracks, made with local; guarded by mu
	madeLocal bool                             // local and layered are made; guarded by mu
	stopped   bool                             // guarded by mu; set by close

	resends resendCounts // what our resenders did, over every PeerConnection; safe for concurrent use
}

// newSession prepares a room's media; Peer.Join starts its loop.
func newSession(p *Peer) *session {
	s := &session{p: p, queue: make(chan *xmlstream.Element, jingleQueueSize), stop: make(chan struct{}),
		connected: make(chan struct{}),
		owners:    make(map[string]string), tracks: make(map[string]*Track)}
	return s
}

// queueJingle takes a Jingle request routed to this room.
func (p *Peer) queueJingle(st *xmlstream.Element) {
	if p.media == nil {
		p.declineJingle(st)
		return
	}
	select {
	case p.media.queue <- st:
	default:
		p.conn.droppedJingle.Add(1)
		p.conn.refuse(st, stanza.ResourceConstraint, "too many Jingle requests")
	}
}

// declineJingle answers the focus in a room without media: its call is
// acknowledged and ended with reason decline.
func (p *Peer) declineJingle(st *xmlstream.Element) {
	p.conn.cfg.Client.Send(stanza.IQResult(st))
	payload := st.FirstChild()
	if payload.Attr("action") != "session-initiate" {
		return
	}
	j := &jingle.Jingle{Action: "session-terminate", SID: payload.Attr("sid"), Reason: &jingle.Reason{Condition: "decline"}}
	go p.sendJingle(st.Attr("from"), j)
}

func (p *Peer) sendJingle(to string, j *jingle.Jingle) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	el := j.Element()
	markScreen(el, p.cfg.VideoType)
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", to).Add(el)
	_, err := p.conn.request(ctx, iq)
	return err
}

func (s *session) loop() {
	for {
		select {
		case <-s.stop:
			return
		case st := <-s.queue:
			if err := s.handle(st); err != nil {
				s.p.log.Warn("jingle request failed", "err", err)
				s.p.conn.refuse(st, stanza.BadRequest, err.Error())
			}
		}
	}
}

// handle answers one Jingle request; an error is answered as bad-request.
func (s *session) handle(st *xmlstream.Element) error {
	el := st.FirstChild()
	j, err := jingle.Parse(el)
	if err != nil {
		return err
	}
	s.learnOwners(el)
	client := s.p.conn.cfg.Client
	switch j.Action {
	case "session-initiate":
		client.Send(stanza.IQResult(st))
		return s.initiate(j, st.Attr("from"))
	case "content-add":
		client.Send(stanza.IQResult(st))
		return s.contentAdd(j)
	case "transport-replace":
		client.Send(stanza.IQResult(st))
		return s.transportReplace(j)
	case "session-terminate":
		client.Send(stanza.IQResult(st))
		s.mu.Lock()
		pc, mux, sid := s.pc, s.mux, s.sid
		if j.SID == sid {
			s.pc, s.mux, s.sid = nil, nil, ""
		}
		s.mu.Unlock()
		if j.SID == sid {
			s.p.conn.unbindSession(sid)
			closePC(pc, mux)
		}
		return nil
	default:
		client.Send(stanza.IQResult(st))
		return nil
	}
}

// learnOwners records ssrc-info owners: which occupant publishes which stream.
func (s *session) learnOwners(el *xmlstream.Element) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ct := range el.ChildrenNamed(nsJingle, "content") {
		desc := ct.Child("", "description")
		if desc == nil {
			continue // transport-info, transport-replace: no sources
		}
		for _, src := range desc.ChildrenNamed("", "source") {
			owner := attr(src.Child(nsJitMeet, "ssrc-info"), "owner")
			for _, prm := range src.ChildrenNamed("", "parameter") {
				if prm.Attr("name") == "msid" && owner != "" {
					stream, _, _ := strings.Cut(prm.Attr("value"), " ")
					s.owners[stream] = owner
				}
			}
		}
	}
}

// initiate answers session-initiate: a new PeerConnection, our tracks, and
// session-accept with the complete answer.
func (s *session) initiate(j *jingle.Jingle, focus string) error {
	pc, mux, err := s.newPeerConnection()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		closePC(pc, mux)
		return ErrClosed
	}
	oldPC, oldMux, oldSID := s.pc, s.mux, s.sid
	s.pc, s.mux, s.sid, s.focus, s.offer, s.group = pc, mux, j.SID, focus, j.Contents, j.Group
	s.mu.Unlock()
	if oldSID != "" {
		s.p.conn.unbindSession(oldSID)
	}
	closePC(oldPC, oldMux)
	s.p.conn.bindSession(j.SID, s.p)
	answer, err := s.answer(pc, true)
	if err != nil {
		return err
	}
	answer.Action, answer.SID, answer.Responder = "session-accept", j.SID, s.p.conn.cfg.Client.JID().String()
	return s.p.sendJingle(focus, answer)
}

// contentAdd applies an upsert of contents and answers with content-accept.
func (s *session) contentAdd(j *jingle.Jingle) error {
	s.mu.Lock()
	pc, focus := s.pc, s.focus
	if pc == nil || j.SID != s.sid {
		s.mu.Unlock()
		return errors.New("content-add for no current session")
	}
	for _, ct := range j.Contents {
		replaced := false
		for i := range s.offer {
			if s.offer[i].Name == ct.Name {
				s.offer[i], replaced = ct, true
			}
		}
		if !replaced {
			s.offer = append(s.offer, ct)
			if s.group != nil {
				s.group.Contents = append(s.group.Contents, ct.Name)
			}
		}
	}
	s.mu.Unlock()
	answer, err := s.answer(pc, false)
	if err != nil {
		return err
	}
	answer.Action, answer.SID = "content-accept", j.SID
	return s.p.sendJingle(focus, answer)
}

// transportReplace applies the focus's ICE restart: new transports for
// the contents we hold, answered with our new transports in
// transport-accept.
func (s *session) transportReplace(j *jingle.Jingle) error {
	s.mu.Lock()
	pc, focus := s.pc, s.focus
	if pc == nil || j.SID != s.sid {
		s.mu.Unlock()
		return errors.New("transport-replace for no current session")
	}
	at := make([]int, len(j.Contents))
	for k, ct := range j.Contents {
		at[k] = slices.IndexFunc(s.offer, func(o jingle.Content) bool { return o.Name == ct.Name })
		if at[k] < 0 || ct.Transport == nil {
			s.mu.Unlock() // nothing changed
			return fmt.Errorf("transport-replace names content %q without a transport or that we do not hold", ct.Name)
		}
	}
	for k, ct := range j.Contents {
		s.offer[at[k]].Transport = ct.Transport
	}
	s.mu.Unlock()
	answer, err := s.answer(pc, false)
	if err != nil {
		return err
	}
	accept := &jingle.Jingle{Action: "transport-accept", SID: j.SID, Contents: jingle.TransportsOnly(answer.Contents)}
	return s.p.sendJingle(focus, accept)
}

// requestRestart asks the focus for an ICE restart (docs/SIGNALLING.md).
func (s *session) requestRestart() error {
	s.mu.Lock()
	sid, focus := s.sid, s.focus
	s.mu.Unlock()
	if sid == "" {
		return errors.New("no media session to restart")
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", focus).Add(
		xmlstream.New(nsJingle, "jingle", "action", "session-info", "sid", sid).Add(
			xmlstream.New(nsParleyRoom, "ice-restart")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.p.conn.request(ctx, iq)
	return err
}

// answer applies the held offer and returns our complete answer as Jingle.
func (s *session) answer(pc *webrtc.PeerConnection, first bool) (*jingle.Jingle, error) {
	s.mu.Lock()
	offer, err := jingle.ToSDP(&jingle.Jingle{Contents: s.offer, Group: s.group}, jingle.RoleInitiator)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, err
	}
	if first {
		if err := s.attachTracks(pc); err != nil {
			return nil, err
		}
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	case <-s.stop:
		return nil, ErrClosed
	}
	return jingle.FromSDP(pc.LocalDescription().SDP, jingle.RoleResponder)
}

// newPeerConnection builds a PeerConnection on one UDP socket of BindIP.
func (s *session) newPeerConnection() (*webrtc.PeerConnection, ice.UDPMux, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, nil, err
	}
	registry, err := s.interceptors(me)
	if err != nil {
		return nil, nil, err
	}
	if err := registerAudioLevel(me, registry); err != nil {
		return nil, nil, err
	}
	ip := s.p.conn.cfg.BindIP
	network, types := "udp4", []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if ip.To4() == nil {
		network, types = "udp6", []webrtc.NetworkType{webrtc.NetworkTypeUDP6}
	}
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, nil, err
	}
	// A keyframe from each of several publishers can arrive at once: more
	// than the usual 208 KB default receive buffer. The kernel caps this at
	// net.core.rmem_max.
	conn.SetReadBuffer(udpReadBuffer)
	se := webrtc.SettingEngine{}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes(types)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(registry))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		mux.Close()
		return nil, nil, err
	}
	pc.OnTrack(s.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			s.connectedOnce.Do(func() { close(s.connected) })
		}
	})
	return pc, mux, nil
}

// interceptors is Pion's default chain less two parts: its NACK responder,
// replaced by ours (resend.go), and its stats interceptor, whose per-packet
// bookkeeping nothing here reads (we count received packets ourselves, rx.go).
func (s *session) interceptors(me *webrtc.MediaEngine) (*interceptor.Registry, error) {
	registry := &interceptor.Registry{}
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	registry.Add(resendFactory{counts: &s.resends})
	registry.Add(generator)
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(me, registry); err != nil {
		return nil, err
	}
	return registry, nil
}

// attachTracks adds what we publish to the SFU's m-lines for us. The local
// tracks and their senders are made once per room and outlive a
// PeerConnection that the focus replaces.
func (s *session) attachTracks(pc *webrtc.PeerConnection) error {
	local, layered, err := s.localTracks()
	if err != nil {
		return err
	}
	for _, tr := range local {
		sender, err := pc.AddTrack(tr)
		if err != nil {
			return err
		}
		go drainRTCP(sender)
	}
	if layered != nil {
		return layered.attach(pc)
	}
	return nil
}

// localTracks returns our tracks, starting their senders the first time:
// the single-stream ones, and the simulcast video if we send one.
func (s *session) localTracks() ([]*webrtc.TrackLocalStaticSample, *layeredVideo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.madeLocal {
		return s.local, s.layered, nil
	}
	local := []*webrtc.TrackLocalStaticSample{}
	var sources []Source
	for _, src := range []Source{s.p.cfg.Audio, s.p.cfg.Video} {
		if src == nil {
			continue
		}
		capability := webrtc.RTPCodecCapability{MimeType: src.MimeType(), ClockRate: 90000}
		kind := "video"
		if src.MimeType() == webrtc.MimeTypeOpus {
			capability, kind = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio"
		}
		tr, err := webrtc.NewTrackLocalStaticSample(capability, kind, s.p.cfg.Nick)
		if err != nil {
			return nil, nil, err
		}
		local, sources = append(local, tr), append(sources, src)
	}
	var layered *layeredVideo
	if s.p.cfg.VideoLayers != nil {
		var err error
		if layered, err = newLayeredVideo(s.p.cfg.Nick, s.p.cfg.VideoLayers); err != nil {
			return nil, nil, err
		}
	}
	for i, tr := range local {
		go s.publish(sources[i], func(f Frame) error {
			return tr.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration})
		})
	}
	if layered != nil {
		layered.start(s)
	}
	s.local, s.layered, s.madeLocal = local, layered, true
	return local, layered, nil
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// close ends the media for good; sources that hold files are closed.
func (s *session) close() {
	s.once.Do(func() {
		close(s.stop)
		for _, src := range append([]Source{s.p.cfg.Audio, s.p.cfg.Video}, s.p.cfg.VideoLayers...) {
			if c, ok := src.(io.Closer); ok {
				c.Close()
			}
		}
	})
	s.mu.Lock()
	pc, mux := s.pc, s.mux
	s.pc, s.mux, s.stopped = nil, nil, true
	s.mu.Unlock()
	closePC(pc, mux)
}

func closePC(pc *webrtc.PeerConnection, mux ice.UDPMux) {
	if pc != nil {
		pc.Close()
	}
	if mux != nil {
		mux.Close()
	}
}
