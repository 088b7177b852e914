// Package mediapeer is a headless conference participant: it joins a MUC
// room over an xmppclient connection, answers the focus's Jingle session
// with a Pion PeerConnection, publishes synthetic audio and video, and
// counts what it receives from every other participant. The Go SDK, the
// load generator and the integration tests are built on it.
package mediapeer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const (
	nsJingle    = "urn:xmpp:jingle:1"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsMUC       = "http://jabber.org/protocol/muc"
	nsMUCUser   = "http://jabber.org/protocol/muc#user"
	nsMUCOwner  = "http://jabber.org/protocol/muc#owner"
	nsJitMeet   = "http://jitsi.org/jitmeet"
)

// Features answered in disco#info: what makes the focus call us.
var Features = []string{
	nsDiscoInfo, nsJingle, "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
	"urn:xmpp:jingle:apps:rtp:video", "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:dtls:0",
}

// Config configures Join.
type Config struct {
	// Client is the logged-in connection. Required. The peer consumes its
	// Incoming channel until Close.
	Client *xmppclient.Client
	// Room is the bare room JID and Nick the nickname. Required.
	Room jid.JID
	Nick string
	// Media publishes synthetic audio and video and accepts the focus's
	// Jingle session. Default false: the peer sits in the room for
	// signalling only and declines media.
	Media bool
	// BindIP is the local address for media. Default 127.0.0.1.
	BindIP net.IP
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Peer is one participant.
type Peer struct {
	cfg Config
	log *slog.Logger

	joined chan struct{} // closed once our self-presence arrived
	done   chan struct{}

	mu        sync.Mutex
	pc        *webrtc.PeerConnection           // guarded by mu; nil until the focus calls
	mux       ice.UDPMux                       // guarded by mu
	sid       string                           // guarded by mu
	offer     []jingle.Content                 // the focus's contents, in m-line order; guarded by mu
	group     *jingle.Group                    // guarded by mu
	owners    map[string]string                // stream id -> occupant JID; guarded by mu
	tracks    map[string]*TrackStats           // by stream id + kind; guarded by mu
	occupants map[string]bool                  // nicks present; guarded by mu
	senders   []*webrtc.TrackLocalStaticSample // guarded by mu
	joinErr   error                            // guarded by mu

	jingleQueue chan *xmlstream.Element // Jingle requests, handled in order by jingleLoop
	closed      atomic.Bool
}

// TrackStats counts what arrived on one remote track.
type TrackStats struct {
	Owner    string // occupant JID of the publisher, from ssrc-info
	StreamID string
	Kind     string
	Packets  atomic.Int64
	Bytes    atomic.Int64
	Ended    atomic.Bool
}

// Join enters the room and returns once the room has accepted us.
func Join(ctx context.Context, cfg Config) (*Peer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindIP == nil {
		cfg.BindIP = net.IPv4(127, 0, 0, 1)
	}
	p := &Peer{cfg: cfg, log: cfg.Logger.With("nick", cfg.Nick),
		joined: make(chan struct{}), done: make(chan struct{}),
		owners: make(map[string]string), tracks: make(map[string]*TrackStats), occupants: make(map[string]bool),
		jingleQueue: make(chan *xmlstream.Element, 64)}
	go p.readLoop()
	go p.jingleLoop()
	pres := xmlstream.New(xmlstream.NSClient, "presence", "to", cfg.Room.WithResource(cfg.Nick).String()).
		Add(xmlstream.New(nsMUC, "x"))
	if err := cfg.Client.Send(pres); err != nil {
		return nil, err
	}
	select {
	case <-p.joined:
		p.mu.Lock()
		err := p.joinErr
		p.mu.Unlock()
		return p, err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, errors.New("mediapeer: connection closed while joining")
	}
}

// readLoop dispatches what the server sends.
func (p *Peer) readLoop() {
	defer close(p.done)
	for st := range p.cfg.Client.Incoming() {
		switch st.Name {
		case "presence":
			p.presence(st)
		case "iq":
			p.iq(st)
		}
	}
}

func (p *Peer) presence(st *xmlstream.Element) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil || from.Bare() != p.cfg.Room {
		return
	}
	if st.Attr("type") == "error" {
		p.mu.Lock()
		p.joinErr = fmt.Errorf("mediapeer: join refused: %v", stanza.ParseError(st))
		p.mu.Unlock()
		p.markJoined()
		return
	}
	x := st.Child(nsMUCUser, "x")
	p.mu.Lock()
	p.occupants[from.Resource] = st.Attr("type") != "unavailable"
	p.mu.Unlock()
	if x == nil || st.Attr("type") == "unavailable" {
		return
	}
	codes := map[string]bool{}
	for _, s := range x.ChildrenNamed(nsMUCUser, "status") {
		codes[s.Attr("code")] = true
	}
	if !codes["110"] {
		return
	}
	if codes["201"] {
		// We created the room: unlock it with the instant-room request.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.cfg.Room.String()).Add(
				xmlstream.New(nsMUCOwner, "query").Add(xmlstream.New("jabber:x:data", "x", "type", "submit")))
			if _, err := p.cfg.Client.IQ(ctx, iq); err != nil {
				p.log.Warn("instant room request failed", "err", err)
			}
			p.markJoined()
		}()
		return
	}
	p.markJoined()
}

func (p *Peer) markJoined() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.joined:
	default:
		close(p.joined)
	}
}

func (p *Peer) iq(st *xmlstream.Element) {
	typ := st.Attr("type")
	payload := st.FirstChild()
	switch {
	case typ == "get" && payload.Is(nsDiscoInfo, "query"):
		q := xmlstream.New(nsDiscoInfo, "query").Add(
			xmlstream.New(nsDiscoInfo, "identity", "category", "client", "type", "bot", "name", "parley mediapeer"))
		feats := Features
		if !p.cfg.Media {
			feats = Features[:1]
		}
		for _, f := range feats {
			q.Add(xmlstream.New(nsDiscoInfo, "feature", "var", f))
		}
		p.cfg.Client.Send(stanza.IQResult(st, q))
	case typ == "set" && payload.Is(nsJingle, "jingle"):
		select {
		case p.jingleQueue <- st:
		default:
			p.cfg.Client.Send(stanza.ErrorReply(st, stanza.NewError(stanza.ResourceConstraint, "")))
		}
	case typ == "get" || typ == "set":
		p.cfg.Client.Send(stanza.ErrorReply(st, stanza.NewError(stanza.ServiceUnavailable, "")))
	}
}

// Occupants returns the nicks currently in the room.
func (p *Peer) Occupants() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n, in := range p.occupants {
		if in {
			out = append(out, n)
		}
	}
	return out
}

// Tracks returns the remote tracks received so far.
func (p *Peer) Tracks() []*TrackStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*TrackStats, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t)
	}
	return out
}

// Close leaves the room, ends the media session and stops the peer. It does
// not close the XMPP client.
func (p *Peer) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.cfg.Client.Send(xmlstream.New(xmlstream.NSClient, "presence", "type", "unavailable",
		"to", p.cfg.Room.WithResource(p.cfg.Nick).String()))
	p.mu.Lock()
	pc, mux := p.pc, p.mux
	p.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
	if mux != nil {
		mux.Close()
	}
	return nil
}
