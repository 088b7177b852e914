// Package mediapeer is the engine of parley's headless participants: one
// XMPP connection (an xmppclient.Client) that sits in any number of MUC
// rooms, follows their occupants and chat, acts as moderator, and in the
// rooms where it wants media answers the focus's Jingle session with a Pion
// PeerConnection, publishes audio and video (synthetic, or IVF and Ogg
// files) and receives everyone else's tracks, counting packets, loss and
// jitter. The public Go SDK (parley.dev/parley/sdk), the load generator and
// the integration tests are built on it.
package mediapeer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const (
	nsJingle     = "urn:xmpp:jingle:1"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsMUC        = "http://jabber.org/protocol/muc"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
	nsMUCOwner   = "http://jabber.org/protocol/muc#owner"
	nsMUCAdmin   = "http://jabber.org/protocol/muc#admin"
	nsJitMeet    = "http://jitsi.org/jitmeet"
	nsDelay      = "urn:xmpp:delay"
	nsParleyRoom = "urn:parley:focus:0"
)

// Features are answered in disco#info when some room of the connection
// wants media: they make the focus call us (docs/SIGNALLING.md §1). Without
// media only the first, disco#info itself, is. Read-only.
var Features = []string{
	nsDiscoInfo, nsJingle, "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
	"urn:xmpp:jingle:apps:rtp:video", "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:dtls:0",
}

// Errors of the package.
var (
	// ErrClosed is returned for work on a closed Conn or Peer.
	ErrClosed = errors.New("mediapeer: closed")
	// ErrAlreadyJoined is returned when a Conn joins a room it is in.
	ErrAlreadyJoined = errors.New("mediapeer: already in that room on this connection")
	// ErrNotInRoom is returned by moderator actions naming an unknown nick.
	ErrNotInRoom = errors.New("mediapeer: no such occupant")
)

// ConnConfig configures NewConn.
type ConnConfig struct {
	// Client is the logged-in connection. Required. The Conn consumes its
	// Incoming channel from NewConn on; the caller still closes the Client.
	Client *xmppclient.Client
	// BindIP is the local address of every media socket. Default 127.0.0.1.
	BindIP net.IP
	// Focus is the conference focus's JID: the only one whose Jingle and
	// messages are taken. Default focus.<the Client's domain>; a guest on a
	// host of its own (Prosody's anonymous VirtualHost) names the focus of
	// the rooms' domain.
	Focus string
	// OnEvent receives what happens in the rooms. It is called on the
	// connection's read goroutine and on track goroutines, possibly at the
	// same time, and must not block. Default: events are discarded.
	OnEvent func(Event)
	// Logger receives the logs. Default slog.Default().
	Logger *slog.Logger
}

// Conn is one XMPP connection sitting in many rooms.
type Conn struct {
	cfg ConnConfig   // defaults applied; read-only
	log *slog.Logger // read-only

	mu       sync.Mutex
	peers    map[jid.JID]*Peer // by bare room JID, from Join until the peer ends; guarded by mu
	sessions map[string]*Peer  // by Jingle sid; guarded by mu
	closed   bool              // guarded by mu

	done chan struct{} // closed when the read loop ends (the Client ended)

	// stanzasIgnored counts incoming stanzas no room wanted, by reason.
	ignoredNoRoom   atomic.Int64
	ignoredJingle   atomic.Int64 // Jingle for no known session or room
	foreignJingle   atomic.Int64 // Jingle from someone other than the focus
	droppedJingle   atomic.Int64 // a peer's Jingle queue was full
	unansweredIQGet atomic.Int64 // IQ requests we do not serve (answered with an error)
}

// NewConn starts reading the client's stanzas.
func NewConn(cfg ConnConfig) (*Conn, error) {
	if cfg.Client == nil {
		return nil, errors.New("mediapeer: ConnConfig.Client is required")
	}
	if cfg.BindIP == nil {
		cfg.BindIP = net.IPv4(127, 0, 0, 1)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.Focus == "" {
		cfg.Focus = "focus." + cfg.Client.JID().Domain
	}
	c := &Conn{cfg: cfg, log: cfg.Logger, peers: make(map[jid.JID]*Peer),
		sessions: make(map[string]*Peer), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// Client returns the XMPP connection.
func (c *Conn) Client() *xmppclient.Client { return c.cfg.Client }

// Done is closed when the XMPP connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Peers returns the rooms the connection is in or joining.
func (c *Conn) Peers() []*Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Peer, 0, len(c.peers))
	for _, p := range c.peers {
		out = append(out, p)
	}
	return out
}

// ConnStats counts what the connection ignored or dropped, by reason.
type ConnStats struct {
	IgnoredNoRoom   int64 // presences and messages from rooms we are not in
	IgnoredJingle   int64 // Jingle requests for no known session
	ForeignJingle   int64 // Jingle requests from someone other than the focus
	DroppedJingle   int64 // Jingle requests refused because a room's queue was full
	UnansweredIQGet int64 // IQ requests answered with service-unavailable
}

// Stats returns the counters.
func (c *Conn) Stats() ConnStats {
	return ConnStats{IgnoredNoRoom: c.ignoredNoRoom.Load(), IgnoredJingle: c.ignoredJingle.Load(),
		ForeignJingle: c.foreignJingle.Load(),
		DroppedJingle: c.droppedJingle.Load(), UnansweredIQGet: c.unansweredIQGet.Load()}
}

// Close leaves every room and ends their media. It does not close the
// Client.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closed = true
	peers := make([]*Peer, 0, len(c.peers))
	for _, p := range c.peers {
		peers = append(peers, p)
	}
	c.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
}

