//go:build netns

package p2pcall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const (
	nsJMI       = "urn:xmpp:jingle-message:0"
	nsExtDisco  = "urn:xmpp:extdisco:2"
	nsHints     = "urn:xmpp:hints"
	sendPackets = 20 * time.Millisecond
)

// runServer runs parley on serverIP with accounts alice and bob.
func runServer(ctx context.Context, out *json.Encoder) error {
	dir, err := os.MkdirTemp("", "p2pcall")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	acc, err := accounts.Open(accounts.Config{Dir: dir, Domain: domain})
	if err != nil {
		return err
	}
	for _, u := range []string{"alice", "bob"} {
		if err := acc.Add(u, "secret-"+u); err != nil {
			return err
		}
	}
	httpLn, err := net.Listen("tcp4", serverIP+":0")
	if err != nil {
		return err
	}
	c2sLn, err := net.Listen("tcp4", serverIP+":0")
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- app.Run(ctx, app.Config{Domain: domain, DataDir: dir, PublicIP: serverIP,
			HTTPListener: httpLn, C2SListener: c2sLn, Ready: ready, Logger: slog.New(slog.DiscardHandler)})
	}()
	select {
	case <-ready:
	case err := <-errc:
		return fmt.Errorf("parley: %w", err)
	}
	out.Encode(childLine{C2S: c2sLn.Addr().String(), Port: httpLn.Addr().(*net.TCPAddr).Port})
	return <-errc
}

// peer is one side of the call: an XMPP session and a Pion peer.
type peer struct {
	cfg  childConfig
	out  *json.Encoder
	xc   *xmppclient.Client
	pc   *webrtc.PeerConnection
	self jid.JID
}

// newPeer logs in, gets the XEP-0215 services and makes the peer
// connection with them.
func newPeer(ctx context.Context, cfg childConfig, out *json.Encoder) (*peer, error) {
	xc, err := xmppclient.Dial(ctx, xmppclient.Config{Address: cfg.C2S, Domain: domain, Username: cfg.User,
		Password: "secret-" + cfg.User, Resource: "phone", TLS: insecureTLS,
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(cfg.BindIP)}})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	p := &peer{cfg: cfg, out: out, xc: xc, self: xc.JID()}
	if err := xc.Send(xmlstream.New(xmlstream.NSClient, "presence")); err != nil {
		return nil, err
	}
	servers, names, err := p.iceServers(ctx)
	if err != nil {
		return nil, err
	}
	out.Encode(childLine{Services: names})
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	bind := net.ParseIP(cfg.BindIP)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(bind) })
	p.pc, err = webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, err
	}
	p.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		out.Encode(childLine{Note: "ICE " + s.String()})
	})
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s != webrtc.PeerConnectionStateConnected {
			return
		}
		pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil {
			out.Encode(childLine{Error: fmt.Sprintf("connected without a selected pair: %v", err)})
			return
		}
		out.Encode(childLine{Pair: pair.String(), LocalType: pair.Local.Typ.String(), RemoteTyp: pair.Remote.Typ.String()})
	})
	return p, nil
}

// iceServers asks parley for STUN and TURN (XEP-0215).
func (p *peer) iceServers(ctx context.Context) ([]webrtc.ICEServer, []string, error) {
	res, err := p.xc.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "to", domain).Add(
		xmlstream.New(nsExtDisco, "services")))
	if err != nil {
		return nil, nil, fmt.Errorf("XEP-0215: %w", err)
	}
	var servers []webrtc.ICEServer
	var names []string
	for _, s := range res.Child(nsExtDisco, "services").ChildrenNamed(nsExtDisco, "service") {
		typ := s.Attr("type")
		if typ != "stun" && typ != "turn" {
			continue
		}
		url := typ + ":" + net.JoinHostPort(s.Attr("host"), s.Attr("port"))
		if typ == "turn" && s.Attr("transport") != "" {
			url += "?transport=" + s.Attr("transport")
		}
		servers = append(servers, webrtc.ICEServer{URLs: []string{url}, Username: s.Attr("username"), Credential: s.Attr("password")})
		names = append(names, url)
	}
	if len(servers) == 0 {
		return nil, nil, fmt.Errorf("XEP-0215 answered no service: %s", res)
	}
	return servers, names, nil
}

