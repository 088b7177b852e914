package mediapeer

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// jingleLoop handles the focus's Jingle requests one at a time, in order.
func (p *Peer) jingleLoop() {
	for {
		select {
		case <-p.done:
			return
		case st := <-p.jingleQueue:
			if err := p.handleJingle(st); err != nil {
				p.log.Warn("jingle request failed", "err", err)
				p.cfg.Client.Send(stanza.ErrorReply(st, stanza.NewError(stanza.BadRequest, err.Error())))
			}
		}
	}
}

func (p *Peer) handleJingle(st *xmlstream.Element) error {
	el := st.FirstChild()
	j, err := jingle.Parse(el)
	if err != nil {
		return err
	}
	p.learnOwners(el)
	switch j.Action {
	case "session-initiate":
		if !p.cfg.Media {
			p.cfg.Client.Send(stanza.IQResult(st))
			return p.sendJingle(&jingle.Jingle{Action: "session-terminate", SID: j.SID, Reason: &jingle.Reason{Condition: "decline"}})
		}
		p.cfg.Client.Send(stanza.IQResult(st))
		return p.initiate(j)
	case "content-add":
		p.cfg.Client.Send(stanza.IQResult(st))
		return p.contentAdd(j)
	case "session-terminate":
		p.cfg.Client.Send(stanza.IQResult(st))
		p.mu.Lock()
		pc := p.pc
		p.pc, p.sid = nil, ""
		p.mu.Unlock()
		if pc != nil {
			pc.Close()
		}
		return nil
	default:
		p.cfg.Client.Send(stanza.IQResult(st))
		return nil
	}
}

// learnOwners records ssrc-info owners: which occupant publishes which stream.
func (p *Peer) learnOwners(el *xmlstream.Element) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ct := range el.ChildrenNamed(nsJingle, "content") {
		desc := ct.Child("", "description")
		if desc == nil {
			continue
		}
		for _, src := range desc.ChildrenNamed("", "source") {
			owner := src.Child(nsJitMeet, "ssrc-info").Attr("owner")
			for _, prm := range src.ChildrenNamed("", "parameter") {
				if prm.Attr("name") == "msid" && owner != "" {
					stream, _, _ := strings.Cut(prm.Attr("value"), " ")
					p.owners[stream] = owner
				}
			}
		}
	}
}

// initiate answers session-initiate: a new PeerConnection, our tracks, and
// session-accept with the complete answer.
func (p *Peer) initiate(j *jingle.Jingle) error {
	pc, mux, err := p.newPeerConnection()
	if err != nil {
		return err
	}
	p.mu.Lock()
	old := p.pc
	p.pc, p.mux, p.sid, p.offer, p.group = pc, mux, j.SID, j.Contents, j.Group
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	answer, err := p.answer(pc, true)
	if err != nil {
		return err
	}
	answer.Action, answer.SID, answer.Responder = "session-accept", j.SID, p.cfg.Client.JID().String()
	return p.sendJingle(answer)
}

// contentAdd applies an upsert of contents and answers with content-accept.
func (p *Peer) contentAdd(j *jingle.Jingle) error {
	p.mu.Lock()
	pc := p.pc
	if pc == nil || j.SID != p.sid {
		p.mu.Unlock()
		return errors.New("content-add for no current session")
	}
	for _, ct := range j.Contents {
		replaced := false
		for i := range p.offer {
			if p.offer[i].Name == ct.Name {
				p.offer[i], replaced = ct, true
			}
		}
		if !replaced {
			p.offer = append(p.offer, ct)
			if p.group != nil {
				p.group.Contents = append(p.group.Contents, ct.Name)
			}
		}
	}
	p.mu.Unlock()
	answer, err := p.answer(pc, false)
	if err != nil {
		return err
	}
	answer.Action, answer.SID = "content-accept", j.SID
	return p.sendJingle(answer)
}

// answer applies the held offer and returns our complete answer as Jingle.
func (p *Peer) answer(pc *webrtc.PeerConnection, first bool) (*jingle.Jingle, error) {
	p.mu.Lock()
	offer, err := jingle.ToSDP(&jingle.Jingle{Contents: p.offer, Group: p.group}, jingle.RoleInitiator)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, err
	}
	if first {
		if err := p.attachTracks(pc); err != nil {
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
	}
	return jingle.FromSDP(pc.LocalDescription().SDP, jingle.RoleResponder)
}

func (p *Peer) sendJingle(j *jingle.Jingle) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.focusJID()).Add(j.Element())
	_, err := p.cfg.Client.IQ(ctx, iq)
	return err
}

func (p *Peer) focusJID() string { return "focus." + p.cfg.Client.JID().Domain }

// newPeerConnection builds a PeerConnection bound to one loopback (or
// BindIP) UDP socket.
func (p *Peer) newPeerConnection() (*webrtc.PeerConnection, ice.UDPMux, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, nil, err
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: p.cfg.BindIP})
	if err != nil {
		return nil, nil, err
	}
	se := webrtc.SettingEngine{}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		mux.Close()
		return nil, nil, err
	}
	pc.OnTrack(p.onTrack)
	return pc, mux, nil
}

// attachTracks adds our synthetic audio and video to the SFU's recvonly
// m-lines and starts sending.
func (p *Peer) attachTracks(pc *webrtc.PeerConnection) error {
	id := p.cfg.Nick
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", id)
	if err != nil {
		return err
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", id)
	if err != nil {
		return err
	}
	for _, tr := range []*webrtc.TrackLocalStaticSample{audio, video} {
		sender, err := pc.AddTrack(tr)
		if err != nil {
			return err
		}
		go drainRTCP(sender)
	}
	p.mu.Lock()
	p.senders = []*webrtc.TrackLocalStaticSample{audio, video}
	p.mu.Unlock()
	go p.sendSynthetic(audio, 20*time.Millisecond, func(i int) []byte { return opusSilence })
	go p.sendSynthetic(video, time.Second/30, syntheticVP8)
	return nil
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

func (p *Peer) sendSynthetic(tr *webrtc.TrackLocalStaticSample, every time.Duration, frame func(int) []byte) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		if p.closed.Load() {
			return
		}
		if err := tr.WriteSample(media.Sample{Data: frame(i), Duration: every}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// onTrack counts what arrives on a remote track.
func (p *Peer) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	key := tr.StreamID() + "/" + tr.Kind().String()
	p.mu.Lock()
	ts := p.tracks[key]
	if ts == nil || ts.Ended.Load() {
		ts = &TrackStats{StreamID: tr.StreamID(), Kind: tr.Kind().String(), Owner: p.owners[tr.StreamID()]}
		p.tracks[key] = ts
	}
	p.mu.Unlock()
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			ts.Ended.Store(true)
			return
		}
		ts.Packets.Add(1)
		ts.Bytes.Add(int64(n))
	}
}