// register adds a joining peer; it fails if the room is taken.
func (c *Conn) register(p *Peer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	if c.peers[p.room] != nil {
		return ErrAlreadyJoined
	}
	c.peers[p.room] = p
	return nil
}

// unregister forgets a peer that ended.
func (c *Conn) unregister(p *Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peers[p.room] == p {
		delete(c.peers, p.room)
	}
	for sid, sp := range c.sessions {
		if sp == p {
			delete(c.sessions, sid)
		}
	}
}

func (c *Conn) bindSession(sid string, p *Peer) {
	c.mu.Lock()
	c.sessions[sid] = p
	c.mu.Unlock()
}

func (c *Conn) unbindSession(sid string) {
	c.mu.Lock()
	delete(c.sessions, sid)
	c.mu.Unlock()
}

func (c *Conn) peer(room jid.JID) *Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peers[room]
}

// wantsMedia reports whether a room of this connection takes media: then
// disco#info advertises Jingle.
func (c *Conn) wantsMedia() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.peers {
		if p.cfg.Media {
			return true
		}
	}
	return false
}

// readLoop dispatches what the server sends, until the Client ends.
func (c *Conn) readLoop() {
	defer func() {
		close(c.done)
		for _, p := range c.Peers() {
			p.connectionEnded()
		}
	}()
	for st := range c.cfg.Client.Incoming() {
		switch {
		case st.Name == "message" && st.Attr("from") == c.cfg.Focus:
			c.focusMessage(st)
		case st.Name == "presence", st.Name == "message":
			c.roomStanza(st)
		case st.Name == "iq":
			c.iq(st)
		}
	}
}

// focusMessage reads what the conference focus tells us: the dominant
// speaker of a room we are in (docs/SIGNALLING.md).
func (c *Conn) focusMessage(st *xmlstream.Element) {
	ds := st.Child(nsParleyRoom, "dominant-speaker")
	if ds == nil {
		return
	}
	occ, err := jid.Parse(ds.Attr("occupant"))
	if err != nil || occ.Resource == "" {
		return
	}
	if p := c.peer(occ.Bare()); p != nil {
		p.dominantSpeaker(occ.Resource)
	}
}

// roomStanza hands a presence or message to the room it comes from.
func (c *Conn) roomStanza(st *xmlstream.Element) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil {
		c.ignoredNoRoom.Add(1)
		return
	}
	p := c.peer(from.Bare())
	if p == nil {
		c.ignoredNoRoom.Add(1)
		return
	}
	if st.Name == "presence" {
		p.presence(st, from)
	} else {
		p.message(st, from)
	}
}

func (c *Conn) iq(st *xmlstream.Element) {
	typ := st.Attr("type")
	payload := st.FirstChild()
	switch {
	case typ == "get" && payload.Is(nsDiscoInfo, "query") && payload.Attr("node") == "":
		c.cfg.Client.Send(stanza.IQResult(st, c.discoInfo()))
	case typ == "set" && payload.Is(nsJingle, "jingle"):
		c.jingle(st, payload)
	case typ == "get" || typ == "set":
		c.unansweredIQGet.Add(1)
		c.refuse(st, stanza.ServiceUnavailable, "")
	}
}

func (c *Conn) discoInfo() *xmlstream.Element {
	q := xmlstream.New(nsDiscoInfo, "query").Add(
		xmlstream.New(nsDiscoInfo, "identity", "category", "client", "type", "bot", "name", "parley sdk"))
	feats := Features[:1]
	if c.wantsMedia() {
		feats = Features
	}
	for _, f := range feats {
		q.Add(xmlstream.New(nsDiscoInfo, "feature", "var", f))
	}
	return q
}

// jingle routes a Jingle request: session-initiate by the room it names,
// anything else by its session id.
func (c *Conn) jingle(st, payload *xmlstream.Element) {
	if st.Attr("from") != c.cfg.Focus {
		// Only the conference focus may call us (docs/SIGNALLING.md).
		c.foreignJingle.Add(1)
		c.refuse(st, stanza.Forbidden, "only the conference focus starts sessions")
		return
	}
	sid := payload.Attr("sid")
	c.mu.Lock()
	p := c.sessions[sid]
	if p == nil && payload.Attr("action") == "session-initiate" {
		if r, err := jid.Parse(attr(payload.Child(nsParleyRoom, "room"), "jid")); err == nil {
			p = c.peers[r.Bare()]
		} else if len(c.peers) == 1 {
			for _, only := range c.peers {
				p = only
			}
		}
	}
	c.mu.Unlock()
	if p == nil {
		c.ignoredJingle.Add(1)
		e := stanza.NewError(stanza.ItemNotFound, "no such session")
		e.Extra = xmlstream.New("urn:xmpp:jingle:errors:1", "unknown-session")
		if r := stanza.ErrorReply(st, e); r != nil {
			c.cfg.Client.Send(r)
		}
		return
	}
	p.queueJingle(st)
}

// attr is Element.Attr that accepts a missing element.
func attr(e *xmlstream.Element, name string) string {
	if e == nil {
		return ""
	}
	return e.Attr(name)
}

// refuse answers an IQ with an error (a nil error reply is never sent).
func (c *Conn) refuse(st *xmlstream.Element, cond stanza.Condition, text string) {
	if r := stanza.ErrorReply(st, stanza.NewError(cond, text)); r != nil {
		c.cfg.Client.Send(r)
	}
}

// request sends an IQ and waits for the answer.
func (c *Conn) request(ctx context.Context, iq *xmlstream.Element) (*xmlstream.Element, error) {
	return c.cfg.Client.IQ(ctx, iq)
}