// next waits for an incoming stanza fn accepts.
func (p *peer) next(ctx context.Context, what string, fn func(*xmlstream.Element) bool) (*xmlstream.Element, error) {
	for {
		select {
		case el, ok := <-p.xc.Incoming():
			if !ok {
				return nil, fmt.Errorf("the XMPP session ended waiting for %s: %v", what, p.xc.Err())
			}
			if fn(el) {
				return el, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// jingleSet waits for a Jingle IQ set with the action, acknowledges it and
// returns the parsed payload.
func (p *peer) jingleSet(ctx context.Context, action string) (*jingle.Jingle, jid.JID, error) {
	el, err := p.next(ctx, action, func(el *xmlstream.Element) bool {
		j := el.Child(jingle.NS, "jingle")
		return el.Name == "iq" && el.Attr("type") == "set" && j != nil && j.Attr("action") == action
	})
	if err != nil {
		return nil, jid.JID{}, err
	}
	from, _ := jid.Parse(el.Attr("from"))
	p.xc.Send(xmlstream.New(xmlstream.NSClient, "iq", "type", "result", "id", el.Attr("id"), "to", el.Attr("from")))
	j, err := jingle.Parse(el.Child(jingle.NS, "jingle"))
	return j, from, err
}

// describe makes the Jingle payload of the local description, once every
// candidate is gathered (no trickling needed).
func (p *peer) describe(role jingle.Role, action, sid string) (*jingle.Jingle, error) {
	<-webrtc.GatheringCompletePromise(p.pc)
	sdp := p.pc.LocalDescription().SDP
	var cands []string
	for _, line := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") {
			cands = append(cands, line)
		}
	}
	p.out.Encode(childLine{Note: "candidates: " + strings.Join(cands, " | ")})
	j, err := jingle.FromSDP(sdp, role)
	if err != nil {
		return nil, err
	}
	j.Action, j.SID = action, sid
	return j, nil
}

func (p *peer) sendJingle(ctx context.Context, to jid.JID, j *jingle.Jingle) error {
	res, err := p.xc.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", to.String()).Add(j.Element()))
	if err != nil {
		return fmt.Errorf("%s: %w", j.Action, err)
	}
	if res.Attr("type") != "result" {
		return fmt.Errorf("%s refused: %s", j.Action, res)
	}
	return nil
}

// runCaller rings the callee (JMI), then initiates the Jingle session and
// sends audio.
func runCaller(ctx context.Context, cfg childConfig, out *json.Encoder) error {
	p, err := newPeer(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer p.pc.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "alice")
	if err != nil {
		return err
	}
	if _, err := p.pc.AddTrack(track); err != nil {
		return err
	}
	sid := "call-" + strconv.FormatUint(rand.Uint64(), 36)
	p.xc.Send(xmlstream.New(xmlstream.NSClient, "message", "to", cfg.Callee, "type", "chat", "id", sid).Add(
		xmlstream.New(nsJMI, "propose", "id", sid).Add(xmlstream.New(jingle.NSRTP, "description", "media", "audio")),
		xmlstream.New(nsHints, "store")))
	out.Encode(childLine{Note: "ringing " + cfg.Callee})
	proceed, err := p.next(ctx, "the callee's proceed", func(el *xmlstream.Element) bool {
		pr := el.Child(nsJMI, "proceed")
		return el.Name == "message" && pr != nil && pr.Attr("id") == sid
	})
	if err != nil {
		return err
	}
	callee, _ := jid.Parse(proceed.Attr("from"))
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	j, err := p.describe(jingle.RoleInitiator, jingle.ActionSessionInitiate, sid)
	if err != nil {
		return err
	}
	j.Initiator = p.self.String()
	if err := p.sendJingle(ctx, callee, j); err != nil {
		return err
	}
	accept, _, err := p.jingleSet(ctx, jingle.ActionSessionAccept)
	if err != nil {
		return err
	}
	answer, err := jingle.ToSDP(accept, jingle.RoleResponder)
	if err != nil {
		return err
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	out.Encode(childLine{Note: "session accepted by " + callee.String()})
	tick := time.NewTicker(sendPackets)
	defer tick.Stop()
	silence := []byte{0xf8, 0xff, 0xfe} // an Opus frame of silence
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := track.WriteSample(media.Sample{Data: silence, Duration: sendPackets}); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		}
	}
}

// runCallee answers the ring, accepts the Jingle session and counts the
// RTP packets it receives.
func runCallee(ctx context.Context, cfg childConfig, out *json.Encoder) error {
	p, err := newPeer(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer p.pc.Close()
	var received atomic.Int64
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			received.Add(1)
		}
	})
	propose, err := p.next(ctx, "a call proposal", func(el *xmlstream.Element) bool {
		return el.Name == "message" && el.Child(nsJMI, "propose") != nil
	})
	if err != nil {
		return err
	}
	sid := propose.Child(nsJMI, "propose").Attr("id")
	p.xc.Send(xmlstream.New(xmlstream.NSClient, "message", "to", propose.Attr("from"), "type", "chat").Add(
		xmlstream.New(nsJMI, "proceed", "id", sid), xmlstream.New(nsHints, "store")))
	out.Encode(childLine{Note: "answering " + propose.Attr("from")})
	initiate, caller, err := p.jingleSet(ctx, jingle.ActionSessionInitiate)
	if err != nil {
		return err
	}
	if initiate.SID != sid {
		return fmt.Errorf("session-initiate for %q, the proposal was %q", initiate.SID, sid)
	}
	offer, err := jingle.ToSDP(initiate, jingle.RoleInitiator)
	if err != nil {
		return err
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	j, err := p.describe(jingle.RoleResponder, jingle.ActionSessionAccept, sid)
	if err != nil {
		return err
	}
	j.Initiator, j.Responder = caller.String(), p.self.String()
	if err := p.sendJingle(ctx, caller, j); err != nil {
		return err
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := int64(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if n := received.Load(); n != last {
				last = n
				out.Encode(childLine{Received: int(n)})
			}
		}
	}
}
